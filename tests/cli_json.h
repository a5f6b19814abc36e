/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_json.h - a strict JSON parser for test_cli: what --json prints is
 * checked with it on every platform, and its members read. Everything is
 * allocated from th_pool (the current test's pool).
 */
#ifndef SC_CLI_JSON_H
#define SC_CLI_JSON_H

#include "harness.h"

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct json_t {
    jtype_t type;
    double num;                 /* J_NUM; J_BOOL: 0 or 1 */
    const char *str;            /* J_STR: decoded UTF-8 */
    apr_size_t len;             /* J_STR: bytes; J_ARR, J_OBJ: members */
    const char **keys;          /* J_OBJ */
    struct json_t **vals;       /* J_ARR, J_OBJ */
} json_t;

/* Parse exactly one JSON text in s[0..len) (whitespace around it only).
 * @return the value, or NULL with the reason in *why. */
json_t *json_try_parse(const char *s, apr_size_t len, const char **why);

/* As json_try_parse, but fails the test with the reason. */
json_t *json_parse(const char *s, apr_size_t len);

/* Member key of object o; fails the test if o is no object or has none. */
json_t *jget(const json_t *o, const char *key);

/* Member key, which must be a number (a string): its value. */
double jnum(const json_t *o, const char *key);
const char *jstr(const json_t *o, const char *key);

/* 1 when object o has a member key; how many members are named key. */
int jhas(const json_t *o, const char *key);
int jcount(const json_t *o, const char *key);

#endif /* SC_CLI_JSON_H */
