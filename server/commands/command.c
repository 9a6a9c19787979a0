/*
 * command.c - the command table (name, arity in Redis's convention: N exact, -N at least
 * N counting the name; flags; key positions; group and summary for COMMAND DOCS), the
 * rows of the subcommands of container commands, the name index over both, and the
 * dispatcher (authentication, arity, CLIENT REPLY, timing for SLOWLOG and LATENCY).
 * What Redis says about each command besides (COMMAND INFO's flags, key specs...) is in
 * command_facts.c, found by name; COMMAND itself is in t_command.c.
 */
#include "command.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "args.h"
#include "blocking.h"
#include "monitor.h"
#include "multi.h"
#include "notify.h"
#include "pause.h"
#include "repl.h"
#include "repl_replica.h"
#include "pubsub.h"
#include "script.h"
#include "tracking.h"

/* clang-format off */
static const command commands[] = {
    {"get", 2, R|FAST, 1, 1, 1, "string", "Returns the string value of a key.", cmd_get},
    {"set", -3, W|M, 1, 1, 1, "string", "Sets the string value of a key, with options.", cmd_set},
    {"setnx", 3, W|FAST|M, 1, 1, 1, "string", "Sets a key only when it does not exist.", cmd_setnx},
    {"setex", 4, W|M, 1, 1, 1, "string", "Sets a key with an expiry in seconds.", cmd_setex},
    {"psetex", 4, W|M, 1, 1, 1, "string", "Sets a key with an expiry in milliseconds.", cmd_psetex},
    {"getset", 3, W|FAST|M, 1, 1, 1, "string", "Sets a key and returns its old value.", cmd_getset},
    {"getdel", 2, W|FAST, 1, 1, 1, "string", "Returns a key's value and deletes it.", cmd_getdel},
    {"getex", -2, W|FAST, 1, 1, 1, "string", "Returns a key's value and changes its expiry.", cmd_getex},
    {"mget", -2, R|FAST, 1, -1, 1, "string", "Returns the values of several keys.", cmd_mget},
    {"mset", -3, W|M, 1, -1, 2, "string", "Sets several keys.", cmd_mset},
    {"msetnx", -3, W|M, 1, -1, 2, "string", "Sets several keys only if none exists.", cmd_msetnx},
    {"incr", 2, W|FAST|M, 1, 1, 1, "string", "Increments an integer by one.", cmd_incr},
    {"decr", 2, W|FAST|M, 1, 1, 1, "string", "Decrements an integer by one.", cmd_decr},
    {"incrby", 3, W|FAST|M, 1, 1, 1, "string", "Increments an integer by a number.", cmd_incrby},
    {"decrby", 3, W|FAST|M, 1, 1, 1, "string", "Decrements an integer by a number.", cmd_decrby},
    {"incrbyfloat", 3, W|FAST|M, 1, 1, 1, "string", "Increments a float by a number.", cmd_incrbyfloat},
    {"append", 3, W|FAST|M, 1, 1, 1, "string", "Appends to a string.", cmd_append},
    {"strlen", 2, R|FAST, 1, 1, 1, "string", "Returns a string's length.", cmd_strlen},
    {"getrange", 4, R, 1, 1, 1, "string", "Returns a substring.", cmd_getrange},
    {"setrange", 4, W|M, 1, 1, 1, "string", "Overwrites part of a string at an offset.", cmd_setrange},
    {"substr", 4, R, 1, 1, 1, "string", "Returns a substring (GETRANGE's old name).", cmd_getrange},
    {"lcs", -3, R, 1, 2, 1, "string", "Returns the longest common subsequence of two strings.", cmd_lcs},
    {"del", -2, W, 1, -1, 1, "generic", "Deletes keys.", cmd_del},
    {"unlink", -2, W|FAST, 1, -1, 1, "generic", "Deletes keys (in O(1) per key).", cmd_del},
    {"exists", -2, R|FAST|NOTOUCH, 1, -1, 1, "generic", "Counts the keys that exist.", cmd_exists},
    {"touch", -2, R|FAST, 1, -1, 1, "generic", "Counts the keys that exist (access time).", cmd_exists},
    {"type", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's type.", cmd_type},
    {"rename", 3, W, 1, 2, 1, "generic", "Renames a key.", cmd_rename},
    {"renamenx", 3, W|FAST, 1, 2, 1, "generic", "Renames a key if the new name is free.", cmd_renamenx},
    {"copy", -3, W|M, 1, 2, 1, "generic", "Copies a key.", cmd_copy},
    {"move", 3, W|FAST, 1, 1, 1, "generic", "Moves a key to another database.", cmd_move},
    {"keys", 2, R, 0, 0, 0, "generic", "Returns the keys matching a pattern.", cmd_keys},
    {"scan", -2, R, 0, 0, 0, "generic", "Iterates over the keys.", cmd_scan},
    {"randomkey", 1, R, 0, 0, 0, "generic", "Returns a random key.", cmd_randomkey},
    {"dbsize", 1, R|FAST, 0, 0, 0, "server", "Returns the number of keys.", cmd_dbsize},
    {"object", -2, R|NOTOUCH, 2, 2, 1, "generic", "Inspects a key: encoding, frequency, idle time.", cmd_object},
    {"memory", -2, R, 0, 0, 0, "server", "Memory usage of a key, and memory statistics.", cmd_memory},
    {"expire", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry in seconds.", cmd_expire},
    {"pexpire", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry in milliseconds.", cmd_pexpire},
    {"expireat", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry as a Unix time.", cmd_expireat},
    {"pexpireat", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry as a Unix time in ms.", cmd_pexpireat},
    {"ttl", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's time to live in seconds.", cmd_ttl},
    {"pttl", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's time to live in ms.", cmd_pttl},
    {"expiretime", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's expiry as a Unix time.", cmd_expiretime},
    {"pexpiretime", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's expiry as a Unix time in ms.", cmd_pexpiretime},
    {"persist", 2, W|FAST, 1, 1, 1, "generic", "Removes a key's expiry.", cmd_persist},
    {"hset", -4, W|FAST|M, 1, 1, 1, "hash", "Sets fields of a hash.", cmd_hset},
    {"hsetnx", 4, W|FAST|M, 1, 1, 1, "hash", "Sets a field only if it does not exist.", cmd_hsetnx},
    {"hget", 3, R|FAST, 1, 1, 1, "hash", "Returns a field's value.", cmd_hget},
    {"hmget", -3, R|FAST, 1, 1, 1, "hash", "Returns the values of several fields.", cmd_hmget},
    {"hmset", -4, W|FAST|M, 1, 1, 1, "hash", "Sets fields of a hash.", cmd_hmset},
    {"hdel", -3, W|FAST, 1, 1, 1, "hash", "Deletes fields.", cmd_hdel},
    {"hlen", 2, R|FAST, 1, 1, 1, "hash", "Returns the number of fields.", cmd_hlen},
    {"hexists", 3, R|FAST, 1, 1, 1, "hash", "Tells whether a field exists.", cmd_hexists},
    {"hgetall", 2, R, 1, 1, 1, "hash", "Returns every field and value.", cmd_hgetall},
    {"hkeys", 2, R, 1, 1, 1, "hash", "Returns every field.", cmd_hkeys},
    {"hvals", 2, R, 1, 1, 1, "hash", "Returns every value.", cmd_hvals},
    {"hincrby", 4, W|FAST|M, 1, 1, 1, "hash", "Increments an integer field.", cmd_hincrby},
    {"hincrbyfloat", 4, W|FAST|M, 1, 1, 1, "hash", "Increments a float field.", cmd_hincrbyfloat},
    {"hstrlen", 3, R|FAST, 1, 1, 1, "hash", "Returns a field's value length.", cmd_hstrlen},
    {"hscan", -3, R, 1, 1, 1, "hash", "Iterates over fields and values.", cmd_hscan},
    {"hrandfield", -2, R, 1, 1, 1, "hash", "Returns random fields.", cmd_hrandfield},
    /* lists: t_list.c */
    {"lpush", -3, W|M|FAST, 1, 1, 1, "list", "Prepends elements to a list.", cmd_lpush},
    {"rpush", -3, W|M|FAST, 1, 1, 1, "list", "Appends elements to a list.", cmd_rpush},
    {"lpushx", -3, W|M|FAST, 1, 1, 1, "list", "Prepends elements to an existing list.", cmd_lpushx},
    {"rpushx", -3, W|M|FAST, 1, 1, 1, "list", "Appends elements to an existing list.", cmd_rpushx},
    {"lpop", -2, W|FAST, 1, 1, 1, "list", "Removes and returns the first elements.", cmd_lpop},
    {"rpop", -2, W|FAST, 1, 1, 1, "list", "Removes and returns the last elements.", cmd_rpop},
    {"llen", 2, R|FAST, 1, 1, 1, "list", "Returns a list's length.", cmd_llen},
    {"lrange", 4, R, 1, 1, 1, "list", "Returns a range of elements.", cmd_lrange},
    {"lindex", 3, R, 1, 1, 1, "list", "Returns the element at an index.", cmd_lindex},
    {"lset", 4, W|M, 1, 1, 1, "list", "Sets the element at an index.", cmd_lset},
    {"linsert", 5, W|M, 1, 1, 1, "list", "Inserts an element before or after another.", cmd_linsert},
    {"lrem", 4, W, 1, 1, 1, "list", "Removes elements equal to a value.", cmd_lrem},
    {"ltrim", 4, W, 1, 1, 1, "list", "Keeps only a range of elements.", cmd_ltrim},
    {"lpos", -3, R, 1, 1, 1, "list", "Returns the positions of matching elements.", cmd_lpos},
    {"rpoplpush", 3, W|M, 1, 2, 1, "list", "Pops the last element and pushes it onto another list.", cmd_rpoplpush},
    {"lmove", 5, W|M, 1, 2, 1, "list", "Pops an element and pushes it onto another list.", cmd_lmove},
    {"lmpop", -4, W, 0, 0, 0, "list", "Pops elements from the first non-empty list.", cmd_lmpop},
    {"blpop", -3, W, 1, -2, 1, "list", "Pops the first element of the first non-empty list, or blocks.", cmd_blpop},
    {"brpop", -3, W, 1, -2, 1, "list", "Pops the last element of the first non-empty list, or blocks.", cmd_brpop},
    {"brpoplpush", 4, W|M, 1, 2, 1, "list", "RPOPLPUSH, or blocks until the source has an element.", cmd_brpoplpush},
    {"blmove", 6, W|M, 1, 2, 1, "list", "LMOVE, or blocks until the source has an element.", cmd_blmove},
    {"blmpop", -5, W, 0, 0, 0, "list", "LMPOP, or blocks until a list has an element.", cmd_blmpop},

    /* sets: t_set.c */
    {"sadd", -3, W|FAST|M, 1, 1, 1, "set", "Adds members to a set.", cmd_sadd},
    {"srem", -3, W|FAST, 1, 1, 1, "set", "Removes members from a set.", cmd_srem},
    {"scard", 2, R|FAST, 1, 1, 1, "set", "Returns the number of members.", cmd_scard},
    {"sismember", 3, R|FAST, 1, 1, 1, "set", "Tells whether a member is in a set.", cmd_sismember},
    {"smismember", -3, R|FAST, 1, 1, 1, "set", "Tells whether each member is in a set.", cmd_smismember},
    {"smembers", 2, R, 1, 1, 1, "set", "Returns every member.", cmd_smembers},
    {"sinter", -2, R, 1, -1, 1, "set", "Returns the intersection of sets.", cmd_sinter},
    {"sinterstore", -3, W|M, 1, -1, 1, "set", "Stores the intersection of sets.", cmd_sinterstore},
    {"sintercard", -3, R, 0, 0, 0, "set", "Returns the size of the intersection of sets.", cmd_sintercard},
    {"sunion", -2, R, 1, -1, 1, "set", "Returns the union of sets.", cmd_sunion},
    {"sunionstore", -3, W|M, 1, -1, 1, "set", "Stores the union of sets.", cmd_sunionstore},
    {"sdiff", -2, R, 1, -1, 1, "set", "Returns the difference of sets.", cmd_sdiff},
    {"sdiffstore", -3, W|M, 1, -1, 1, "set", "Stores the difference of sets.", cmd_sdiffstore},
    {"smove", 4, W|FAST, 1, 2, 1, "set", "Moves a member from one set to another.", cmd_smove},
    {"spop", -2, W|FAST, 1, 1, 1, "set", "Removes and returns random members.", cmd_spop},
    {"srandmember", -2, R, 1, 1, 1, "set", "Returns random members.", cmd_srandmember},
    {"sscan", -3, R, 1, 1, 1, "set", "Iterates over members.", cmd_sscan},

    /* sorted sets: t_zset.c, t_zset_block.c; geo: t_geo.c */
    {"zadd", -4, W|M|FAST, 1, 1, 1, "sortedset", "Adds members or updates their scores.", cmd_zadd},
    {"zincrby", 4, W|M|FAST, 1, 1, 1, "sortedset", "Increments a member's score.", cmd_zincrby},
    {"zrem", -3, W|FAST, 1, 1, 1, "sortedset", "Removes members.", cmd_zrem},
    {"zcard", 2, R|FAST, 1, 1, 1, "sortedset", "Returns the number of members.", cmd_zcard},
    {"zscore", 3, R|FAST, 1, 1, 1, "sortedset", "Returns a member's score.", cmd_zscore},
    {"zmscore", -3, R|FAST, 1, 1, 1, "sortedset", "Returns the scores of several members.", cmd_zmscore},
    {"zrank", 3, R|FAST, 1, 1, 1, "sortedset", "Returns a member's rank from the lowest score.", cmd_zrank},
    {"zrevrank", 3, R|FAST, 1, 1, 1, "sortedset", "Returns a member's rank from the highest score.", cmd_zrevrank},
    {"zrange", -4, R, 1, 1, 1, "sortedset", "Returns members in a range of ranks, scores or names.", cmd_zrange},
    {"zrevrange", -4, R, 1, 1, 1, "sortedset", "Returns members in a range of ranks, highest first.", cmd_zrevrange},
    {"zrangebyscore", -4, R, 1, 1, 1, "sortedset", "Returns members in a range of scores.", cmd_zrangebyscore},
    {"zrevrangebyscore", -4, R, 1, 1, 1, "sortedset", "Returns members in a range of scores, highest first.", cmd_zrevrangebyscore},
    {"zrangebylex", -4, R, 1, 1, 1, "sortedset", "Returns members in a range of names.", cmd_zrangebylex},
    {"zrevrangebylex", -4, R, 1, 1, 1, "sortedset", "Returns members in a range of names, last first.", cmd_zrevrangebylex},
    {"zrangestore", -5, W|M, 1, 2, 1, "sortedset", "Stores a range of members in a new sorted set.", cmd_zrangestore},
    {"zcount", 4, R|FAST, 1, 1, 1, "sortedset", "Counts members in a range of scores.", cmd_zcount},
    {"zlexcount", 4, R|FAST, 1, 1, 1, "sortedset", "Counts members in a range of names.", cmd_zlexcount},
    {"zremrangebyrank", 4, W, 1, 1, 1, "sortedset", "Removes members in a range of ranks.", cmd_zremrangebyrank},
    {"zremrangebyscore", 4, W, 1, 1, 1, "sortedset", "Removes members in a range of scores.", cmd_zremrangebyscore},
    {"zremrangebylex", 4, W, 1, 1, 1, "sortedset", "Removes members in a range of names.", cmd_zremrangebylex},
    {"zpopmin", -2, W|FAST, 1, 1, 1, "sortedset", "Removes and returns the lowest-scored members.", cmd_zpopmin},
    {"zpopmax", -2, W|FAST, 1, 1, 1, "sortedset", "Removes and returns the highest-scored members.", cmd_zpopmax},
    {"zmpop", -4, W, 0, 0, 0, "sortedset", "Pops members from the first non-empty sorted set.", cmd_zmpop},
    {"bzpopmin", -3, W|FAST, 1, -2, 1, "sortedset", "ZPOPMIN of the first non-empty sorted set, or blocks.", cmd_bzpopmin},
    {"bzpopmax", -3, W|FAST, 1, -2, 1, "sortedset", "ZPOPMAX of the first non-empty sorted set, or blocks.", cmd_bzpopmax},
    {"bzmpop", -5, W, 0, 0, 0, "sortedset", "ZMPOP, or blocks until a sorted set has a member.", cmd_bzmpop},
    {"zunion", -3, R, 0, 0, 0, "sortedset", "Returns the union of sorted sets.", cmd_zunion},
    {"zinter", -3, R, 0, 0, 0, "sortedset", "Returns the intersection of sorted sets.", cmd_zinter},
    {"zdiff", -3, R, 0, 0, 0, "sortedset", "Returns the difference of sorted sets.", cmd_zdiff},
    {"zintercard", -3, R, 0, 0, 0, "sortedset", "Counts the intersection of sorted sets.", cmd_zintercard},
    {"zunionstore", -4, W|M, 1, 1, 1, "sortedset", "Stores the union of sorted sets.", cmd_zunionstore},
    {"zinterstore", -4, W|M, 1, 1, 1, "sortedset", "Stores the intersection of sorted sets.", cmd_zinterstore},
    {"zdiffstore", -4, W|M, 1, 1, 1, "sortedset", "Stores the difference of sorted sets.", cmd_zdiffstore},
    {"zrandmember", -2, R, 1, 1, 1, "sortedset", "Returns random members.", cmd_zrandmember},
    {"zscan", -3, R, 1, 1, 1, "sortedset", "Iterates over members and scores.", cmd_zscan},
    {"geoadd", -5, W|M, 1, 1, 1, "geo", "Adds members with their positions.", cmd_geoadd},
    {"geopos", -2, R, 1, 1, 1, "geo", "Returns members' positions.", cmd_geopos},
    {"geodist", -4, R, 1, 1, 1, "geo", "Returns the distance between two members.", cmd_geodist},
    {"geohash", -2, R, 1, 1, 1, "geo", "Returns members' geohash strings.", cmd_geohash},
    {"geosearch", -7, R, 1, 1, 1, "geo", "Returns members within a circle or a box.", cmd_geosearch},
    {"geosearchstore", -8, W|M, 1, 2, 1, "geo", "Stores members within a circle or a box.", cmd_geosearchstore},
    {"georadius", -6, W|M, 1, 1, 1, "geo", "Returns (or stores) members within a radius of a point.", cmd_georadius},
    {"georadius_ro", -6, R, 1, 1, 1, "geo", "Returns members within a radius of a point.", cmd_georadius_ro},
    {"georadiusbymember", -5, W|M, 1, 1, 1, "geo", "Returns (or stores) members within a radius of a member.", cmd_georadiusbymember},
    {"georadiusbymember_ro", -5, R, 1, 1, 1, "geo", "Returns members within a radius of a member.", cmd_georadiusbymember_ro},

    /* sort: t_sort.c */
    {"sort", -2, W|M, 1, 1, 1, "generic", "Sorts a list, set or sorted set.", cmd_sort},
    {"sort_ro", -2, R, 1, 1, 1, "generic", "Sorts a list, set or sorted set (read-only).", cmd_sort_ro},

    /* serialization: t_dump.c */
    {"dump", 2, R, 1, 1, 1, "generic", "Returns a key's value in Redis's serialization.", cmd_dump},
    {"restore", -4, W|M, 1, 1, 1, "generic", "Creates a key from a DUMP payload.", cmd_restore},
    {"migrate", -6, W, 3, 3, 1, "generic", "Moves keys to another server (DUMP, RESTORE there, DEL).", cmd_migrate},

    /* transactions: t_multi.c, multi/ */
    {"multi", 1, FAST, 0, 0, 0, "transactions", "Starts a transaction.", cmd_multi},
    {"exec", 1, 0, 0, 0, 0, "transactions", "Runs the commands queued since MULTI.", cmd_exec},
    {"discard", 1, FAST, 0, 0, 0, "transactions", "Drops the commands queued since MULTI.", cmd_discard},
    {"watch", -2, FAST, 1, -1, 1, "transactions", "Makes the next EXEC fail if a key changes meanwhile.", cmd_watch},
    {"unwatch", 1, FAST, 0, 0, 0, "transactions", "Forgets the watched keys.", cmd_unwatch},

    {"ping", -1, FAST, 0, 0, 0, "connection", "Returns PONG or the argument.", cmd_ping},
    {"echo", 2, FAST, 0, 0, 0, "connection", "Returns the argument.", cmd_echo},
    {"quit", -1, FAST|NOAUTH, 0, 0, 0, "connection", "Closes the connection.", cmd_quit},
    {"select", 2, FAST, 0, 0, 0, "connection", "Changes the selected database.", cmd_select},
    {"hello", -1, FAST|NOAUTH, 0, 0, 0, "connection", "Handshakes: protocol, auth, name.", cmd_hello},
    {"auth", -2, FAST|NOAUTH, 0, 0, 0, "connection", "Authenticates the connection.", cmd_auth},
    {"client", -2, 0, 0, 0, 0, "connection", "Manages client connections.", cmd_client},
    {"reset", 1, FAST|NOAUTH, 0, 0, 0, "connection", "Resets the connection.", cmd_reset},
    {"monitor", 1, ADMIN, 0, 0, 0, "server", "Streams every command the server runs.", cmd_monitor},
    {"swapdb", 3, W|FAST, 0, 0, 0, "server", "Swaps two databases.", cmd_swapdb},
    {"flushdb", -1, W, 0, 0, 0, "server", "Deletes every key of the database.", cmd_flushdb},
    {"flushall", -1, W, 0, 0, 0, "server", "Deletes every key of every database.", cmd_flushall},
    {"time", 1, FAST, 0, 0, 0, "server", "Returns the server time.", cmd_time},
    {"lastsave", 1, FAST, 0, 0, 0, "server", "Returns the time of the last save.", cmd_lastsave},
    {"save", 1, ADMIN|NOMULTI, 0, 0, 0, "server", "Flushes memtables to tables synchronously.", cmd_save},
    {"bgsave", -1, ADMIN, 0, 0, 0, "server", "Flushes memtables to tables.", cmd_bgsave},
    {"shutdown", -1, ADMIN|NOMULTI, 0, 0, 0, "server", "Closes the store cleanly and stops.", cmd_shutdown},
    {"eval", -3, 0, 0, 0, 0, "scripting", "Runs a Lua script, atomically.", cmd_eval},
    {"evalsha", -3, 0, 0, 0, 0, "scripting", "Runs a cached Lua script by its SHA1, atomically.", cmd_evalsha},
    {"eval_ro", -3, R, 0, 0, 0, "scripting", "Runs a Lua script that may not write.", cmd_eval_ro},
    {"evalsha_ro", -3, R, 0, 0, 0, "scripting", "Runs a cached Lua script that may not write.", cmd_evalsha_ro},
    {"script", -2, 0, 0, 0, 0, "scripting", "Manages the script cache.", cmd_script},
    {"function", -2, 0, 0, 0, 0, "scripting", "Manages the function libraries.", cmd_function},
    {"fcall", -3, 0, 0, 0, 0, "scripting", "Runs a function, atomically.", cmd_fcall},
    {"fcall_ro", -3, R, 0, 0, 0, "scripting", "Runs a function that may not write.", cmd_fcall_ro},
    /* replication: t_repl.c */
    {"wait", 3, 0, 0, 0, 0, "generic", "Waits until replicas acknowledged the client's writes.", cmd_wait},
    {"role", 1, FAST, 0, 0, 0, "server", "Returns the node's replication role.", cmd_role},
    {"replconf", -1, ADMIN, 0, 0, 0, "server", "A replica tells its primary about itself (internal).", cmd_replconf},
    {"psync", -3, ADMIN|NOMULTI, 0, 0, 0, "server", "A replica asks for the replication stream (internal).", cmd_psync},
    {"replicaof", 3, ADMIN, 0, 0, 0, "server", "Follows a primary (host port), or becomes one (NO ONE).", cmd_replicaof},
    {"failover", -1, ADMIN, 0, 0, 0, "server", "Hands the primary's role over to a replica, losing no write.", cmd_failover},
    {"slaveof", 3, ADMIN, 0, 0, 0, "server", "REPLICAOF's old name.", cmd_replicaof},
    {"debug", -2, ADMIN|PROTECTED, 0, 0, 0, "server", "Debugging commands (SLEEP).", cmd_debug},
    {"slowlog", -2, ADMIN, 0, 0, 0, "server", "The slow command log.", cmd_slowlog},
    {"latency", -2, ADMIN, 0, 0, 0, "server", "Latency monitoring.", cmd_latency},
    {"info", -1, 0, 0, 0, 0, "server", "Returns information and statistics.", cmd_info},
    {"config", -2, ADMIN, 0, 0, 0, "server", "Gets and sets options.", cmd_config},
    {"command", -1, 0, 0, 0, 0, "server", "Returns information about commands.", cmd_command},
    {"lolwut", -1, R|FAST, 0, 0, 0, "server", "Draws computer art of shale's own.", cmd_lolwut},
    {"cluster", -2, 0, 0, 0, 0, "cluster", "Redis Cluster (disabled, as in a Redis without cluster-enabled).", cmd_cluster},
    {"subscribe", -2, 0, 0, 0, 0, "pubsub", "Listens to channels.", cmd_subscribe},
    {"unsubscribe", -1, 0, 0, 0, 0, "pubsub", "Stops listening to channels (all: none named).", cmd_unsubscribe},
    {"psubscribe", -2, 0, 0, 0, 0, "pubsub", "Listens to the channels matching patterns.", cmd_psubscribe},
    {"punsubscribe", -1, 0, 0, 0, 0, "pubsub", "Stops listening to patterns (all: none named).", cmd_punsubscribe},
    {"publish", 3, FAST, 0, 0, 0, "pubsub", "Posts a message to a channel.", cmd_publish},
    {"pubsub", -2, 0, 0, 0, 0, "pubsub", "Inspects the channels and their subscribers.", cmd_pubsub},
    {"ssubscribe", -2, 0, 1, -1, 1, "pubsub", "Listens to shard channels.", cmd_ssubscribe},
    {"sunsubscribe", -1, 0, 1, -1, 1, "pubsub", "Stops listening to shard channels (all: none named).", cmd_sunsubscribe},
    {"spublish", 3, FAST, 1, 1, 1, "pubsub", "Posts a message to a shard channel.", cmd_spublish},
};
/* clang-format on */
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* "ERR unknown command 'x', with args beginning with: 'a' 'b' ", as Redis words it. */
static void unknown(client *c)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: ",
                     (int)(c->cmd.argv[0].len > 128 ? 128 : c->cmd.argv[0].len), c->cmd.argv[0].p);
    for (int i = 1; i < c->cmd.argc && n < (int)sizeof msg - 140; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, "'%.*s' ",
                      (int)(c->cmd.argv[i].len > 128 ? 128 : c->cmd.argv[i].len), c->cmd.argv[i].p);
    resp_error(&c->out, msg);
}

/*
 * The subcommands of container commands: statistics count them apart ("config|set"), as
 * Redis 7 does, and COMMAND describes each. Rows of one parent are together; the parent's
 * handler runs them (fn NULL). Their statistics slots follow the commands'.
 */
/* clang-format off */
static const command subcommands[] = {
    {"client|caching", 3, 0, 0, 0, 0, "connection", "Tracks, or not, the keys of the next command (OPTIN / OPTOUT tracking).", NULL},
    {"client|getname", 2, 0, 0, 0, 0, "connection", "Returns the connection's name.", NULL},
    {"client|getredir", 2, 0, 0, 0, 0, "connection", "Returns the client id tracking's invalidations are redirected to.", NULL},
    {"client|help", 2, 0, 0, 0, 0, "connection", "Lists the subcommands.", NULL},
    {"client|id", 2, 0, 0, 0, 0, "connection", "Returns the connection's id.", NULL},
    {"client|info", 2, 0, 0, 0, 0, "connection", "Describes the connection.", NULL},
    {"client|kill", -3, ADMIN, 0, 0, 0, "connection", "Closes connections.", NULL},
    {"client|list", -2, ADMIN, 0, 0, 0, "connection", "Describes the connections.", NULL},
    {"client|pause", -3, ADMIN, 0, 0, 0, "connection", "Holds clients' commands (all, or those that may write) for a time.", NULL},
    {"client|unpause", 2, ADMIN, 0, 0, 0, "connection", "Ends CLIENT PAUSE.", NULL},
    {"client|no-evict", 3, ADMIN, 0, 0, 0, "connection", "Accepted; shale evicts no client.", NULL},
    {"client|reply", 3, 0, 0, 0, 0, "connection", "Turns the replies to the connection off, on, or off for one command.", NULL},
    {"client|setinfo", 4, 0, 0, 0, 0, "connection", "Accepted (Redis 7.2's library name and version).", NULL},
    {"client|setname", 3, 0, 0, 0, 0, "connection", "Names the connection.", NULL},
    {"client|tracking", -3, 0, 0, 0, 0, "connection", "Turns client-side caching's key tracking on or off.", NULL},
    {"client|trackinginfo", 2, 0, 0, 0, 0, "connection", "Describes the connection's tracking.", NULL},
    {"client|unblock", -3, ADMIN, 0, 0, 0, "connection", "Unblocks a client blocked by a blocking command.", NULL},
    {"cluster|addslots", -3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|addslotsrange", -4, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|bumpepoch", 2, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|count-failure-reports", 3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|countkeysinslot", 3, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|delslots", -3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|delslotsrange", -4, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|failover", -2, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|flushslots", 2, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|forget", 3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|getkeysinslot", 4, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|help", 2, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|info", 2, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|keyslot", 3, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|links", 2, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|meet", -4, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|myid", 2, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|nodes", 2, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|replicas", 3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|replicate", 3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|reset", -2, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|saveconfig", 2, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|set-config-epoch", 3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|setslot", -4, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|shards", 2, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|slaves", 3, ADMIN, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"cluster|slots", 2, 0, 0, 0, 0, "cluster", "Answers that cluster support is disabled.", NULL},
    {"command|count", 2, 0, 0, 0, 0, "server", "Returns the number of commands.", NULL},
    {"command|docs", -2, 0, 0, 0, 0, "server", "Documents commands: arguments, key specs.", NULL},
    {"command|getkeys", -4, 0, 0, 0, 0, "server", "Returns the keys of a command call.", NULL},
    {"command|getkeysandflags", -4, 0, 0, 0, 0, "server", "Returns the keys of a command call and how each is used.", NULL},
    {"command|help", 2, 0, 0, 0, 0, "server", "Lists the subcommands.", NULL},
    {"command|info", -2, 0, 0, 0, 0, "server", "Describes commands: flags, key specs.", NULL},
    {"command|list", -2, 0, 0, 0, 0, "server", "Returns the names of commands, filtered.", NULL},
    {"config|get", -3, ADMIN, 0, 0, 0, "server", "Returns the values of options.", NULL},
    {"config|help", 2, 0, 0, 0, 0, "server", "Lists the subcommands.", NULL},
    {"config|resetstat", 2, ADMIN, 0, 0, 0, "server", "Resets the statistics.", NULL},
    {"config|rewrite", 2, ADMIN, 0, 0, 0, "server", "Writes the options to the configuration file.", NULL},
    {"config|set", -4, ADMIN, 0, 0, 0, "server", "Sets options, all or none.", NULL},
    {"function|delete", 3, W, 0, 0, 0, "scripting", "Deletes a library.", NULL},
    {"function|dump", 2, 0, 0, 0, 0, "scripting", "Returns the libraries as a payload (RDB form).", NULL},
    {"function|flush", -2, W, 0, 0, 0, "scripting", "Deletes every library.", NULL},
    {"function|help", 2, 0, 0, 0, 0, "scripting", "Lists the subcommands.", NULL},
    {"function|kill", 2, 0, 0, 0, 0, "scripting", "Stops the running function if it has not written.", NULL},
    {"function|list", -2, 0, 0, 0, 0, "scripting", "Lists the libraries and their functions.", NULL},
    {"function|load", -3, W|M, 0, 0, 0, "scripting", "Loads a library (persisted with the data).", NULL},
    {"function|restore", -3, W|M, 0, 0, 0, "scripting", "Loads the libraries of a FUNCTION DUMP payload.", NULL},
    {"function|stats", 2, 0, 0, 0, 0, "scripting", "Tells the libraries and functions counts.", NULL},
    {"latency|doctor", 2, ADMIN, 0, 0, 0, "server", "Reports on the latency events.", NULL},
    {"latency|graph", 3, ADMIN, 0, 0, 0, "server", "Draws an event's latency samples.", NULL},
    {"latency|help", 2, 0, 0, 0, 0, "server", "Lists the subcommands.", NULL},
    {"latency|histogram", -2, ADMIN, 0, 0, 0, "server", "Returns commands' latency distributions.", NULL},
    {"latency|history", 3, ADMIN, 0, 0, 0, "server", "Returns an event's latency samples.", NULL},
    {"latency|latest", 2, ADMIN, 0, 0, 0, "server", "Returns the latest sample of each event.", NULL},
    {"latency|reset", -2, ADMIN, 0, 0, 0, "server", "Forgets events' samples.", NULL},
    {"memory|doctor", 2, 0, 0, 0, 0, "server", "Reports on the memory use.", NULL},
    {"memory|help", 2, 0, 0, 0, 0, "server", "Lists the subcommands.", NULL},
    {"memory|malloc-stats", 2, 0, 0, 0, 0, "server", "Returns the allocator's statistics.", NULL},
    {"memory|purge", 2, 0, 0, 0, 0, "server", "Asks the allocator to release memory.", NULL},
    {"memory|stats", 2, 0, 0, 0, 0, "server", "Returns the memory figures.", NULL},
    {"memory|usage", -3, R, 2, 2, 1, "server", "Estimates the bytes a key takes.", NULL},
    {"object|encoding", 3, R, 2, 2, 1, "generic", "Returns the encoding Redis would use for the key.", NULL},
    {"object|freq", 3, R, 2, 2, 1, "generic", "Returns the key's access frequency counter.", NULL},
    {"object|help", 2, 0, 0, 0, 0, "generic", "Lists the subcommands.", NULL},
    {"object|idletime", 3, R, 2, 2, 1, "generic", "Returns the seconds since the key was used.", NULL},
    {"object|refcount", 3, R, 2, 2, 1, "generic", "Returns 1 (values are not shared).", NULL},
    {"pubsub|channels", -2, 0, 0, 0, 0, "pubsub", "Returns the channels with subscribers (matching a pattern).", NULL},
    {"pubsub|help", 2, 0, 0, 0, 0, "pubsub", "Lists the subcommands.", NULL},
    {"pubsub|numpat", 2, 0, 0, 0, 0, "pubsub", "Returns the number of patterns with subscribers.", NULL},
    {"pubsub|numsub", -2, 0, 0, 0, 0, "pubsub", "Returns the subscribers of channels.", NULL},
    {"pubsub|shardchannels", -2, 0, 0, 0, 0, "pubsub", "Returns the shard channels with subscribers.", NULL},
    {"pubsub|shardnumsub", -2, 0, 0, 0, 0, "pubsub", "Returns the subscribers of shard channels.", NULL},
    {"script|exists", -3, 0, 0, 0, 0, "scripting", "Tells which scripts are cached.", NULL},
    {"script|flush", -2, 0, 0, 0, 0, "scripting", "Empties the script cache.", NULL},
    {"script|help", 2, 0, 0, 0, 0, "scripting", "Lists the subcommands.", NULL},
    {"script|kill", 2, 0, 0, 0, 0, "scripting", "Stops a script past busy-reply-threshold that has not written.", NULL},
    {"script|load", 3, 0, 0, 0, 0, "scripting", "Caches a script without running it.", NULL},
    {"slowlog|get", -2, ADMIN, 0, 0, 0, "server", "Returns the slowlog's entries.", NULL},
    {"slowlog|help", 2, 0, 0, 0, 0, "server", "Lists the subcommands.", NULL},
    {"slowlog|len", 2, ADMIN, 0, 0, 0, "server", "Returns the slowlog's length.", NULL},
    {"slowlog|reset", 2, ADMIN, 0, 0, 0, "server", "Empties the slowlog.", NULL},
};
/* clang-format on */
#define NSUBS (sizeof subcommands / sizeof subcommands[0])

/* Open-addressing index of both tables by case-folded name, built once: a lookup costs
   one hash of the name and usually one comparison. */
#define INDEX_SLOTS 1024
_Static_assert(NCOMMANDS + NSUBS < INDEX_SLOTS / 2, "the name index needs free slots");
static const command *index_slots[INDEX_SLOTS];
static size_t index_len[INDEX_SLOTS]; /* strlen of each slot's name */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

/* Per command: its first subcommand row and how many (a container), its facts. */
static size_t first_sub[NCOMMANDS], nsub_of[NCOMMANDS];
static const command *parent_of[NSUBS];
static const command_facts *facts[NCOMMANDS + NSUBS];

static uint32_t name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)tolower((unsigned char)p[i])) * 16777619u;
    return h;
}

static void index_add(const command *cmd)
{
    size_t n = strlen(cmd->name);
    uint32_t h = name_hash(cmd->name, n);
    while (index_slots[h % INDEX_SLOTS])
        h++;
    index_slots[h % INDEX_SLOTS] = cmd;
    index_len[h % INDEX_SLOTS] = n;
}

static const command *index_find(const char *p, size_t n)
{
    for (uint32_t h = name_hash(p, n);; h++) {
        const command *c = index_slots[h % INDEX_SLOTS];
        if (!c)
            return NULL;
        if (index_len[h % INDEX_SLOTS] == n && strncasecmp(c->name, p, n) == 0)
            return c;
    }
}

static void build_index(void)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        index_add(&commands[i]);
    for (size_t j = 0; j < NSUBS; j++) {
        index_add(&subcommands[j]);
        const char *bar = strchr(subcommands[j].name, '|');
        const command *p = index_find(subcommands[j].name, (size_t)(bar - subcommands[j].name));
        size_t i = (size_t)(p - commands);
        if (!nsub_of[i])
            first_sub[i] = j;
        nsub_of[i]++;
        parent_of[j] = p;
    }
    for (size_t i = 0; i < NCOMMANDS + NSUBS; i++) {
        const char *name = i < NCOMMANDS ? commands[i].name : subcommands[i - NCOMMANDS].name;
        facts[i] = command_facts_find(name, strlen(name));
    }
}

/* The dispatcher's lookup: commands only (a subcommand's name is no command). */
static const command *lookup(const char *p, size_t n)
{
    pthread_once(&index_once, build_index);
    const command *c = index_find(p, n);
    return c && c->fn ? c : NULL;
}

const command *command_lookup(const char *p, size_t n)
{
    pthread_once(&index_once, build_index);
    return index_find(p, n);
}

/* Where a row lives: the commands' table, the subcommands', or neither (a row a test
   made: its facts are found by name). */
static bool in_commands(const command *cmd)
{
    uintptr_t p = (uintptr_t)cmd, lo = (uintptr_t)commands;
    return p >= lo && p < lo + sizeof commands;
}

static bool in_subs(const command *cmd)
{
    uintptr_t p = (uintptr_t)cmd, lo = (uintptr_t)subcommands;
    return p >= lo && p < lo + sizeof subcommands;
}

const command *command_sub_lookup(const command *parent, const char *p, size_t n)
{
    pthread_once(&index_once, build_index);
    if (!in_commands(parent))
        return NULL;
    size_t i = (size_t)(parent - commands);
    for (size_t j = first_sub[i]; j < first_sub[i] + nsub_of[i]; j++) {
        const char *name = strchr(subcommands[j].name, '|') + 1;
        if (strlen(name) == n && strncasecmp(name, p, n) == 0)
            return &subcommands[j];
    }
    return NULL;
}

size_t command_count(void)
{
    return NCOMMANDS;
}

const command *command_at(size_t i)
{
    return &commands[i];
}

size_t command_nsubs(const command *cmd)
{
    pthread_once(&index_once, build_index);
    return in_commands(cmd) ? nsub_of[cmd - commands] : 0;
}

const command *command_sub_at(const command *cmd, size_t i)
{
    return &subcommands[first_sub[cmd - commands] + i];
}

const command *command_parent(const command *cmd)
{
    pthread_once(&index_once, build_index);
    return in_subs(cmd) ? parent_of[cmd - subcommands] : NULL;
}

size_t command_slot(const command *cmd)
{
    return in_subs(cmd) ? NCOMMANDS + (size_t)(cmd - subcommands) : (size_t)(cmd - commands);
}

const command_facts *command_facts_of(const command *cmd)
{
    pthread_once(&index_once, build_index);
    if (in_commands(cmd) || in_subs(cmd))
        return facts[command_slot(cmd)];
    return command_facts_find(cmd->name, strlen(cmd->name));
}

size_t command_table_size(void)
{
    return NCOMMANDS + NSUBS;
}

const char *command_table_name(size_t i)
{
    return i < NCOMMANDS ? commands[i].name : subcommands[i - NCOMMANDS].name;
}

/* The statistics slot of a call: the subcommand's for a container (SIZE_MAX for an
   unknown subcommand: Redis counts those only as errors), else the command's. */
static size_t stats_slot(const command *cmd, const client *c)
{
    if (!command_nsubs(cmd) || c->cmd.argc < 2)
        return command_slot(cmd);
    const command *sub = command_sub_lookup(cmd, c->cmd.argv[1].p, c->cmd.argv[1].len);
    return sub ? command_slot(sub) : SIZE_MAX;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts the error reply that starts at out offset `from`, if the reply is one. */
static bool count_error_reply(server *s, client *c, size_t from)
{
    if (c->out.len <= from || c->out.data[from] != '-')
        return false;
    if (!c->error_counted)
        cmdstats_error_reply(&s->cmds, c->out.data + from + 1, c->out.len - from - 1);
    c->error_counted = false;
    return true;
}

/* enable-debug-command: "yes", or "local" and the client is on the unix socket or on
   127.0.0.1 / ::1, as Redis's islocalClient. */
static bool protected_allowed(const server *s, const client *c)
{
    const char *mode = s->cfg.enable_debug_command;
    if (strcasecmp(mode, "yes") == 0)
        return true;
    return strcasecmp(mode, "local") == 0 &&
           (c->unix_socket || strncmp(c->addr, "127.0.0.1:", 10) == 0 ||
            strncmp(c->addr, "::1:", 4) == 0);
}

/* A command's arity, then a known subcommand's (Redis names it "parent|sub"); an
   unknown subcommand is the handler's to refuse. False with the error replied. */
static bool arity_ok(client *c, const command *cmd)
{
    int argc = c->cmd.argc;
    const command *sub = argc >= 2 && command_nsubs(cmd)
                             ? command_sub_lookup(cmd, c->cmd.argv[1].p, c->cmd.argv[1].len)
                             : NULL;
    for (const command *x = cmd; x; x = x == cmd ? sub : NULL)
        if ((x->arity > 0 && argc != x->arity) || (x->arity < 0 && argc < -x->arity)) {
            char msg[160];
            snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", x->name);
            resp_error(&c->out, msg);
            return false;
        }
    return true;
}

/* The row flags of the known subcommand c names (0 for none): a subcommand that may add
   data (FUNCTION LOAD) is refused over the caps as Redis's denyoom subcommands, and one
   that writes (FUNCTION LOAD, DELETE...) on a disk error as a write command. */
static int sub_flags(const client *c, const command *cmd)
{
    if (c->cmd.argc < 2 || !command_nsubs(cmd))
        return 0;
    const command *sub = command_sub_lookup(cmd, c->cmd.argv[1].p, c->cmd.argv[1].len);
    return sub ? sub->flags : 0;
}

/* Checks that come before the handler: authentication, arity, a disk that refuses
   writes. False when one refused the command (the reply is written). */
static bool admit(server *s, client *c, const command *cmd)
{
    if (!c->authenticated && !(cmd->flags & NOAUTH)) {
        resp_error(&c->out, "NOAUTH Authentication required.");
        return false;
    }
    if (!arity_ok(c, cmd))
        return false;
    if ((cmd->flags & PROTECTED) && !protected_allowed(s, c)) {
        resp_error(&c->out, "ERR DEBUG command not allowed. If the enable-debug-command option "
                            "is set to \"local\", you can run it from a local connection, "
                            "otherwise you need to set this option in the configuration file, "
                            "and then restart the server.");
        return false;
    }
    if ((cmd->flags & NOMULTI) && multi_active(c)) {
        resp_error(&c->out, "ERR Command not allowed inside a transaction");
        return false;
    }
    int unsynced = __atomic_load_n(&s->unsynced_error, __ATOMIC_RELAXED);
    if (unsynced && ((cmd->flags & (R | W)) || cmd->fn == cmd_ping)) {
        /* A log write or sync failed with sync-writes yes: the writes since the last good
           sync may be lost by a crash, and any reply that reads data could show them. So
           data commands are refused until watch_disk makes them durable, and PING too, as
           Redis refuses it on a persistence error, for health checks to see. */
        reply_unsynced_error(c, unsynced);
        return false;
    }
    /* CLIENT PAUSE: Redis skips eviction while paused (no -OOM), refuses writes on a
       disk error, then holds the command */
    bool hold = pause_covers(s, c, cmd);
    /* inside MULTI every command but EXEC, DISCARD... is refused over the caps (the queue
       takes memory), and EXEC when it would run one that may add data, as Redis */
    int flags = cmd->flags | sub_flags(c, cmd);
    bool may_add = (flags & M) || multi_queues(c, cmd) ||
                   (cmd->fn == cmd_exec && (multi_queued_flags(c) & M));
    /* (a replica neither evicts nor refuses for memory, as Redis's replica-ignore-maxmemory:
       its writes are refused below, and its primary evicts for it) */
    if (!hold && may_add && (s->cfg.maxmemory || s->cfg.maxdisk) && !repl_is_replica(s) &&
        !caps_admit(s, c))
        return false;
    if ((flags & W) && s->disk_error) {
        /* As Redis after a failed AOF write: writes are refused before they run, reads
           go on; server_cron lifts this once the engine can write again. */
        reply_disk_error(c, s->disk_error);
        return false;
    }
    if (repl_is_replica(s) && command_writes(s, c, cmd)) {
        /* a write would take a sequence number the primary's records need */
        resp_error(&c->out, REPL_READONLY);
        return false;
    }
    if (!repl_enough_good_replicas(s) && command_writes(s, c, cmd)) {
        resp_error(&c->out, REPL_NOREPLICAS);
        return false;
    }
    if (c->monitor && (pause_may_read(c, cmd) || command_may_replicate(s, c, cmd))) {
        /* Redis marks a monitor a replica, which may not touch the keyspace */
        resp_error(&c->out, "ERR Replica can't interact with the keyspace");
        return false;
    }
    if (hold)
        pause_hold(s, c); /* not run: c's loop keeps it in c's input (c->paused) */
    return !hold;
}

static bool is_subscription(const command *cmd);

/* After a command: CLIENT REPLY OFF or SKIP drop what it replied (errors too, as Redis),
   but not the confirmations of a pub/sub subscription (pushes, which Redis sends
   whatever the reply mode), and a SKIP given by this command silences the next one. */
static void reply_mode_after(client *c, size_t from)
{
    if (c->reply_off || c->reply_skip) {
        const command *cmd = lookup(c->cmd.argv[0].p, c->cmd.argv[0].len);
        bool confirmed = c->out.len > from && c->out.data[from] != '-';
        if (!cmd || !is_subscription(cmd) || !confirmed)
            c->out.len = from;
    }
    c->reply_skip = c->reply_skip_next;
    c->reply_skip_next = false;
}

static void run(server *s, client *c, size_t from);

/* RESP2's subscribed mode: a client that subscribes to anything may run only these, as
   Redis 7.0 (RESP3 has no such limit: messages are pushes). */
static bool is_subscription(const command *cmd)
{
    return cmd->fn == cmd_subscribe || cmd->fn == cmd_ssubscribe ||
           cmd->fn == cmd_unsubscribe || cmd->fn == cmd_sunsubscribe ||
           cmd->fn == cmd_psubscribe || cmd->fn == cmd_punsubscribe;
}

static bool allowed_subscribed(const command *cmd)
{
    return is_subscription(cmd) || cmd->fn == cmd_ping || cmd->fn == cmd_quit ||
           cmd->fn == cmd_reset;
}

/* Refuses cmd when c is in RESP2's subscribed mode. name: the row's full name ("config|get");
   NULL for an unknown subcommand, which its handler refuses first (as Redis's lookup). */
static bool admit_subscribed(client *c, const command *cmd, const char *name)
{
    if (c->proto != 2 || !name || allowed_subscribed(cmd) || !pubsub_client_subscribed(c))
        return true;
    char msg[256];
    snprintf(msg, sizeof msg,
             "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
             "RESET are allowed in this context",
             name);
    resp_error(&c->out, msg);
    return false;
}

/* The commands Redis 7.0 serves while a script is busy (its allow-busy flag: SCRIPT KILL,
   SHUTDOWN, MULTI, AUTH...), a subcommand by its own row. */
static bool allowed_busy(const client *c, const command *cmd)
{
    const command *sub = c->cmd.argc >= 2 && command_nsubs(cmd)
                             ? command_sub_lookup(cmd, c->cmd.argv[1].p, c->cmd.argv[1].len)
                             : NULL;
    const command_facts *f = command_facts_of(sub ? sub : cmd);
    return f && (f->flags & CF_ALLOW_BUSY) && (sub || !command_nsubs(cmd));
}

/*
 * A command while a script runs past busy-reply-threshold (script.h): the script's own
 * command is under way on some loop, lending the lock from its hook. Redis's checks that
 * come first (unknown command, NOAUTH, arity), then -BUSY for what Redis refuses, EXEC
 * as EXECABORT. What it allows runs bare: without the dispatcher's hooks (notifications,
 * tracking, MONITOR), whose pending state is the script's command's.
 */
/* Redis's checks before its busy one (as admit's), then that: false when cmd may run. */
static bool busy_refuses(server *s, client *c, const command *cmd, const char *name)
{
    if (!c->authenticated && !(cmd->flags & NOAUTH)) {
        resp_error(&c->out, "NOAUTH Authentication required.");
        return true;
    }
    if (!arity_ok(c, cmd))
        return true;
    if ((cmd->flags & NOMULTI) && multi_active(c)) {
        resp_error(&c->out, "ERR Command not allowed inside a transaction");
        return true;
    }
    if (!admit_subscribed(c, cmd, name))
        return true;
    if (allowed_busy(c, cmd))
        return false;
    resp_error(&c->out, script_busy_error(s));
    return true;
}

/* cmd (its statistics slot) was refused before it ran, its error written at from: EXEC
   refused ends the transaction (even outside MULTI, as Redis), a command refused inside
   MULTI makes EXEC fail, and the rejection is counted. */
static void refused(server *s, client *c, const command *cmd, size_t slot, size_t from)
{
    if (cmd->fn == cmd_exec)
        multi_exec_refused(s, c, from);
    multi_flag_error(c);
    cmdstats_reject(&s->cmds, NCOMMANDS + NSUBS, slot != SIZE_MAX ? slot : command_slot(cmd));
    count_error_reply(s, c, from);
}

/* c->cmd's row; NULL, with Redis's unknown-command error replied and counted (and EXEC
   then failing inside MULTI), when shale has none. */
static const command *lookup_or_refuse(server *s, client *c, size_t from)
{
    const command *cmd = lookup(c->cmd.argv[0].p, c->cmd.argv[0].len);
    if (!cmd) {
        unknown(c);
        multi_flag_error(c);
        count_error_reply(s, c, from);
    }
    return cmd;
}

static void run_busy(server *s, client *c, size_t from)
{
    const command *cmd = lookup_or_refuse(s, c, from);
    if (!cmd)
        return;
    size_t slot = stats_slot(cmd, c);
    const char *name = slot != SIZE_MAX ? command_table_name(slot) : NULL;
    if (busy_refuses(s, c, cmd, name)) {
        refused(s, c, cmd, slot, from);
        return;
    }
    if (multi_queues(c, cmd)) {
        multi_queue(c, cmd, command_writes(s, c, cmd), command_may_replicate(s, c, cmd));
        return;
    }
    c->last_cmd = slot != SIZE_MAX ? command_table_name(slot) : cmd->name;
    cmd->fn(s, c);
    s->stats.commands_processed++;
    count_error_reply(s, c, from);
}

void command_dispatch(server *s, client *c)
{
    if (c->cmd.argc == 0)
        return;
    if (script_busy(s)) {
        size_t from = c->out.len;
        run_busy(s, c, from);
        reply_mode_after(c, from); /* CLIENT REPLY OFF silences -BUSY too */
        return;
    }
    monitor_before_command(s, c);
    tracking_before_command(s, c);
    notify_command_begin(s, c);
    size_t from = c->out.len;
    run(s, c, from);
    if (c->paused) {
        notify_command_end(s, c);
        tracking_after_command(s, c, false);
        return; /* held by CLIENT PAUSE: it runs again, with CLIENT REPLY as it was */
    }
    reply_mode_after(c, from);
    /* its own events where Redis writes them, kept even with CLIENT REPLY OFF (pushes) */
    notify_command_end(s, c);
    /* after the reply and its mode: invalidations are pushes, sent whatever CLIENT REPLY */
    tracking_after_command(s, c, true);
}

/* Looks up, admits and runs c->cmd, with its statistics, slowlog and latency events. */
static void run(server *s, client *c, size_t from)
{
    const command *cmd = lookup_or_refuse(s, c, from);
    if (!cmd)
        return;
    size_t slot = stats_slot(cmd, c);
    const char *name = slot != SIZE_MAX ? command_table_name(slot) : NULL;
    if (!admit(s, c, cmd) || !admit_subscribed(c, cmd, name)) {
        if (c->paused) { /* held: CLIENT LIST shows it waiting in it, as Redis */
            c->last_cmd = slot != SIZE_MAX ? command_table_name(slot) : cmd->name;
            return;
        }
        refused(s, c, cmd, slot, from);
        return;
    }
    if (multi_queues(c, cmd)) {
        multi_queue(c, cmd, command_writes(s, c, cmd), command_may_replicate(s, c, cmd));
        return;
    }
    command_call(s, c, cmd, from);
    blocking_after_command(s, c); /* waiters of keys it made ready, after its commit */
}

void command_call(server *s, client *c, const command *cmd, size_t from)
{
    size_t slot = stats_slot(cmd, c), nslots = NCOMMANDS + NSUBS;
    c->last_cmd = slot != SIZE_MAX ? command_table_name(slot) : cmd->name;
    c->no_touch = cmd->flags & NOTOUCH;
    c->redacted = 0;
    uint64_t t0 = mono_ns();
    notify_mark(s);
    tracking_call_begin(s, c);
    c->error_counted = false;
    uint64_t wgen = __atomic_load_n(&s->wgen, __ATOMIC_RELAXED);
    cmd->fn(s, c);
    if (__atomic_load_n(&s->wgen, __ATOMIC_RELAXED) != wgen)
        c->woff = shale_last_seq(s->db); /* what WAIT waits for */
    notify_flush(s); /* what a read told (an expiry it reaped); in EXEC, nothing yet */
    tracking_call_end(s, c, cmd);
    uint64_t ns = mono_ns() - t0;
    long long us = (long long)(ns / 1000);
    bool failed = count_error_reply(s, c, from);
    static const char arity_err[] = "-ERR wrong number of arguments";
    if (failed && c->out.len - from >= sizeof arity_err - 1 &&
        memcmp(c->out.data + from, arity_err, sizeof arity_err - 1) == 0) {
        /* a subcommand's arity: Redis refuses it before running, so it is a rejection */
        if (slot != SIZE_MAX)
            cmdstats_reject(&s->cmds, nslots, slot);
        if (!command_nsubs(cmd))
            monitor_feed(s, c, cmd); /* (PING's own arity check: it ran, in Redis too) */
    } else if (slot != SIZE_MAX) {
        cmdstats_record(&s->cmds, nslots, slot, ns, failed, s->cfg.latency_tracking);
        monitor_feed(s, c, cmd);
    }
    s->stats.commands_processed++;
    if (cmd->fn != cmd_exec) /* EXEC's commands are logged, not EXEC (as Redis) */
        slowlog_maybe_add(s, c, us);
    latency_maybe_add(s, cmd->flags & FAST ? "fast-command" : "command", (uint64_t)us);
}

void reply_disk_error(client *c, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg,
             "MISCONF Errors writing to disk: %s. Write commands are refused until shale "
             "can write again; reads are served",
             shale_strerror(err));
    resp_error(&c->out, msg);
}

void reply_unsynced_error(client *c, int err)
{
    char msg[320];
    snprintf(msg, sizeof msg,
             "MISCONF Errors writing to disk: %s. The latest writes may not be durable: "
             "commands that read or write data are refused until they are (after a failed "
             "sync: until a restart)",
             shale_strerror(err));
    resp_error(&c->out, msg);
}

void reply_read_error(client *c, int rc)
{
    if (rc == -ENOMEM) {
        reply_engine_error(c, rc);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "ERR reading from disk failed: %s", shale_strerror(rc));
    resp_error(&c->out, msg);
}

void reply_engine_error(client *c, int rc)
{
    char msg[256];
    if (rc == SHALE_ESTALL)
        snprintf(msg, sizeof msg, "BUSY shale write stall (%s), retry later",
                 c->stall_cause ? c->stall_cause : "l0");
    else if (rc == SHALE_EFAILED || rc == -ENOSPC || rc == -EIO || rc == -EDQUOT) {
        reply_disk_error(c, rc);
        return;
    } else if (rc == -ENOMEM)
        snprintf(msg, sizeof msg, "OOM command not allowed: out of memory");
    else
        snprintf(msg, sizeof msg, "ERR %s", shale_strerror(rc));
    resp_error(&c->out, msg);
}

bool ks_finish(server *s, client *c, int rc)
{
    if (rc == 0)
        rc = ks_commit(&s->ks);
    else
        ks_abort(&s->ks);
    if (rc == SHALE_ESTALL) {
        uint64_t mem = 0;
        shale_property_int(s->db, "shale.stall-timeouts-memtable", &mem);
        bool by_memtable = mem > s->memtable_timeouts_seen;
        s->memtable_timeouts_seen = mem;
        if (by_memtable) {
            s->stats.stall_rejections_memtable++;
            c->stall_cause = "memtable";
        } else {
            s->stats.stall_rejections_l0++;
            c->stall_cause = "l0";
        }
    }
    if (rc == SHALE_EFAILED) {
        /* the log write failed just now: the pre-check refuses the next writes */
        int err = ks_engines_background_error(&s->ks);
        if (err)
            server_note_disk_error(s, err);
    }
    if (rc == SHALE_EFAILED || rc == -ENOSPC || rc == -EIO || rc == -EDQUOT)
        s->last_write_error = rc == SHALE_EFAILED && s->disk_error ? s->disk_error : rc;
    if (rc) {
        notify_drop_command(s);
        reply_engine_error(c, rc == SHALE_EFAILED && s->disk_error ? s->disk_error : rc);
        return false;
    }
    s->last_write_error = 0;
    server_wrote(s);
    notify_flush(s); /* before the reply, as Redis sends them (in EXEC: after its commit) */
    return true;
}

void reply_help(client *c, const char *const *lines, size_t n)
{
    resp_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_simple(&c->out, lines[i]);
}

void reply_subcommand_error(client *c)
{
    char msg[300], upper[32];
    resp_arg *sub = &c->cmd.argv[1];
    const command *parent = command_lookup(c->cmd.argv[0].p, c->cmd.argv[0].len);
    if (parent && command_sub_lookup(parent, sub->p, sub->len)) {
        /* a known subcommand reaches here only with the wrong number of arguments:
           Redis 7 names it "parent|sub" (OBJECT HELP x, SLOWLOG LEN x) */
        char lower[80];
        size_t n = 0;
        for (int i = 0; i < 2; i++) {
            const resp_arg *w = &c->cmd.argv[i];
            for (size_t j = 0; j < w->len && n < sizeof lower - 2; j++)
                lower[n++] = (char)tolower((unsigned char)w->p[j]);
            if (i == 0)
                lower[n++] = '|';
        }
        lower[n] = '\0';
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", lower);
        resp_error(&c->out, msg);
        return;
    }
    size_t n = c->cmd.argv[0].len < sizeof upper - 1 ? c->cmd.argv[0].len : sizeof upper - 1;
    for (size_t i = 0; i < n; i++)
        upper[i] = (char)toupper((unsigned char)c->cmd.argv[0].p[i]);
    upper[n] = '\0';
    snprintf(msg, sizeof msg, "ERR unknown subcommand '%.*s'. Try %s HELP.",
             (int)(sub->len > 128 ? 128 : sub->len), sub->p, upper);
    resp_error(&c->out, msg);
}
