/* test_command.c - the command table against what Redis 7.0 says about each command
   (command_facts.c), and the keys of calls as COMMAND GETKEYS finds them: from key specs,
   from the finders where specs cannot say, and from a row's own first/last/step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"

/* Row flags and Redis's, pairwise: a row must say what Redis says. */
static const struct {
    int row;
    uint32_t redis;
    const char *name;
} flag_pairs[] = {
    {W, CF_WRITE, "write"},  {R, CF_READONLY, "readonly"}, {M, CF_DENYOOM, "denyoom"},
    {FAST, CF_FAST, "fast"}, {ADMIN, CF_ADMIN, "admin"},   {NOAUTH, CF_NO_AUTH, "no_auth"},
};

/* One row against its facts; prints each difference, returns how many. */
static int row_differences(const command *cmd)
{
    const command_facts *f = command_facts_of(cmd);
    if (!f)
        return 0; /* a command of shale's own, or one Redis 7.0 lacks */
    int bad = 0;
    if (cmd->arity != f->arity) {
        printf("%s: arity %d, Redis %d\n", cmd->name, cmd->arity, f->arity);
        bad++;
    }
    if (command_nsubs(cmd)) /* a container: its row flags gate all its subcommands */
        return bad;
    for (size_t i = 0; i < sizeof flag_pairs / sizeof flag_pairs[0]; i++)
        if (!(cmd->flags & flag_pairs[i].row) != !(f->flags & flag_pairs[i].redis)) {
            printf("%s: %s %s, Redis %s\n", cmd->name, flag_pairs[i].name,
                   cmd->flags & flag_pairs[i].row ? "set" : "unset",
                   f->flags & flag_pairs[i].redis ? "sets it" : "does not");
            bad++;
        }
    if (cmd->first_key != f->first_key || cmd->last_key != f->last_key || cmd->step != f->step) {
        printf("%s: keys %d %d %d, Redis %d %d %d\n", cmd->name, cmd->first_key, cmd->last_key,
               cmd->step, f->first_key, f->last_key, f->step);
        bad++;
    }
    return bad;
}

static void test_command_rows_agree_with_redis(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < command_count(); i++) {
        const command *cmd = command_at(i);
        bad += row_differences(cmd);
        for (size_t j = 0; j < command_nsubs(cmd); j++) {
            const command *sub = command_sub_at(cmd, j);
            assert_ptr_equal(command_parent(sub), cmd);
            bad += row_differences(sub);
        }
    }
    assert_int_equal(bad, 0);
}

static void test_command_facts_sorted_and_found(void **state)
{
    for (size_t i = 0; i < command_facts_count; i++) {
        const char *name = command_facts_table[i].name;
        if (i > 0)
            assert_true(strcmp(command_facts_table[i - 1].name, name) < 0);
        assert_ptr_equal(command_facts_find(name, strlen(name)), &command_facts_table[i]);
    }
    assert_non_null(command_facts_find("ZUnionStore", 11));
    assert_non_null(command_facts_find("config|get", 10));
    assert_null(command_facts_find("nosuch", 6));
    assert_null(command_facts_find("get|key", 7));
}

static void test_command_lookup_names(void **state)
{
    const command *get = command_lookup("GET", 3);
    assert_non_null(get);
    assert_string_equal(get->name, "get");
    const command *cfg = command_lookup("config", 6);
    const command *cfg_get = command_lookup("CONFIG|GET", 10);
    assert_non_null(cfg_get);
    assert_ptr_equal(command_sub_lookup(cfg, "get", 3), cfg_get);
    assert_null(command_sub_lookup(get, "x", 1));
    assert_null(command_lookup("config|nosuch", 13));
}

/* argv from words */
static resp_arg *words(int n, const char **w)
{
    resp_arg *a = calloc((size_t)n, sizeof *a);
    for (int i = 0; i < n; i++)
        a[i] = (resp_arg){.p = w[i], .len = strlen(w[i])};
    return a;
}

/* The keys command_keys finds in the words, as "k1 k2", or "" */
static void keys_of(const command *cmd, int n, const char **w, char *out, size_t cap,
                    uint16_t *first_flags)
{
    resp_arg *a = words(n, w);
    command_key *keys;
    int k = command_keys(cmd, a, n, &keys);
    assert_true(k >= 0);
    out[0] = '\0';
    for (int i = 0; i < k; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? " " : "", w[keys[i].pos]);
    if (first_flags)
        *first_flags = k ? keys[0].flags : 0;
    free(keys);
    free(a);
}

/* Rows for commands shale may not have yet: their facts come by name. */
static const command zunionstore = {"zunionstore", -4, W | M, 1, 1, 1, "sorted-set", "", NULL};
static const command sort = {"sort", -2, W | M, 1, 1, 1, "generic", "", NULL};
static const command migrate = {"migrate", -6, W, 3, 3, 1, "generic", "", NULL};
static const command georadius = {"georadius", -6, W | M, 1, 1, 1, "geo", "", NULL};
static const command eval = {"eval", -3, 0, 0, 0, 0, "scripting", "", NULL};
static const command xread = {"xread", -4, R, 0, 0, 0, "stream", "", NULL};
static const command lmpop = {"lmpop", -4, W, 0, 0, 0, "list", "", NULL};

static void test_command_keys_from_specs(void **state)
{
    char out[512];
    uint16_t fl;
    keys_of(command_lookup("get", 3), 2, (const char *[]){"get", "k"}, out, sizeof out, &fl);
    assert_string_equal(out, "k");
    assert_int_equal(fl, KSF_RO | KSF_ACCESS);
    keys_of(command_lookup("mset", 4), 5, (const char *[]){"mset", "a", "1", "b", "2"}, out,
            sizeof out, &fl);
    assert_string_equal(out, "a b");
    assert_int_equal(fl, KSF_OW | KSF_UPDATE);
    keys_of(&zunionstore, 6, (const char *[]){"zunionstore", "d", "3", "a", "b", "c"}, out,
            sizeof out, &fl);
    assert_string_equal(out, "d a b c");
    assert_int_equal(fl, KSF_OW | KSF_UPDATE);
    keys_of(&lmpop, 5, (const char *[]){"lmpop", "2", "a", "b", "left"}, out, sizeof out, NULL);
    assert_string_equal(out, "a b");
    keys_of(&xread, 6, (const char *[]){"xread", "count", "2", "streams", "s1", "0"}, out,
            sizeof out, NULL);
    assert_string_equal(out, "s1");
    keys_of(&georadius, 9,
            (const char *[]){"georadius", "g", "1", "2", "3", "km", "store", "dst", "asc"}, out,
            sizeof out, NULL);
    assert_string_equal(out, "g dst");
    keys_of(command_lookup("memory|usage", 12), 3, (const char *[]){"memory", "usage", "k"}, out,
            sizeof out, NULL);
    assert_string_equal(out, "k");
}

static void test_command_keys_from_finders(void **state)
{
    char out[512];
    uint16_t fl;
    /* SET's flags depend on GET */
    keys_of(command_lookup("set", 3), 3, (const char *[]){"set", "k", "v"}, out, sizeof out, &fl);
    assert_string_equal(out, "k");
    assert_int_equal(fl, KSF_OW | KSF_UPDATE);
    keys_of(command_lookup("set", 3), 4, (const char *[]){"set", "k", "v", "GET"}, out, sizeof out,
            &fl);
    assert_int_equal(fl, KSF_RW | KSF_ACCESS | KSF_UPDATE);
    /* SORT's STORE can be anywhere: the last one counts */
    keys_of(&sort, 7, (const char *[]){"sort", "k", "by", "store", "store", "a", "limit"}, out,
            sizeof out, NULL);
    assert_string_equal(out, "k a");
    keys_of(&migrate, 9, (const char *[]){"migrate", "h", "1", "", "0", "5", "keys", "a", "b"}, out,
            sizeof out, NULL);
    assert_string_equal(out, "a b");
    /* a count that does not parse or is zero: no keys */
    keys_of(&eval, 3, (const char *[]){"eval", "s", "0"}, out, sizeof out, NULL);
    assert_string_equal(out, "");
    keys_of(&zunionstore, 4, (const char *[]){"zunionstore", "d", "x", "a"}, out, sizeof out, NULL);
    assert_string_equal(out, "");
    /* more keys than numkeys allows: none, the command replies the error */
    keys_of(&zunionstore, 4, (const char *[]){"zunionstore", "d", "5", "a"}, out, sizeof out, NULL);
    assert_string_equal(out, "");
}

static void test_command_keys_of_row_without_facts(void **state)
{
    /* a command of shale's own: the default spec from its row */
    static const command own = {"shale-own", -2, W, 1, -1, 2, "generic", "", NULL};
    char out[128];
    uint16_t fl;
    keys_of(&own, 5, (const char *[]){"shale-own", "a", "x", "b", "y"}, out, sizeof out, &fl);
    assert_string_equal(out, "a b");
    assert_int_equal(fl, KSF_RW | KSF_ACCESS | KSF_UPDATE);
    assert_int_equal(command_redis_flags(&own), CF_WRITE);
    assert_int_equal(command_acl(&own), ACL_KEYSPACE | ACL_WRITE | ACL_SLOW);
    assert_true(command_has_keys(&own));
    assert_false(command_has_keys(command_lookup("ping", 4)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_rows_agree_with_redis),
        cmocka_unit_test(test_command_facts_sorted_and_found),
        cmocka_unit_test(test_command_lookup_names),
        cmocka_unit_test(test_command_keys_from_specs),
        cmocka_unit_test(test_command_keys_from_finders),
        cmocka_unit_test(test_command_keys_of_row_without_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
