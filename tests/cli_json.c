/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_json.c - a strict RFC 8259 parser for the tests of shmcache-cli,
 * enough to validate what --json prints and read its members on every
 * platform (python3 is not reachable from a Windows build under Wine).
 * Values are parsed into th_pool. See cli_json.h.
 */
#include "cli_json.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

typedef struct jparse_t {
    const char *s, *end;
    const char *err;
    int depth;
} jparse_t;

static json_t *jvalue(jparse_t *p);

static void jspace(jparse_t *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n'
                             || *p->s == '\r'))
        p->s++;
}

static json_t *jfail(jparse_t *p, const char *why)
{
    if (p->err == NULL)
        p->err = apr_psprintf(th_pool, "%s at offset %ld", why, (long)(p->end - p->s));
    return NULL;
}

static int jlit(jparse_t *p, const char *word)
{
    apr_size_t n = strlen(word);

    if ((apr_size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0)
        return 0;
    p->s += n;
    return 1;
}

static int jhex4(jparse_t *p, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (p->end - p->s < 4)
        return 0;
    for (i = 0; i < 4; i++) {
        char c = *p->s++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static char *jutf8(char *o, unsigned cp)
{
    if (cp < 0x80) { *o++ = (char)cp; }
    else if (cp < 0x800) { *o++ = (char)(0xC0 | cp >> 6); *o++ = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *o++ = (char)(0x80 | (cp & 0x3F)); }
    else { *o++ = (char)(0xF0 | cp >> 18); *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *o++ = (char)(0x80 | (cp & 0x3F)); }
    return o;
}

/* A string: raw control characters refused, escapes decoded. */
static json_t *jstring(jparse_t *p)
{
    json_t *v = apr_pcalloc(th_pool, sizeof *v);
    char *buf = apr_palloc(th_pool, (apr_size_t)(p->end - p->s) * 2 + 1), *o = buf;
    unsigned cp, lo;

    p->s++;                                     /* the opening quote */
    for (;;) {
        unsigned char c;
        if (p->s >= p->end)
            return jfail(p, "unterminated string");
        c = (unsigned char)*p->s++;
        if (c == '"')
            break;
        if (c < 0x20)
            return jfail(p, "raw control character in a string");
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        if (p->s >= p->end)
            return jfail(p, "unterminated escape");
        switch (*p->s++) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (!jhex4(p, &cp))
                return jfail(p, "bad \\u escape");
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (!jlit(p, "\\u") || !jhex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return jfail(p, "lone high surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            else if (cp >= 0xDC00 && cp < 0xE000)
                return jfail(p, "lone low surrogate");
            o = jutf8(o, cp);
            break;
        default:
            return jfail(p, "unknown escape");
        }
    }
    *o = '\0';
    v->type = J_STR;
    v->str = buf;
    v->len = (apr_size_t)(o - buf);
    return v;
}

/* A number in JSON's grammar (no leading zeros, no bare '.', no '+'). */
static json_t *jnumber(jparse_t *p)
{
    const char *b = p->s;
    json_t *v;

    if (p->s < p->end && *p->s == '-')
        p->s++;
    if (p->s < p->end && *p->s == '0')
        p->s++;
    else if (p->s < p->end && *p->s >= '1' && *p->s <= '9')
        while (p->s < p->end && apr_isdigit(*p->s))
            p->s++;
    else
        return jfail(p, "bad number");
    if (p->s < p->end && *p->s == '.') {
        p->s++;
        if (p->s >= p->end || !apr_isdigit(*p->s))
            return jfail(p, "bad fraction");
        while (p->s < p->end && apr_isdigit(*p->s))
            p->s++;
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        p->s++;
        if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
            p->s++;
        if (p->s >= p->end || !apr_isdigit(*p->s))
            return jfail(p, "bad exponent");
        while (p->s < p->end && apr_isdigit(*p->s))
            p->s++;
    }
    v = apr_pcalloc(th_pool, sizeof *v);
    v->type = J_NUM;
    v->num = strtod(apr_pstrndup(th_pool, b, (apr_size_t)(p->s - b)), NULL);
    return v;
}

/* An array (obj 0) or an object (obj 1), members kept in order. */
static json_t *jcompound(jparse_t *p, int obj)
{
    json_t *v = apr_pcalloc(th_pool, sizeof *v);
    apr_array_header_t *keys = apr_array_make(th_pool, 8, sizeof(const char *));
    apr_array_header_t *vals = apr_array_make(th_pool, 8, sizeof(json_t *));
    char close = obj ? '}' : ']';

    if (++p->depth > 64)
        return jfail(p, "nested too deep");
    p->s++;
    jspace(p);
    if (p->s < p->end && *p->s == close)
        p->s++;
    else {
        for (;;) {
            json_t *m;
            jspace(p);
            if (obj) {
                json_t *k;
                if (p->s >= p->end || *p->s != '"')
                    return jfail(p, "object key is not a string");
                if ((k = jstring(p)) == NULL)
                    return NULL;
                APR_ARRAY_PUSH(keys, const char *) = k->str;
                jspace(p);
                if (p->s >= p->end || *p->s++ != ':')
                    return jfail(p, "no ':' after a key");
            }
            if ((m = jvalue(p)) == NULL)
                return NULL;
            APR_ARRAY_PUSH(vals, json_t *) = m;
            jspace(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == close) {
                p->s++;
                break;
            }
            return jfail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    p->depth--;
    v->type = obj ? J_OBJ : J_ARR;
    v->len = (apr_size_t)vals->nelts;
    v->keys = (const char **)keys->elts;
    v->vals = (json_t **)vals->elts;
    return v;
}

static json_t *jvalue(jparse_t *p)
{
    json_t *v;

    jspace(p);
    if (p->s >= p->end)
        return jfail(p, "value expected");
    switch (*p->s) {
    case '{': return jcompound(p, 1);
    case '[': return jcompound(p, 0);
    case '"': return jstring(p);
    case 't': case 'f': case 'n':
        v = apr_pcalloc(th_pool, sizeof *v);
        if (jlit(p, "true")) { v->type = J_BOOL; v->num = 1; }
        else if (jlit(p, "false")) v->type = J_BOOL;
        else if (jlit(p, "null")) v->type = J_NULL;
        else return jfail(p, "bad literal");
        return v;
    default:
        return jnumber(p);
    }
}

/* Parse exactly one JSON text in s[0..len) (whitespace around it only);
 * fails the test with the reason otherwise. */
json_t *json_try_parse(const char *s, apr_size_t len, const char **why)
{
    jparse_t p = {s, s + len, NULL, 0};
    json_t *v = jvalue(&p);

    if (v != NULL) {
        jspace(&p);
        if (p.s != p.end)
            v = jfail(&p, "text after the JSON value");
    }
    *why = p.err;
    return v;
}

json_t *json_parse(const char *s, apr_size_t len)
{
    const char *why = NULL;
    json_t *v = json_try_parse(s, len, &why);

    ck_assert_msg(v != NULL, "invalid JSON (%s): %.500s", why, s);
    return v;
}

/* Member key of object o; fails the test if o is no object or has none. */
json_t *jget(const json_t *o, const char *key)
{
    apr_size_t i;

    ck_assert_msg(o->type == J_OBJ, "not a JSON object where '%s' was wanted", key);
    for (i = 0; i < o->len; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->vals[i];
    ck_abort_msg("JSON object has no member '%s'", key);
    return NULL;
}

/* Member key, which must be a number; its value. */
double jnum(const json_t *o, const char *key)
{
    json_t *v = jget(o, key);

    ck_assert_msg(v->type == J_NUM, "JSON member '%s' is not a number", key);
    return v->num;
}

const char *jstr(const json_t *o, const char *key)
{
    json_t *v = jget(o, key);

    ck_assert_msg(v->type == J_STR, "JSON member '%s' is not a string", key);
    return v->str;
}

int jhas(const json_t *o, const char *key)
{
    apr_size_t i;

    for (i = 0; o->type == J_OBJ && i < o->len; i++)
        if (strcmp(o->keys[i], key) == 0)
            return 1;
    return 0;
}

/* How many members of object o are named key. */
int jcount(const json_t *o, const char *key)
{
    apr_size_t i;
    int n = 0;

    for (i = 0; o->type == J_OBJ && i < o->len; i++)
        n += strcmp(o->keys[i], key) == 0;
    return n;
}
