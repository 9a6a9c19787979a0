/*
 * command_facts.h - what Redis 7.0 says about each of its commands and subcommands, by
 * name: arity, flags, ACL categories, tips, key specs (where the keys are, and how each is
 * used), and the documentation facts of COMMAND DOCS (version, group, deprecation, the
 * argument tree). command_facts.c is generated from a redis-server 7.0 by
 * scripts/gen-command-facts.py and holds every command Redis has, whether shale has it yet
 * or not: a row added to the command table (command.c) finds its facts by name.
 *
 * What the facts are not: shale's command table. Which commands exist, their handlers and
 * the flags the dispatcher acts on are the table's; test_command checks that the two agree.
 */
#ifndef SHALE_COMMAND_FACTS_H
#define SHALE_COMMAND_FACTS_H

#include <stddef.h>
#include <stdint.h>

/* Command flags, in the order COMMAND INFO lists them. */
enum {
    CF_WRITE = 1u << 0,
    CF_READONLY = 1u << 1,
    CF_DENYOOM = 1u << 2,
    CF_MODULE = 1u << 3,
    CF_ADMIN = 1u << 4,
    CF_PUBSUB = 1u << 5,
    CF_NOSCRIPT = 1u << 6,
    CF_BLOCKING = 1u << 7,
    CF_LOADING = 1u << 8,
    CF_STALE = 1u << 9,
    CF_SKIP_MONITOR = 1u << 10,
    CF_SKIP_SLOWLOG = 1u << 11,
    CF_ASKING = 1u << 12,
    CF_FAST = 1u << 13,
    CF_NO_AUTH = 1u << 14,
    CF_NO_MANDATORY_KEYS = 1u << 15,
    CF_NO_ASYNC_LOADING = 1u << 16,
    CF_NO_MULTI = 1u << 17,
    CF_MOVABLEKEYS = 1u << 18,
    CF_ALLOW_BUSY = 1u << 19,
};
#define CF_COUNT 20

/* ACL categories, in Redis's order (COMMAND INFO lists them so). */
enum {
    ACL_KEYSPACE = 1u << 0,
    ACL_READ = 1u << 1,
    ACL_WRITE = 1u << 2,
    ACL_SET = 1u << 3,
    ACL_SORTEDSET = 1u << 4,
    ACL_LIST = 1u << 5,
    ACL_HASH = 1u << 6,
    ACL_STRING = 1u << 7,
    ACL_BITMAP = 1u << 8,
    ACL_HYPERLOGLOG = 1u << 9,
    ACL_GEO = 1u << 10,
    ACL_STREAM = 1u << 11,
    ACL_PUBSUB = 1u << 12,
    ACL_ADMIN = 1u << 13,
    ACL_FAST = 1u << 14,
    ACL_SLOW = 1u << 15,
    ACL_BLOCKING = 1u << 16,
    ACL_DANGEROUS = 1u << 17,
    ACL_CONNECTION = 1u << 18,
    ACL_TRANSACTION = 1u << 19,
    ACL_SCRIPTING = 1u << 20,
};
#define ACL_COUNT 21

/* How a key spec's keys are used (Redis 7's key-spec flags), in reply order. */
enum {
    KSF_RO = 1u << 0,     /* read only */
    KSF_RW = 1u << 1,     /* read and written */
    KSF_OW = 1u << 2,     /* overwritten, not read */
    KSF_RM = 1u << 3,     /* deleted */
    KSF_ACCESS = 1u << 4, /* its value is returned or used */
    KSF_UPDATE = 1u << 5,
    KSF_INSERT = 1u << 6,
    KSF_DELETE = 1u << 7,
    KSF_NOT_KEY = 1u << 8,         /* a name that hashes like a key (sharded channels) */
    KSF_INCOMPLETE = 1u << 9,      /* the spec may miss keys: a finder must look */
    KSF_VARIABLE_FLAGS = 1u << 10, /* the flags depend on the arguments: a finder tells */
};
#define KSF_COUNT 11

enum { KS_BS_UNKNOWN, KS_BS_INDEX, KS_BS_KEYWORD };
enum { KS_FK_UNKNOWN, KS_FK_RANGE, KS_FK_KEYNUM };

/*
 * Where a command's keys are: a begin search (a fixed index, or the argument after a
 * keyword searched from startfrom, backwards when negative) then a find keys (a range:
 * lastkey relative to the first, negative from the end, keystep, and limit dividing what
 * is left; or keynum: the count at keynumidx, the first key firstkey after the begin,
 * keystep).
 */
typedef struct key_spec {
    uint16_t flags;    /* KSF_* */
    const char *notes; /* Redis's note on the spec, or NULL */
    uint8_t bs_type;   /* KS_BS_* */
    int16_t bs_pos;    /* index: the position; keyword: startfrom */
    const char *keyword;
    uint8_t fk_type; /* KS_FK_* */
    int16_t fk[3];   /* range: lastkey keystep limit; keynum: keynumidx firstkey keystep */
} key_spec;

enum {
    ARG_STRING,
    ARG_INTEGER,
    ARG_DOUBLE,
    ARG_KEY,
    ARG_PATTERN,
    ARG_UNIX_TIME,
    ARG_PURE_TOKEN,
    ARG_ONEOF,
    ARG_BLOCK,
};
enum { ARGF_OPTIONAL = 1u << 0, ARGF_MULTIPLE = 1u << 1, ARGF_MULTIPLE_TOKEN = 1u << 2 };
enum { DOCF_DEPRECATED = 1u << 0, DOCF_SYSCMD = 1u << 1 };

/* One argument of COMMAND DOCS's tree (a oneof or a block holds others). */
typedef struct command_arg {
    const char *name;
    uint8_t type;          /* ARG_* */
    int8_t key_spec_index; /* a key argument's spec, else -1 */
    const char *token, *since, *deprecated_since;
    uint8_t flags; /* ARGF_* */
    uint8_t nargs;
    const struct command_arg *args;
} command_arg;

typedef struct command_facts {
    const char *name; /* "get", or "config|get" for a subcommand */
    int arity;
    uint32_t flags;                /* CF_* */
    int first_key, last_key, step; /* COMMAND INFO's legacy range */
    uint32_t acl;                  /* ACL_* */
    const char *tips;              /* space-separated, or NULL */
    uint8_t nspecs;
    const key_spec *specs;
    const char *since, *group; /* group as COMMAND DOCS names it ("sorted-set") */
    uint8_t doc_flags;         /* DOCF_* */
    const char *deprecated_since, *replaced_by;
    uint8_t nargs;
    const command_arg *args;
} command_facts;

extern const command_facts command_facts_table[];
extern const size_t command_facts_count;

/* The facts of name (a command, or "parent|sub"), any case; NULL when Redis has none. */
const command_facts *command_facts_find(const char *name, size_t len);
/* The flag names, in reply order: CF_*, ACL_*, KSF_* (index = bit number). */
extern const char *const command_flag_names[CF_COUNT];
extern const char *const acl_category_names[ACL_COUNT];
extern const char *const key_spec_flag_names[KSF_COUNT];
extern const char *const command_arg_type_names[];

#endif
