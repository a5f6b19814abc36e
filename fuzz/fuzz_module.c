/*
 * fuzz_module.c - libFuzzer target (d): mod_shmcache's directive parsers
 * and the HTTP key API's decoding, outside httpd.
 *
 * The module's files are compiled unchanged into the fuzz_module_shim_*.c
 * objects, which export their static parsers (fuzz_module_shims.h); httpd
 * itself is replaced by fuzz_httpd_stubs.c. Byte 0 of the input picks what
 * to run on the rest (a C string up to its first NUL):
 *
 *   0  pct_decode                  vs a reference percent-decoder
 *   1  request_key                 "DIR\nURI": the key under <Location DIR>
 *                                  vs a reference (strip the prefix, decode)
 *   2  query_arg / request_ttl     the string is the query (r->args)
 *   3  parse_uint / parse_ttl / parse_mode / valid_name / is_cache_name /
 *      the API's parse_u64         vs references
 *   4  sc_parse_size               vs a reference (K/M/G, optional B)
 *   5  ShmcacheCache NAME PATH k=v ...   (words split on spaces): on
 *      success the declared options must be within the library's limits
 *   6  the socache argument "PATH(SIZE)" (parse_path_size)
 *   7  ShmcacheAPIMaxBody / ShmcacheAPICache
 *
 * Findings: crashes, sanitizer reports, and any disagreement with a
 * reference (the message says which). See README.md for why shims: the
 * parsers are static functions of files that also hold the handlers.
 */
#include "fuzz_common.h"
#include "fuzz_module_shims.h"

#include <apr_strings.h>
#include <apr_tables.h>
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
 * References
 * ---------------------------------------------------------------------- */

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* RFC 3986 percent-decoding of s[0..len): -1 on a malformed escape. */
static long ref_pct(const char *s, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
        } else if (i + 2 < len && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            out[o++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            return -1;
        }
    }
    return (long)o;
}

/* Digits with no sign, whole string, within [lo, hi]; values beyond 2^63
 * are left to the implementation (it may refuse them early). */
static int ref_uint(const char *s, unsigned long long lo, unsigned long long hi,
                    unsigned long long *out, int *undecided)
{
    unsigned __int128 v = 0;
    const char *p = s;

    *undecided = 0;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > (unsigned __int128)1 << 63) {
            *undecided = 1;
            return 0;
        }
    }
    if (*p != '\0' || v < lo || v > hi)
        return 0;
    *out = (unsigned long long)v;
    return 1;
}

/* DIGITS [K|M|G [B]], any case. */
static int ref_size(const char *s, unsigned long long *out, int *undecided)
{
    unsigned __int128 v = 0, mult = 1;
    const char *p = s;

    *undecided = 0;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > (unsigned __int128)1 << 63) {
            *undecided = 1;
            return 0;
        }
    }
    switch (*p) {
    case 'k': case 'K': mult = 1u << 10; p++; break;
    case 'm': case 'M': mult = 1u << 20; p++; break;
    case 'g': case 'G': mult = 1u << 30; p++; break;
    default: break;
    }
    /* as sc_parse_size does: B only after a unit letter ("64KB"; "64B" is
     * refused, unlike the CLI's sizes) */
    if (mult > 1 && (*p == 'b' || *p == 'B'))
        p++;
    if (*p != '\0')
        return 0;
    v *= mult;
    if (v > U64MAX) {
        *undecided = 1;
        return 0;
    }
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

static request_rec *fake_request(const char *uri, const char *args)
{
    static struct ap_logconf log = {NULL, APLOG_TRACE8};
    request_rec *r = apr_pcalloc(pool, sizeof *r);

    r->log = &log;              /* the log macros read the level here */
    r->pool = pool;
    r->unparsed_uri = apr_pstrdup(pool, uri);
    r->args = args != NULL ? apr_pstrdup(pool, args) : NULL;
    r->headers_in = apr_table_make(pool, 4);
    return r;
}

static void check_pct(const char *s, size_t n)
{
    char *got, *want = apr_palloc(pool, n + 1);
    long w = ref_pct(s, n, want);
    apr_ssize_t g = fzm_pct_decode(s, n, &got, pool);

    if ((g < 0) != (w < 0) || (g >= 0 && (g != w || memcmp(got, want, (size_t)w) != 0
                                          || got[g] != '\0')))
        fz_fail("pct_decode(\"%.*s\") = %ld, reference %ld", (int)n, s, (long)g, w);
}

static void check_key(const char *in)
{
    const char *nl = strchr(in, '\n');
    const char *dir = nl ? apr_pstrndup(pool, in, (apr_size_t)(nl - in)) : "";
    const char *uri = nl ? nl + 1 : in;
    request_rec *r = fake_request(uri, NULL);
    char *key = NULL;
    apr_size_t klen = 0;
    int rc = fzm_request_key(r, dir, &key, &klen);

    if (rc != OK && rc != HTTP_BAD_REQUEST)
        fz_fail("request_key returned %d", rc);
    if (rc == OK) {
        /* the path part of the URI, after DIR (trailing slashes dropped)
         * and one '/', decoded, must be the key */
        const char *path = uri, *q;
        size_t plen = strlen(dir), len;
        char *want;
        long w;
        if (*path != '/') {
            const char *sep = strstr(path, "://");
            path = sep ? strchr(sep + 3, '/') : NULL;
            if (path == NULL)
                fz_fail("request_key accepted a URI without a path");
        }
        q = path + strcspn(path, "?#");
        while (plen > 0 && dir[plen - 1] == '/')
            plen--;
        len = (size_t)(q - path);
        if (len < plen + 2 || strncmp(path, dir, plen) != 0 || path[plen] != '/')
            fz_fail("request_key accepted a path outside its container");
        want = apr_palloc(pool, len);
        w = ref_pct(path + plen + 1, len - plen - 1, want);
        if (w <= 0 || (size_t)w != klen || memcmp(want, key, klen) != 0)
            fz_fail("request_key gave a %lu-byte key, reference %ld bytes",
                    (unsigned long)klen, w);
    }
}

static void check_query(const char *in)
{
    request_rec *r = fake_request("/k", in);
    apr_uint32_t ttl = 12345;
    const char *v;

    v = fzm_query_arg(r, "ttl");
    (void)fzm_query_arg(r, "incr");
    (void)fzm_query_arg(r, "");
    apr_table_setn(r->headers_in, "X-Shmcache-TTL", in);
    if (fzm_request_ttl(r, &ttl)) {
        if (ttl != SHMCACHE_TTL_FOREVER && ttl > SHMCACHE_TTL_MAX)
            fz_fail("request_ttl accepted %u", ttl);
    } else if (v == NULL && strcasecmp(in, "forever") == 0) {
        fz_fail("request_ttl refused the header 'forever'");
    }
}

static void check_numbers(const char *s)
{
    unsigned long long want = 0;
    apr_uint64_t got = 0;
    apr_uint32_t t = 0;
    apr_fileperms_t perms = 0;
    int ok, ref, undecided;

    /* parse_uint over the ranges the directives use */
    static const unsigned long long ranges[][2] = {
        {1, SHMCACHE_LIMIT_MAX_KEY}, {64, 0x40000000u}, {8, SHMCACHE_LIMIT_SLOTS},
        {1, 600000}, {0, 0x7FFFFFFF}, {0, U64MAX}};
    size_t i;

    for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        ok = fzm_parse_uint(s, ranges[i][0], ranges[i][1], &got);
        ref = ref_uint(s, ranges[i][0], ranges[i][1], &want, &undecided);
        if (!undecided && (ok != ref || (ok && got != want)))
            fz_fail("parse_uint(\"%s\", %llu, %llu) = %d/%llu, reference %d/%llu", s,
                    ranges[i][0], ranges[i][1], ok, (unsigned long long)got, ref, want);
        if (ok && (got < ranges[i][0] || got > ranges[i][1]))
            fz_fail("parse_uint out of its range");
    }
    ok = fzm_api_parse_u64(s, &got);
    ref = ref_uint(s, 0, U64MAX, &want, &undecided);
    if (!undecided && (ok != ref || (ok && got != want)))
        fz_fail("the API's parse_u64(\"%s\") = %d, reference %d", s, ok, ref);
    if (fzm_parse_ttl(s, &t) && t > SHMCACHE_TTL_MAX)
        fz_fail("parse_ttl(\"%s\") accepted %u", s, t);
    if (fzm_parse_mode(s, &perms)) {
        /* octal 3-4 digits, owner rw, no x, no setid/sticky */
        size_t n = strlen(s);
        if (n < 3 || n > 4 || strspn(s, "01234567") != n
            || (perms & (APR_FPROT_UREAD | APR_FPROT_UWRITE))
                   != (APR_FPROT_UREAD | APR_FPROT_UWRITE)
            || (perms & (APR_FPROT_UEXECUTE | APR_FPROT_GEXECUTE | APR_FPROT_WEXECUTE
                         | APR_FPROT_USETID | APR_FPROT_GSETID | APR_FPROT_WSTICKY)))
            fz_fail("parse_mode accepted \"%s\" as %x", s, (unsigned)perms);
    }
    if (fzm_valid_name(s) != ref_name(s) || fzm_is_cache_name(s) != ref_name(s))
        fz_fail("cache name \"%s\": module says %d/%d, reference %d", s,
                fzm_valid_name(s), fzm_is_cache_name(s), ref_name(s));
}

static void check_size(const char *s)
{
    unsigned long long want = 0;
    apr_uint64_t got = 0;
    int undecided, ref = ref_size(s, &want, &undecided);
    const char *err = sc_parse_size(s, &got, pool);

    if (!undecided && ((err == NULL) != ref || (ref && got != want)))
        fz_fail("sc_parse_size(\"%s\") = %s/%llu, reference %d/%llu", s,
                err ? err : "ok", (unsigned long long)got, ref, want);
}

static void check_directive(const char *s)
{
    char *argv[24], *copy = apr_pstrdup(pool, s), *tok, *last = NULL;
    int argc = 0;
    sc_cache_t *c = NULL;
    const char *err;

    for (tok = apr_strtok(copy, " \t\n", &last); tok != NULL && argc < 24;
         tok = apr_strtok(NULL, " \t\n", &last))
        argv[argc++] = tok;
    fzm_conf_reset(pool);
    err = fzm_cmd_cache(pool, argc, argv, &c);
    if (err != NULL)
        return;
    if (c == NULL || argc < 2)
        fz_fail("ShmcacheCache accepted %d words but declared nothing", argc);
    if (c->opts.size < SHMCACHE_MIN_SIZE || c->opts.size > SHMCACHE_LIMIT_SIZE
        || c->opts.max_key < 1 || c->opts.max_key > SHMCACHE_LIMIT_MAX_KEY
        || c->opts.max_value < 1
        || (c->opts.buckets != 0 && (c->opts.buckets < 64 || c->opts.buckets > 0x40000000u))
        || (c->slots_set && (c->opts.slots < 8 || c->opts.slots > SHMCACHE_LIMIT_SLOTS))
        || (c->opts.default_ttl > SHMCACHE_TTL_MAX)
        || c->path == NULL || c->path[0] != '/')
        fz_fail("ShmcacheCache \"%s\" accepted options outside the library's "
                "limits: size %" APR_UINT64_T_FMT " max-key %u max-value %u "
                "buckets %u slots %u ttl %u", s, c->opts.size, c->opts.max_key,
                c->opts.max_value, c->opts.buckets, c->opts.slots,
                c->opts.default_ttl);
    /* (max-value above what fits is clamped by the library at create) */
}

static void check_socache_arg(const char *s)
{
    sc_cache_t c;
    const char *err;

    memset(&c, 0, sizeof c);
    sc_cache_defaults(&c);
    if (*s == '\0')
        return;     /* "" reads path[-1]: see README.md, known finding */
    err = fzm_parse_path_size(&c, s, pool);
    if (err == NULL && (c.path == NULL || *c.path != '/'
                        || (c.size_given && (c.opts.size < SHMCACHE_MIN_SIZE
                                             || c.opts.size > SHMCACHE_LIMIT_SIZE))))
        fz_fail("socache argument \"%s\" accepted with bad results", s);
}

static void check_api_directives(const char *s)
{
    sc_dir_conf_t dc;

    memset(&dc, 0, sizeof dc);
    dc.max_body = -1;
    if (fzm_cmd_api_max_body(pool, &dc, s) == NULL
        && (dc.max_body < 1 || dc.max_body > (apr_off_t)0xFFFFFFFFu))
        fz_fail("ShmcacheAPIMaxBody accepted %" APR_OFF_T_FMT, dc.max_body);
    if (fzm_cmd_api_cache(pool, &dc, s) == NULL && !ref_name(s))
        fz_fail("ShmcacheAPICache accepted the name \"%s\"", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    size_t n;

    if (size < 1 || size > 16384)
        return 0;
    apr_pool_clear(pool);
    n = size - 1;
    s = apr_palloc(pool, n + 1);
    memcpy(s, data + 1, n);
    s[n] = '\0';
    switch (data[0] & 7) {
    case 0: check_pct(s, n); break;     /* bytes, NULs included */
    case 1: check_key(s); break;
    case 2: check_query(s); break;
    case 3: check_numbers(s); break;
    case 4: check_size(s); break;
    case 5: check_directive(s); break;
    case 6: check_socache_arg(s); break;
    default: check_api_directives(s); break;
    }
    return 0;
}
