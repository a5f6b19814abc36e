/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry.h - an entry of the table as the table's files see it (internal):
 * the bounds-checked view of an entry (view), the chain walk (find), the
 * hash, expiry and queue membership. Shared by table.c (operations),
 * evict.c (eviction) and check.c (verification and repair); the on-segment layout
 * is drawn in table.h.
 *
 * Trust: every granule offset read from the segment goes through view(),
 * which bounds-checks the entry and its key and value against the data
 * region and the limits, reading each length once; every chain walk is
 * bounded by the number of entries the region could hold.
 */
#ifndef SC_ENTRY_H
#define SC_ENTRY_H

#include "table.h"

#include <string.h>
#include <xxhash.h>

#define G2B(g) ((apr_uint64_t)(g) << 3)
#define B2G(b) ((apr_uint32_t)((b) >> 3))

enum { Q_SMALL = 0, Q_MAIN = 1 };       /* the eviction queues */

/* A bounds-checked view of one entry; lengths read once. */
typedef struct view_t {
    sc_entry_sh_t *e;
    apr_uint32_t g;                /* its granule offset */
    apr_uint32_t key_len, value_len;
    char *key, *value;
} view_t;

/* Compiler barrier: stores before it are issued before stores after it,
 * so a process killed between two statements leaves them in program
 * order (crash consistency, not inter-thread ordering: the lock does
 * that). */
#define ORDERED() atomic_signal_fence(memory_order_seq_cst)

static inline apr_uint64_t hash_key(const sc_table_t *t, const void *key,
                             apr_size_t len)
{
    return XXH3_64bits_withSeed(key, len, t->seed);
}

/* Most entries the data region can hold: the bound for every walk
 * (computed once by sc_table_bind). */
static inline apr_uint64_t max_entries(const sc_table_t *t)
{
    return t->max_entries;
}

/* Fill *v for the entry at granule g. Returns 0 when g or the lengths it
 * holds point outside the data region or break the limits. */
static inline int view(const sc_table_t *t, apr_uint32_t g, view_t *v)
{
    apr_uint64_t off = G2B(g);
    sc_entry_sh_t *e;

    if (off < t->data_lo || off >= t->data_hi
        || t->data_hi - off < SC_ENTRY_HDR)
        return 0;
    e = (sc_entry_sh_t *)(t->base + off);
    v->key_len = *(volatile uint16_t *)&e->key_len;
    v->value_len = *(volatile apr_uint32_t *)&e->value_len;
    if (v->key_len == 0 || v->key_len > t->max_key
        || v->value_len > t->max_value
        || (apr_uint64_t)SC_ENTRY_HDR + v->key_len + v->value_len
               > t->data_hi - off)
        return 0;
    v->e = e;
    v->g = g;
    v->key = (char *)e + SC_ENTRY_HDR;
    v->value = v->key + v->key_len;
    return 1;
}

static inline int expired(const sc_entry_sh_t *e, apr_uint32_t now)
{
    apr_uint32_t x = e->expires;
    return x != 0 && now >= x;
}

_Static_assert(sizeof(sc_entry_sh_t) == SC_ENTRY_HDR, "entry header size");

/* The entry v is the one of key (hash tag, length, bytes) with flags. */
static inline int same_key(const view_t *v, apr_uint32_t tag, const void *key,
                    apr_size_t len, unsigned flags)
{
    return v->e->tag == tag && v->key_len == len
           && (v->e->flags & SC_ENTRY_LEASE) == flags
           && memcmp(v->key, key, len) == 0;
}

/* Past its soft expiry (a stale value). */
static inline int is_stale(const sc_entry_sh_t *e, apr_uint32_t now)
{
    apr_uint32_t x = e->stale;
    return x != 0 && now >= x;
}

/* Brent's cycle detector for a chain walk: call looped() with each granule
 * reached; it answers 1 once the walk comes back to a granule it saved.
 * O(1) memory, and a cycle is caught within about three times the length
 * of the chain's tail plus its loop, so a damaged chain costs what it
 * holds, not max_entries() steps (a walk that copies entries out would
 * otherwise copy that many). */
typedef struct loop_t {
    apr_uint32_t saved;
    apr_uint64_t power, len;
} loop_t;

#define LOOP_INIT {0, 1, 0}

/* find() starts its detector only after this many steps: a healthy chain
 * is shorter, and the detector's work on every step of every lookup is
 * not free (bench/); a cycle is still caught a few steps later. */
#define LOOP_AFTER 8u

static inline int looped(loop_t *l, apr_uint32_t g)
{
    if (g == l->saved)
        return 1;
    if (++l->len == l->power) {
        l->saved = g;
        l->power <<= 1;
        l->len = 0;
    }
    return 0;
}


/* Walk the chain for hash h looking for key. On APR_SUCCESS *link is the
 * word that points at the entry (a bucket or a predecessor's next) and *v
 * the entry. Returns SHMCACHE_NOTFOUND or SHMCACHE_ECORRUPT otherwise. */
SC_HOT_INLINE apr_status_t find(const sc_table_t *t, apr_uint64_t h,
                                const void *key, apr_size_t len,
                                unsigned flags, apr_uint32_t **link, view_t *v)
{
    apr_uint32_t *at = &t->buckets[h & t->mask];
    apr_uint32_t tag = (apr_uint32_t)(h >> 32);
    apr_uint64_t steps = 0, limit = max_entries(t);
    loop_t loop = LOOP_INIT;

    for (;;) {
        /* read once: an optimistic reader races with writers */
        apr_uint32_t g = *(volatile apr_uint32_t *)at;
        if (g == 0)
            return SHMCACHE_NOTFOUND;
        if (!view(t, g, v) || ++steps > limit
            || (steps > LOOP_AFTER && looped(&loop, g)))
            return SHMCACHE_ECORRUPT;
        if (v->e->tag == tag)       /* most likely the key: start its value's
                                       lines coming while the key compares */
            __builtin_prefetch(v->value + 63);
        if (same_key(v, tag, key, len, flags)) {
            *link = at;
            return APR_SUCCESS;
        }
        at = &v->e->next;
    }
}

static inline int queue_of(const sc_entry_sh_t *e)
{
    return (e->flags & SC_ENTRY_MAIN) ? Q_MAIN : Q_SMALL;
}

/* Bytes an entry accounts for on its queue. */
static inline apr_uint64_t entry_bytes(const view_t *v)
{
    return (apr_uint64_t)SC_ENTRY_HDR + v->key_len + v->value_len;
}

#endif /* SC_ENTRY_H */
