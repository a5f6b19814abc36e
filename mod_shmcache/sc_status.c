/*
 * sc_status.c - the shmcache-status handler, the socache provider's status
 * output, and a mod_status hook.
 *
 *   SetHandler shmcache-status     HTML page: per cache, tiles with small
 *                                  inline SVG charts (fill, hit ratio,
 *                                  evictions, lock recoveries, rates,
 *                                  uptime, largest free block, operations)
 *                                  and a table of every figure with its
 *                                  rate per second; no JavaScript, no
 *                                  external assets, laid out for phones too
 *   ...?refresh=N                  HTML: reload every N seconds (meta refresh)
 *   ...?auto                       "Key: value" lines; the keys shmcb prints
 *                                  (CacheType, CacheSharedMemory,
 *                                  CacheCurrentEntries, CacheStoreCount,
 *                                  CacheRetrieveHitCount, ...) keep their
 *                                  meaning, so dashboards that parse
 *                                  server-status?auto work; then every
 *                                  figure as Cache<Field>; one block per
 *                                  cache, each starting with CacheName
 *   ...?json                       one JSON object: {"caches": [...]}; each
 *                                  cache has name, path, type, used_by (an
 *                                  array, when socache consumers use it),
 *                                  l2 (with a second tier) and every figure
 *                                  under the key shmcache-cli stats --json
 *                                  uses
 *   ...?cache=NAME                 only that cache (combines with the
 *                                  above); 404 when no cache has that name
 *
 * Every figure comes from the library's list SHMCACHE_STATS_FIELDS
 * (shmcache.h): ?json's keys, ?auto's Cache<Field> lines and the page's
 * table are generated from it. Figures come from shmcache_stats() of this
 * process's handle: counters are the segment's totals since it was
 * created, whichever process did the work.
 *
 * Rates: each process keeps, in its own memory, the figures it showed last
 * for each cache; the page divides what the counters grew since then by
 * the time passed. So a rate is "since this process last showed the page"
 * (a prefork server has several processes: a reload may be answered by
 * another one, which shows its own interval). Nothing is written to the
 * segment for this.
 *
 * With mod_status loaded, server-status shows the declared caches too;
 * mod_ssl and mod_cache_socache print their own socache instances, and an
 * instance that uses a declared cache prints only that cache's name
 * (CacheSharedWith), not its figures a second time.
 */
#include "sc_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"
#include "scoreboard.h"
#include "util_script.h"
#include "apr_strings.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

APLOG_USE_MODULE(shmcache);

/* The HTML page's style sheet: tiles that wrap on a phone, nothing
 * fetched from elsewhere. */
#define STATUS_CSS \
    "body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;" \
    "margin:0 auto;padding:12px;max-width:1100px;color:#1d2329;background:#f6f7f9}" \
    "h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:0}" \
    ".meta,.path{color:#5b6570;font-size:.85em;margin:.2em 0 .6em;" \
    "overflow-wrap:anywhere}" \
    ".cache{background:#fff;border:1px solid #dde1e6;border-radius:8px;" \
    "padding:12px;margin:0 0 14px}" \
    ".tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));" \
    "gap:10px}" \
    ".tile{border:1px solid #e3e6ea;border-radius:6px;padding:8px 10px;" \
    "min-width:0;position:relative}.wides .tile{margin-top:10px}" \
    ".tile.ring{padding-right:76px}" \
    ".tile.warn{border-color:#e0b040;background:#fffaeb}" \
    ".tile.bad{border-color:#d9534f;background:#fdf0ef}" \
    ".t{font-size:.8em;text-transform:uppercase;letter-spacing:.04em;color:#5b6570}" \
    ".big{font-size:1.6em;font-weight:600;font-variant-numeric:tabular-nums}" \
    ".sub{font-size:.8em;color:#5b6570;overflow-wrap:anywhere}" \
    "svg.ring{position:absolute;right:8px;top:50%;margin-top:-32px}" \
    "svg.bar{display:block;margin:6px 0}" \
    ".k{display:inline-block;width:.8em;height:.8em;margin:0 .25em 0 .5em;" \
    "vertical-align:-.1em;border-radius:2px}.k.u{background:#3b6fb6}" \
    ".k.f{background:#e3e6ea}.k.l{background:#2e8540}" \
    ".ops{display:grid;grid-template-columns:auto 1fr auto;gap:2px 8px;" \
    "align-items:center;font-size:.85em}.ops .n{text-align:right;" \
    "font-variant-numeric:tabular-nums}.ops svg.bar{margin:0}" \
    ".details{margin-top:10px;border-collapse:collapse;font-size:.85em;width:100%}" \
    ".details th{text-align:left;padding:3px 8px 3px 0;vertical-align:top;" \
    "white-space:nowrap;color:#5b6570;font-weight:500}" \
    ".details td{padding:3px 0;overflow-wrap:anywhere}" \
    ".details tr.g th{padding-top:8px;color:#1d2329;font-weight:600;" \
    "text-transform:capitalize}.details td.rate{text-align:right;color:#5b6570;" \
    "white-space:nowrap;padding-left:8px}" \
    ".err{color:#c0392b}" \
    "@media (max-width:480px){body{padding:6px}.cache{padding:8px}" \
    ".details th{white-space:normal}}"

/* ------------------------------------------------------------------------
 * Every figure, from the library's list
 * ---------------------------------------------------------------------- */

typedef enum { FT_U32, FT_U64, FT_I64, FT_DBL, FT_TIME, FT_PIDS } field_type_e;
typedef enum {
    FS_NUMBER, FS_BYTES, FS_COUNTER, FS_RATIO, FS_PID, FS_TIME
} field_show_e;

/* One entry of SHMCACHE_STATS_FIELDS. */
typedef struct field_t {
    const char *group;          /* config, contents, operations, ... */
    const char *key;            /* member of shmcache_stats_t, JSON key */
    field_type_e type;
    field_show_e show;
    const char *label;          /* "memory used" */
    size_t off;                 /* offsetof(shmcache_stats_t, member) */
} field_t;

#define SC_FIELD(group, field, type, show, label) \
    {#group, #field, FT_##type, FS_##show, label, \
     offsetof(shmcache_stats_t, field)},
static const field_t fields[] = { SHMCACHE_STATS_FIELDS(SC_FIELD) };
#undef SC_FIELD
#define NFIELDS (sizeof fields / sizeof fields[0])

/* ------------------------------------------------------------------------
 * Types
 * ---------------------------------------------------------------------- */

/* One cache as shown: its figures, and the previous ones this process
 * showed (for rates). */
typedef struct sc_figures_t {
    sc_cache_t *c;              /* the cache holding the data */
    apr_array_header_t *used_by;    /* const char *: socache consumers
                                       using it, each once; or NULL */
    shmcache_stats_t st;
    apr_status_t rv;
    apr_time_t when;            /* when st was taken (HTML) */
    int have_prev;              /* prev/prev_when valid */
    shmcache_stats_t prev;      /* this process's last sample */
    apr_time_t prev_when;
} sc_figures_t;

/* What the query string asks for. */
typedef enum { SHOW_HTML, SHOW_AUTO, SHOW_JSON } show_e;
typedef struct status_query_t {
    show_e show;
    int refresh;                /* HTML: seconds between reloads, 0 none */
    const char *only;           /* ?cache=NAME, or NULL */
} status_query_t;

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static void figures(sc_figures_t *f, sc_cache_t *c, request_rec *r)
{
    shmcache_t *h;

    memset(f, 0, sizeof *f);
    f->c = sc_cache_target(c);
    h = sc_cache_handle(f->c, r->server);
    if (h == NULL)
        f->rv = f->c->attach_status != APR_SUCCESS ? f->c->attach_status
              : f->c->prepare_status != APR_SUCCESS ? f->c->prepare_status
              : APR_EGENERAL;
    else if ((f->rv = shmcache_stats(h, &f->st)) == APR_SUCCESS)
        sc_watch_observe(f->c, &f->st, r->server);
}

/* Name consumer among f's users, once however many instances (one per
 * virtual host) it made. */
static void add_user(sc_figures_t *f, const char *consumer, apr_pool_t *p)
{
    int i;

    if (f->used_by == NULL)
        f->used_by = apr_array_make(p, 2, sizeof(const char *));
    for (i = 0; i < f->used_by->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(f->used_by, i, const char *), consumer) == 0)
            return;
    APR_ARRAY_PUSH(f->used_by, const char *) = consumer;
}

static unsigned pct(apr_uint64_t part, apr_uint64_t whole)
{
    return whole == 0 ? 0 : (unsigned)((part * 100 + whole / 2) / whole);
}

static const char *human(apr_uint64_t v, apr_pool_t *p)
{
    if (v >= ((apr_uint64_t)1 << 30) && v % ((apr_uint64_t)1 << 20) == 0)
        return apr_psprintf(p, "%.1f GiB", (double)v / (1 << 30));
    if (v >= (1u << 20))
        return apr_psprintf(p, "%.1f MiB", (double)v / (1 << 20));
    if (v >= 1024u)
        return apr_psprintf(p, "%.1f KiB", (double)v / 1024);
    return apr_psprintf(p, "%" APR_UINT64_T_FMT " B", v);
}

/* "3 d 4 h", "2 h 5 min", "7 min 3 s" or "12 s". */
static const char *duration(apr_int64_t s, apr_pool_t *p)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        return apr_psprintf(p, "%d d %d h", (int)(s / 86400), (int)(s % 86400 / 3600));
    if (s >= 3600)
        return apr_psprintf(p, "%d h %d min", (int)(s / 3600), (int)(s % 3600 / 60));
    if (s >= 60)
        return apr_psprintf(p, "%d min %d s", (int)(s / 60), (int)(s % 60));
    return apr_psprintf(p, "%d s", (int)s);
}

static const char *json_str(const char *s, apr_pool_t *p)
{
    apr_size_t n = 2;
    const unsigned char *q;
    char *out, *o;

    for (q = (const unsigned char *)s; *q; q++)
        n += (*q < 0x20 || *q == '"' || *q == '\\') ? 6 : 1;
    out = o = apr_palloc(p, n + 1);
    *o++ = '"';
    for (q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') {
            *o++ = '\\';
            *o++ = (char)*q;
        }
        else if (*q < 0x20) {
            apr_snprintf(o, 7, "\\u%04x", *q);
            o += 6;
        }
        else
            *o++ = (char)*q;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

static apr_uint64_t stores(const shmcache_stats_t *st)
{
    return st->sets + st->adds + st->replaces + st->cas_ops;
}

/* ---- one figure's value ----------------------------------------------- */

static const void *member(const field_t *fd, const shmcache_stats_t *st)
{
    return (const char *)st + fd->off;
}

/* The reader pids, sep between them ("" when none). The count is bounded
 * by the array's size, whatever the segment said. */
static const char *pids_text(const shmcache_stats_t *st, const char *sep,
                             apr_pool_t *p)
{
    apr_uint32_t i, n = st->reader_pid_count;
    const char *out = "";

    if (n > SHMCACHE_STATS_READER_PIDS)
        n = SHMCACHE_STATS_READER_PIDS;
    for (i = 0; i < n; i++)
        out = apr_psprintf(p, "%s%s%" APR_INT64_T_FMT, out, i ? sep : "",
                           st->reader_pids[i]);
    return out;
}

/* The figure as ?auto and ?json write a number (TIME: seconds since the
 * epoch; PIDS: the pids with sep between them). */
static const char *plain_value(const field_t *fd, const shmcache_stats_t *st,
                               const char *sep, apr_pool_t *p)
{
    const void *m = member(fd, st);

    switch (fd->type) {
    case FT_U32:  return apr_psprintf(p, "%u", *(const apr_uint32_t *)m);
    case FT_U64:  return apr_psprintf(p, "%" APR_UINT64_T_FMT,
                                      *(const apr_uint64_t *)m);
    case FT_I64:  return apr_psprintf(p, "%" APR_INT64_T_FMT,
                                      *(const apr_int64_t *)m);
    case FT_DBL:  return apr_psprintf(p, "%.6f", *(const double *)m);
    case FT_TIME: return apr_psprintf(p, "%" APR_TIME_T_FMT,
                                      apr_time_sec(*(const apr_time_t *)m));
    default:      return pids_text(st, sep, p);
    }
}

/* The figure as an unsigned count (NUMBER, BYTES, COUNTER of U32/U64). */
static apr_uint64_t count_value(const field_t *fd, const shmcache_stats_t *st)
{
    const void *m = member(fd, st);

    return fd->type == FT_U32 ? *(const apr_uint32_t *)m
         : fd->type == FT_U64 ? *(const apr_uint64_t *)m : 0;
}

/* ?auto's name of a figure: "Cache" and its words capitalised
 * (bytes_used -> CacheBytesUsed; ttl is written TTL). */
static const char *auto_key(const char *key, apr_pool_t *p)
{
    char *out = apr_pstrcat(p, "Cache", key, NULL), *o = out + 5;
    const char *k;
    int start = 1;

    for (k = key; *k != '\0'; k++) {
        if (*k == '_') {
            start = 1;
            continue;
        }
        if (start && strncmp(k, "ttl", 3) == 0 && (k[3] == '\0' || k[3] == '_')) {
            memcpy(o, "TTL", 3);
            o += 3;
            k += 2;
        }
        else
            *o++ = start ? (char)apr_toupper(*k) : *k;
        start = 0;
    }
    *o = '\0';
    return out;
}

/* ------------------------------------------------------------------------
 * Rates: this process's last sample of each cache
 * ---------------------------------------------------------------------- */

/* The figures this process showed last for one cache. */
typedef struct sample_t {
    const sc_cache_t *c;
    apr_time_t when;
    shmcache_stats_t st;
} sample_t;

/* A few slots, chosen by the cache's address: two caches that share a
 * slot take turns (then a view shows no rate), nothing worse. Each slot
 * holds one malloc'd sample, swapped atomically: the thread that swaps a
 * sample out owns it and frees it, so threads of an event or worker child
 * need no lock (a pool cannot free one sample at a time; malloc can). */
#define SAMPLE_SLOTS 32
static _Atomic(sample_t *) samples[SAMPLE_SLOTS];

/* Keep f's figures as this process's sample of f->c, and the sample they
 * replace in f->prev when it is of the same segment (not recreated since)
 * and older. */
static void take_sample(sc_figures_t *f)
{
    sample_t *now = malloc(sizeof *now), *prev;
    size_t slot = (size_t)(((uintptr_t)f->c >> 4) % SAMPLE_SLOTS);

    f->when = apr_time_now();
    if (now == NULL)
        return;                 /* no rates this time */
    now->c = f->c;
    now->when = f->when;
    now->st = f->st;
    prev = atomic_exchange(&samples[slot], now);
    if (prev != NULL && prev->c == f->c && prev->st.created == f->st.created
        && prev->when < f->when) {
        f->prev = prev->st;
        f->prev_when = prev->when;
        f->have_prev = 1;
    }
    free(prev);
}

/* Per second, what the counter grew since this process's last sample;
 * -1 when there is none (first view, or the counter went back). */
static double rate_of(const sc_figures_t *f, apr_uint64_t now, apr_uint64_t then)
{
    double secs = (double)(f->when - f->prev_when) / APR_USEC_PER_SEC;

    if (!f->have_prev || now < then || secs <= 0)
        return -1;
    return (double)(now - then) / secs;
}

static double field_rate(const sc_figures_t *f, const field_t *fd)
{
    return fd->show != FS_COUNTER ? -1
         : rate_of(f, count_value(fd, &f->st), count_value(fd, &f->prev));
}

/* "12.5/s", or "-" without a rate. */
static const char *per_sec(double v, apr_pool_t *p)
{
    return v < 0 ? "-" : apr_psprintf(p, "%.1f/s", v);
}

/* ------------------------------------------------------------------------
 * ?auto
 * ---------------------------------------------------------------------- */

/* The lines shmcb prints, with their meaning (dashboards parse them). */
static void auto_shmcb_lines(request_rec *r, const shmcache_stats_t *st)
{
    ap_rprintf(r, "CacheSharedMemory: %" APR_UINT64_T_FMT "\n", st->size);
    ap_rprintf(r, "CacheCurrentEntries: %" APR_UINT64_T_FMT "\n", st->items);
    ap_rprintf(r, "CacheSubcaches: 1\n");
    ap_rprintf(r, "CacheIndexesPerSubcaches: %u\n", st->buckets);
    ap_rprintf(r, "CacheIndexUsage: %u%%\n", pct(st->items, st->buckets));
    ap_rprintf(r, "CacheUsage: %u%%\n", pct(st->bytes_used, st->data_size));
    ap_rprintf(r, "CacheStoreCount: %" APR_UINT64_T_FMT "\n", stores(st));
    ap_rprintf(r, "CacheReplaceCount: %" APR_UINT64_T_FMT "\n", st->replaces);
    ap_rprintf(r, "CacheExpireCount: %" APR_UINT64_T_FMT "\n", st->expirations);
    ap_rprintf(r, "CacheDiscardCount: %" APR_UINT64_T_FMT "\n", st->evictions);
    ap_rprintf(r, "CacheRetrieveHitCount: %" APR_UINT64_T_FMT "\n", st->hits);
    ap_rprintf(r, "CacheRetrieveMissCount: %" APR_UINT64_T_FMT "\n", st->misses);
    ap_rprintf(r, "CacheRemoveHitCount: %" APR_UINT64_T_FMT "\n", st->deletes);
    /* the name earlier versions of this module printed for evictions */
    ap_rprintf(r, "CacheEvictionCount: %" APR_UINT64_T_FMT "\n", st->evictions);
}

static void render_short(request_rec *r, const sc_figures_t *f)
{
    char buf[256];
    size_t i;

    ap_rprintf(r, "CacheName: %s\nCachePath: %s\nCacheType: SHMCACHE\n",
               f->c->name, f->c->path);
    if (f->rv != APR_SUCCESS) {
        ap_rprintf(r, "CacheError: %s\n", shmcache_strerror(f->rv, buf, sizeof buf));
        return;
    }
    auto_shmcb_lines(r, &f->st);
    for (i = 0; i < NFIELDS; i++)
        ap_rprintf(r, "%s: %s\n", auto_key(fields[i].key, r->pool),
                   plain_value(&fields[i], &f->st, " ", r->pool));
    sc_tier_status_short(r, f->c);
}

/* ------------------------------------------------------------------------
 * ?json
 * ---------------------------------------------------------------------- */

static void json_used_by(request_rec *r, const apr_array_header_t *used_by)
{
    int i;

    ap_rputs(", \"used_by\": [", r);
    for (i = 0; i < used_by->nelts; i++)
        ap_rprintf(r, "%s%s", i ? ", " : "",
                   json_str(APR_ARRAY_IDX(used_by, i, const char *), r->pool));
    ap_rputs("]", r);
}

static void json_figures(request_rec *r, const shmcache_stats_t *st)
{
    size_t i;

    for (i = 0; i < NFIELDS; i++) {
        const field_t *fd = &fields[i];
        const char *v = plain_value(fd, st, ", ", r->pool);
        ap_rprintf(r, ",%s\"%s\": %s%s%s", i % 6 == 0 ? "\n   " : " ", fd->key,
                   fd->type == FT_PIDS ? "[" : "", v,
                   fd->type == FT_PIDS ? "]" : "");
    }
}

static void render_json(request_rec *r, const sc_figures_t *f, int first)
{
    apr_pool_t *p = r->pool;
    char buf[256];

    ap_rprintf(r, "%s\n  {\"name\": %s, \"path\": %s, \"type\": \"shmcache\"",
               first ? "" : ",", json_str(f->c->name, p), json_str(f->c->path, p));
    if (f->used_by != NULL)
        json_used_by(r, f->used_by);
    if (f->rv != APR_SUCCESS) {
        ap_rprintf(r, ", \"error\": %s}",
                   json_str(shmcache_strerror(f->rv, buf, sizeof buf), p));
        return;
    }
    json_figures(r, &f->st);
    sc_tier_status_json(r, f->c);
    ap_rputs("}", r);
}

/* ------------------------------------------------------------------------
 * HTML: tiles with small inline SVG charts, and the table of every figure
 * No external assets and no JavaScript. Every figure shown is also in a
 * data-k (the ?json key) / data-v (the exact value) attribute, so a test
 * can compare the page with ?json. The CSS is in the page's <head>
 * (STATUS_CSS); inside mod_status's page, where it is absent, the SVGs keep
 * their own sizes and colours and the tiles simply stack.
 * ---------------------------------------------------------------------- */

/* An integer figure: data-k/data-v carry the ?json key and exact value. */
static const char *num(apr_pool_t *p, const char *key, apr_uint64_t v)
{
    return apr_psprintf(p, "<span data-k=\"%s\" data-v=\"%" APR_UINT64_T_FMT
                        "\">%" APR_UINT64_T_FMT "</span>", key, v, v);
}

/* A size figure shown in KiB/MiB/GiB, exact bytes in data-v and a tooltip. */
static const char *bytes(apr_pool_t *p, const char *key, apr_uint64_t v)
{
    return apr_psprintf(p, "<span data-k=\"%s\" data-v=\"%" APR_UINT64_T_FMT
                        "\" title=\"%" APR_UINT64_T_FMT " bytes\">%s</span>",
                        key, v, v, human(v, p));
}

/* A ratio 0..1 shown as a percentage with one decimal. */
static const char *percent(apr_pool_t *p, const char *key, double v)
{
    return apr_psprintf(p, "<span data-k=\"%s\" data-v=\"%.4f\">%.1f%%</span>",
                        key, v, v * 100.0);
}

/* A ring chart of a ratio 0..1 (the ring's circumference is 100 units). */
static void donut(request_rec *r, double v, const char *colour, const char *label)
{
    double d = v < 0 ? 0 : v > 1 ? 100 : v * 100.0;

    ap_rprintf(r, "<svg class=\"ring\" viewBox=\"0 0 36 36\" width=\"64\" "
               "height=\"64\" role=\"img\" aria-label=\"%s %.1f%%\">"
               "<circle cx=\"18\" cy=\"18\" r=\"15.9155\" fill=\"none\" "
               "stroke=\"#e3e6ea\" stroke-width=\"4\"/>"
               "<circle cx=\"18\" cy=\"18\" r=\"15.9155\" fill=\"none\" "
               "stroke=\"%s\" stroke-width=\"4\" stroke-dasharray=\"%.2f 100\" "
               "transform=\"rotate(-90 18 18)\"/></svg>",
               label, d, colour, d);
}

/* A horizontal bar of part/whole, with an optional second (darker) part
 * drawn from the right end: used for "largest free block within free". */
static void bar(request_rec *r, apr_uint64_t part, apr_uint64_t whole,
                const char *colour, apr_uint64_t tail, const char *tail_colour,
                const char *label)
{
    double w = whole ? (double)part * 100.0 / (double)whole : 0;
    double t = whole ? (double)tail * 100.0 / (double)whole : 0;

    if (w > 100)
        w = 100;
    if (t > 100 - w)
        t = 100 - w;
    ap_rprintf(r, "<svg class=\"bar\" viewBox=\"0 0 100 6\" width=\"100%%\" "
               "height=\"12\" preserveAspectRatio=\"none\" role=\"img\" "
               "aria-label=\"%s\"><rect width=\"100\" height=\"6\" "
               "fill=\"#e3e6ea\"/><rect width=\"%.2f\" height=\"6\" fill=\"%s\"/>",
               label, w, colour);
    if (tail_colour != NULL && t > 0)
        ap_rprintf(r, "<rect x=\"%.2f\" width=\"%.2f\" height=\"6\" fill=\"%s\"/>",
                   100 - t, t, tail_colour);
    ap_rputs("</svg>", r);
}

static const char *ratio_colour(double v)
{
    return v >= 0.8 ? "#2e8540" : v >= 0.5 ? "#c58a00" : "#c0392b";
}

/* One tile: a title, the main figure, a line under it; the chart (if any)
 * is written by the caller between tile_open and tile_close. */
static void tile_open(request_rec *r, const char *cls, const char *title)
{
    ap_rprintf(r, "<div class=\"tile%s%s\"><div class=\"t\">%s</div>",
               cls ? " " : "", cls ? cls : "", title);
}

static void tile_close(request_rec *r, const char *big, const char *sub)
{
    ap_rprintf(r, "<div class=\"big\">%s</div><div class=\"sub\">%s</div></div>\n",
               big, sub);
}

/* Operation counts as bars scaled to the largest of them. */
static void ops_chart(request_rec *r, const shmcache_stats_t *st)
{
    apr_pool_t *p = r->pool;
    struct { const char *label, *key, *colour; apr_uint64_t v; } ops[] = {
        {"gets", "gets", "#3b6fb6", st->gets},
        {"hits", "hits", "#2e8540", st->hits},
        {"misses", "misses", "#c58a00", st->misses},
        {"sets", "sets", "#6c5ba7", st->sets},
        {"deletes", "deletes", "#7f8c8d", st->deletes},
        {"evicted", "evictions", "#c0392b", st->evictions},
        {"expired", "expirations", "#a0522d", st->expirations},
    };
    apr_uint64_t max = 0;
    size_t i;

    for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].v > max)
            max = ops[i].v;
    ap_rputs("<div class=\"ops\">", r);
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ap_rprintf(r, "<span class=\"l\">%s</span><span class=\"c\">", ops[i].label);
        bar(r, ops[i].v, max, ops[i].colour, 0, NULL, ops[i].label);
        ap_rprintf(r, "</span><span class=\"n\">%s</span>",
                   num(p, ops[i].key, ops[i].v));
    }
    ap_rputs("</div>\n", r);
}

/* A PID: "none" for 0, as shmcache-cli says. */
static const char *pid_html(apr_pool_t *p, const char *key, apr_int64_t v)
{
    return v != 0 ? apr_psprintf(p, "<span data-k=\"%s\" data-v=\"%"
                                 APR_INT64_T_FMT "\">%" APR_INT64_T_FMT
                                 "</span>", key, v, v)
                  : apr_psprintf(p, "<span data-k=\"%s\" data-v=\"0\">none"
                                 "</span>", key);
}

/* A time: the date, seconds since the epoch in data-v. */
static const char *time_html(apr_pool_t *p, const char *key, apr_time_t t)
{
    char tbuf[APR_RFC822_DATE_LEN];

    apr_rfc822_date(tbuf, t);
    return apr_psprintf(p, "<span data-k=\"%s\" data-v=\"%" APR_TIME_T_FMT
                        "\">%s</span>", key, apr_time_sec(t), tbuf);
}

/* One figure of the table, shown as the list says. */
static const char *field_html(const field_t *fd, const shmcache_stats_t *st,
                              apr_pool_t *p)
{
    const void *m = member(fd, st);
    const char *pids;

    switch (fd->show) {
    case FS_BYTES:  return bytes(p, fd->key, count_value(fd, st));
    case FS_RATIO:  return percent(p, fd->key, *(const double *)m);
    case FS_TIME:   return time_html(p, fd->key, *(const apr_time_t *)m);
    case FS_PID:    return pid_html(p, fd->key, *(const apr_int64_t *)m);
    default:
        if (fd->type != FT_PIDS)
            return num(p, fd->key, count_value(fd, st));
        pids = pids_text(st, ", ", p);
        return *pids != '\0' ? pids : "none";
    }
}

/* The table of every figure, by group, with the rate of each counter. */
static void html_figures(request_rec *r, const sc_figures_t *f)
{
    const char *group = NULL;
    size_t i;

    ap_rputs("<table class=\"details\">\n", r);
    for (i = 0; i < NFIELDS; i++) {
        const field_t *fd = &fields[i];
        if (group == NULL || strcmp(group, fd->group) != 0) {
            group = fd->group;
            ap_rprintf(r, "<tr class=\"g\"><th colspan=\"3\">%s</th></tr>\n",
                       group);
        }
        ap_rprintf(r, "<tr><th>%s</th><td>%s</td><td class=\"rate\">%s</td>"
                   "</tr>\n", fd->label, field_html(fd, &f->st, r->pool),
                   fd->show == FS_COUNTER
                   ? per_sec(field_rate(f, fd), r->pool) : "");
    }
    sc_tier_status_html(r, f->c);
    ap_rputs("</table>\n", r);
}

/* ---- the tiles ---------------------------------------------------------- */

static void tile_fill(request_rec *r, const shmcache_stats_t *st)
{
    apr_pool_t *p = r->pool;

    tile_open(r, "ring", "Fill");
    donut(r, st->fill, st->fill >= 0.95 ? "#c58a00" : "#3b6fb6", "fill");
    tile_close(r, percent(p, "fill", st->fill),
               apr_pstrcat(p, bytes(p, "bytes_used", st->bytes_used), " of ",
                           bytes(p, "data_size", st->data_size), ", ",
                           num(p, "items", st->items), " entries", NULL));
}

static void tile_hits(request_rec *r, const shmcache_stats_t *st)
{
    apr_pool_t *p = r->pool;

    tile_open(r, "ring", "Hit ratio");
    donut(r, st->hit_ratio, st->gets ? ratio_colour(st->hit_ratio) : "#e3e6ea",
          "hit ratio");
    tile_close(r, percent(p, "hit_ratio", st->hit_ratio),
               apr_pstrcat(p, num(p, "hits", st->hits), " hits of ",
                           num(p, "gets", st->gets), " gets", NULL));
}

static void tile_evictions(request_rec *r, const shmcache_stats_t *st)
{
    apr_pool_t *p = r->pool;

    tile_open(r, st->evictions ? "warn" : NULL, "Evictions");
    tile_close(r, num(p, "evictions", st->evictions),
               apr_pstrcat(p, "live entries evicted for space; ",
                           num(p, "expirations", st->expirations),
                           " expired reclaimed", NULL));
}

static void tile_recoveries(request_rec *r, const shmcache_stats_t *st)
{
    apr_pool_t *p = r->pool;
    apr_uint64_t recov = st->lock_recoveries + st->dead_readers + st->repairs
                       + st->resets;

    tile_open(r, recov ? "bad" : NULL, "Lock recoveries");
    tile_close(r, num(p, "lock_recoveries", st->lock_recoveries),
               apr_pstrcat(p, "locks taken over from dead processes; ",
                           num(p, "dead_readers", st->dead_readers),
                           " dead readers, ", num(p, "repairs", st->repairs),
                           " repairs, ", num(p, "resets", st->resets),
                           " resets", NULL));
}

/* Gets, stores and evictions per second and the hit ratio, over the time
 * since this process last showed the page. */
static void tile_rates(request_rec *r, const sc_figures_t *f)
{
    apr_pool_t *p = r->pool;
    const shmcache_stats_t *st = &f->st, *pv = &f->prev;
    double gets = rate_of(f, st->gets, pv->gets);
    double hits = rate_of(f, st->hits, pv->hits);

    tile_open(r, NULL, "Rates");
    if (gets < 0) {
        tile_close(r, "&ndash;", apr_psprintf(p, "per second, from this "
                   "process's next view of the page (process %ld)",
                   (long)getpid()));
        return;
    }
    tile_close(r, per_sec(gets, p),
               apr_psprintf(p, "gets; %s stores, %s evictions, hit ratio "
                            "%.1f%%; over the last %s (since process %ld last "
                            "showed this page)",
                            per_sec(rate_of(f, stores(st), stores(pv)), p),
                            per_sec(rate_of(f, st->evictions, pv->evictions), p),
                            gets > 0 ? hits * 100.0 / gets : 0.0,
                            duration(apr_time_sec(f->when - f->prev_when), p),
                            (long)getpid()));
}

/* How long the cache has existed, and httpd since its last restart. */
static void tile_uptime(request_rec *r, const sc_figures_t *f)
{
    apr_pool_t *p = r->pool;
    apr_time_t now = apr_time_now();
    const char *httpd = "";

    if (ap_scoreboard_image != NULL)
        httpd = apr_pstrcat(p, "; httpd up ", duration(apr_time_sec(now
                            - ap_scoreboard_image->global->restart_time), p),
                            " since its last (re)start", NULL);
    tile_open(r, NULL, "Uptime");
    tile_close(r, duration(apr_time_sec(now - f->st.created), p),
               apr_pstrcat(p, "since the segment was created, ",
                           time_html(p, "created", f->st.created), httpd,
                           NULL));
}

static void html_tiles(request_rec *r, const sc_figures_t *f)
{
    ap_rputs("<div class=\"tiles\">\n", r);
    tile_fill(r, &f->st);
    tile_hits(r, &f->st);
    tile_evictions(r, &f->st);
    tile_recoveries(r, &f->st);
    tile_rates(r, f);
    tile_uptime(r, f);
    ap_rputs("</div>\n", r);
}

static void html_wides(request_rec *r, const shmcache_stats_t *st)
{
    apr_pool_t *p = r->pool;

    ap_rputs("<div class=\"wides\">\n", r);
    tile_open(r, "wide", "Largest free block");
    bar(r, st->bytes_used, st->data_size, "#3b6fb6", st->largest_free,
        "#2e8540", "used, free and largest free block");
    tile_close(r, bytes(p, "largest_free", st->largest_free),
               apr_pstrcat(p, "<i class=\"k u\"></i>used ",
                           bytes(p, "bytes_used", st->bytes_used),
                           " <i class=\"k f\"></i>free ",
                           bytes(p, "bytes_free", st->bytes_free),
                           " <i class=\"k l\"></i>largest free block; ",
                           num(p, "free_blocks", st->free_blocks),
                           " free blocks, fragmentation ",
                           percent(p, "fragmentation", st->fragmentation), NULL));
    tile_open(r, "wide", "Operations");
    ops_chart(r, st);
    tile_close(r, "", apr_pstrcat(p, num(p, "set_failures", st->set_failures),
                                  " stores refused", NULL));
    ap_rputs("</div>\n", r);
}

/* The cache's heading: name, path, its consumers. */
static void html_heading(request_rec *r, const sc_figures_t *f)
{
    apr_pool_t *p = r->pool;
    int i;

    ap_rprintf(r, "<section class=\"cache\" data-cache=\"%s\">\n<h2>%s</h2>\n"
               "<p class=\"path\">%s",
               ap_escape_html(p, f->c->name), ap_escape_html(p, f->c->name),
               ap_escape_html(p, f->c->path));
    for (i = 0; f->used_by != NULL && i < f->used_by->nelts; i++)
        ap_rprintf(r, "%s%s", i ? ", " : " &middot; used by ", ap_escape_html(p,
                   APR_ARRAY_IDX(f->used_by, i, const char *)));
    ap_rputs("</p>\n", r);
}

static void render_html(request_rec *r, sc_figures_t *f)
{
    char buf[256];

    html_heading(r, f);
    if (f->rv != APR_SUCCESS) {
        ap_rprintf(r, "<p class=\"err\">Error: %s</p>\n</section>\n",
                   ap_escape_html(r->pool,
                                  shmcache_strerror(f->rv, buf, sizeof buf)));
        return;
    }
    take_sample(f);
    html_tiles(r, f);
    html_wides(r, &f->st);
    html_figures(r, f);
    ap_rputs("</section>\n", r);
}

/* ------------------------------------------------------------------------
 * Collecting the caches to show
 * ---------------------------------------------------------------------- */

/* Declared caches, then socache instances that own a segment; instances
 * using a cache are named in its "used by", each consumer once. */
static apr_array_header_t *collect(request_rec *r, const char *only)
{
    sc_registry_t *reg = sc_registry();
    apr_array_header_t *out = apr_array_make(r->pool, 4, sizeof(sc_figures_t));
    apr_array_header_t *lists[2];
    int l, i, j;

    if (reg == NULL)
        return out;
    lists[0] = reg->caches;
    lists[1] = reg->instances;
    for (l = 0; l < 2; l++)
        for (i = 0; i < lists[l]->nelts; i++) {
            sc_cache_t *c = APR_ARRAY_IDX(lists[l], i, sc_cache_t *);
            if (c->alias != NULL || (c->is_socache && !c->prepared))
                continue;
            if (only != NULL && strcmp(only, c->name) != 0)
                continue;
            figures(apr_array_push(out), c, r);
        }
    for (i = 0; i < reg->instances->nelts; i++) {
        sc_cache_t *c = APR_ARRAY_IDX(reg->instances, i, sc_cache_t *);
        if (c->alias == NULL || !c->prepared)
            continue;
        for (j = 0; j < out->nelts; j++) {
            sc_figures_t *f = &APR_ARRAY_IDX(out, j, sc_figures_t);
            if (f->c == sc_cache_target(c))
                add_user(f, c->name, r->pool);
        }
    }
    return out;
}

/* ------------------------------------------------------------------------
 * Handler and mod_status hook
 * ---------------------------------------------------------------------- */

/* ?auto, ?json, ?refresh=N, ?cache=NAME (httpd splits and decodes). */
static void parse_query(request_rec *r, status_query_t *q)
{
    apr_table_t *args = NULL;
    const char *v;

    memset(q, 0, sizeof *q);
    ap_args_to_table(r, &args);
    if (args == NULL)
        return;
    q->show = apr_table_get(args, "json") != NULL ? SHOW_JSON
            : apr_table_get(args, "auto") != NULL ? SHOW_AUTO : SHOW_HTML;
    if ((v = apr_table_get(args, "refresh")) != NULL) {
        q->refresh = atoi(v);
        q->refresh = q->refresh < 0 ? 0 : q->refresh > 3600 ? 3600 : q->refresh;
    }
    q->only = apr_table_get(args, "cache");
}

static int send_auto(request_rec *r, apr_array_header_t *list)
{
    int i;

    ap_set_content_type(r, "text/plain; charset=ISO-8859-1");
    if (r->header_only)
        return OK;
    ap_rprintf(r, "ServerPid: %ld\n", (long)getpid());
    for (i = 0; i < list->nelts; i++)
        render_short(r, &APR_ARRAY_IDX(list, i, sc_figures_t));
    return OK;
}

static int send_json(request_rec *r, apr_array_header_t *list)
{
    int i;

    ap_set_content_type(r, "application/json");
    if (r->header_only)
        return OK;
    ap_rprintf(r, "{\"version\": \"%s\", \"pid\": %ld, \"caches\": [",
               SHMCACHE_VERSION_STRING, (long)getpid());
    for (i = 0; i < list->nelts; i++)
        render_json(r, &APR_ARRAY_IDX(list, i, sc_figures_t), i == 0);
    ap_rputs("\n]}\n", r);
    return OK;
}

static void html_page_head(request_rec *r, int refresh)
{
    char tbuf[APR_RFC822_DATE_LEN];

    ap_rputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, "
             "initial-scale=1\">", r);
    if (refresh > 0)
        ap_rprintf(r, "<meta http-equiv=\"refresh\" content=\"%d\">", refresh);
    ap_rputs("<title>shmcache status</title><style>" STATUS_CSS "</style>"
             "</head><body>\n<h1>shmcache status</h1>\n", r);
    apr_rfc822_date(tbuf, apr_time_now());
    ap_rprintf(r, "<p class=\"meta\">mod_shmcache %s, served by process %ld at "
               "%s. Machine-readable: <a href=\"?auto\">?auto</a>, "
               "<a href=\"?json\">?json</a>. Refresh: <a href=\"?refresh=10\">"
               "every 10 s</a>, <a href=\"?\">off</a>.</p>\n",
               SHMCACHE_VERSION_STRING, (long)getpid(), tbuf);
}

static int send_html(request_rec *r, apr_array_header_t *list, int refresh)
{
    int i;

    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only)
        return OK;
    html_page_head(r, refresh);
    if (list->nelts == 0)
        ap_rputs("<p>No cache is declared or in use.</p>\n", r);
    for (i = 0; i < list->nelts; i++)
        render_html(r, &APR_ARRAY_IDX(list, i, sc_figures_t));
    ap_rputs("</body></html>\n", r);
    return OK;
}

int sc_status_handler(request_rec *r)
{
    status_query_t q;
    apr_array_header_t *list;

    if (r->handler == NULL || strcmp(r->handler, "shmcache-status") != 0)
        return DECLINED;
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    parse_query(r, &q);
    list = collect(r, q.only);
    if (q.only != NULL && list->nelts == 0)
        return HTTP_NOT_FOUND;
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    switch (q.show) {
    case SHOW_AUTO: return send_auto(r, list);
    case SHOW_JSON: return send_json(r, list);
    default:        return send_html(r, list, q.refresh);
    }
}

/* The socache provider's status (mod_status, through mod_ssl or
 * mod_cache_socache): an instance that uses a declared cache names it
 * only, since sc_status_hook shows the declared caches; any other is
 * shown in full. */
void sc_status_render(request_rec *r, sc_cache_t *c, int flags)
{
    sc_cache_t *target = sc_cache_target(c);
    sc_figures_t f;

    if (target != c && !target->is_socache) {
        if (flags & AP_STATUS_SHORT)
            ap_rprintf(r, "CacheSharedWith: %s\n", target->name);
        else
            ap_rprintf(r, "<p>%s keeps its objects in the cache %s (see "
                       "shmcache).</p>\n", ap_escape_html(r->pool, c->name),
                       ap_escape_html(r->pool, target->name));
        return;
    }
    figures(&f, c, r);
    if (target != c)
        add_user(&f, c->name, r->pool);
    if (flags & AP_STATUS_SHORT)
        render_short(r, &f);
    else
        render_html(r, &f);
}

int sc_status_hook(request_rec *r, int flags)
{
    sc_registry_t *reg = sc_registry();
    int i;

    if (reg == NULL || reg->caches->nelts == 0)
        return OK;
    if (!(flags & AP_STATUS_SHORT))
        ap_rputs("<hr />\n<h1>shmcache</h1>\n", r);
    for (i = 0; i < reg->caches->nelts; i++) {
        sc_figures_t f;
        figures(&f, APR_ARRAY_IDX(reg->caches, i, sc_cache_t *), r);
        if (flags & AP_STATUS_SHORT)
            render_short(r, &f);
        else
            render_html(r, &f);
    }
    return OK;
}
