/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict.h - eviction's contract with the table (internal): the two FIFO
 * queues every entry is on, the ghost of keys recently evicted from them,
 * probation's adaptive share, and the allocation that evicts until an
 * entry fits. The
 * policy itself is described in table.h (Eviction); evict.c implements
 * it. Used by table.c (stores and deletes) and check.c (queue rebuild).
 *
 * Every function here needs the write lock and returns APR_SUCCESS or
 * SHMCACHE_ECORRUPT (a queue link or a block that fails its checks),
 * unless it says otherwise. None of them leaves chains inconsistent at any
 * instant: a writer killed inside one leaves at worst a leaked block or
 * queues that repair (check.c) rebuilds from the chains.
 */
#ifndef SC_EVICT_H
#define SC_EVICT_H

#include "entry.h"

/* Put v at the head (newest end) of queue q (Q_SMALL or Q_MAIN), marking
 * its queue in its flags. */
apr_status_t sc_evict_enqueue_locked(sc_table_t *t, const view_t *v, int q);

/* Take v off the queue it is on. */
apr_status_t sc_evict_unlink_locked(sc_table_t *t, const view_t *v);

/* Put the freshly linked entry nv (key hash h) on a queue: where old (the
 * entry it replaces, or NULL) was, with old's frequency; else on main when
 * the ghost says its key is back soon after an eviction (which may also
 * move probation's target: table.h, Eviction), else on probation. When
 * old is given it leaves its queue. */
apr_status_t sc_evict_enqueue_new_locked(sc_table_t *t, const view_t *nv,
                                         apr_uint64_t h, const view_t *old);

/* Free the block of the unlinked entry at granule g, first moving the
 * eviction hand and the expiry sweep past it if they rest there (cursors
 * always rest on allocated blocks). */
apr_status_t sc_evict_free_locked(sc_table_t *t, apr_uint32_t g);

/* Unlink v, which *link (a bucket or a predecessor's next) points at,
 * from its chain and its queue, count it out of the items, and free it. */
apr_status_t sc_evict_unlink_free_locked(sc_table_t *t, apr_uint32_t *link,
                                         const view_t *v);

/* Allocate need bytes in the data region at *off, reclaiming expired
 * entries first and then evicting (bounded work per call: see table.h).
 * *evicted is set when anything was removed (chains may have changed, so
 * the caller looks its key up again). Returns APR_SUCCESS, SHMCACHE_ENOMEM
 * (the table is empty and need still does not fit) or SHMCACHE_ECORRUPT. */
apr_status_t sc_evict_alloc_locked(sc_table_t *t, apr_uint64_t need,
                                   apr_uint32_t now, apr_uint64_t *off,
                                   int *evicted);

/* Whether probation's target in the segment is one evict.c writes: 0 (the
 * initial share) or within its bounds. Any lock (check.c). */
int sc_evict_target_ok(const sc_table_t *t);

/* Eviction-clock units per ghost stamp unit, as a shift, for a table of
 * at most max_entries entries: the longest ghost window (twice the entries
 * cached) then spans at most half of the 16-bit stamp range. A constant
 * of the table, computed once when it is bound (sc_table_t.ghost_shift). */
unsigned sc_evict_ghost_shift(apr_uint64_t max_entries);

#endif /* SC_EVICT_H */
