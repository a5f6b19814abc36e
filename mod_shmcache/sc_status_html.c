/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_status_html.c - the status page in HTML: per cache, tiles with small
 * inline SVG charts (fill, hit ratio, evictions, lock recoveries, rates,
 * uptime, largest free block, operations) and a table of every figure of
 * SHMCACHE_STATS_FIELDS with the rate per second of each counter. No
 * JavaScript, no external assets, laid out for phones too.
 *
 * Every figure shown is also in a data-k (the ?json key) / data-v (the
 * exact value) attribute, so a test can compare the page with ?json. The
 * CSS is in the page's <head> (STATUS_CSS); inside mod_status's page,
 * where it is absent, the SVGs keep their own sizes and colours and the
 * tiles simply stack.
 *
 * Rates: each process keeps, in its own memory, the figures it showed last
 * for each cache; the page divides what the counters grew since then by
 * the time passed. So a rate is "since this process last showed the page"
 * (a prefork server has several processes: a reload may be answered by
 * another one, which shows its own interval). Nothing is written to the
 * segment for this.
 */
#include "sc_status.h"

#include "http_protocol.h"
#include "scoreboard.h"
#include "apr_strings.h"

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
 * Helpers
 * ---------------------------------------------------------------------- */

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

static double field_rate(const sc_figures_t *f, const sc_field_t *fd)
{
    return fd->show != FS_COUNTER ? -1
         : rate_of(f, sc_status_count(fd, &f->st), sc_status_count(fd, &f->prev));
}

/* "12.5/s", or "-" without a rate. */
static const char *per_sec(double v, apr_pool_t *p)
{
    return v < 0 ? "-" : apr_psprintf(p, "%.1f/s", v);
}

/* ------------------------------------------------------------------------
 * Pieces of the page
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
static const char *field_html(const sc_field_t *fd, const shmcache_stats_t *st,
                              apr_pool_t *p)
{
    const void *m = sc_status_member(fd, st);
    const char *pids;

    switch (fd->show) {
    case FS_BYTES:  return bytes(p, fd->key, sc_status_count(fd, st));
    case FS_RATIO:  return percent(p, fd->key, *(const double *)m);
    case FS_TIME:   return time_html(p, fd->key, *(const apr_time_t *)m);
    case FS_PID:    return pid_html(p, fd->key, *(const apr_int64_t *)m);
    default:
        if (fd->type != FT_PIDS)
            return num(p, fd->key, sc_status_count(fd, st));
        pids = sc_status_pids(st, ", ", p);
        return *pids != '\0' ? pids : "none";
    }
}

/* The table of every figure, by group, with the rate of each counter. */
static void html_figures(request_rec *r, const sc_figures_t *f)
{
    const char *group = NULL;
    size_t i;

    ap_rputs("<table class=\"details\">\n", r);
    for (i = 0; i < sc_status_nfields; i++) {
        const sc_field_t *fd = &sc_status_fields[i];
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
                            per_sec(rate_of(f, sc_status_stores(st), sc_status_stores(pv)), p),
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

void sc_status_html_cache(request_rec *r, sc_figures_t *f)
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
 * Entry points
 * ---------------------------------------------------------------------- */

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

int sc_status_html_page(request_rec *r, apr_array_header_t *list, int refresh)
{
    int i;

    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only)
        return OK;
    html_page_head(r, refresh);
    if (list->nelts == 0)
        ap_rputs("<p>No cache is declared or in use.</p>\n", r);
    for (i = 0; i < list->nelts; i++)
        sc_status_html_cache(r, &APR_ARRAY_IDX(list, i, sc_figures_t));
    ap_rputs("</body></html>\n", r);
    return OK;
}

