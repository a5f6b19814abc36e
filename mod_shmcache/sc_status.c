/*
 * sc_status.c - the shmcache-status handler, the socache provider's status
 * output, and a mod_status hook.
 *
 *   SetHandler shmcache-status     HTML page, one table per cache
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

#include <unistd.h>

APLOG_USE_MODULE(shmcache);

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
    else
        f->rv = shmcache_stats(h, &f->st);
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
}

static void row(request_rec *r, const char *label, const char *value)
{
    ap_rprintf(r, "<tr><th align=\"left\">%s</th><td>%s</td></tr>\n", label, value);
}

static void render_html(request_rec *r, const sc_figures_t *f)
{
    const shmcache_stats_t *st = &f->st;
    apr_pool_t *p = r->pool;
    char buf[256], tbuf[APR_RFC822_DATE_LEN];

    ap_rprintf(r, "<h2>%s</h2>\n<table border=\"0\" cellpadding=\"2\">\n",
               ap_escape_html(p, f->c->name));
    row(r, "Path", ap_escape_html(p, f->c->path));
    if (f->used_by != NULL)
        row(r, "Used by", ap_escape_html(p, f->used_by));
    if (f->rv != APR_SUCCESS) {
        row(r, "Error", ap_escape_html(p, shmcache_strerror(f->rv, buf, sizeof buf)));
        ap_rputs("</table>\n", r);
        return;
    }
    row(r, "Size", apr_psprintf(p, "%s (%" APR_UINT64_T_FMT " bytes; data "
                                "region %s)", human(st->size, p), st->size,
                                human(st->data_size, p)));
    row(r, "Entries", apr_psprintf(p, "%" APR_UINT64_T_FMT " in %u buckets "
                                   "(longest chain %u)", st->items, st->buckets,
                                   st->longest_chain));
    row(r, "Fill", apr_psprintf(p, "%u%% (%s used, %s free, largest free block "
                                "%s, fragmentation %.1f%%)",
                                pct(st->bytes_used, st->data_size),
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
                                 st->misses, ratio(st->hits, st->gets) * 100.0));
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
                                      APR_UINT64_T_FMT " resets, %"
                                      APR_UINT64_T_FMT " unfinished creations",
                                      st->lock_recoveries, st->dead_readers,
                                      st->repairs, st->resets,
                                      st->init_recoveries));
    apr_rfc822_date(tbuf, st->created);
    row(r, "Processes", apr_psprintf(p, "%u attached of %u slots; created %s",
                                     st->attached, st->slots, tbuf));
    ap_rputs("</table>\n", r);
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
    ap_rprintf(r, "   \"evictions\": %" APR_UINT64_T_FMT ", \"expirations\": %"
               APR_UINT64_T_FMT ", \"flushes\": %" APR_UINT64_T_FMT
               ", \"read_waits\": %" APR_UINT64_T_FMT ", \"write_waits\": %"
               APR_UINT64_T_FMT ", \"lock_recoveries\": %" APR_UINT64_T_FMT
               ", \"dead_readers\": %" APR_UINT64_T_FMT ", \"repairs\": %"
               APR_UINT64_T_FMT ", \"resets\": %" APR_UINT64_T_FMT
               ", \"init_recoveries\": %" APR_UINT64_T_FMT ", \"attached\": %u}",
               st->evictions, st->expirations, st->flushes, st->read_waits,
               st->write_waits, st->lock_recoveries, st->dead_readers,
               st->repairs, st->resets, st->init_recoveries, st->attached);
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
    ap_rputs(DOCTYPE_HTML_4_01 "<html><head><title>shmcache status</title>"
             "</head><body>\n<h1>shmcache status</h1>\n", r);
    ap_rprintf(r, "<p>mod_shmcache %s, served by process %ld. Machine-readable: "
               "<a href=\"?auto\">?auto</a>, <a href=\"?json\">?json</a>.</p>\n",
               SHMCACHE_VERSION_STRING, (long)getpid());
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
