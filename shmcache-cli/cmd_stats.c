/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_stats.c - stats: every figure of shmcache_stats_t as a table for
 * people or as JSON for machines, once; or watched, one line of rates per
 * interval (the full table redrawn with --full, one JSON object per line
 * with --json).
 *
 * The figures come from SHMCACHE_STATS_FIELDS in shmcache.h, expanded
 * once into figures[] below: the human table, the JSON object and the
 * rates are all generated from it, so a figure added to the library shows
 * up here with no change, under the same JSON key as on mod_shmcache's
 * status page.
 */
#include "cli.h"

#include <apr_signal.h>
#include <apr_strings.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

/* The type and show words of SHMCACHE_STATS_FIELDS, as C values. */
typedef enum { T_U32, T_U64, T_I64, T_DBL, T_TIME, T_PIDS } field_type_e;
typedef enum {
    SHOW_NUMBER,
    SHOW_BYTES,
    SHOW_COUNTER,   /* a total since creation: gets a rate when watching */
    SHOW_RATIO,     /* a 0..1 fraction, shown as a percentage */
    SHOW_PID,       /* 0 = none */
    SHOW_TIME
} show_e;

/* One figure of the list. */
typedef struct figure_t {
    const char *group;          /* section of the human table */
    const char *key;            /* JSON key: the member's name */
    const char *label;          /* human table */
    field_type_e type;
    show_e show;
    apr_size_t off;             /* offsetof(shmcache_stats_t, member) */
} figure_t;

#define FIGURE(group, field, type, show, label) \
    {#group, #field, label, T_##type, SHOW_##show, \
     offsetof(shmcache_stats_t, field)},

static const figure_t figures[] = { SHMCACHE_STATS_FIELDS(FIGURE) };

#define NFIGURES (sizeof figures / sizeof figures[0])

/* Lines of the one-line watch between two repeats of its header. */
#define WATCH_HEADER_EVERY 20

/* ---- values ------------------------------------------------------------- */

/* The figure's value as a double (for ratios, rates and tests of zero). */
static double dbl_at(const shmcache_stats_t *s, const figure_t *f)
{
    const char *at = (const char *)s + f->off;

    switch (f->type) {
    case T_U32: { apr_uint32_t v; memcpy(&v, at, sizeof v); return v; }
    case T_U64: { apr_uint64_t v; memcpy(&v, at, sizeof v); return (double)v; }
    case T_I64:
    case T_TIME: { apr_int64_t v; memcpy(&v, at, sizeof v); return (double)v; }
    case T_DBL: { double v; memcpy(&v, at, sizeof v); return v == v ? v : 0.0; }
    case T_PIDS: return s->reader_pid_count;
    }
    return 0.0;
}

/* The pids of the processes holding read locks, joined by sep. */
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

/* The figure's value as a JSON value: a number (a time in seconds since
 * 1970), or an array of pids. */
static const char *json_value(const shmcache_stats_t *s, const figure_t *f,
                              apr_pool_t *p)
{
    const char *at = (const char *)s + f->off;
    apr_uint64_t u = 0;
    apr_int64_t i = 0;

    switch (f->type) {
    case T_U32: { apr_uint32_t v; memcpy(&v, at, sizeof v); u = v; break; }
    case T_U64: memcpy(&u, at, sizeof u); break;
    case T_I64: memcpy(&i, at, sizeof i);
                return apr_psprintf(p, "%" APR_INT64_T_FMT, i);
    case T_TIME: memcpy(&i, at, sizeof i);
                 return apr_psprintf(p, "%" APR_INT64_T_FMT,
                                     (apr_int64_t)apr_time_sec(i));
    case T_PIDS: return apr_pstrcat(p, "[", pid_list(s, ",", p), "]", NULL);
    case T_DBL: return apr_psprintf(p, "%.6f", dbl_at(s, f));
    }
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, u);
}

/* The reader pids for people: "none", "12, 13" or "12, 13 ... +N". */
static const char *human_pids(const shmcache_stats_t *s, apr_pool_t *p)
{
    if (s->reader_pid_count == 0)
        return "none";
    if (s->reader_pid_count <= SHMCACHE_STATS_READER_PIDS)
        return pid_list(s, ", ", p);
    return apr_psprintf(p, "%s +%u", pid_list(s, ", ", p),
                        s->reader_pid_count - SHMCACHE_STATS_READER_PIDS);
}

/* The figure's value as text for people. */
static const char *human_value(const shmcache_stats_t *s, const figure_t *f,
                               apr_pool_t *p)
{
    double v = dbl_at(s, f);

    if (f->type == T_PIDS)
        return human_pids(s, p);
    switch (f->show) {
    case SHOW_BYTES:
        return cli_human_bytes((apr_uint64_t)v, p);
    case SHOW_RATIO:
        return apr_psprintf(p, "%.1f%%", v * 100.0);
    case SHOW_PID:
        return v == 0 ? "none" : json_value(s, f, p);
    case SHOW_TIME:
        return cli_time_text((apr_time_t)v, p);
    default:
        return json_value(s, f, p);
    }
}

/* How much a counter grew from prev to cur (0 if it went back: a cache
 * removed and created again under the same path). */
static double growth(double cur, double prev)
{
    return cur > prev ? cur - prev : 0.0;
}

/* Counter increase per second between prev and cur. */
static double rate(const shmcache_stats_t *cur, const shmcache_stats_t *prev,
                   const figure_t *f, double secs)
{
    return secs > 0 ? growth(dbl_at(cur, f), dbl_at(prev, f)) / secs : 0.0;
}

/* ---- the full table ----------------------------------------------------- */

/* Every figure, a section per group; with prev, a rate column beside each
 * counter. */
static void put_human(cli_t *cli, const shmcache_stats_t *s,
                      const shmcache_stats_t *prev, double secs, apr_pool_t *p)
{
    const char *group = "";
    apr_size_t i;

    cli_printf(cli, "%s\n", cli->path);
    for (i = 0; i < NFIGURES; i++) {
        const figure_t *f = &figures[i];
        if (strcmp(f->group, group) != 0) {
            group = f->group;
            if (prev != NULL && strcmp(group, "operations") == 0)
                cli_printf(cli, "\n%-22s %16s %12s\n", group, "total",
                           "per second");
            else
                cli_printf(cli, "\n%s\n", group);
        }
        cli_printf(cli, "  %-20s %16s", f->label, human_value(s, f, p));
        if (prev != NULL && f->show == SHOW_COUNTER)
            cli_printf(cli, " %12.1f", rate(s, prev, f, secs));
        cli_printf(cli, "\n");
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void put_json_path(cli_t *cli)
{
    if (cli_utf8_valid(cli->path, strlen(cli->path)))
        cli_put_json_string(cli, cli->path, strlen(cli->path));
    else
        cli_put_json_base64(cli, cli->path, strlen(cli->path));
}

/* "interval" and "rates": one rate per counter of the list. */
static void put_json_rates(cli_t *cli, const shmcache_stats_t *s,
                           const shmcache_stats_t *prev, double secs,
                           const char *sep)
{
    const char *comma = "";
    apr_size_t i;

    cli_printf(cli, ",%s\"interval\": %.3f,%s\"rates\": {", sep, secs, sep);
    for (i = 0; i < NFIGURES; i++) {
        if (figures[i].show != SHOW_COUNTER)
            continue;
        cli_printf(cli, "%s\"%s\": %.3f", comma, figures[i].key,
                   rate(s, prev, &figures[i], secs));
        comma = ", ";
    }
    cli_printf(cli, "}");
}

/* One object: "path", then every figure of the list under its key; with
 * prev, the rates since prev; with --l2, the second tier's "l2". */
static void put_json(cli_t *cli, const shmcache_stats_t *s,
                     const shmcache_stats_t *prev, double secs, int one_line,
                     apr_pool_t *p)
{
    const char *sep = one_line ? " " : "\n  ";
    apr_size_t i;

    cli_printf(cli, "{%s\"path\": ", one_line ? "" : "\n  ");
    put_json_path(cli);
    for (i = 0; i < NFIGURES; i++)
        cli_printf(cli, ",%s\"%s\": %s", sep, figures[i].key,
                   json_value(s, &figures[i], p));
    if (prev != NULL)
        put_json_rates(cli, s, prev, secs, sep);
    if (cli->tier != NULL)
        cli_tier_put_json(cli, sep);
    cli_printf(cli, "%s}\n", one_line ? "" : "\n");
}

/* ---- the one-line watch ------------------------------------------------- */

/* A rate in at most 8 characters: "0", "3.5", "1234", "56.7k", "1.2M". */
static const char *rate_text(double r, apr_pool_t *p)
{
    if (r == 0)
        return "0";
    if (r < 100)
        return apr_psprintf(p, "%.1f", r);
    if (r < 100000)
        return apr_psprintf(p, "%.0f", r);
    if (r < 100e6)
        return apr_psprintf(p, "%.1fk", r / 1e3);
    return apr_psprintf(p, "%.1fM", r / 1e6);
}

/* Bytes as cli_human_bytes writes them without the space ("1.5MiB"), so
 * every column of the watch line is one word for awk and cut. */
static const char *compact_bytes(apr_uint64_t n, apr_pool_t *p)
{
    char *s = apr_pstrdup(p, cli_human_bytes(n, p));
    char *sp = strchr(s, ' ');

    if (sp != NULL)
        memmove(sp, sp + 1, strlen(sp));
    return s;
}

/* Column layout of the watch line: 77 characters, within 80 columns. */
#define WATCH_FMT "%-8s %9s %10s %5s %9s %6s %9s %8s %5s\n"

static void put_watch_header(cli_t *cli)
{
    cli_printf(cli, WATCH_FMT, "time", "items", "used", "fill", "gets/s",
               "hit%", "sets/s", "evict/s", "recov");
}

/* Recovery events in a sample: locks taken over, dead readers' holds
 * dropped, repairs and resets. */
static double recoveries(const shmcache_stats_t *s)
{
    return (double)s->lock_recoveries + (double)s->dead_readers
           + (double)s->repairs + (double)s->resets;
}

/* The local time of day of t, "HH:MM:SS". */
static const char *clock_text(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t x;

    if (apr_time_exp_lt(&x, t) != APR_SUCCESS)
        return "?";
    return apr_psprintf(p, "%02d:%02d:%02d", x.tm_hour, x.tm_min, x.tm_sec);
}

/* One line: the gauges of cur; with prev, the rates and the hit ratio of
 * the interval and the recoveries in it ("-" without prev, and for the
 * hit ratio of an interval without gets). */
static void put_watch_line(cli_t *cli, const shmcache_stats_t *cur,
                           const shmcache_stats_t *prev, double secs,
                           apr_time_t t, apr_pool_t *p)
{
    const char *gets = "-", *hit = "-", *sets = "-", *evict = "-", *recov = "-";

    if (prev != NULL && secs > 0) {
        double g = growth((double)cur->gets, (double)prev->gets);
        double h = growth((double)cur->hits, (double)prev->hits);
        gets = rate_text(g / secs, p);
        hit = g > 0 ? apr_psprintf(p, "%.1f", 100.0 * (h < g ? h : g) / g) : "-";
        sets = rate_text(growth((double)cur->sets, (double)prev->sets) / secs, p);
        evict = rate_text(growth((double)cur->evictions,
                                 (double)prev->evictions) / secs, p);
        recov = apr_psprintf(p, "%.0f", growth(recoveries(cur),
                                                recoveries(prev)));
    }
    cli_printf(cli, WATCH_FMT, clock_text(t, p),
               apr_psprintf(p, "%" APR_UINT64_T_FMT, cur->items),
               compact_bytes(cur->bytes_used, p),
               apr_psprintf(p, "%.0f%%", cur->fill * 100.0), gets, hit, sets,
               evict, recov);
}

/* ---- watching ----------------------------------------------------------- */

typedef struct watch_t {
    apr_uint64_t interval;      /* seconds */
    apr_uint64_t count;         /* samples; 0 = until interrupted */
    int json, full, tty;
} watch_t;

/* One reading of the figures and when it was taken. */
typedef struct sample_t {
    shmcache_stats_t st;
    apr_time_t t;
} sample_t;

static volatile sig_atomic_t stop_watching;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_watching = 1;
}

/* Show sample number i (prev: the one before, NULL for the first) the way
 * w asks. */
static void show_sample(cli_t *cli, const watch_t *w, apr_uint64_t i,
                        const sample_t *cur, const sample_t *prev,
                        apr_pool_t *p)
{
    const shmcache_stats_t *pst = prev != NULL ? &prev->st : NULL;
    double secs = prev != NULL
        ? (double)(cur->t - prev->t) / APR_USEC_PER_SEC : 0.0;

    if (w->json) {
        put_json(cli, &cur->st, pst, secs, 1, p);
    } else if (w->full) {
        cli_printf(cli, "%s", w->tty ? "\033[H\033[2J" : (i > 0 ? "\n" : ""));
        put_human(cli, &cur->st, pst, secs, p);
    } else {
        if (i % WATCH_HEADER_EVERY == 0)
            put_watch_header(cli);
        put_watch_line(cli, &cur->st, pst, secs, cur->t, p);
    }
}

/* Push what was shown to the terminal or pipe now, not at exit.
 * @return CLI_OK, or CLI_ERROR when stdout failed (or its reader left). */
static int flush_now(cli_t *cli)
{
    if (cli->out_rv == APR_SUCCESS)
        cli->out_rv = apr_file_flush(cli->out);
    return cli->out_rv == APR_SUCCESS ? CLI_OK : CLI_ERROR;
}

/* --watch: a sample every interval seconds, count times or until SIGINT
 * or SIGTERM, which end the loop cleanly so the process slot is
 * released. @return an exit code. */
static int watch(cli_t *cli, const watch_t *w)
{
    sample_t cur, prev;
    apr_pool_t *frame;
    apr_status_t rv;
    apr_uint64_t i;
    int rc;

    apr_signal(SIGINT, on_stop_signal);
    apr_signal(SIGTERM, on_stop_signal);
    apr_pool_create(&frame, cli->pool);
    for (i = 0; (w->count == 0 || i < w->count) && !stop_watching; i++) {
        if (i > 0)
            apr_sleep(apr_time_from_sec(w->interval));
        if (stop_watching)
            break;
        if ((rv = shmcache_stats(cli->cache, &cur.st)) != APR_SUCCESS)
            return cli_fail(cli, rv, "cannot read the figures");
        cur.t = apr_time_now();
        apr_pool_clear(frame);
        show_sample(cli, w, i, &cur, i > 0 ? &prev : NULL, frame);
        if ((rc = flush_now(cli)) != CLI_OK)
            return rc;
        prev = cur;
    }
    return CLI_OK;
}

/* ---- the command -------------------------------------------------------- */

/* Refuse the watch options without --watch. */
static int no_watch_options(cli_t *cli)
{
    if (cli->nargs > 0)
        return cli_usage(cli, "SECS goes with --watch");
    if (cli->opt[OPT_COUNT] != NULL)
        return cli_usage(cli, "--count goes with --watch");
    if (cli->opt[OPT_FULL] != NULL)
        return cli_usage(cli, "--full goes with --watch (stats without "
                         "--watch shows every figure already)");
    return CLI_OK;
}

/* Read --watch's SECS, --count, --full and --json into w. */
static int watch_options(cli_t *cli, watch_t *w)
{
    int rc;

    memset(w, 0, sizeof(*w));
    w->interval = 1;
    w->json = cli->opt[OPT_JSON] != NULL;
    w->full = cli->opt[OPT_FULL] != NULL;
    w->tty = cli_isatty(1);
    if (w->json && w->full)
        return cli_usage(cli, "--full is the table for people; --json prints "
                         "every figure already");
    if (cli->nargs > 0
        && (rc = cli_duration_arg(cli, cli->args[0], "SECS", 86400,
                                  &w->interval)) != CLI_OK)
        return rc;
    if (w->interval == 0)
        return cli_usage(cli, "SECS must be at least 1");
    if (cli->opt[OPT_COUNT] == NULL)
        return CLI_OK;
    if ((rc = cli_uint_arg(cli, cli->opt[OPT_COUNT], "--count",
                           APR_UINT64_MAX, &w->count)) != CLI_OK)
        return rc;
    if (w->count == 0)
        return cli_usage(cli, "--count must be at least 1 (leave --count "
                         "out to watch until interrupted)");
    return CLI_OK;
}

/* stats once: the table, or one JSON object. */
static int stats_once(cli_t *cli)
{
    shmcache_stats_t st;
    apr_status_t rv;

    if ((rv = shmcache_stats(cli->cache, &st)) != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot read the figures");
    if (cli->opt[OPT_JSON] != NULL) {
        put_json(cli, &st, NULL, 0, 0, cli->pool);
        return CLI_OK;
    }
    put_human(cli, &st, NULL, 0, cli->pool);
    if (cli->tier != NULL)
        cli_tier_put_human(cli);
    return CLI_OK;
}

int cmd_stats(cli_t *cli)
{
    watch_t w;
    int rc;

    if (cli->opt[OPT_WATCH] == NULL) {
        if ((rc = no_watch_options(cli)) != CLI_OK
            || (rc = cli_attach(cli)) != CLI_OK)
            return rc;
        return stats_once(cli);
    }
    if ((rc = watch_options(cli, &w)) != CLI_OK
        || (rc = cli_attach(cli)) != CLI_OK)
        return rc;
    return watch(cli, &w);
}
