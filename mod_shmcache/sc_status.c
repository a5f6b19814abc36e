/*
 * sc_status.c - the shmcache-status handler, the socache provider's status
 * output, and a mod_status hook.
 *
 *   SetHandler shmcache-status     HTML page: per cache, tiles with small
 *                                  inline SVG charts (fill, hit ratio,
 *                                  evictions, lock recoveries, largest free
 *                                  block, operations) and a table of every
 *                                  figure; no JavaScript, no external
 *                                  assets, laid out for phones too
 *   ...?refresh=N                  HTML: reload every N seconds (meta refresh)
 *   ...?auto                       "Key: value" lines; the keys shmcb prints
 *                                  (CacheType, CacheSharedMemory,
 *                                  CacheCurrentEntries, CacheStoreCount,
 *                                  CacheRetrieveHitCount, ...) keep their
 *                                  meaning, so dashboards that parse
 *                                  server-status?auto work; one block per
 *                                  cache, each starting with CacheName
 *   ...?json                       one JSON object: {"caches": [...]}
 *   ...?cache=NAME                 only that cache (combines with the above)
 *
 * With mod_status loaded, server-status shows the declared caches too
 * (mod_ssl and mod_cache_socache print their own socache instances).
 *
 * Figures come from shmcache_stats() of this process's handle: counters
 * are the segment's totals since it was created, whichever process did the
 * work.
 */
#include "sc_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"
#include "apr_strings.h"

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
    ".err{color:#c0392b}" \
    "@media (max-width:480px){body{padding:6px}.cache{padding:8px}" \
    ".details th{white-space:normal}}"

typedef struct sc_figures_t {
    sc_cache_t *c;              /* the cache holding the data */
    const char *used_by;        /* socache consumers aliasing it, or NULL */
    shmcache_stats_t st;
    apr_status_t rv;
} sc_figures_t;

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

static unsigned pct(apr_uint64_t part, apr_uint64_t whole)
{
    return whole == 0 ? 0 : (unsigned)((part * 100 + whole / 2) / whole);
}

static double ratio(apr_uint64_t part, apr_uint64_t whole)
{
    return whole == 0 ? 0.0 : (double)part / (double)whole;
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

/* ------------------------------------------------------------------------
 * Renderers
 * ---------------------------------------------------------------------- */

/* ---- the lease counters, in each form under the library's names ------ */

/* ?auto lines. */
static void short_leases(request_rec *r, const shmcache_stats_t *st)
{
    ap_rprintf(r, "CacheLeasesGranted: %" APR_UINT64_T_FMT "\n"
               "CacheLeaseWaits: %" APR_UINT64_T_FMT "\n"
               "CacheLeaseTimeouts: %" APR_UINT64_T_FMT "\n"
               "CacheStaleAnswers: %" APR_UINT64_T_FMT "\n"
               "CacheLeasesDead: %" APR_UINT64_T_FMT "\n",
               st->leases_granted, st->lease_waits, st->lease_timeouts,
               st->stale_answers, st->leases_dead);
}

/* ?json members (one line, ending with a comma: more members follow). */
static void json_leases(request_rec *r, const shmcache_stats_t *st)
{
    ap_rprintf(r, "   \"leases_granted\": %" APR_UINT64_T_FMT
               ", \"lease_waits\": %" APR_UINT64_T_FMT
               ", \"lease_timeouts\": %" APR_UINT64_T_FMT
               ", \"stale_answers\": %" APR_UINT64_T_FMT
               ", \"leases_dead\": %" APR_UINT64_T_FMT ",\n",
               st->leases_granted, st->lease_waits, st->lease_timeouts,
               st->stale_answers, st->leases_dead);
}

static void render_short(request_rec *r, const sc_figures_t *f)
{
    const shmcache_stats_t *st = &f->st;
    char buf[256];

    ap_rprintf(r, "CacheName: %s\nCachePath: %s\nCacheType: SHMCACHE\n",
               f->c->name, f->c->path);
    if (f->rv != APR_SUCCESS) {
        ap_rprintf(r, "CacheError: %s\n", shmcache_strerror(f->rv, buf, sizeof buf));
        return;
    }
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
    /* shmcache's own figures */
    ap_rprintf(r, "CacheDataSize: %" APR_UINT64_T_FMT "\n", st->data_size);
    ap_rprintf(r, "CacheBytesUsed: %" APR_UINT64_T_FMT "\n", st->bytes_used);
    ap_rprintf(r, "CacheBytesFree: %" APR_UINT64_T_FMT "\n", st->bytes_free);
    ap_rprintf(r, "CacheLargestFree: %" APR_UINT64_T_FMT "\n", st->largest_free);
    ap_rprintf(r, "CacheFragmentation: %.3f\n", st->fragmentation);
    ap_rprintf(r, "CacheMaxKey: %u\nCacheMaxValue: %u\nCacheDefaultTTL: %u\n",
               st->max_key, st->max_value, st->default_ttl);
    ap_rprintf(r, "CacheHitRatio: %.3f\n", ratio(st->hits, st->gets));
    ap_rprintf(r, "CacheSetFailures: %" APR_UINT64_T_FMT "\n", st->set_failures);
    ap_rprintf(r, "CacheEvictionCount: %" APR_UINT64_T_FMT "\n", st->evictions);
    ap_rprintf(r, "CacheLockRecoveries: %" APR_UINT64_T_FMT "\n", st->lock_recoveries);
    ap_rprintf(r, "CacheDeadReaders: %" APR_UINT64_T_FMT "\n", st->dead_readers);
    ap_rprintf(r, "CacheRepairs: %" APR_UINT64_T_FMT "\n", st->repairs);
    ap_rprintf(r, "CacheResets: %" APR_UINT64_T_FMT "\n", st->resets);
    ap_rprintf(r, "CacheAttached: %u\n", st->attached);
    short_leases(r, st);
    sc_tier_status_short(r, f->c);
}

static void row(request_rec *r, const char *label, const char *value)
{
    ap_rprintf(r, "<tr><th align=\"left\">%s</th><td>%s</td></tr>\n", label, value);
}

/* ---- HTML page: tiles with small inline SVG charts ----------------------
 * No external assets and no JavaScript. Every figure shown is also in a
 * data-k (the ?json key) / data-v (the exact value) attribute, so a test
 * can compare the page with ?json. The CSS is in the page's <head>
 * (STATUS_CSS); inside mod_status's page, where it is absent, the SVGs keep
 * their own sizes and colours and the tiles simply stack. */

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

/* The lease counters' HTML details row, each figure with its data-k/data-v. */
static void html_leases(request_rec *r, const shmcache_stats_t *st)
{
    apr_pool_t *p = r->pool;

    row(r, "Leases", apr_pstrcat(p, num(p, "leases_granted", st->leases_granted),
                                 " granted, ",
                                 num(p, "lease_waits", st->lease_waits),
                                 " waits (",
                                 num(p, "lease_timeouts", st->lease_timeouts),
                                 " timed out), ",
                                 num(p, "stale_answers", st->stale_answers),
                                 " stale answers, ",
                                 num(p, "leases_dead", st->leases_dead),
                                 " taken over from dead holders", NULL));
}

static void render_html(request_rec *r, const sc_figures_t *f)
{
    const shmcache_stats_t *st = &f->st;
    apr_pool_t *p = r->pool;
    char buf[256], tbuf[APR_RFC822_DATE_LEN];
    double fill, hit;
    apr_uint64_t recov;

    ap_rprintf(r, "<section class=\"cache\" data-cache=\"%s\">\n<h2>%s</h2>\n"
               "<p class=\"path\">%s",
               ap_escape_html(p, f->c->name), ap_escape_html(p, f->c->name),
               ap_escape_html(p, f->c->path));
    if (f->used_by != NULL)
        ap_rprintf(r, " &middot; used by %s", ap_escape_html(p, f->used_by));
    ap_rputs("</p>\n", r);
    if (f->rv != APR_SUCCESS) {
        ap_rprintf(r, "<p class=\"err\">Error: %s</p>\n</section>\n",
                   ap_escape_html(p, shmcache_strerror(f->rv, buf, sizeof buf)));
        return;
    }
    fill = ratio(st->bytes_used, st->data_size);
    hit = ratio(st->hits, st->gets);
    recov = st->lock_recoveries + st->dead_readers + st->repairs + st->resets;

    ap_rputs("<div class=\"tiles\">\n", r);
    tile_open(r, "ring", "Fill");
    donut(r, fill, fill >= 0.95 ? "#c58a00" : "#3b6fb6", "fill");
    tile_close(r, percent(p, "fill", fill),
               apr_pstrcat(p, bytes(p, "bytes_used", st->bytes_used), " of ",
                           bytes(p, "data_size", st->data_size), ", ",
                           num(p, "items", st->items), " entries", NULL));

    tile_open(r, "ring", "Hit ratio");
    donut(r, hit, st->gets ? ratio_colour(hit) : "#e3e6ea", "hit ratio");
    tile_close(r, percent(p, "hit_ratio", hit),
               apr_pstrcat(p, num(p, "hits", st->hits), " hits of ",
                           num(p, "gets", st->gets), " gets", NULL));

    tile_open(r, st->evictions ? "warn" : NULL, "Evictions");
    tile_close(r, num(p, "evictions", st->evictions),
               apr_pstrcat(p, "live entries evicted for space; ",
                           num(p, "expirations", st->expirations),
                           " expired reclaimed", NULL));

    tile_open(r, recov ? "bad" : NULL, "Lock recoveries");
    tile_close(r, num(p, "lock_recoveries", st->lock_recoveries),
               apr_pstrcat(p, "locks taken over from dead processes; ",
                           num(p, "dead_readers", st->dead_readers),
                           " dead readers, ", num(p, "repairs", st->repairs),
                           " repairs, ", num(p, "resets", st->resets),
                           " resets", NULL));

    ap_rputs("</div>\n<div class=\"wides\">\n", r);
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

    /* every figure, as text (also what mod_status shows) */
    ap_rputs("<table class=\"details\">\n", r);
    row(r, "Size", apr_psprintf(p, "%s (%" APR_UINT64_T_FMT " bytes; data "
                                "region %s)", human(st->size, p), st->size,
                                human(st->data_size, p)));
    row(r, "Entries", apr_psprintf(p, "%" APR_UINT64_T_FMT " in %u buckets "
                                   "(longest chain %u)", st->items, st->buckets,
                                   st->longest_chain));
    row(r, "Fill", apr_psprintf(p, "%.1f%% (%s used, %s free, largest free block "
                                "%s, fragmentation %.1f%%)", fill * 100.0,
                                human(st->bytes_used, p), human(st->bytes_free, p),
                                human(st->largest_free, p),
                                st->fragmentation * 100.0));
    row(r, "Limits", apr_psprintf(p, "keys up to %u bytes, values up to %s, "
                                  "default TTL %s", st->max_key,
                                  human(st->max_value, p),
                                  st->default_ttl ? apr_psprintf(p, "%us",
                                  st->default_ttl) : "none"));
    row(r, "Reads", apr_psprintf(p, "%" APR_UINT64_T_FMT " gets, %"
                                 APR_UINT64_T_FMT " hits, %" APR_UINT64_T_FMT
                                 " misses, hit ratio %.1f%%", st->gets, st->hits,
                                 st->misses, hit * 100.0));
    row(r, "Writes", apr_psprintf(p, "%" APR_UINT64_T_FMT " sets, %"
                                  APR_UINT64_T_FMT " adds, %" APR_UINT64_T_FMT
                                  " replaces, %" APR_UINT64_T_FMT " cas, %"
                                  APR_UINT64_T_FMT " deletes, %" APR_UINT64_T_FMT
                                  " incrs, %" APR_UINT64_T_FMT " touches, %"
                                  APR_UINT64_T_FMT " refused", st->sets, st->adds,
                                  st->replaces, st->cas_ops, st->deletes,
                                  st->incrs, st->touches, st->set_failures));
    row(r, "Evictions", apr_psprintf(p, "%" APR_UINT64_T_FMT " evicted, %"
                                     APR_UINT64_T_FMT " expired, %"
                                     APR_UINT64_T_FMT " flushes", st->evictions,
                                     st->expirations, st->flushes));
    row(r, "Lock", apr_psprintf(p, "%" APR_UINT64_T_FMT " read waits, %"
                                APR_UINT64_T_FMT " write waits, %u readers now, "
                                "writer pid %" APR_INT64_T_FMT, st->read_waits,
                                st->write_waits, st->readers, st->writer_pid));
    row(r, "Recoveries", apr_psprintf(p, "%" APR_UINT64_T_FMT " locks taken "
                                      "over, %" APR_UINT64_T_FMT " dead readers, %"
                                      APR_UINT64_T_FMT " repairs, %"
                                      APR_UINT64_T_FMT " resets",
                                      st->lock_recoveries, st->dead_readers,
                                      st->repairs, st->resets));
    html_leases(r, st);
    apr_rfc822_date(tbuf, st->created);
    row(r, "Processes", apr_psprintf(p, "%u attached of %u slots; created %s",
                                     st->attached, st->slots, tbuf));
    sc_tier_status_html(r, f->c);
    ap_rputs("</table>\n</section>\n", r);
}

static void render_json(request_rec *r, const sc_figures_t *f, int first)
{
    const shmcache_stats_t *st = &f->st;
    apr_pool_t *p = r->pool;
    char buf[256];

    ap_rprintf(r, "%s\n  {\"name\": %s, \"path\": %s, \"type\": \"shmcache\"",
               first ? "" : ",", json_str(f->c->name, p), json_str(f->c->path, p));
    if (f->used_by != NULL)
        ap_rprintf(r, ", \"used_by\": %s", json_str(f->used_by, p));
    if (f->rv != APR_SUCCESS) {
        ap_rprintf(r, ", \"error\": %s}",
                   json_str(shmcache_strerror(f->rv, buf, sizeof buf), p));
        return;
    }
    ap_rprintf(r, ",\n   \"size\": %" APR_UINT64_T_FMT ", \"data_size\": %"
               APR_UINT64_T_FMT ", \"buckets\": %u, \"slots\": %u, \"max_key\": %u,"
               " \"max_value\": %u, \"default_ttl\": %u, \"created\": %"
               APR_TIME_T_FMT ",\n", st->size, st->data_size, st->buckets,
               st->slots, st->max_key, st->max_value, st->default_ttl,
               apr_time_sec(st->created));
    ap_rprintf(r, "   \"items\": %" APR_UINT64_T_FMT ", \"bytes_used\": %"
               APR_UINT64_T_FMT ", \"bytes_free\": %" APR_UINT64_T_FMT
               ", \"largest_free\": %" APR_UINT64_T_FMT ", \"free_blocks\": %"
               APR_UINT64_T_FMT ", \"fragmentation\": %.4f, \"longest_chain\": %u,"
               " \"fill\": %.4f,\n", st->items, st->bytes_used, st->bytes_free,
               st->largest_free, st->free_blocks, st->fragmentation,
               st->longest_chain, ratio(st->bytes_used, st->data_size));
    ap_rprintf(r, "   \"gets\": %" APR_UINT64_T_FMT ", \"hits\": %" APR_UINT64_T_FMT
               ", \"misses\": %" APR_UINT64_T_FMT ", \"hit_ratio\": %.4f, "
               "\"sets\": %" APR_UINT64_T_FMT ", \"adds\": %" APR_UINT64_T_FMT
               ", \"replaces\": %" APR_UINT64_T_FMT ", \"cas\": %" APR_UINT64_T_FMT
               ", \"deletes\": %" APR_UINT64_T_FMT ", \"incrs\": %" APR_UINT64_T_FMT
               ", \"touches\": %" APR_UINT64_T_FMT ", \"set_failures\": %"
               APR_UINT64_T_FMT ",\n", st->gets, st->hits, st->misses,
               ratio(st->hits, st->gets), st->sets, st->adds, st->replaces,
               st->cas_ops, st->deletes, st->incrs, st->touches, st->set_failures);
    json_leases(r, st);
    ap_rprintf(r, "   \"evictions\": %" APR_UINT64_T_FMT ", \"expirations\": %"
               APR_UINT64_T_FMT ", \"flushes\": %" APR_UINT64_T_FMT
               ", \"read_waits\": %" APR_UINT64_T_FMT ", \"write_waits\": %"
               APR_UINT64_T_FMT ", \"lock_recoveries\": %" APR_UINT64_T_FMT
               ", \"dead_readers\": %" APR_UINT64_T_FMT ", \"repairs\": %"
               APR_UINT64_T_FMT ", \"resets\": %" APR_UINT64_T_FMT
               ", \"last_dead_pid\": %" APR_INT64_T_FMT ", \"attached\": %u",
               st->evictions, st->expirations, st->flushes, st->read_waits,
               st->write_waits, st->lock_recoveries, st->dead_readers,
               st->repairs, st->resets, st->last_dead_pid, st->attached);
    sc_tier_status_json(r, f->c);
    ap_rputs("}", r);
}

void sc_status_render(request_rec *r, sc_cache_t *c, int flags)
{
    sc_figures_t f;

    figures(&f, c, r);
    if (sc_cache_target(c) != c)
        f.used_by = c->name;
    if (flags & AP_STATUS_SHORT)
        render_short(r, &f);
    else
        render_html(r, &f);
}

/* ------------------------------------------------------------------------
 * Collecting the caches to show
 * ---------------------------------------------------------------------- */

/* Declared caches, then socache instances that own a segment; instances
 * aliasing a cache are named in its "used by". */
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
    /* name the consumers of each shown cache */
    for (i = 0; i < reg->instances->nelts; i++) {
        sc_cache_t *c = APR_ARRAY_IDX(reg->instances, i, sc_cache_t *);
        if (c->alias == NULL || !c->prepared)
            continue;
        for (j = 0; j < out->nelts; j++) {
            sc_figures_t *f = &APR_ARRAY_IDX(out, j, sc_figures_t);
            if (f->c == sc_cache_target(c))
                f->used_by = f->used_by == NULL ? c->name
                    : apr_pstrcat(r->pool, f->used_by, ", ", c->name, NULL);
        }
    }
    return out;
}

/* ------------------------------------------------------------------------
 * Handler and mod_status hook
 * ---------------------------------------------------------------------- */

int sc_status_handler(request_rec *r)
{
    apr_array_header_t *list;
    const char *only = NULL;
    int mode = 0;               /* 0 HTML, 1 auto, 2 json */
    int refresh = 0;            /* HTML: seconds between reloads, 0 none */
    char tbuf[APR_RFC822_DATE_LEN];
    int i;

    if (r->handler == NULL || strcmp(r->handler, "shmcache-status") != 0)
        return DECLINED;
    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    if (r->args != NULL) {
        char *args = apr_pstrdup(r->pool, r->args), *tok, *last;
        for (tok = apr_strtok(args, "&;", &last); tok != NULL;
             tok = apr_strtok(NULL, "&;", &last)) {
            if (strcmp(tok, "auto") == 0)
                mode = 1;
            else if (strcmp(tok, "json") == 0)
                mode = 2;
            else if (strncmp(tok, "refresh=", 8) == 0) {
                refresh = atoi(tok + 8);
                refresh = refresh < 0 ? 0 : refresh > 3600 ? 3600 : refresh;
            }
            else if (strncmp(tok, "cache=", 6) == 0) {
                only = tok + 6;
                ap_unescape_url(tok + 6);
            }
        }
    }
    list = collect(r, only);
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    if (mode == 1) {
        ap_set_content_type(r, "text/plain; charset=ISO-8859-1");
        if (r->header_only)
            return OK;
        ap_rprintf(r, "ServerPid: %ld\n", (long)getpid());
        for (i = 0; i < list->nelts; i++)
            render_short(r, &APR_ARRAY_IDX(list, i, sc_figures_t));
        return OK;
    }
    if (mode == 2) {
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
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only)
        return OK;
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
    if (list->nelts == 0)
        ap_rputs("<p>No cache is declared or in use.</p>\n", r);
    for (i = 0; i < list->nelts; i++)
        render_html(r, &APR_ARRAY_IDX(list, i, sc_figures_t));
    ap_rputs("</body></html>\n", r);
    return OK;
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
