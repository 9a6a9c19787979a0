/*
 * errors.c - names of the client's error codes.
 */
#include "shale_client.h"

const char *shale_client_strerror(int code)
{
    switch (code) {
    case 0: return "ok";
    case SHALE_CLIENT_EPROTO: return "protocol error: the server sent something that is not RESP";
    case SHALE_CLIENT_ECLOSED: return "connection closed";
    case SHALE_CLIENT_ETIMEOUT: return "timed out";
    case SHALE_CLIENT_EIO: return "I/O error";
    case SHALE_CLIENT_ENOMEM: return "out of memory";
    case SHALE_CLIENT_EINVAL: return "invalid argument";
    case SHALE_CLIENT_ESERVER: return "the server refused a connect-time command";
    default: return "unknown error";
    }
}
