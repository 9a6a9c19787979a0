/*
 * command_keys.c - where a command's keys are, and what Redis says about the command:
 * the lookup of its facts (command_facts.c), the flags, ACL categories and key specs a
 * row without facts implies, and the keys of a call as Redis 7.0's COMMAND GETKEYS finds
 * them: from the key specs, or, where a spec cannot say, from the command's own finder.
 *
 * A row's first/last/step and flags give its default spec; the facts of a command Redis
 * has override it with Redis's own specs (a ZUNIONSTORE's numkeys, a SORT's STORE), so a
 * row added for such a command gets them by its name alone.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "command.h"

/* clang-format off */
const char *const command_flag_names[CF_COUNT] = {
    "write",   "readonly",     "denyoom",      "module",       "admin",
    "pubsub",  "noscript",     "blocking",     "loading",      "stale",
    "skip_monitor", "skip_slowlog", "asking",  "fast",         "no_auth",
    "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
};
const char *const acl_category_names[ACL_COUNT] = {
    "keyspace", "read",  "write",       "set",    "sortedset", "list",     "hash",
    "string",   "bitmap", "hyperloglog", "geo",   "stream",    "pubsub",   "admin",
    "fast",     "slow",  "blocking",    "dangerous", "connection", "transaction", "scripting",
};
const char *const key_spec_flag_names[KSF_COUNT] = {
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key", "incomplete",
    "variable_flags",
};
const char *const command_arg_type_names[] = {
    "string", "integer", "double", "key", "pattern", "unix-time", "pure-token", "oneof", "block",
};
/* clang-format on */

/* The table is sorted by name (lower case): a binary search. */
const command_facts *command_facts_find(const char *name, size_t len)
{
    char key[64];
    if (len >= sizeof key)
        return NULL;
    for (size_t i = 0; i < len; i++)
        key[i] = (char)tolower((unsigned char)name[i]);
    key[len] = '\0';
    size_t lo = 0, hi = command_facts_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(command_facts_table[mid].name, key);
        if (c == 0)
            return &command_facts_table[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- a row without facts: what its flags imply ---- */

uint32_t command_redis_flags(const command *cmd)
{
    const command_facts *f = command_facts_of(cmd);
    if (f)
        return f->flags;
    uint32_t flags = 0;
    if (cmd->flags & W)
        flags |= CF_WRITE;
    if (cmd->flags & R)
        flags |= CF_READONLY;
    if (cmd->flags & M)
        flags |= CF_DENYOOM;
    if (cmd->flags & ADMIN)
        flags |= CF_ADMIN;
    if (cmd->flags & FAST)
        flags |= CF_FAST;
    if (cmd->flags & NOAUTH)
        flags |= CF_NO_AUTH;
    return flags;
}

/* The category of a command group (Redis's group names, and the plain ones). */
static uint32_t group_category(const char *group)
{
    static const struct {
        const char *group;
        uint32_t acl;
    } map[] = {
        {"generic", ACL_KEYSPACE},
        {"string", ACL_STRING},
        {"hash", ACL_HASH},
        {"list", ACL_LIST},
        {"set", ACL_SET},
        {"sorted-set", ACL_SORTEDSET},
        {"sorted_set", ACL_SORTEDSET},
        {"zset", ACL_SORTEDSET},
        {"geo", ACL_GEO},
        {"connection", ACL_CONNECTION},
        {"scripting", ACL_SCRIPTING},
        {"pubsub", ACL_PUBSUB},
        {"transactions", ACL_TRANSACTION},
        {"stream", ACL_STREAM},
        {"bitmap", ACL_BITMAP},
        {"hyperloglog", ACL_HYPERLOGLOG},
    };
    for (size_t i = 0; group && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].group, group) == 0)
            return map[i].acl;
    return 0;
}

/* Redis's implied categories: write, read, admin + dangerous, fast, else slow. */
uint32_t command_acl(const command *cmd)
{
    const command_facts *f = command_facts_of(cmd);
    if (f)
        return f->acl;
    uint32_t acl = group_category(cmd->group);
    if (cmd->flags & W)
        acl |= ACL_WRITE;
    if (cmd->flags & R)
        acl |= ACL_READ;
    if (cmd->flags & ADMIN)
        acl |= ACL_ADMIN | ACL_DANGEROUS;
    acl |= cmd->flags & FAST ? ACL_FAST : ACL_SLOW;
    return acl;
}

size_t command_key_specs(const command *cmd, const key_spec **specs, key_spec *tmp)
{
    const command_facts *f = command_facts_of(cmd);
    if (f) {
        *specs = f->specs;
        return f->nspecs;
    }
    *specs = NULL;
    if (cmd->first_key <= 0)
        return 0;
    /* the legacy range as one spec: written keys are read and updated, as far as the
       row can tell */
    *tmp = (key_spec){
        .flags =
            (uint16_t)(cmd->flags & W ? KSF_RW | KSF_ACCESS | KSF_UPDATE : KSF_RO | KSF_ACCESS),
        .bs_type = KS_BS_INDEX,
        .bs_pos = (int16_t)cmd->first_key,
        .fk_type = KS_FK_RANGE,
        .fk = {(int16_t)(cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key),
               (int16_t)cmd->step, 0},
    };
    *specs = tmp;
    return 1;
}

/* ---- the keys of a call ---- */

typedef struct keys_out {
    command_key *k;
    int n, cap;
} keys_out;

static int keys_add(keys_out *o, int pos, uint16_t flags)
{
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 8;
        command_key *k = realloc(o->k, (size_t)cap * sizeof *k);
        if (!k)
            return -ENOMEM;
        o->k = k;
        o->cap = cap;
    }
    o->k[o->n++] = (command_key){pos, flags};
    return 0;
}

/* Where a keyword spec begins: the argument after the keyword, searched from startfrom
   (from the end when negative, backwards); 0 when the keyword is absent. */
static int keyword_begin(const key_spec *sp, const resp_arg *argv, int argc)
{
    int from = sp->bs_pos > 0 ? sp->bs_pos : argc + sp->bs_pos;
    int step = sp->bs_pos > 0 ? 1 : -1;
    for (int i = from; i >= 1 && i < argc; i += step)
        if (arg_is(&argv[i], sp->keyword))
            return i + 1;
    return 0;
}

/* One spec's keys into o. 0, 1 when the spec skips (its keyword is absent), -1 when it
   cannot say (Redis's invalid spec), -ENOMEM. */
static int spec_keys(const command *cmd, const key_spec *sp, const resp_arg *argv, int argc,
                     keys_out *o)
{
    int first, last, step;
    if (sp->bs_type == KS_BS_INDEX)
        first = sp->bs_pos;
    else if (sp->bs_type == KS_BS_KEYWORD && (first = keyword_begin(sp, argv, argc)) == 0)
        return 1;
    else if (sp->bs_type != KS_BS_KEYWORD)
        return -1;
    if (sp->fk_type == KS_FK_RANGE) {
        int lastkey = sp->fk[0], limit = sp->fk[2];
        step = sp->fk[1];
        if (lastkey >= 0)
            last = first + lastkey;
        else if (!limit)
            last = argc + lastkey;
        else /* the keys are the first 1/limit of what follows (XREAD's streams) */
            last = first + (argc - first) / limit + lastkey;
    } else if (sp->fk_type == KS_FK_KEYNUM) {
        long long numkeys;
        step = sp->fk[2];
        int at = first + sp->fk[0];
        if (at >= argc || !arg_ll(&argv[at], &numkeys) || numkeys < 0 || numkeys > argc)
            return -1;
        first += sp->fk[1];
        last = first + (int)numkeys - 1;
    } else {
        return -1;
    }
    if (last >= argc || last < first || first >= argc)
        return -1;
    for (int i = first; i <= last; i += step) {
        if (i >= argc) /* a variadic command short of arguments: its own error will tell */
            continue;
        if (keys_add(o, i, sp->flags))
            return -ENOMEM;
    }
    (void)cmd;
    return sp->flags & KSF_INCOMPLETE ? -1 : 0;
}

/* The keys from the specs: the count, or -1 when a spec cannot say, -ENOMEM. */
static int keys_from_specs(const command *cmd, const key_spec *specs, size_t n,
                           const resp_arg *argv, int argc, keys_out *o)
{
    for (size_t j = 0; j < n; j++) {
        if (specs[j].flags & KSF_NOT_KEY)
            continue;
        int rc = spec_keys(cmd, &specs[j], argv, argc, o);
        if (rc < 0) {
            o->n = 0;
            return rc;
        }
    }
    return o->n;
}

/* ---- the finders Redis has where specs cannot say ---- */

/* COMMAND [dest] numkeys key ... : the keys when numkeys (atoi, as Redis) fits, dest last;
   none otherwise (the command will reply a syntax error). */
static int numkeys_keys(const resp_arg *argv, int argc, int store, int count, int first,
                        keys_out *o)
{
    char buf[24];
    size_t n = argv[count].len < sizeof buf - 1 ? argv[count].len : sizeof buf - 1;
    memcpy(buf, argv[count].p, n);
    buf[n] = '\0';
    long num = atol(buf);
    if (num < 1 || num > argc - first)
        return 0;
    for (int i = 0; i < num; i++)
        if (keys_add(o, first + i, 0))
            return -ENOMEM;
    if (store && keys_add(o, store, 0))
        return -ENOMEM;
    return o->n;
}

/* SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dest]: the key, and
   the last STORE's destination. */
static int sort_keys(const resp_arg *argv, int argc, keys_out *o)
{
    if (keys_add(o, 1, KSF_RO | KSF_ACCESS))
        return -ENOMEM;
    int store = 0;
    for (int i = 2; i < argc; i++) {
        if (arg_is(&argv[i], "limit"))
            i += 2;
        else if (arg_is(&argv[i], "get") || arg_is(&argv[i], "by"))
            i += 1;
        else if (arg_is(&argv[i], "store") && i + 1 < argc)
            store = i + 1;
    }
    if (store && keys_add(o, store, KSF_OW | KSF_UPDATE))
        return -ENOMEM;
    return o->n;
}

/* MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH p] [AUTH2 u p] [KEYS k ...] */
static int migrate_keys(const resp_arg *argv, int argc, keys_out *o)
{
    int first = 3, num = 1;
    for (int i = 6; i < argc; i++) {
        if (arg_is(&argv[i], "keys")) {
            if (argv[3].len > 0) { /* a syntax error MIGRATE will reply */
                num = 0;
            } else {
                first = i + 1;
                num = argc - first;
            }
            break;
        }
        if (arg_is(&argv[i], "auth"))
            i += 1;
        else if (arg_is(&argv[i], "auth2"))
            i += 2;
    }
    for (int i = 0; i < num; i++)
        if (keys_add(o, first + i, KSF_RW | KSF_ACCESS | KSF_DELETE))
            return -ENOMEM;
    return o->n;
}

/* GEORADIUS[BYMEMBER] key ... [STORE k] [STOREDIST k]: the key, and the last store. */
static int georadius_keys(const resp_arg *argv, int argc, keys_out *o)
{
    int store = 0;
    for (int i = 5; i < argc; i++)
        if ((arg_is(&argv[i], "store") || arg_is(&argv[i], "storedist")) && i + 1 < argc)
            store = ++i;
    if (keys_add(o, 1, 0) || (store && keys_add(o, store, 0)))
        return -ENOMEM;
    return o->n;
}

/* XREAD[GROUP] [BLOCK ms] [COUNT n] [GROUP g c] [NOACK] STREAMS key ... id ... */
static int xread_keys(const resp_arg *argv, int argc, keys_out *o)
{
    int streams = -1;
    for (int i = 1; i < argc; i++) {
        if (arg_is(&argv[i], "block") || arg_is(&argv[i], "count"))
            i++;
        else if (arg_is(&argv[i], "group"))
            i += 2;
        else if (arg_is(&argv[i], "streams")) {
            streams = i;
            break;
        } else if (!arg_is(&argv[i], "noack"))
            break;
    }
    int num = streams < 0 ? 0 : argc - streams - 1;
    if (num == 0 || num % 2)
        return 0;
    for (int i = 0; i < num / 2; i++)
        if (keys_add(o, streams + 1 + i, 0))
            return -ENOMEM;
    return o->n;
}

/* SET key value [...GET...]: read too when GET is given. */
static int set_keys(const resp_arg *argv, int argc, keys_out *o)
{
    bool get = false;
    for (int i = 3; i < argc && !get; i++)
        get = arg_is(&argv[i], "get");
    return keys_add(o, 1, get ? KSF_RW | KSF_ACCESS | KSF_UPDATE : KSF_OW | KSF_UPDATE) ? -ENOMEM
                                                                                        : 1;
}

/* BITFIELD key [GET t o] [SET t o v] [INCRBY t o i] [OVERFLOW w]: read only with GETs. */
static int bitfield_keys(const resp_arg *argv, int argc, keys_out *o)
{
    bool ro = true;
    for (int i = 2; i < argc && ro; i++) {
        int more = argc - i - 1;
        if (arg_is(&argv[i], "get") && more >= 2)
            i += 2;
        else if (arg_is(&argv[i], "overflow") && more >= 1)
            i += 1;
        else
            ro = false; /* SET, INCRBY, or a syntax error: assume a write, as Redis */
    }
    return keys_add(o, 1, ro ? KSF_RO | KSF_ACCESS : KSF_RW | KSF_ACCESS | KSF_UPDATE) ? -ENOMEM
                                                                                       : 1;
}

enum finder {
    F_NONE,
    F_NUMKEYS,
    F_SORT,
    F_SORT_RO,
    F_MIGRATE,
    F_GEORADIUS,
    F_XREAD,
    F_SET,
    F_BITFIELD
};

/* Redis 7.0's commands with a finder of their own, and the numkeys layout (dest, count,
   first) of those that count their keys. */
/* clang-format off */
static const struct finder_row {
    const char *name;
    enum finder f;
    int store, count, first;
} finders[] = {
    {"bitfield", F_BITFIELD, 0, 0, 0},     {"blmpop", F_NUMKEYS, 0, 2, 3},
    {"bzmpop", F_NUMKEYS, 0, 2, 3},        {"eval", F_NUMKEYS, 0, 2, 3},
    {"eval_ro", F_NUMKEYS, 0, 2, 3},       {"evalsha", F_NUMKEYS, 0, 2, 3},
    {"evalsha_ro", F_NUMKEYS, 0, 2, 3},    {"fcall", F_NUMKEYS, 0, 2, 3},
    {"fcall_ro", F_NUMKEYS, 0, 2, 3},      {"georadius", F_GEORADIUS, 0, 0, 0},
    {"georadiusbymember", F_GEORADIUS, 0, 0, 0}, {"lmpop", F_NUMKEYS, 0, 1, 2},
    {"migrate", F_MIGRATE, 0, 0, 0},       {"set", F_SET, 0, 0, 0},
    {"sintercard", F_NUMKEYS, 0, 1, 2},    {"sort", F_SORT, 0, 0, 0},
    {"sort_ro", F_SORT_RO, 0, 0, 0},       {"xread", F_XREAD, 0, 0, 0},
    {"xreadgroup", F_XREAD, 0, 0, 0},      {"zdiff", F_NUMKEYS, 0, 1, 2},
    {"zdiffstore", F_NUMKEYS, 1, 2, 3},    {"zinter", F_NUMKEYS, 0, 1, 2},
    {"zintercard", F_NUMKEYS, 0, 1, 2},    {"zinterstore", F_NUMKEYS, 1, 2, 3},
    {"zmpop", F_NUMKEYS, 0, 1, 2},         {"zunion", F_NUMKEYS, 0, 1, 2},
    {"zunionstore", F_NUMKEYS, 1, 2, 3},
};
/* clang-format on */

static const struct finder_row *finder_of(const command *cmd)
{
    for (size_t i = 0; i < sizeof finders / sizeof finders[0]; i++)
        if (strcmp(finders[i].name, cmd->name) == 0)
            return &finders[i];
    return NULL;
}

static int finder_keys(const struct finder_row *fr, const resp_arg *argv, int argc, keys_out *o)
{
    switch (fr->f) {
    case F_NUMKEYS:
        return argc > fr->count ? numkeys_keys(argv, argc, fr->store, fr->count, fr->first, o) : 0;
    case F_SORT:
        return sort_keys(argv, argc, o);
    case F_SORT_RO:
        return keys_add(o, 1, KSF_RO | KSF_ACCESS) ? -ENOMEM : 1;
    case F_MIGRATE:
        return migrate_keys(argv, argc, o);
    case F_GEORADIUS:
        return georadius_keys(argv, argc, o);
    case F_XREAD:
        return xread_keys(argv, argc, o);
    case F_SET:
        return set_keys(argv, argc, o);
    case F_BITFIELD:
        return bitfield_keys(argv, argc, o);
    default:
        return 0;
    }
}

bool command_has_keys(const command *cmd)
{
    key_spec tmp;
    const key_spec *specs;
    size_t n = command_key_specs(cmd, &specs, &tmp);
    for (size_t i = 0; i < n; i++)
        if (!(specs[i].flags & KSF_NOT_KEY))
            return true;
    return finder_of(cmd) != NULL;
}

int command_keys(const command *cmd, const resp_arg *argv, int argc, command_key **out)
{
    keys_out o = {0};
    key_spec tmp;
    const key_spec *specs;
    size_t n = command_key_specs(cmd, &specs, &tmp);
    bool keyed = false, variable = false;
    for (size_t i = 0; i < n; i++) {
        keyed |= !(specs[i].flags & KSF_NOT_KEY);
        variable |= specs[i].flags & KSF_VARIABLE_FLAGS;
    }
    /* the specs first, as Redis, unless their flags depend on the arguments */
    int rc = keyed && !variable ? keys_from_specs(cmd, specs, n, argv, argc, &o) : -1;
    const struct finder_row *fr;
    if (rc == -1 && (fr = finder_of(cmd)) != NULL)
        rc = finder_keys(fr, argv, argc, &o);
    if (rc < 0)
        rc = rc == -ENOMEM ? rc : 0;
    if (rc <= 0) {
        free(o.k);
        o.k = NULL;
    }
    *out = o.k;
    return rc;
}
