/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_units.c - libFuzzer target (b): the command line's pure parsers
 * and encoders (common/units.h and the key/JSON helpers of util.c),
 * each checked against an independent reference written here.
 *
 * Input: byte 0 picks the function and its parameters, the rest is the
 * argument (as the C string up to its first NUL for the number parsers,
 * as bytes for the encoders).
 *
 *   0  sc_units_size      vs ref_number(size grammar)
 *   1  sc_units_duration  vs ref_number(duration grammar)
 *   2  sc_units_uint      vs ref_number, base from bits 3-7 of byte 0
 *      (for 0-2, the bytes after the last '|' are the max, little-endian)
 *   3  sc_units_int       vs ref_int
 *   4  cli_key_text then cli_unescape: must give the bytes back
 *   5  cli_unescape of arbitrary text: length bound, NUL end, and
 *      re-escaping the result and unescaping again is stable
 *   6  cli_utf8_valid     vs ref_utf8 (RFC 3629 table 3-7)
 *   7  cli_put_json_string (valid UTF-8 only) and cli_put_json_base64,
 *      written through a pipe and decoded back to the input
 *
 * On failure every sc_units_* must leave *out untouched. The argument
 * parser of main.c (parse_global, parse_command) is static and runs the
 * command it parses, so it is not reachable from here (see README.md).
 */
#include "fuzz_common.h"
#include "cli.h"
#include "units.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U64MAX 0xFFFFFFFFFFFFFFFFull
#define SENTINEL 0x5A5A5A5A5A5A5A5Aull

static apr_pool_t *pool;
static apr_file_t *pipe_rd, *pipe_wr;
static cli_t cli;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_pool_create(&pool, fz_global_pool()) != APR_SUCCESS
        || apr_file_pipe_create(&pipe_rd, &pipe_wr, fz_global_pool()) != APR_SUCCESS
        || apr_file_pipe_timeout_set(pipe_rd, 0) != APR_SUCCESS)
        fz_fail("set-up failed");
    cli.pool = pool;
    cli.out = pipe_wr;
    cli.err = pipe_wr;
    return 0;
}

/* ------------------------------------------------------------------------
 * References
 * ---------------------------------------------------------------------- */

enum { G_SIZE, G_DURATION, G_UINT };

static int digit(char c, int base)
{
    int v = c >= '0' && c <= '9' ? c - '0'
          : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
    return v < base ? v : -1;
}

/* The grammar of units.h, written out plainly with 128-bit arithmetic. */
static sc_units_err_e ref_number(const char *s, int grammar, int base,
                                 unsigned long long max, unsigned long long *out)
{
    unsigned __int128 n = 0, mult = 1;
    const char *p = s;
    int d;

    if (*s == '\0')
        return SC_UNITS_EMPTY;
    if (*s == '-')
        return SC_UNITS_NEGATIVE;
    for (; (d = digit(*p, grammar == G_UINT ? base : 10)) >= 0; p++) {
        n = n * (unsigned)(grammar == G_UINT ? base : 10) + (unsigned)d;
        if (n > U64MAX)
            return SC_UNITS_OVERFLOW;
    }
    if (p == s)
        return SC_UNITS_GARBAGE;
    if (grammar == G_SIZE) {
        switch (*p) {
        case 'k': case 'K': mult = 1ull << 10; p++; break;
        case 'm': case 'M': mult = 1ull << 20; p++; break;
        case 'g': case 'G': mult = 1ull << 30; p++; break;
        case 't': case 'T': mult = 1ull << 40; p++; break;
        default: break;
        }
        if (*p == 'b' || *p == 'B')
            p++;
    } else if (grammar == G_DURATION) {
        switch (*p) {
        case 's': p++; break;
        case 'm': mult = 60; p++; break;
        case 'h': mult = 3600; p++; break;
        case 'd': mult = 86400; p++; break;
        default: break;
        }
    }
    if (*p != '\0')
        return SC_UNITS_GARBAGE;
    n *= mult;
    if (n > U64MAX)
        return SC_UNITS_OVERFLOW;
    if (n > max)
        return SC_UNITS_RANGE;
    *out = (unsigned long long)n;
    return SC_UNITS_OK;
}

static sc_units_err_e ref_int(const char *s, long long *out)
{
    const char *p = s;
    unsigned __int128 n = 0;
    int neg = 0;

    if (*s == '\0')
        return SC_UNITS_EMPTY;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (*p == '\0')
        return SC_UNITS_GARBAGE;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return SC_UNITS_GARBAGE;
        if (n <= U64MAX)
            n = n * 10 + (unsigned)(*p - '0');
    }
    if (neg ? n > (unsigned __int128)1 << 63 : n > ((unsigned __int128)1 << 63) - 1)
        return SC_UNITS_OVERFLOW;
    *out = neg ? (long long)(0 - (unsigned long long)n) : (long long)n;
    return SC_UNITS_OK;
}

/* Well-formed UTF-8 (Unicode table 3-7). */
static int ref_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t need, j;
        if (c <= 0x7f) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) need = 1;
        else if (c == 0xe0) { need = 2; lo = 0xa0; }
        else if (c >= 0xe1 && c <= 0xec) need = 2;
        else if (c == 0xed) { need = 2; hi = 0x9f; }
        else if (c >= 0xee && c <= 0xef) need = 2;
        else if (c == 0xf0) { need = 3; lo = 0x90; }
        else if (c >= 0xf1 && c <= 0xf3) need = 3;
        else if (c == 0xf4) { need = 3; hi = 0x8f; }
        else return 0;
        if (i + need >= len)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (j = 2; j <= need; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xbf)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Checks
 * ---------------------------------------------------------------------- */

static unsigned long long max_from(const uint8_t *b, size_t n)
{
    unsigned long long m = 0;
    size_t i;

    for (i = 0; i < 8 && i < n; i++)
        m |= (unsigned long long)b[i] << (8 * i);
    return n == 0 ? U64MAX : m;
}

static void check_number(int grammar, const char *s, unsigned long long max, int base)
{
    apr_uint64_t got = SENTINEL;
    unsigned long long want = SENTINEL;
    sc_units_err_e e, r;

    if (grammar == G_SIZE)
        e = sc_units_size(s, max, &got);
    else if (grammar == G_DURATION)
        e = sc_units_duration(s, max, &got);
    else
        e = sc_units_uint(s, base, max, &got);
    r = base < 2 || base > 16 ? SC_UNITS_GARBAGE : ref_number(s, grammar, base, max, &want);
    if (e != r || got != want)
        fz_fail("grammar %d base %d max %llu \"%s\": got %d/%llu, reference %d/%llu",
                grammar, base, max, s, (int)e, (unsigned long long)got, (int)r, want);
    (void)sc_units_strerror(e);
}

static void check_int(const char *s)
{
    apr_int64_t got = (apr_int64_t)SENTINEL;
    long long want = (long long)SENTINEL;
    sc_units_err_e e = sc_units_int(s, &got), r = ref_int(s, &want);

    if (e != r || got != want)
        fz_fail("int \"%s\": got %d/%lld, reference %d/%lld", s, (int)e,
                (long long)got, (int)r, want);
}

static void check_key_round_trip(const char *b, size_t n)
{
    const char *t = cli_key_text(b, n, pool);
    char *back;
    apr_size_t blen;
    size_t i;

    for (i = 0; t[i]; i++)
        if ((unsigned char)t[i] < 0x20 || (unsigned char)t[i] >= 0x7f)
            fz_fail("escaped key holds byte 0x%02x", (unsigned char)t[i]);
    if (cli_unescape(t, strlen(t), &back, &blen, pool) != 0)
        fz_fail("cli_unescape refused cli_key_text's output \"%s\"", t);
    if (blen != n || memcmp(back, b, n) != 0)
        fz_fail("cli_key_text / cli_unescape do not round-trip");
}

static void check_unescape(const char *b, size_t n)
{
    char *out, *again;
    apr_size_t olen, alen;

    if (cli_unescape(b, n, &out, &olen, pool) != 0)
        return;
    if (olen > n || out[olen] != '\0')
        fz_fail("cli_unescape: %zu bytes from %zu, or no NUL", (size_t)olen, n);
    check_key_round_trip(out, olen);
    if (cli_unescape(out, olen, &again, &alen, pool) == 0 && alen > olen)
        fz_fail("cli_unescape grew its input");
}

/* Everything written to the pipe since the last call. */
static char *drain_pipe(apr_size_t *len)
{
    static char buf[1 << 17];
    apr_size_t n = 0;

    for (;;) {
        apr_size_t k = sizeof buf - n - 1;
        if (k == 0 || apr_file_read(pipe_rd, buf + n, &k) != APR_SUCCESS || k == 0)
            break;
        n += k;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode the JSON string literal j (no other JSON) into out. */
static size_t json_decode(const char *j, size_t n, char *out)
{
    size_t i = 1, o = 0;

    if (n < 2 || j[0] != '"' || j[n - 1] != '"')
        fz_fail("JSON string not quoted: %s", j);
    while (i < n - 1) {
        unsigned char c = (unsigned char)j[i];
        if (c < 0x20 || c == 0x7f)
            fz_fail("raw control byte 0x%02x in a JSON string", c);
        if (c == '"')
            fz_fail("unescaped quote inside a JSON string");
        if (c != '\\') {
            out[o++] = (char)c;
            i++;
            continue;
        }
        switch (j[i + 1]) {
        case '"': out[o++] = '"'; i += 2; break;
        case '\\': out[o++] = '\\'; i += 2; break;
        case 'n': out[o++] = '\n'; i += 2; break;
        case 'r': out[o++] = '\r'; i += 2; break;
        case 't': out[o++] = '\t'; i += 2; break;
        case 'u':
            if (j[i + 2] != '0' || j[i + 3] != '0' || hexval(j[i + 4]) < 0
                || hexval(j[i + 5]) < 0)
                fz_fail("bad \\u escape in %s", j);
            out[o++] = (char)(hexval(j[i + 4]) * 16 + hexval(j[i + 5]));
            i += 6;
            break;
        default:
            fz_fail("bad escape in a JSON string");
        }
    }
    return o;
}

static size_t base64_decode(const char *j, size_t n, unsigned char *out)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    if (n < 2 || j[0] != '"' || j[n - 1] != '"' || (n - 2) % 4 != 0)
        fz_fail("base64 string malformed: %s", j);
    for (i = 1; i + 4 <= n - 1; i += 4) {
        unsigned v = 0, k, pad = 0;
        for (k = 0; k < 4; k++) {
            const char *p = j[i + k] == '=' ? NULL : strchr(b64, j[i + k]);
            if (j[i + k] == '=')
                pad++;
            else if (p == NULL || *p == '\0' || pad)
                fz_fail("bad base64 character");
            v = v << 6 | (p ? (unsigned)(p - b64) : 0u);
        }
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)v;
    }
    return o;
}

static void check_json(const char *b, size_t n)
{
    static char dec[1 << 17];
    const char *j;
    apr_size_t jl;
    size_t dl;

    if (n > 8192)
        return;
    cli.out_rv = APR_SUCCESS;
    cli_put_json_base64(&cli, b, n);
    j = drain_pipe(&jl);
    if (cli.out_rv != APR_SUCCESS)
        fz_fail("writing base64 to the pipe failed");
    dl = base64_decode(j, jl, (unsigned char *)dec);
    if (dl != n || memcmp(dec, b, n) != 0)
        fz_fail("cli_put_json_base64 does not decode back to its input");
    if (!cli_utf8_valid(b, n))
        return;
    cli_put_json_string(&cli, b, n);
    j = drain_pipe(&jl);
    dl = json_decode(j, jl, dec);
    if (dl != n || memcmp(dec, b, n) != 0)
        fz_fail("cli_put_json_string does not decode back to its input");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    size_t n;

    if ((s = fz_cstring(pool, data, size, 65536, &n)) == NULL)
        return 0;
    switch (data[0] & 7) {
    case 0:
    case 1:
    case 2: {
        /* max: the up-to-8 bytes after the last '|', else no limit; the
         * base of sc_units_uint: bits 3-7 of byte 0 (0..31, 2..16 valid) */
        char *bar = strrchr(s, '|');
        unsigned long long max = U64MAX;
        if (bar != NULL) {
            max = max_from((const uint8_t *)bar + 1, strlen(bar + 1));
            *bar = '\0';
        }
        check_number((data[0] & 7) == 0 ? G_SIZE : (data[0] & 7) == 1 ? G_DURATION
                     : G_UINT, s, max, (data[0] & 7) == 2 ? data[0] >> 3 : 10);
        break;
    }
    case 3:
        check_int(s);
        break;
    case 4:
        check_key_round_trip((const char *)data + 1, n);
        break;
    case 5:
        check_unescape((const char *)data + 1, n);
        break;
    case 6:
        if (cli_utf8_valid(data + 1, n) != ref_utf8(data + 1, n))
            fz_fail("cli_utf8_valid disagrees with the reference on %zu bytes", n);
        break;
    default:
        check_json((const char *)data + 1, n);
        break;
    }
    return 0;
}
