/*
 * cmd_stats.c - stats: every figure of shmcache_stats_t as a table for
 * people, as JSON for machines, once or refreshed with rates per second.
 *
 * One table (rows[]) describes every figure once: its label, its JSON name,
 * where it sits in shmcache_stats_t and how to show it. The human table,
 * the JSON object and the rates all come from it, so a figure added to the
 * library needs one row here.
 */
#include "cli.h"

#include <apr_signal.h>
#include <apr_strings.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

typedef enum { T_U32, T_U64, T_I64, T_DBL, T_HIT_RATIO, T_PIDS } field_type_e;
typedef enum {
    SHOW_HEADING,   /* a section title, no value */
    SHOW_NUMBER,
    SHOW_COUNTER,   /* a total since creation: gets a rate when watching */
    SHOW_BYTES,
    SHOW_PERCENT,   /* a 0..1 fraction */
    SHOW_PID        /* 0 = none */
} show_e;

typedef struct row_t {
    const char *label;          /* human table */
    const char *json;           /* JSON name (NULL for headings) */
    field_type_e type;
    apr_size_t off;             /* offsetof(shmcache_stats_t, ...) */
    show_e show;
} row_t;

#define AT(f) offsetof(shmcache_stats_t, f)
#define HEADING(l) {l, NULL, T_U64, 0, SHOW_HEADING}

static const row_t rows[] = {
    HEADING("contents"),
    {"items", "items", T_U64, AT(items), SHOW_NUMBER},
    {"memory used", "bytes_used", T_U64, AT(bytes_used), SHOW_BYTES},
    {"memory free", "bytes_free", T_U64, AT(bytes_free), SHOW_BYTES},
    {"largest free block", "largest_free", T_U64, AT(largest_free), SHOW_BYTES},
    {"free blocks", "free_blocks", T_U64, AT(free_blocks), SHOW_NUMBER},
    {"fragmentation", "fragmentation", T_DBL, AT(fragmentation), SHOW_PERCENT},
    {"longest chain", "longest_chain", T_U32, AT(longest_chain), SHOW_NUMBER},
    HEADING("operations"),
    {"gets", "gets", T_U64, AT(gets), SHOW_COUNTER},
    {"hits", "hits", T_U64, AT(hits), SHOW_COUNTER},
    {"misses", "misses", T_U64, AT(misses), SHOW_COUNTER},
    {"hit ratio", "hit_ratio", T_HIT_RATIO, 0, SHOW_PERCENT},
    {"sets", "sets", T_U64, AT(sets), SHOW_COUNTER},
    {"adds", "adds", T_U64, AT(adds), SHOW_COUNTER},
    {"replaces", "replaces", T_U64, AT(replaces), SHOW_COUNTER},
    {"cas", "cas_ops", T_U64, AT(cas_ops), SHOW_COUNTER},
    {"deletes", "deletes", T_U64, AT(deletes), SHOW_COUNTER},
    {"incrs", "incrs", T_U64, AT(incrs), SHOW_COUNTER},
    {"touches", "touches", T_U64, AT(touches), SHOW_COUNTER},
    {"refused stores", "set_failures", T_U64, AT(set_failures), SHOW_COUNTER},
    {"evictions", "evictions", T_U64, AT(evictions), SHOW_COUNTER},
    {"expirations", "expirations", T_U64, AT(expirations), SHOW_COUNTER},
    {"flushes", "flushes", T_U64, AT(flushes), SHOW_COUNTER},
    HEADING("lock"),
    {"read waits", "read_waits", T_U64, AT(read_waits), SHOW_COUNTER},
    {"write waits", "write_waits", T_U64, AT(write_waits), SHOW_COUNTER},
    {"lock recoveries", "lock_recoveries", T_U64, AT(lock_recoveries),
     SHOW_COUNTER},
    {"dead readers", "dead_readers", T_U64, AT(dead_readers), SHOW_COUNTER},
    {"last dead pid", "last_dead_pid", T_I64, AT(last_dead_pid), SHOW_PID},
    {"repairs", "repairs", T_U64, AT(repairs), SHOW_COUNTER},
    {"resets", "resets", T_U64, AT(resets), SHOW_COUNTER},
    HEADING("leases"),
    {"leases granted", "leases_granted", T_U64, AT(leases_granted),
     SHOW_COUNTER},
    {"lease waits", "lease_waits", T_U64, AT(lease_waits), SHOW_COUNTER},
    {"lease timeouts", "lease_timeouts", T_U64, AT(lease_timeouts),
     SHOW_COUNTER},
    {"stale answers", "stale_answers", T_U64, AT(stale_answers), SHOW_COUNTER},
    {"dead holders", "leases_dead", T_U64, AT(leases_dead), SHOW_COUNTER},
    HEADING("processes"),
    {"attached", "attached", T_U32, AT(attached), SHOW_NUMBER},
    {"writer pid", "writer_pid", T_I64, AT(writer_pid), SHOW_PID},
    {"readers now", "readers", T_U32, AT(readers), SHOW_NUMBER},
    {"reader pids", "reader_pids", T_PIDS, AT(reader_pids), SHOW_NUMBER},
    {NULL, NULL, T_U64, 0, SHOW_HEADING}
};

/* Configuration figures: JSON only (the human table shows them in its
 * title line). */
static const row_t config_rows[] = {
    {"size", "size", T_U64, AT(size), SHOW_BYTES},
    {"data size", "data_size", T_U64, AT(data_size), SHOW_BYTES},
    {"buckets", "buckets", T_U32, AT(buckets), SHOW_NUMBER},
    {"slots", "slots", T_U32, AT(slots), SHOW_NUMBER},
    {"max key", "max_key", T_U32, AT(max_key), SHOW_NUMBER},
    {"max value", "max_value", T_U32, AT(max_value), SHOW_NUMBER},
    {"default ttl", "default_ttl", T_U32, AT(default_ttl), SHOW_NUMBER},
    {NULL, NULL, T_U64, 0, SHOW_HEADING}
};

/* The row's value as a double (for ratios and rates). */
static double dbl_at(const shmcache_stats_t *s, const row_t *r)
{
    const char *base = (const char *)s;

    switch (r->type) {
    case T_U32: { apr_uint32_t v; memcpy(&v, base + r->off, sizeof v); return v; }
    case T_U64: { apr_uint64_t v; memcpy(&v, base + r->off, sizeof v); return (double)v; }
    case T_I64: { apr_int64_t v; memcpy(&v, base + r->off, sizeof v); return (double)v; }
    case T_DBL: { double v; memcpy(&v, base + r->off, sizeof v); return v; }
    case T_HIT_RATIO: return s->gets == 0 ? 0.0 : (double)s->hits / (double)s->gets;
    case T_PIDS: return s->reader_pid_count;
    }
    return 0.0;
}

/* The pids of the processes holding read locks, joined by sep (those
 * beyond the listed ones are counted, as "+N"). */
static const char *pid_list(const shmcache_stats_t *s, const char *sep,
                            apr_pool_t *p)
{
    const char *out = "";
    apr_uint32_t i, n = s->reader_pid_count < SHMCACHE_STATS_READER_PIDS
                            ? s->reader_pid_count : SHMCACHE_STATS_READER_PIDS;

    for (i = 0; i < n; i++)
        out = apr_psprintf(p, "%s%s%" APR_INT64_T_FMT, out, i ? sep : "",
                           s->reader_pids[i]);
    return out;
}

/* The row's value as text in JSON (numbers only). */
static const char *json_value(const shmcache_stats_t *s, const row_t *r,
                              apr_pool_t *p)
{
    const char *base = (const char *)s;

    switch (r->type) {
    case T_U32: { apr_uint32_t v; memcpy(&v, base + r->off, sizeof v);
                  return apr_psprintf(p, "%u", v); }
    case T_U64: { apr_uint64_t v; memcpy(&v, base + r->off, sizeof v);
                  return apr_psprintf(p, "%" APR_UINT64_T_FMT, v); }
    case T_I64: { apr_int64_t v; memcpy(&v, base + r->off, sizeof v);
                  return apr_psprintf(p, "%" APR_INT64_T_FMT, v); }
    case T_PIDS:
        return apr_pstrcat(p, "[", pid_list(s, ",", p), "]", NULL);
    default: {
        double v = dbl_at(s, r);
        return apr_psprintf(p, "%.6f", v == v ? v : 0.0);   /* no NaN in JSON */
    }
    }
}

/* The row's value as text for people. */
static const char *human_value(const shmcache_stats_t *s, const row_t *r,
                               apr_pool_t *p)
{
    double v = dbl_at(s, r);

    switch (r->show) {
    case SHOW_BYTES:
        return apr_psprintf(p, "%s", cli_human_bytes((apr_uint64_t)v, p));
    case SHOW_PERCENT:
        return apr_psprintf(p, "%.1f%%", v * 100.0);
    case SHOW_PID:
        return v == 0 ? "none" : json_value(s, r, p);
    default:
        if (r->type == T_PIDS)
            return s->reader_pid_count == 0 ? "none"
                : s->reader_pid_count <= SHMCACHE_STATS_READER_PIDS
                ? pid_list(s, ", ", p)
                : apr_psprintf(p, "%s +%u", pid_list(s, ", ", p),
                               s->reader_pid_count - SHMCACHE_STATS_READER_PIDS);
        return json_value(s, r, p);
    }
}

/* Counter increase per second between prev and cur. */
static double rate(const shmcache_stats_t *cur, const shmcache_stats_t *prev,
                   const row_t *r, double secs)
{
    double d = dbl_at(cur, r) - dbl_at(prev, r);

    return secs > 0 && d > 0 ? d / secs : 0.0;
}

static void put_human(cli_t *cli, const shmcache_stats_t *s,
                      const shmcache_stats_t *prev, double secs, apr_pool_t *p)
{
    const row_t *r;

    cli_printf(cli, "%s: %s, %u buckets, %u slots, created %s\n", cli->path,
               cli_human_bytes(s->size, p), s->buckets, s->slots,
               cli_time_text(s->created, p));
    for (r = rows; r->label != NULL; r++) {
        if (r->show == SHOW_HEADING) {
            if (strcmp(r->label, "operations") == 0
                && prev != NULL)
                cli_printf(cli, "\n%-22s %16s %12s\n", r->label, "total",
                           "per second");
            else
                cli_printf(cli, "\n%s\n", r->label);
            continue;
        }
        cli_printf(cli, "  %-20s %16s", r->label, human_value(s, r, p));
        if (prev != NULL && r->show == SHOW_COUNTER)
            cli_printf(cli, " %12.1f", rate(s, prev, r, secs));
        cli_printf(cli, "\n");
    }
}

static void put_json_rows(cli_t *cli, const row_t *list,
                          const shmcache_stats_t *s, const char *sep,
                          apr_pool_t *p)
{
    const row_t *r;

    for (r = list; r->label != NULL; r++)
        if (r->json != NULL)
            cli_printf(cli, ",%s\"%s\": %s", sep, r->json, json_value(s, r, p));
}

static void put_json(cli_t *cli, const shmcache_stats_t *s,
                     const shmcache_stats_t *prev, double secs, int one_line,
                     apr_pool_t *p)
{
    const char *sep = one_line ? " " : "\n  ";
    const row_t *r;
    int first = 1;

    cli_printf(cli, "{%s\"path\": ", one_line ? "" : "\n  ");
    if (cli_utf8_valid(cli->path, strlen(cli->path)))
        cli_put_json_string(cli, cli->path, strlen(cli->path));
    else
        cli_put_json_base64(cli, cli->path, strlen(cli->path));
    cli_printf(cli, ",%s\"version\": \"%s\",%s\"time\": %" APR_INT64_T_FMT
               ",%s\"created\": %" APR_INT64_T_FMT, sep,
               SHMCACHE_VERSION_STRING, sep, (apr_int64_t)apr_time_sec(apr_time_now()),
               sep, (apr_int64_t)apr_time_sec(s->created));
    put_json_rows(cli, config_rows, s, sep, p);
    put_json_rows(cli, rows, s, sep, p);
    if (prev != NULL) {
        cli_printf(cli, ",%s\"interval\": %.3f,%s\"rates\": {", sep, secs, sep);
        for (r = rows; r->label != NULL; r++) {
            if (r->show != SHOW_COUNTER)
                continue;
            cli_printf(cli, "%s\"%s\": %.3f", first ? "" : ", ", r->json,
                       rate(s, prev, r, secs));
            first = 0;
        }
        cli_printf(cli, "}");
    }
    if (cli->tier != NULL)
        cli_tier_put_json(cli, sep);
    cli_printf(cli, "%s}\n", one_line ? "" : "\n");
}

static volatile sig_atomic_t stop_watching;

static void on_stop_signal(int sig)
{
    stop_watching = 1;
}

/* --watch: refresh every interval seconds, count times (0 = until
 * interrupted; SIGINT and SIGTERM end the loop cleanly so the process slot
 * is released). */
static int watch(cli_t *cli, apr_uint64_t interval, apr_uint64_t count, int json)
{
    shmcache_stats_t cur, prev;
    apr_time_t t, prev_t = 0;
    apr_pool_t *frame;
    apr_status_t rv;
    int tty = cli_isatty(1);
    apr_uint64_t i;

    apr_signal(SIGINT, on_stop_signal);
    apr_signal(SIGTERM, on_stop_signal);
    apr_pool_create(&frame, cli->pool);
    for (i = 0; (count == 0 || i < count) && !stop_watching; i++) {
        if (i > 0)
            apr_sleep(apr_time_from_sec(interval));
        if (stop_watching)
            break;
        if ((rv = shmcache_stats(cli->cache, &cur)) != APR_SUCCESS)
            return cli_fail(cli, rv, "cannot read the figures");
        t = apr_time_now();
        apr_pool_clear(frame);
        if (json) {
            put_json(cli, &cur, i > 0 ? &prev : NULL,
                     (double)(t - prev_t) / APR_USEC_PER_SEC, 1, frame);
        } else {
            cli_printf(cli, "%s", tty ? "\033[H\033[2J" : (i > 0 ? "\n" : ""));
            put_human(cli, &cur, i > 0 ? &prev : NULL,
                      (double)(t - prev_t) / APR_USEC_PER_SEC, frame);
        }
        if (cli->out_rv == APR_SUCCESS)
            cli->out_rv = apr_file_flush(cli->out);
        if (cli->out_rv != APR_SUCCESS)
            return CLI_ERROR;
        prev = cur;
        prev_t = t;
    }
    return CLI_OK;
}

int cmd_stats(cli_t *cli)
{
    shmcache_stats_t st;
    apr_uint64_t interval = 1, count = 0;
    apr_status_t rv;
    int rc, json = cli->opt[OPT_JSON] != NULL;

    if (cli->opt[OPT_WATCH] == NULL) {
        if (cli->nargs > 0)
            return cli_usage(cli, "SECS goes with --watch");
        if (cli->opt[OPT_COUNT] != NULL)
            return cli_usage(cli, "--count goes with --watch");
    } else {
        if (cli->nargs > 0
            && (rc = cli_duration_arg(cli, cli->args[0], "SECS", 86400,
                                      &interval)) != CLI_OK)
            return rc;
        if (interval == 0)
            return cli_usage(cli, "SECS must be at least 1");
        if (cli->opt[OPT_COUNT] != NULL
            && (rc = cli_uint_arg(cli, cli->opt[OPT_COUNT], "--count",
                                  APR_UINT64_MAX, &count)) != CLI_OK)
            return rc;
    }
    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    if (cli->opt[OPT_WATCH] != NULL)
        return watch(cli, interval, count, json);
    if ((rv = shmcache_stats(cli->cache, &st)) != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot read the figures");
    if (json)
        put_json(cli, &st, NULL, 0, 0, cli->pool);
    else
        put_human(cli, &st, NULL, 0, cli->pool);
    if (!json && cli->tier != NULL)
        cli_tier_put_human(cli);
    return CLI_OK;
}
