/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_list.c - keys and scan: walk the table without stalling a live
 * server.
 *
 * Both walk with shmcache_scan, SCAN_BATCH buckets per call: the library
 * holds the read lock only while it copies those buckets out, and the
 * callback (which writes to stdout, and may block on a slow pipe) runs with
 * no lock held. Readers are never blocked by a walk, and a writer waits at
 * most for one batch.
 *
 * Keys are written one per line with every byte outside printable ASCII
 * (0x20..0x7e) as \xNN and a backslash as \\ (cli_put_key); -x on any
 * command takes a key written that way.
 */
#include "cli.h"
#include "units.h"

#include <apr_strings.h>
#include <string.h>

#define SCAN_BATCH 256           /* buckets per locked stretch */
#define SCAN_STEP_DEFAULT 1024   /* buckets per `scan --cursor` step */

typedef struct walk_t {
    cli_t *cli;
    const char *prefix;
    apr_size_t prefix_len;
    apr_uint64_t limit;         /* 0 = no limit */
    apr_uint64_t count;
    int with_meta;              /* scan: length, TTL, version */
    int stopped;                /* the callback ended the walk */
} walk_t;

static int on_entry(void *baton, const void *key, apr_size_t key_len,
                    const void *value, apr_size_t value_len,
                    const shmcache_meta_t *meta)
{
    walk_t *w = baton;
    cli_t *cli = w->cli;
    char line[96];

    if (key_len < w->prefix_len || memcmp(key, w->prefix, w->prefix_len) != 0)
        return 0;
    cli_put_key(cli, key, key_len);
    if (!w->with_meta || meta == NULL)
        strcpy(line, "\n");
    else if (meta->ttl == SHMCACHE_TTL_FOREVER)
        apr_snprintf(line, sizeof line, "\t%" APR_SIZE_T_FMT "\tforever\t%"
                     APR_UINT64_T_FMT "\n", value_len, meta->version);
    else
        apr_snprintf(line, sizeof line, "\t%" APR_SIZE_T_FMT "\t%u\t%"
                     APR_UINT64_T_FMT "\n", value_len, meta->ttl,
                     meta->version);
    cli_write(cli, line, strlen(line));
    w->count++;
    if (cli->out_rv != APR_SUCCESS || (w->limit != 0 && w->count >= w->limit)) {
        w->stopped = 1;
        return 1;
    }
    return 0;
}

/* Walk from *cursor: the whole table (max_buckets 0) or at most
 * max_buckets buckets, SCAN_BATCH at a time. @return an exit code. */
static int walk(cli_t *cli, walk_t *w, apr_uint32_t *cursor,
                apr_uint64_t max_buckets)
{
    apr_uint64_t done = 0;
    apr_uint32_t batch;
    apr_status_t rv;

    do {
        batch = SCAN_BATCH;
        if (max_buckets != 0 && max_buckets - done < batch)
            batch = (apr_uint32_t)(max_buckets - done);
        rv = shmcache_scan(cli->cache, cursor, batch, on_entry, w,
                           SHMCACHE_ITER_KEYS_ONLY);
        if (w->stopped)
            break;
        if (rv != APR_SUCCESS)
            return cli_fail(cli, rv, "cannot walk the table");
        done += batch;
    } while (*cursor != 0 && (max_buckets == 0 || done < max_buckets));
    return cli->out_rv == APR_SUCCESS ? CLI_OK : CLI_ERROR;
}

/* The options keys and scan share: --prefix, --limit. */
static int walk_options(cli_t *cli, walk_t *w)
{
    char *p;
    apr_size_t n;
    int rc;

    memset(w, 0, sizeof(*w));
    w->cli = cli;
    w->prefix = "";
    if (cli->opt[OPT_PREFIX] != NULL) {
        w->prefix = cli->opt[OPT_PREFIX];
        w->prefix_len = strlen(w->prefix);
        if (cli->opt[OPT_ESCAPED] != NULL) {
            if (cli_unescape(w->prefix, w->prefix_len, &p, &n, cli->pool) != 0)
                return cli_usage(cli, "--prefix '%s' has a bad escape (use "
                                 "\\xNN or \\\\)", w->prefix);
            w->prefix = p;
            w->prefix_len = n;
        }
    }
    if (cli->opt[OPT_LIMIT] != NULL) {
        if ((rc = cli_uint_arg(cli, cli->opt[OPT_LIMIT], "--limit",
                               APR_UINT64_MAX, &w->limit)) != CLI_OK)
            return rc;
        if (w->limit == 0)
            return cli_usage(cli, "--limit must be at least 1");
    }
    return CLI_OK;
}

int cmd_keys(cli_t *cli)
{
    walk_t w;
    apr_uint32_t cursor = 0;
    int rc;

    if ((rc = walk_options(cli, &w)) != CLI_OK
        || (rc = cli_attach(cli)) != CLI_OK)
        return rc;
    return walk(cli, &w, &cursor, 0);
}

int cmd_scan(cli_t *cli)
{
    walk_t w;
    apr_uint64_t v, step = SCAN_STEP_DEFAULT;
    apr_uint32_t cursor = 0;
    int rc;

    if ((rc = walk_options(cli, &w)) != CLI_OK)
        return rc;
    w.with_meta = 1;
    if (cli->opt[OPT_CURSOR] == NULL) {
        if (cli->opt[OPT_COUNT] != NULL)
            return cli_usage(cli, "--count goes with --cursor");
        if ((rc = cli_attach(cli)) != CLI_OK)
            return rc;
        return walk(cli, &w, &cursor, 0);
    }
    if (w.limit != 0)
        return cli_usage(cli, "--limit cannot be used with --cursor");
    if ((rc = cli_uint_arg(cli, cli->opt[OPT_CURSOR], "--cursor", 0xFFFFFFFFu,
                           &v)) != CLI_OK)
        return rc;
    cursor = (apr_uint32_t)v;
    if (cli->opt[OPT_COUNT] != NULL
        && (rc = cli_uint_arg(cli, cli->opt[OPT_COUNT], "--count", 0xFFFFFFFFu,
                              &step)) != CLI_OK)
        return rc;
    if (step == 0)
        return cli_usage(cli, "--count must be at least 1");
    if ((rc = cli_attach(cli)) != CLI_OK
        || (rc = walk(cli, &w, &cursor, step)) != CLI_OK)
        return rc;
    cli_printf(cli, "cursor %u\n", cursor);
    return CLI_OK;
}
