/*
 * test_glob.c - server/commands/glob.c against redis-server 7.0's KEYS answers (glob_golden.h,
 * made by glob_golden.py), against the reference matcher of glob_ref.h on random short
 * inputs, and on the patterns that crashed or hung the old recursive matcher (#15.14).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "glob.h"
#include "glob_golden.h"
#include "glob_ref.h"
#include "testutil.h"

#define NKEYS (sizeof glob_golden_key / sizeof glob_golden_key[0])
#define NPATS (sizeof glob_golden / sizeof glob_golden[0])

/* KEYS answers "*" with every key, the empty one too, without matching (as Redis does);
   any other pattern goes through the matcher. */
static bool keys_match(bool (*match)(const char *, size_t, const char *, size_t, bool),
                       const char *pat, size_t plen, const char *key)
{
    return (plen == 1 && pat[0] == '*') || match(pat, plen, key, strlen(key), false);
}

static glob_ref ref_state;

static bool ref_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    return glob_ref_match(&ref_state, pat, plen, s, slen, nocase);
}

static void check_golden(bool (*match)(const char *, size_t, const char *, size_t, bool),
                         const char *who)
{
    int wrong = 0;
    for (size_t p = 0; p < NPATS; p++)
        for (size_t k = 0; k < NKEYS; k++) {
            bool want = glob_golden[p].mask >> k & 1;
            bool got = keys_match(match, glob_golden[p].pat, glob_golden[p].len, glob_golden_key[k]);
            if (got != want && wrong++ < 20)
                print_error("%s: pattern '%.*s' key '%s': %s, redis-server says %s\n", who,
                            (int)glob_golden[p].len, glob_golden[p].pat, glob_golden_key[k],
                            got ? "match" : "no match", want ? "match" : "no match");
        }
    if (wrong)
        fail_msg("%s: %d answers differ from redis-server's", who, wrong);
}

static void test_glob_reference_agrees_with_redis_server(void **state)
{
    check_golden(ref_match, "reference");
}

static void test_glob_agrees_with_redis_server(void **state)
{
    check_golden(glob_match, "glob.c");
}

/* Random short patterns and strings over the bytes that mean something to a glob. */
static void test_glob_agrees_with_reference_on_random_inputs(void **state)
{
    static const char alphabet[] = "aAbB*?[]^-\\z\x85\xff";
    uint64_t seed = tu_seed(), rnd = seed;
    char pat[16], str[16];
    for (int round = 0; round < 300000; round++) {
        size_t plen = tu_rand_below(&rnd, sizeof pat + 1);
        size_t slen = tu_rand_below(&rnd, sizeof str + 1);
        for (size_t i = 0; i < plen; i++)
            pat[i] = alphabet[tu_rand_below(&rnd, sizeof alphabet - 1)];
        for (size_t i = 0; i < slen; i++)
            str[i] = alphabet[tu_rand_below(&rnd, sizeof alphabet - 1)];
        bool nocase = round & 1;
        bool want = ref_match(pat, plen, str, slen, nocase);
        if (glob_match(pat, plen, str, slen, nocase) != want)
            fail_msg("pattern '%.*s' string '%.*s' nocase %d: reference says %d (seed %llu)",
                     (int)plen, pat, (int)slen, str, nocase, want, (unsigned long long)seed);
    }
}

static void test_glob_nocase_as_config_get(void **state)
{
    assert_true(glob_match("MAXMEM*", 7, "maxmemory", 9, true));
    assert_false(glob_match("MAXMEM*", 7, "maxmemory", 9, false));
    assert_true(glob_match("[L-M]axmemory", 13, "maxmemory", 9, true));
    assert_true(glob_match("[^A]", 4, "b", 1, true));
    assert_false(glob_match("[^A]", 4, "a", 1, true));
    /* an escaped byte in a class is compared exactly, as Redis does */
    assert_false(glob_match("[\\A]", 4, "a", 1, true));
    assert_true(glob_match("\\A", 2, "a", 1, true));
}

static void on_alarm(int sig)
{
    static const char msg[] = "test_glob: the matcher is still running after 20 s\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(1);
}

/* Redis's keyspace test: "a*a*...*b" (20 stars) against 40 a's; the old matcher tried
   every way to place the stars (minutes); the answer must come at once. */
static void test_glob_pathological_stars_answer_at_once(void **state)
{
    signal(SIGALRM, on_alarm);
    alarm(20);
    char pat[64], str[41];
    size_t n = 0;
    for (int i = 0; i < 20; i++) {
        pat[n++] = 'a';
        pat[n++] = '*';
    }
    pat[n++] = 'b';
    memset(str, 'a', 40);
    str[40] = '\0';
    assert_false(glob_match(pat, n, str, 40, false));
    str[39] = 'b';
    assert_true(glob_match(pat, n, str, 40, false));
    alarm(0);
}

/* SCAN 0 MATCH of 200 000 "*a": the old matcher recursed once per star and overflowed
   the stack. */
static void test_glob_200000_stars_do_not_overflow_the_stack(void **state)
{
    enum { N = 200000 };
    char *pat = malloc(2 * N), *str = malloc(N + 1);
    for (size_t i = 0; i < N; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = 'a';
        str[i] = 'a';
    }
    signal(SIGALRM, on_alarm);
    alarm(20);
    assert_true(glob_match(pat, 2 * N, str, N, false));
    str[N - 1] = 'b';
    assert_false(glob_match(pat, 2 * N, str, N, false));
    assert_false(glob_match(pat, 2 * N, "key:1", 5, false));
    alarm(0);
    free(pat);
    free(str);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_reference_agrees_with_redis_server),
        cmocka_unit_test(test_glob_agrees_with_redis_server),
        cmocka_unit_test(test_glob_agrees_with_reference_on_random_inputs),
        cmocka_unit_test(test_glob_nocase_as_config_get),
        cmocka_unit_test(test_glob_pathological_stars_answer_at_once),
        cmocka_unit_test(test_glob_200000_stars_do_not_overflow_the_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
