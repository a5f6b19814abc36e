/* SPDX-License-Identifier: Apache-2.0 */
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
 * table are generated from it; the HTML page is sc_status_html.c's.
 * Figures come from shmcache_stats() of this process's handle: counters
 * are the segment's totals since it was created, whichever process did
 * the work.
 *
 * Rates (HTML only) are since the answering process's last view of the
 * page: see sc_status_html.c.
 *
 * With mod_status loaded, server-status shows the declared caches too;
 * mod_ssl and mod_cache_socache print their own socache instances, and an
 * instance that uses a declared cache prints only that cache's name
 * (CacheSharedWith), not its figures a second time.
 */
#include "sc_status.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"
#include "util_script.h"
#include "apr_strings.h"

#include <stddef.h>
#include <stdlib.h>

APLOG_USE_MODULE(shmcache);

/* ------------------------------------------------------------------------
 * Every figure, from the library's list
 * ---------------------------------------------------------------------- */

#define SC_FIELD(group, field, type, show, label) \
    {#group, #field, FT_##type, FS_##show, label, \
     offsetof(shmcache_stats_t, field)},
const sc_field_t sc_status_fields[] = { SHMCACHE_STATS_FIELDS(SC_FIELD) };
#undef SC_FIELD
const size_t sc_status_nfields =
    sizeof sc_status_fields / sizeof sc_status_fields[0];

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

/* ---- one figure's value ----------------------------------------------- */

/* The reader pids, sep between them ("" when none). The count is bounded
 * by the array's size, whatever the segment said. */
const char *sc_status_pids(const shmcache_stats_t *st, const char *sep,
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
static const char *plain_value(const sc_field_t *fd, const shmcache_stats_t *st,
                               const char *sep, apr_pool_t *p)
{
    const void *m = sc_status_member(fd, st);

    switch (fd->type) {
    case FT_U32:  return apr_psprintf(p, "%u", *(const apr_uint32_t *)m);
    case FT_U64:  return apr_psprintf(p, "%" APR_UINT64_T_FMT,
                                      *(const apr_uint64_t *)m);
    case FT_I64:  return apr_psprintf(p, "%" APR_INT64_T_FMT,
                                      *(const apr_int64_t *)m);
    case FT_DBL:  return apr_psprintf(p, "%.6f", *(const double *)m);
    case FT_TIME: return apr_psprintf(p, "%" APR_TIME_T_FMT,
                                      apr_time_sec(*(const apr_time_t *)m));
    default:      return sc_status_pids(st, sep, p);
    }
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
    ap_rprintf(r, "CacheStoreCount: %" APR_UINT64_T_FMT "\n", sc_status_stores(st));
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
    for (i = 0; i < sc_status_nfields; i++)
        ap_rprintf(r, "%s: %s\n", auto_key(sc_status_fields[i].key, r->pool),
                   plain_value(&sc_status_fields[i], &f->st, " ", r->pool));
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

    for (i = 0; i < sc_status_nfields; i++) {
        const sc_field_t *fd = &sc_status_fields[i];
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
    default:        return sc_status_html_page(r, list, q.refresh);
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
        sc_status_html_cache(r, &f);
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
            sc_status_html_cache(r, &f);
    }
    return OK;
}

