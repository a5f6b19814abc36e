/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict.c - eviction: the probation and main queues, the ghost of keys
 * evicted from them, probation's adaptive share, the choice of a victim, the address-order sweep
 * that makes contiguous room for a large item, and the expiry sweep (the
 * policy is described in table.h, Eviction). Every granule read from the
 * queues goes through view() before it is followed; a bad one is
 * SHMCACHE_ECORRUPT, and repair (check.c) rebuilds the queues from the
 * chains.
 */
#include "evict.h"
#include "fault.h"

#include <assert.h>
#include <string.h>

/* A store moves at most this many read entries between or within the
 * queues before it evicts regardless: bounded work per set. */
#define SC_MAX_SKIPS 32u

/* Queue evictions after which a store that still finds no contiguous
 * block turns to evicting in address order (table.h, Eviction). */
#define SC_LOCAL_AFTER 8u

/* Blocks the expiry sweep examines per allocation miss. */
#define SC_SWEEP_BLOCKS 64u

apr_status_t sc_evict_enqueue_locked(sc_table_t *t, const view_t *v, int q)
{
    sc_queues_sh_t *qs = &t->hdr->queues;
    apr_uint32_t old = qs->head[q];
    view_t o;

    SC_ASSERT_WRITE(t);
    if (old != 0 && !view(t, old, &o))
        return SHMCACHE_ECORRUPT;
    v->e->qprev = 0;
    v->e->qnext = old;
    v->e->flags = (uint8_t)((v->e->flags & ~SC_ENTRY_MAIN)
                            | (q == Q_MAIN ? SC_ENTRY_MAIN : 0));
    if (old != 0)
        o.e->qprev = v->g;
    else
        qs->tail[q] = v->g;
    qs->head[q] = v->g;
    qs->count[q]++;
    qs->bytes[q] += entry_bytes(v);
    return APR_SUCCESS;
}

apr_status_t sc_evict_unlink_locked(sc_table_t *t, const view_t *v)
{
    sc_queues_sh_t *qs = &t->hdr->queues;
    int q = queue_of(v->e);
    apr_uint32_t p = v->e->qprev, n = v->e->qnext;
    view_t pv, nv;

    SC_ASSERT_WRITE(t);
    memset(&pv, 0, sizeof pv);
    memset(&nv, 0, sizeof nv);
    if ((p != 0 && !view(t, p, &pv)) || (n != 0 && !view(t, n, &nv)))
        return SHMCACHE_ECORRUPT;
    if (p != 0)
        pv.e->qnext = n;
    else
        qs->head[q] = n;
    if (n != 0)
        nv.e->qprev = p;
    else
        qs->tail[q] = p;
    qs->count[q]--;
    qs->bytes[q] -= entry_bytes(v);
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------
 * The ghost and probation's share
 *
 * A ghost word: bits 31..17 a tag of the key's hash (never all zero, so a
 * word of 0 is an empty slot), bit 16 the queue the key was evicted from,
 * bits 15..0 that queue's eviction clock then (qs->clock, in units of
 * 2^ghost_shift evictions). The age of a remembered key is the clock now
 * minus its stamp, modulo 2^16: a key older than that may look young
 * again, which costs a misplaced entry, never a wrong answer.
 *
 * Probation's share adapts as ARC's (Megiddo and Modha, FAST'03) and CAR's
 * target does: a key that left probation and comes back within main's
 * entry count of probation evictions (ARC's B1) says probation is too
 * small; one that left main and comes back within probation's count of
 * main evictions (B2) says main is. Each moves the target by a quarter of
 * ARC's step, within SMALL_MIN..SMALL_MAX. The window for admitting a
 * returning probation key to main is longer and fixed (GHOST_ADMIT times
 * the entries cached, as S3-FIFO's ghost is sized by the cache): long
 * reuse distances keep the benefit of a large ghost while only recent
 * returns steer the share, and a large probation share does not shrink
 * admission (a window tied to main's size let the share run away to its
 * bound on Zipf traces).
 * ---------------------------------------------------------------------- */

/* Probation's share of the data region before any ghost hit, and its
 * bounds, in percent. */
#define SMALL_INIT 10u
#define SMALL_MIN 4u
#define SMALL_MAX 90u

/* A key back from probation within this many times the cache's entry
 * count of probation evictions goes straight to main. */
#define GHOST_ADMIT 2u

/* Each adaptation step is ARC's divided by this (quicker swings cost hit
 * ratio on mixed workloads: bench/README.md, Eviction). */
#define ADAPT_SLOW 4u

enum { GHOST_NONE, GHOST_ADMIT_ONLY, GHOST_FROM_SMALL, GHOST_FROM_MAIN };

unsigned sc_evict_ghost_shift(apr_uint64_t max_entries)
{
    apr_uint64_t span = max_entries * GHOST_ADMIT;
    unsigned s = 0;

    while ((span >> s) > 0x7FFFu && s < 16)
        s++;
    return s;
}

/* The ghost slot of hash h and the tag bits of its word. */
static apr_uint32_t *ghost_slot(const sc_table_t *t, apr_uint64_t h,
                                apr_uint32_t *tag)
{
    *tag = ((apr_uint32_t)(h >> 49) | 1u) << 17;
    return &t->ghost[(h >> 7) & t->mask];
}

/* Remember that the key of hash h was evicted from queue q (one store). */
static void ghost_put(sc_table_t *t, apr_uint64_t h, int q)
{
    apr_uint32_t tag, *slot = ghost_slot(t, h, &tag);
    apr_uint32_t stamp = (t->hdr->queues.clock[q] >> t->ghost_shift) & 0xFFFFu;

    *slot = tag | ((apr_uint32_t)q << 16) | stamp;
}

/* What the ghost says of the key of hash h (a GHOST_* value), forgetting
 * it: it is coming back. */
static int ghost_take(sc_table_t *t, apr_uint64_t h)
{
    const sc_queues_sh_t *qs = &t->hdr->queues;
    apr_uint32_t tag, *slot = ghost_slot(t, h, &tag), w = *slot;
    unsigned sh = t->ghost_shift;
    apr_uint64_t age, b1, cached;
    int q;

    if ((w & 0xFFFE0000u) != tag)
        return GHOST_NONE;
    *slot = 0;
    q = (w >> 16) & 1u ? Q_MAIN : Q_SMALL;
    age = ((qs->clock[q] >> sh) - w) & 0xFFFFu;
    if (q == Q_MAIN)
        return age <= (qs->count[Q_SMALL] >> sh) ? GHOST_FROM_MAIN
                                                 : GHOST_NONE;
    b1 = qs->count[Q_MAIN];
    cached = qs->count[Q_SMALL] + b1;
    if (age <= (b1 >> sh))
        return GHOST_FROM_SMALL;
    return age <= ((cached * GHOST_ADMIT) >> sh) ? GHOST_ADMIT_ONLY
                                                  : GHOST_NONE;
}

/* Probation's bounds in bytes (share in percent of the data region). */
static apr_uint64_t share(const sc_table_t *t, unsigned percent)
{
    return (t->data_hi - t->data_lo) / 100 * percent;
}

/* The bytes probation may hold now: its target, read once and kept
 * within bounds whatever the segment says (0: the initial share). */
static apr_uint64_t small_target(const sc_table_t *t)
{
    apr_uint64_t x = *(volatile apr_uint64_t *)&t->hdr->queues.target;

    if (x == 0)
        return share(t, SMALL_INIT);
    if (x < share(t, SMALL_MIN))
        return share(t, SMALL_MIN);
    return x > share(t, SMALL_MAX) ? share(t, SMALL_MAX) : x;
}

int sc_evict_target_ok(const sc_table_t *t)
{
    apr_uint64_t x = t->hdr->queues.target;

    return x == 0 || (x >= share(t, SMALL_MIN) && x <= share(t, SMALL_MAX));
}

/* One adaptation step for a ghost hit g (GHOST_FROM_*) by a key whose
 * entry takes bytes: ARC's step (the ratio of the two ghost lists, at
 * least 1, in entries of this size) over ADAPT_SLOW. */
static void adapt(sc_table_t *t, int g, apr_uint64_t bytes)
{
    sc_queues_sh_t *qs = &t->hdr->queues;
    apr_uint64_t x = small_target(t), s = qs->count[Q_SMALL],
                 m = qs->count[Q_MAIN], ratio, step;

    /* ARC's |B2|/|B1| is here probation's count over main's (B1 is as
     * long as main, B2 as probation) */
    ratio = g == GHOST_FROM_SMALL ? (m > 0 ? s / m : 1) : (s > 0 ? m / s : 1);
    ratio = ratio < 1 ? 1 : ratio > 1024 ? 1024 : ratio;  /* no overflow */
    step = ratio * bytes / ADAPT_SLOW;
    if (g == GHOST_FROM_SMALL)
        x = x + step < share(t, SMALL_MAX) ? x + step : share(t, SMALL_MAX);
    else
        x = x > share(t, SMALL_MIN) + step ? x - step : share(t, SMALL_MIN);
    qs->target = x > 0 ? x : 1;
}

/* The queue a store should evict from now. */
static int victim_queue(const sc_table_t *t)
{
    const sc_queues_sh_t *qs = &t->hdr->queues;

    if (qs->count[Q_SMALL] == 0)
        return Q_MAIN;
    if (qs->count[Q_MAIN] == 0 || qs->bytes[Q_SMALL] >= small_target(t))
        return Q_SMALL;
    return Q_MAIN;
}

/* ------------------------------------------------------------------------
 * Victims and room
 * ---------------------------------------------------------------------- */

/* Payload offset of the first allocated block at or after cursor (a block
 * start), or 0 (region start) when none follows. */
static apr_status_t next_allocated(const sc_table_t *t, apr_uint64_t cursor,
                                   apr_uint64_t *out)
{
    sc_alloc_block_t blk;
    apr_uint64_t steps = 0, limit = max_entries(t) * 2;

    while (cursor != 0) {
        if (sc_alloc_walk_locked(&t->alloc, &cursor, &blk) != APR_SUCCESS
            || ++steps > limit)
            return SHMCACHE_ECORRUPT;
        if (!blk.is_free) {
            *out = blk.payload;
            return APR_SUCCESS;
        }
    }
    *out = 0;
    return APR_SUCCESS;
}

/* If *cursor rests on the block at off, move it to the next allocated
 * block (cursors must always rest on allocated blocks). */
static apr_status_t step_past(const sc_table_t *t, apr_uint64_t *cursor,
                              apr_uint64_t off)
{
    apr_uint64_t at = off, next;
    sc_alloc_block_t blk;
    apr_status_t rv;

    if (*cursor != off)
        return APR_SUCCESS;
    rv = sc_alloc_walk_locked(&t->alloc, &at, &blk);
    if (rv == APR_SUCCESS)
        rv = next_allocated(t, at, &next);
    if (rv == APR_SUCCESS)
        *cursor = next;
    return rv;
}

apr_status_t sc_evict_free_locked(sc_table_t *t, apr_uint32_t g)
{
    apr_uint64_t off = G2B(g);
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    rv = step_past(t, &t->hdr->hand, off);
    if (rv == APR_SUCCESS)
        rv = step_past(t, &t->hdr->sweep, off);
    if (rv != APR_SUCCESS)
        return rv;
    return sc_alloc_free_locked(&t->alloc, off);
}

apr_status_t sc_evict_unlink_free_locked(sc_table_t *t, apr_uint32_t *link,
                                const view_t *v)
{
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    *link = v->e->next;
    ORDERED();
    SC_FAULT_POINT("table.unlinked");
    t->hdr->counters.items--;
    rv = sc_evict_unlink_locked(t, v);
    if (rv != APR_SUCCESS)
        return rv;
    return sc_evict_free_locked(t, v->g);
}

/* Remove the entry v (found by the hand) from its chain and free it. */
static apr_status_t remove_entry(sc_table_t *t, const view_t *v)
{
    apr_uint32_t *link;
    view_t found;
    apr_uint64_t h = hash_key(t, v->key, v->key_len);
    apr_status_t rv = find(t, h, v->key, v->key_len,
                           v->e->flags & SC_ENTRY_LEASE, &link, &found);

    /* the chain must lead to this very block */
    if (rv != APR_SUCCESS || found.g != v->g)
        return SHMCACHE_ECORRUPT;
    return sc_evict_unlink_free_locked(t, link, v);
}

/* Give the read entry v at the old end of queue q another turn (it moves
 * from probation to main, or goes round main with its frequency lowered). */
static apr_status_t second_chance(sc_table_t *t, const view_t *v, int q,
                                  unsigned f)
{
    apr_status_t rv = sc_evict_unlink_locked(t, v);

    if (rv != APR_SUCCESS)
        return rv;
    atomic_store_explicit(&v->e->freq, (uint8_t)(q == Q_SMALL ? 0 : f - 1),
                          memory_order_relaxed);
    return sc_evict_enqueue_locked(t, v, Q_MAIN);
}

/* Evict the entry v (the old end of queue q, or the address sweep's): a
 * probation victim's key goes into the ghost; the address sweep resumes
 * after it. */
static apr_status_t evict_entry(sc_table_t *t, const view_t *v, int q,
                                apr_uint32_t now)
{
    apr_uint64_t pos = G2B(v->g), next;
    sc_alloc_block_t blk;

    if (expired(v->e, now))
        t->hdr->counters.expirations++;
    else {
        t->hdr->counters.evictions++;
        t->hdr->queues.clock[q]++;
        ghost_put(t, hash_key(t, v->key, v->key_len), q);
    }
    if (sc_alloc_walk_locked(&t->alloc, &pos, &blk) != APR_SUCCESS
        || next_allocated(t, pos, &next) != APR_SUCCESS)
        return SHMCACHE_ECORRUPT;
    t->hdr->hand = next;
    SC_FAULT_POINT("table.evict.chosen");
    return remove_entry(t, v);
}

/* Evict one entry by the queues (table.h, Eviction), moving read entries
 * on as it goes (at most SC_MAX_SKIPS per store, counted in *skips).
 * Returns APR_SUCCESS when an entry was evicted, SHMCACHE_ENOMEM when
 * there is none. */
static apr_status_t evict_one(sc_table_t *t, apr_uint32_t now,
                              apr_uint32_t *skips)
{
    apr_uint64_t steps = 0, limit = SC_MAX_SKIPS + 2;
    view_t v;

    while (++steps <= limit) {
        int q;
        unsigned f;
        apr_status_t rv;
        if (t->hdr->counters.items == 0)
            return SHMCACHE_ENOMEM;
        q = victim_queue(t);
        if (!view(t, t->hdr->queues.tail[q], &v) || queue_of(v.e) != q)
            return SHMCACHE_ECORRUPT;
        f = atomic_load_explicit(&v.e->freq, memory_order_relaxed);
        if (f == 0 || expired(v.e, now) || *skips >= SC_MAX_SKIPS)
            return evict_entry(t, &v, q, now);
        rv = second_chance(t, &v, q, f);
        if (rv != APR_SUCCESS)
            return rv;
        (*skips)++;
    }
    return SHMCACHE_ECORRUPT;
}

/* Evict the next allocated entry in address order from the sweep cursor
 * (the hand), whatever its queue: victims side by side coalesce, so a
 * large item finds contiguous room. Returns APR_SUCCESS, SHMCACHE_ENOMEM
 * (nothing left) or SHMCACHE_ECORRUPT. */
static apr_status_t evict_local(sc_table_t *t, apr_uint32_t now)
{
    apr_uint64_t pos = t->hdr->hand;
    sc_alloc_block_t blk;
    view_t v;

    if (t->hdr->counters.items == 0)
        return SHMCACHE_ENOMEM;
    if (pos != 0 && next_allocated(t, pos, &pos) != APR_SUCCESS)
        return SHMCACHE_ECORRUPT;
    if (pos == 0) {                  /* from the start: its first entry */
        apr_uint64_t c = 0;
        do {
            if (sc_alloc_walk_locked(&t->alloc, &c, &blk) != APR_SUCCESS)
                return SHMCACHE_ECORRUPT;
        } while (blk.is_free && c != 0);
        if (blk.is_free)
            return SHMCACHE_ECORRUPT;
        pos = blk.payload;
    }
    if (!view(t, B2G(pos), &v))
        return SHMCACHE_ECORRUPT;
    return evict_entry(t, &v, queue_of(v.e), now);
}

/* Reclaim the expired entries among the next SC_SWEEP_BLOCKS blocks from
 * the sweep cursor, and move the cursor on. Expired entries thus go before
 * any live entry is evicted, with bounded work. Sets *reclaimed. */
static apr_status_t sweep_expired(sc_table_t *t, apr_uint32_t now,
                                  int *reclaimed)
{
    apr_uint64_t pos = t->hdr->sweep, found[SC_SWEEP_BLOCKS];
    apr_uint32_t n = 0, i;
    sc_alloc_block_t blk;
    view_t v;
    apr_status_t rv;

    *reclaimed = 0;
    for (i = 0; i < SC_SWEEP_BLOCKS; i++) {
        if (sc_alloc_walk_locked(&t->alloc, &pos, &blk) != APR_SUCCESS)
            return SHMCACHE_ECORRUPT;
        if (!blk.is_free) {
            if (!view(t, B2G(blk.payload), &v))
                return SHMCACHE_ECORRUPT;
            if (expired(v.e, now))
                found[n++] = blk.payload;
        }
        if (pos == 0)
            break;
    }
    rv = next_allocated(t, pos, &t->hdr->sweep);
    for (i = 0; rv == APR_SUCCESS && i < n; i++) {
        if (!view(t, B2G(found[i]), &v))
            return SHMCACHE_ECORRUPT;
        rv = remove_entry(t, &v);
        t->hdr->counters.expirations++;
        *reclaimed = 1;
    }
    return rv;
}

apr_status_t sc_evict_alloc_locked(sc_table_t *t, apr_uint64_t need,
                                apr_uint32_t now, apr_uint64_t *off,
                                int *evicted)
{
    apr_uint32_t skips = 0, victims = 0;
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    *evicted = 0;
    rv = sc_alloc_malloc_locked(&t->alloc, need, off);
    if (rv != SHMCACHE_ENOMEM)
        return rv;
    rv = sweep_expired(t, now, evicted);
    if (rv != APR_SUCCESS)
        return rv;
    for (;;) {
        rv = sc_alloc_malloc_locked(&t->alloc, need, off);
        if (rv != SHMCACHE_ENOMEM)
            return rv;
        rv = ++victims <= SC_LOCAL_AFTER ? evict_one(t, now, &skips)
                                         : evict_local(t, now);
        if (rv != APR_SUCCESS)
            return rv;
        *evicted = 1;
    }
}

apr_status_t sc_evict_enqueue_new_locked(sc_table_t *t, const view_t *nv,
                                apr_uint64_t h, const view_t *old)
{
    apr_status_t rv;
    int q;

    SC_ASSERT_WRITE(t);
    if (old == NULL) {
        int g = ghost_take(t, h);
        if (g == GHOST_FROM_SMALL || g == GHOST_FROM_MAIN)
            adapt(t, g, entry_bytes(nv));
        return sc_evict_enqueue_locked(t, nv, g != GHOST_NONE ? Q_MAIN
                                                               : Q_SMALL);
    }
    q = queue_of(old->e);
    atomic_store_explicit(&nv->e->freq, atomic_load_explicit(
        &old->e->freq, memory_order_relaxed), memory_order_relaxed);
    rv = sc_evict_unlink_locked(t, old);
    return rv == APR_SUCCESS ? sc_evict_enqueue_locked(t, nv, q) : rv;
}
