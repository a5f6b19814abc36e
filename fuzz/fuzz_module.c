/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_module.c - libFuzzer target (d): every word mod_shmcache reads,
 * through mod_shmcache/sc_parse.c linked directly (it calls no httpd
 * function, so no httpd stand-ins are needed), and common/units.c under
 * it. Byte 0 of the input picks what to run on the rest (a C string up to
 * its first NUL):
 *
 *   0, 1  sc_parse_key_path          "DIR\nURI": where the key is under
 *                                    <Location DIR>, vs a reference
 *   2     sc_parse_api_ttl / sc_parse_u64 / sc_parse_etag_version: the
 *         key API's words
 *   3     sc_parse_uint / sc_parse_mode / sc_parse_name vs references,
 *         sc_parse_ttl vs the CLI's sc_units_duration (one grammar)
 *   4     sc_parse_size vs the CLI's sc_units_size (one grammar, which
 *         fuzz_units checks against its reference)
 *   5     ShmcacheCache NAME PATH k=v ... (words split on spaces): on
 *         success the declared options must be within the library's limits
 *   6     the socache argument "PATH(SIZE)" (sc_parse_path_size)
 *   7     a cache name, then the same bytes as a size
 *
 * The percent-decoding of keys and query strings is httpd's own
 * (ap_unescape_url_keep2f, ap_args_to_table): not this project's code.
 *
 * Findings: crashes, sanitizer reports, and any disagreement with a
 * reference (the message says which).
 */
#include "fuzz_common.h"
#include "sc_private.h"
#include "units.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U64MAX 0xFFFFFFFFFFFFFFFFull

static apr_pool_t *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_pool_create(&pool, fz_global_pool()) != APR_SUCCESS)
        fz_fail("set-up failed");
    return 0;
}

/* ------------------------------------------------------------------------
 * References: each grammar written out plainly, with 128-bit arithmetic
 * ---------------------------------------------------------------------- */

/* Leading decimal digits of s into *v (saturating above 2^64); *end gets
 * the first non-digit. 0 when there is no digit. */
static int ref_digits(const char *s, unsigned __int128 *v, const char **end)
{
    const char *p = s;

    *v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if (*v <= (unsigned __int128)U64MAX)
            *v = *v * 10 + (unsigned)(*p - '0');
    *end = p;
    return p != s;
}

/* Digits only, whole string, within [lo, hi]. */
static int ref_uint(const char *s, unsigned long long lo, unsigned long long hi,
                    unsigned long long *out)
{
    unsigned __int128 v;
    const char *p;

    if (!ref_digits(s, &v, &p) || *p != '\0' || v < lo || v > hi)
        return 0;
    *out = (unsigned long long)v;
    return 1;
}

static int ref_name(const char *s)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return n > 0 && n <= SC_NAME_MAX;
}

/* ------------------------------------------------------------------------
 * Checks
 * ---------------------------------------------------------------------- */

static void check_key_path(const char *in)
{
    const char *nl = strchr(in, '\n');
    const char *dir = nl ? apr_pstrndup(pool, in, (apr_size_t)(nl - in)) : "";
    const char *uri = nl ? nl + 1 : in, *key = NULL, *path = uri;
    apr_size_t klen = 0, plen = strlen(dir), len;
    sc_key_path_e rc = sc_parse_key_path(uri, dir, &key, &klen);

    if (rc != SC_KEY_OK) {
        if (rc > SC_KEY_EMPTY)
            fz_fail("sc_parse_key_path returned %d", (int)rc);
        return;
    }
    /* the path part of the URI, after DIR (trailing slashes dropped) and
     * one '/', must be the key, still encoded, inside uri */
    if (*path != '/') {
        const char *sep = strstr(path, "://");
        path = sep ? strchr(sep + 3, '/') : NULL;
        if (path == NULL)
            fz_fail("sc_parse_key_path found a key in a URI without a path");
    }
    len = strcspn(path, "?#");
    while (plen > 0 && dir[plen - 1] == '/')
        plen--;
    if (len < plen + 2 || strncmp(path, dir, plen) != 0 || path[plen] != '/')
        fz_fail("sc_parse_key_path accepted a path outside its container");
    if (key != path + plen + 1 || klen != len - plen - 1)
        fz_fail("sc_parse_key_path gave %lu bytes at +%ld, reference %lu at +%ld",
                (unsigned long)klen, (long)(key - uri),
                (unsigned long)(len - plen - 1), (long)(path + plen + 1 - uri));
}

static void check_api_words(const char *s)
{
    unsigned long long want = 0;
    apr_uint64_t got = 0;
    apr_uint32_t ttl = 7;
    int ok, ref;

    ok = sc_parse_u64(s, &got);
    ref = ref_uint(s, 0, U64MAX, &want);
    if (ok != ref || (ok && got != want))
        fz_fail("sc_parse_u64(\"%s\") = %d/%llu, reference %d/%llu", s, ok,
                (unsigned long long)got, ref, want);
    /* If-Match: W/ and one quote skipped, then the leading digits */
    {
        const char *d = s + (s[0] == 'W' && s[1] == '/' ? 2 : 0);
        char *digits = apr_pstrndup(pool, d + (*d == '"'), strspn(d + (*d == '"'),
                                                                  "0123456789"));
        ok = sc_parse_etag_version(s, &got);
        ref = ref_uint(digits, 0, U64MAX, &want);
        if (ok != ref || (ok && got != want))
            fz_fail("sc_parse_etag_version(\"%s\") = %d/%llu, reference %d/%llu",
                    s, ok, (unsigned long long)got, ref, want);
    }
    ok = sc_parse_api_ttl(s, &ttl);
    ref = strcasecmp(s, "forever") == 0
          ? (want = SHMCACHE_TTL_FOREVER, 1) : ref_uint(s, 0, SHMCACHE_TTL_MAX, &want);
    if (ok != ref || (ok && ttl != want))
        fz_fail("sc_parse_api_ttl(\"%s\") = %d/%u, reference %d/%llu", s, ok,
                ttl, ref, want);
}

static void check_mode(const char *s)
{
    apr_fileperms_t perms = 0;
    unsigned octal = 0;
    size_t n = strlen(s);

    if (!sc_parse_mode(s, &perms, &octal))
        return;
    /* octal 3-4 digits, owner rw, no x, no setid/sticky */
    if (n < 3 || n > 4 || strspn(s, "01234567") != n
        || strtoul(s, NULL, 8) != octal
        || (perms & (APR_FPROT_UREAD | APR_FPROT_UWRITE))
               != (APR_FPROT_UREAD | APR_FPROT_UWRITE)
        || (perms & (APR_FPROT_UEXECUTE | APR_FPROT_GEXECUTE | APR_FPROT_WEXECUTE
                     | APR_FPROT_USETID | APR_FPROT_GSETID | APR_FPROT_WSTICKY)))
        fz_fail("sc_parse_mode accepted \"%s\" as %x", s, (unsigned)perms);
}

static void check_numbers(const char *s)
{
    /* sc_parse_uint over the ranges the directives use */
    static const unsigned long long ranges[][2] = {
        {1, SHMCACHE_LIMIT_MAX_KEY}, {64, 0x40000000u}, {8, SHMCACHE_LIMIT_SLOTS},
        {1, 600000}, {0, 0x7FFFFFFF}, {0, U64MAX}};
    unsigned long long want = 0;
    apr_uint64_t got = 0;
    apr_uint32_t t = 0;
    int ok, ref;
    size_t i;

    for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        ok = sc_parse_uint(s, ranges[i][0], ranges[i][1], &got);
        ref = ref_uint(s, ranges[i][0], ranges[i][1], &want);
        if (ok != ref || (ok && got != want))
            fz_fail("sc_parse_uint(\"%s\", %llu, %llu) = %d/%llu, reference %d/%llu",
                    s, ranges[i][0], ranges[i][1], ok, (unsigned long long)got,
                    ref, want);
    }
    /* the grammar is common/units.c's, which fuzz_units checks against
     * its own reference: the module must agree with it */
    ok = sc_parse_ttl(s, &t);
    ref = sc_units_duration(s, SHMCACHE_TTL_MAX, &got) == SC_UNITS_OK;
    if (ok != ref || (ok && t != got))
        fz_fail("sc_parse_ttl(\"%s\") = %d/%u, the CLI's %d/%" APR_UINT64_T_FMT,
                s, ok, t, ref, got);
    check_mode(s);
    if (sc_parse_name(s) != ref_name(s))
        fz_fail("cache name \"%s\": sc_parse_name says %d", s, sc_parse_name(s));
}

/* Sizes: the grammar is common/units.c's (fuzz_units checks it against
 * its own reference); the module must agree with the CLI, and a refusal
 * of a number must name the unit. */
static void check_size(const char *s)
{
    apr_uint64_t got = 0, cli = 0;
    const char *err = sc_parse_size(s, &got, pool);
    sc_units_err_e uerr = sc_units_size(s, U64MAX, &cli);

    if ((uerr == SC_UNITS_OK) != (err == NULL) || (err == NULL && cli != got))
        fz_fail("size \"%s\": the module says %s, the CLI %s", s,
                err ? err : "ok", sc_units_strerror(uerr));
    if (uerr == SC_UNITS_GARBAGE && *s >= '0' && *s <= '9'
        && strncmp(err, "bad unit '", 10) != 0)
        fz_fail("size \"%s\" refused without naming its unit: %s", s, err);
}

/* Options of a declared cache within the library's limits, or a finding. */
static void check_declared(const char *line, const sc_cache_t *c)
{
    if (c->opts.size < SHMCACHE_MIN_SIZE || c->opts.size > SHMCACHE_LIMIT_SIZE
        || c->opts.max_key < 1 || c->opts.max_key > SHMCACHE_LIMIT_MAX_KEY
        || c->opts.max_value < 1
        || (c->opts.buckets != 0 && (c->opts.buckets < 64 || c->opts.buckets > 0x40000000u))
        || (c->slots_set && (c->opts.slots < 8 || c->opts.slots > SHMCACHE_LIMIT_SLOTS))
        || c->opts.default_ttl > SHMCACHE_TTL_MAX
        || ((c->opts.mode & APR_FPROT_WWRITE) && !c->world_writable_ok)
        || (c->max_value_set
            && (apr_uint64_t)c->opts.max_value + c->opts.max_key > c->opts.size / 2))
        fz_fail("ShmcacheCache \"%s\" accepted options outside the library's "
                "limits: size %" APR_UINT64_T_FMT " max-key %u max-value %u "
                "buckets %u slots %u ttl %u mode %x", line, c->opts.size,
                c->opts.max_key, c->opts.max_value, c->opts.buckets,
                c->opts.slots, c->opts.default_ttl, (unsigned)c->opts.mode);
}

/* ShmcacheCache NAME PATH WORDS...: the words as mod_shmcache.c routes
 * them (an L2 option is sc_tier.c's and refused here as unknown). */
static void check_directive(const char *s)
{
    char *copy = apr_pstrdup(pool, s), *tok, *last = NULL;
    const char *key, *val;
    sc_cache_t c;
    int argc = 0;

    memset(&c, 0, sizeof c);
    sc_cache_defaults(&c);
    c.where = "fuzz.conf:1";
    for (tok = apr_strtok(copy, " \t\n", &last); tok != NULL;
         tok = apr_strtok(NULL, " \t\n", &last), argc++) {
        if (argc == 0 && !sc_parse_name(tok))
            return;
        if (argc < 2) {
            c.name = argc == 0 ? tok : c.name;
            continue;
        }
        if (sc_parse_cache_word("ShmcacheCache", &c, tok, &key, &val, pool) != NULL)
            return;
        if (key != NULL
            && sc_parse_cache_option("ShmcacheCache", &c, key, val, pool) != NULL)
            return;
    }
    if (argc >= 2 && sc_parse_cache_check("ShmcacheCache", &c, pool) == NULL)
        check_declared(s, &c);
}

static void check_socache_arg(const char *s)
{
    const char *path = NULL;
    apr_uint64_t size = 0;
    int given = 0;
    size_t plen;

    if (sc_parse_path_size(s, &path, &size, &given, pool) != NULL)
        return;
    plen = path != NULL ? strlen(path) : 0;
    if (plen == 0 || strncmp(path, s, plen) != 0)
        fz_fail("socache argument \"%s\" gave the path \"%s\"", s,
                path ? path : "(null)");
    if (given != (s[plen] == '(')
        || (given && (size < SHMCACHE_MIN_SIZE || size > SHMCACHE_LIMIT_SIZE))
        || (!given && s[plen] != '\0'))
        fz_fail("socache argument \"%s\" accepted with bad results", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    size_t n;

    if ((s = fz_cstring(pool, data, size, 16384, &n)) == NULL)
        return 0;
    switch (data[0] & 7) {
    case 0:
    case 1: check_key_path(s); break;
    case 2: check_api_words(s); break;
    case 3: check_numbers(s); break;
    case 4: check_size(s); break;
    case 5: check_directive(s); break;
    case 6: check_socache_arg(s); break;
    default:
        if (sc_parse_name(s) != ref_name(s))
            fz_fail("cache name \"%s\": sc_parse_name disagrees", s);
        check_size(s);
        break;
    }
    return 0;
}
