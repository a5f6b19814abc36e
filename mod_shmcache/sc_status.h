/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_status.h - what the two files of the status page share: the list of
 * every figure (SHMCACHE_STATS_FIELDS, shmcache.h) as a table, one cache's
 * figures as shown, and the HTML renderer's entry points.
 *
 *   sc_status.c        the handler, ?auto, ?json, the mod_status hook,
 *                      the socache provider's status, which caches to show
 *   sc_status_html.c   the HTML page: tiles, charts, the table of every
 *                      figure, rates since this process's last view
 */
#ifndef SC_STATUS_H
#define SC_STATUS_H

#include "sc_private.h"

/* How a figure is stored and how it is shown: the type and show words of
 * SHMCACHE_STATS_FIELDS. */
typedef enum { FT_U32, FT_U64, FT_I64, FT_DBL, FT_TIME, FT_PIDS } sc_field_type_e;
typedef enum {
    FS_NUMBER, FS_BYTES, FS_COUNTER, FS_RATIO, FS_PID, FS_TIME
} sc_field_show_e;

/* One entry of SHMCACHE_STATS_FIELDS. */
typedef struct sc_field_t {
    const char *group;          /* config, contents, operations, ... */
    const char *key;            /* member of shmcache_stats_t, JSON key */
    sc_field_type_e type;
    sc_field_show_e show;
    const char *label;          /* "memory used" */
    size_t off;                 /* offsetof(shmcache_stats_t, member) */
} sc_field_t;

/* Every figure, in the list's order (sc_status.c). */
extern const sc_field_t sc_status_fields[];
extern const size_t sc_status_nfields;

/* One cache as shown: its figures, and the previous ones this process
 * showed (for rates, HTML only). */
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

/* The member of st that fd describes. */
static inline const void *sc_status_member(const sc_field_t *fd,
                                           const shmcache_stats_t *st)
{
    return (const char *)st + fd->off;
}

/* The figure as an unsigned count (NUMBER, BYTES, COUNTER of U32/U64;
 * 0 for the other types). */
static inline apr_uint64_t sc_status_count(const sc_field_t *fd,
                                           const shmcache_stats_t *st)
{
    const void *m = sc_status_member(fd, st);

    return fd->type == FT_U32 ? *(const apr_uint32_t *)m
         : fd->type == FT_U64 ? *(const apr_uint64_t *)m : 0;
}

/* Stores of every kind: set + add + replace + cas (shmcb's StoreCount). */
static inline apr_uint64_t sc_status_stores(const shmcache_stats_t *st)
{
    return st->sets + st->adds + st->replaces + st->cas_ops;
}

/* The reader pids of st with sep between them, in p ("" when none). */
const char *sc_status_pids(const shmcache_stats_t *st, const char *sep,
                           apr_pool_t *p);

/* sc_status_html.c: one cache's section (takes this process's sample of
 * it for the rates), and the whole page of the handler. */
void sc_status_html_cache(request_rec *r, sc_figures_t *f);
int sc_status_html_page(request_rec *r, apr_array_header_t *list, int refresh);

#endif /* SC_STATUS_H */
