/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_entry.c - the commands on one key: get, set, add, replace, cas, del,
 * incr, decr, touch, ttl.
 *
 * Each parses its arguments before attaching (so a usage error never
 * touches the cache), attaches, makes one library call and maps the status
 * to an exit code: a miss, an existing key for add and a cas mismatch are
 * exit 1 with a short note on stderr; a key or value over the cache's
 * limits is a usage error (2) that names the limit.
 */
#include "cli.h"
#include "units.h"

#include <apr_strings.h>
#include <string.h>

typedef enum store_kind_e { STORE_SET, STORE_ADD, STORE_REPLACE, STORE_CAS } store_kind_e;

/* "shmcache-cli: PATH: KEY: note" for the exit-1 outcomes. */
static int key_note(cli_t *cli, int code, const char *key, apr_size_t key_len,
                    const char *note)
{
    return cli_say(cli, code, "%s: %s: %s", cli->path,
                   cli_key_text(key, key_len, cli->pool), note);
}

/* Explain a length status with the cache's own limits; other statuses go to
 * cli_fail. */
static int store_failed(cli_t *cli, apr_status_t rv, apr_size_t key_len,
                        apr_size_t value_len)
{
    shmcache_stats_t st;

    if ((rv == SHMCACHE_EKEYLEN || rv == SHMCACHE_EVALLEN)
        && shmcache_stats(cli->cache, &st) == APR_SUCCESS) {
        if (rv == SHMCACHE_EKEYLEN)
            return cli_usage(cli, "KEY is %" APR_SIZE_T_FMT " bytes; the cache "
                             "at %s takes keys of 1 to %u bytes", key_len,
                             cli->path, st.max_key);
        return cli_usage(cli, "the value is %" APR_SIZE_T_FMT " bytes; the "
                         "cache at %s takes values up to %u bytes", value_len,
                         cli->path, st.max_value);
    }
    return cli_fail(cli, rv, cli->cmd->name);
}

/* Read all of stdin, refusing more than max bytes and a terminal.
 * @return CLI_OK, CLI_USAGE or CLI_ERROR. */
static int read_stdin(cli_t *cli, apr_size_t max, char **data, apr_size_t *len)
{
    apr_size_t cap = 65536, n = 0, chunk;
    char *buf, *bigger;
    apr_status_t rv = APR_SUCCESS;

    if (cli_isatty(0))
        return cli_usage(cli, "missing VALUE: give it as an argument or on "
                         "stdin (stdin is a terminal)");
    buf = apr_palloc(cli->pool, cap);
    for (;;) {
        if (cap - n == 0) {
            if (cap > max) {
                rv = SHMCACHE_EVALLEN;
                break;
            }
            bigger = apr_palloc(cli->pool, cap * 2);
            memcpy(bigger, buf, n);
            buf = bigger;
            cap *= 2;
        }
        chunk = cap - n;
        rv = apr_file_read(cli->in, buf + n, &chunk);
        n += chunk;
        if (rv != APR_SUCCESS)
            break;
    }
    if (rv == SHMCACHE_EVALLEN || n > max)
        return cli_usage(cli, "the value on stdin is larger than the largest "
                         "value the cache at %s takes (%" APR_SIZE_T_FMT
                         " bytes)", cli->path, max);
    if (!APR_STATUS_IS_EOF(rv)) {
        char why[256];
        return cli_say(cli, CLI_ERROR, "cannot read the value from stdin: %s",
                       shmcache_strerror(rv, why, sizeof why));
    }
    *data = buf;
    *len = n;
    return CLI_OK;
}

/* The value: positional argument vi when given, else stdin (attached). */
static int value_arg(cli_t *cli, int vi, const char **value, apr_size_t *len)
{
    shmcache_stats_t st;
    apr_status_t rv;
    char *data = NULL;
    int rc;

    if (cli->nargs > vi) {
        *value = cli->args[vi];
        *len = strlen(cli->args[vi]);
        return CLI_OK;
    }
    if ((rv = shmcache_stats(cli->cache, &st)) != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot read the cache's limits");
    if ((rc = read_stdin(cli, st.max_value, &data, len)) != CLI_OK)
        return rc;
    *value = data;
    return CLI_OK;
}

/* What set, add, replace and cas store: parsed before attaching. */
typedef struct store_args_t {
    store_kind_e kind;
    const char *key, *value;
    apr_size_t key_len, value_len;
    apr_uint32_t ttl;
    apr_uint64_t expected;      /* cas: the version KEY must be at */
} store_args_t;

/* KEY, --ttl and cas's VERSION into a. @return CLI_OK or CLI_USAGE. */
static int store_args(cli_t *cli, store_args_t *a)
{
    int rc;

    if ((rc = cli_key_arg(cli, 0, &a->key, &a->key_len)) != CLI_OK
        || (rc = cli_ttl_opt(cli, &a->ttl)) != CLI_OK)
        return rc;
    if (a->kind == STORE_CAS)
        return cli_uint_arg(cli, cli->args[1], "VERSION", APR_UINT64_MAX,
                            &a->expected);
    return CLI_OK;
}

/* The store a asks for, through the second tier with --l2. */
static apr_status_t store_call(cli_t *cli, const store_args_t *a)
{
    shmcache_tier_t *t = cli->tier;

    switch (a->kind) {
    case STORE_SET:
        return t ? shmcache_tier_set(t, a->key, a->key_len, a->value,
                                     a->value_len, a->ttl)
                 : shmcache_set(cli->cache, a->key, a->key_len, a->value,
                                a->value_len, a->ttl, NULL);
    case STORE_ADD:
        return t ? shmcache_tier_add(t, a->key, a->key_len, a->value,
                                     a->value_len, a->ttl)
                 : shmcache_add(cli->cache, a->key, a->key_len, a->value,
                                a->value_len, a->ttl, NULL);
    case STORE_REPLACE:
        return t ? shmcache_tier_replace(t, a->key, a->key_len, a->value,
                                         a->value_len, a->ttl)
                 : shmcache_replace(cli->cache, a->key, a->key_len, a->value,
                                    a->value_len, a->ttl, NULL);
    default:
        return shmcache_cas(cli->cache, a->key, a->key_len, a->value,
                            a->value_len, a->ttl, a->expected, NULL);
    }
}

/* The exit code for the status of a store, with a note for the exit-1
 * outcomes (a cas mismatch names the version KEY is at). */
static int store_outcome(cli_t *cli, const store_args_t *a, apr_status_t rv)
{
    shmcache_meta_t meta;

    if (rv == APR_SUCCESS)
        return CLI_OK;
    if (rv == SHMCACHE_EXISTS)
        return key_note(cli, CLI_NOTFOUND, a->key, a->key_len, "exists already");
    if (rv == SHMCACHE_NOTFOUND)
        return key_note(cli, CLI_NOTFOUND, a->key, a->key_len, "not found");
    if (rv != SHMCACHE_EMISMATCH)
        return store_failed(cli, rv, a->key_len, a->value_len);
    if (shmcache_get_meta(cli->cache, a->key, a->key_len, &meta) != APR_SUCCESS)
        return key_note(cli, CLI_NOTFOUND, a->key, a->key_len,
                        "version mismatch");
    return key_note(cli, CLI_NOTFOUND, a->key, a->key_len,
                    apr_psprintf(cli->pool, "is at version %" APR_UINT64_T_FMT
                                 ", not %" APR_UINT64_T_FMT, meta.version,
                                 a->expected));
}

/* set, add, replace and cas: KEY [VERSION] [VALUE] [--ttl]. */
static int store(cli_t *cli, store_kind_e kind)
{
    store_args_t a;
    int rc;

    memset(&a, 0, sizeof a);
    a.kind = kind;
    if ((rc = store_args(cli, &a)) != CLI_OK
        || (rc = cli_attach(cli)) != CLI_OK
        || (rc = value_arg(cli, kind == STORE_CAS ? 2 : 1, &a.value,
                           &a.value_len)) != CLI_OK)
        return rc;
    if (kind == STORE_CAS && cli->tier != NULL)  /* versions are per segment */
        return cli_say(cli, CLI_USAGE, "cas does not work through --l2: "
                       "versions are per segment");
    return store_outcome(cli, &a, store_call(cli, &a));
}

int cmd_set(cli_t *cli)     { return store(cli, STORE_SET); }
int cmd_add(cli_t *cli)     { return store(cli, STORE_ADD); }
int cmd_replace(cli_t *cli) { return store(cli, STORE_REPLACE); }
int cmd_cas(cli_t *cli)     { return store(cli, STORE_CAS); }

/* The outcome of a call that only reads or changes one key. */
static int key_result(cli_t *cli, apr_status_t rv, const char *key,
                      apr_size_t key_len)
{
    if (rv == APR_SUCCESS)
        return CLI_OK;
    if (rv == SHMCACHE_NOTFOUND)
        return key_note(cli, CLI_NOTFOUND, key, key_len, "not found");
    return store_failed(cli, rv, key_len, 0);
}

static void put_get_json(cli_t *cli, const void *value, apr_size_t len,
                         const shmcache_meta_t *meta)
{
    int utf8 = cli_utf8_valid(value, len);

    cli_printf(cli, "{\"value\": ");
    if (utf8)
        cli_put_json_string(cli, value, len);
    else
        cli_put_json_base64(cli, value, len);
    cli_printf(cli, ", \"encoding\": \"%s\", \"length\": %" APR_SIZE_T_FMT
               ", \"ttl\": %s, \"version\": %" APR_UINT64_T_FMT "}\n",
               utf8 ? "utf-8" : "base64", len,
               meta->ttl == SHMCACHE_TTL_FOREVER
               ? "null" : apr_psprintf(cli->pool, "%u", meta->ttl),
               meta->version);
}

/* The value byte for byte; on a terminal, a newline after a value that
 * does not end with one, so the prompt starts on its own line (a pipe or
 * a file gets the exact bytes). */
static void put_raw_value(cli_t *cli, const void *value, apr_size_t len)
{
    cli_write(cli, value, len);
    if (cli_isatty(1) && (len == 0 || ((const char *)value)[len - 1] != '\n'))
        cli_write(cli, "\n", 1);
}

int cmd_get(cli_t *cli)
{
    const char *key;
    apr_size_t key_len, len;
    void *value;
    shmcache_meta_t meta;
    apr_status_t rv;
    int rc;

    if ((rc = cli_key_arg(cli, 0, &key, &key_len)) != CLI_OK
        || (rc = cli_attach(cli)) != CLI_OK)
        return rc;
    if (cli->tier) {
        rv = shmcache_tier_get(cli->tier, key, key_len, &value, &len, cli->pool);
        /* the L1 copy the get left, for --json's ttl and version */
        if (rv == APR_SUCCESS
            && shmcache_get_meta(cli->cache, key, key_len, &meta) != APR_SUCCESS)
            memset(&meta, 0, sizeof(meta));
    } else {
        rv = shmcache_get(cli->cache, key, key_len, &value, &len, &meta, cli->pool);
    }
    if (rv != APR_SUCCESS)
        return key_result(cli, rv, key, key_len);
    if (cli->opt[OPT_JSON] != NULL)
        put_get_json(cli, value, len, &meta);
    else
        put_raw_value(cli, value, len);
    return CLI_OK;
}

int cmd_del(cli_t *cli)
{
    const char *key;
    apr_size_t key_len;
    int rc;

    if ((rc = cli_key_arg(cli, 0, &key, &key_len)) != CLI_OK
        || (rc = cli_attach(cli)) != CLI_OK)
        return rc;
    return key_result(cli, cli->tier ? shmcache_tier_delete(cli->tier, key, key_len)
                                     : shmcache_delete(cli->cache, key, key_len),
                      key, key_len);
}

/* DELTA (default 1) times sign (1 or -1) into *delta.
 * @return CLI_OK or CLI_USAGE. */
static int delta_arg(cli_t *cli, int sign, apr_int64_t *delta)
{
    sc_units_err_e err;

    *delta = 1;
    if (cli->nargs > 1
        && (err = sc_units_int(cli->args[1], delta)) != SC_UNITS_OK)
        return cli_usage(cli, "DELTA '%s' %s (expected a whole number, "
                         "negative to subtract)", cli->args[1],
                         sc_units_strerror(err));
    if (sign > 0)
        return CLI_OK;
    if (*delta == APR_INT64_MIN)
        return cli_usage(cli, "DELTA '%s' is too large to negate", cli->args[1]);
    *delta = -*delta;
    return CLI_OK;
}

/* incr and decr; sign is 1 or -1. */
static int add_delta(cli_t *cli, int sign)
{
    const char *key;
    apr_size_t key_len;
    apr_int64_t delta = 1;
    apr_uint64_t init = 0, result = 0;
    apr_uint32_t ttl;
    apr_status_t rv;
    int rc;

    if ((rc = cli_key_arg(cli, 0, &key, &key_len)) != CLI_OK
        || (rc = cli_ttl_opt(cli, &ttl)) != CLI_OK)
        return rc;
    if ((rc = delta_arg(cli, sign, &delta)) != CLI_OK)
        return rc;
    if (cli->opt[OPT_INIT] != NULL
        && (rc = cli_uint_arg(cli, cli->opt[OPT_INIT], "--init",
                              APR_UINT64_MAX, &init)) != CLI_OK)
        return rc;
    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    if (cli->tier)
        rv = shmcache_tier_incr(cli->tier, key, key_len, delta,
                                cli->opt[OPT_INIT] != NULL ? &init : NULL, ttl,
                                &result);
    else
        rv = shmcache_incr(cli->cache, key, key_len, delta,
                           cli->opt[OPT_INIT] != NULL ? &init : NULL, ttl, &result);
    if (rv == SHMCACHE_ENOTNUM)
        return key_note(cli, CLI_ERROR, key, key_len, "the value is not an "
                        "unsigned decimal number of 1 to 20 digits");
    if (rv != APR_SUCCESS)
        return key_result(cli, rv, key, key_len);
    cli_printf(cli, "%" APR_UINT64_T_FMT "\n", result);
    return CLI_OK;
}

int cmd_incr(cli_t *cli) { return add_delta(cli, 1); }
int cmd_decr(cli_t *cli) { return add_delta(cli, -1); }

int cmd_touch(cli_t *cli)
{
    const char *key;
    apr_size_t key_len;
    apr_uint32_t ttl;
    int rc;

    if ((rc = cli_key_arg(cli, 0, &key, &key_len)) != CLI_OK
        || (rc = cli_ttl_arg(cli, cli->args[1], "TTL", &ttl)) != CLI_OK
        || (rc = cli_attach(cli)) != CLI_OK)
        return rc;
    return key_result(cli, cli->tier ? shmcache_tier_touch(cli->tier, key, key_len, ttl)
                                     : shmcache_touch(cli->cache, key, key_len, ttl),
                      key, key_len);
}

int cmd_ttl(cli_t *cli)
{
    const char *key;
    apr_size_t key_len;
    shmcache_meta_t meta;
    apr_status_t rv;
    int rc;

    if ((rc = cli_key_arg(cli, 0, &key, &key_len)) != CLI_OK
        || (rc = cli_attach(cli)) != CLI_OK)
        return rc;
    rv = shmcache_get_meta(cli->cache, key, key_len, &meta);
    if (rv != APR_SUCCESS)
        return key_result(cli, rv, key, key_len);
    cli_printf(cli, "%s\n", cli_ttl_text(meta.ttl, cli->pool));
    return CLI_OK;
}
