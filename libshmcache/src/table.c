/* SPDX-License-Identifier: Apache-2.0 */
/*
 * table.c - the hash table in the segment: lookup, store, delete, incr,
 * touch, scan. Eviction (the queues, the ghost, the sweeps that make room)
 * is in evict.c; verification and repair in check.c; the view of an entry
 * and the chain walk in entry.h. See table.h for the entry layout and the
 * crash-consistency rules every change follows.
 */
#include "entry.h"
#include "evict.h"
#include "fault.h"
#include "os.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

static apr_uint32_t chain_length(const sc_table_t *t, apr_uint32_t g,
                                 apr_uint64_t *budget);

apr_status_t sc_table_bind(sc_table_t *t, sc_segment_t *seg)
{
    const sc_header_sh_t *h = &seg->cfg;

    t->base = seg->base;
    t->hdr = seg->hdr;
    t->buckets = sc_segment_buckets(seg);
    t->ghost = sc_segment_ghost(seg);
    t->data_lo = h->data_off;
    t->data_hi = h->data_off + h->data_size;
    t->max_entries = h->data_size / (SC_ENTRY_HDR + SC_ALLOC_OVERHEAD + 1) + 1;
    t->ghost_shift = sc_evict_ghost_shift(t->max_entries);
    t->seed = h->seed;
    t->mask = h->nbuckets - 1;
    t->max_key = h->max_key;
    t->max_value = h->max_value;
    t->default_ttl = h->default_ttl;
    t->epoch = h->epoch;
    t->lock = NULL;
    if (sc_alloc_bind(&t->alloc, seg->base, sc_segment_alloc(seg),
                      t->data_lo, t->data_hi) != APR_SUCCESS)
        return SHMCACHE_ECORRUPT;
    return APR_SUCCESS;
}

/* Empty the table (the work of both init functions below). */
static apr_status_t empty(sc_table_t *t)
{
    memset(t->buckets, 0, ((apr_size_t)t->mask + 1) * sizeof *t->buckets);
    ORDERED();
    memset(t->ghost, 0, ((apr_size_t)t->mask + 1) * sizeof *t->ghost);
    memset(&t->hdr->queues, 0, sizeof t->hdr->queues);
    t->hdr->counters.items = 0;
    t->hdr->counters.longest_chain = 0;
    t->hdr->hand = 0;
    t->hdr->sweep = 0;
    return sc_alloc_init(&t->alloc, t->base, t->alloc.sh, t->data_lo,
                         t->data_hi);
}

apr_status_t sc_table_init_unpublished(sc_table_t *t)
{
    assert(t->lock == NULL);
    return empty(t);
}

apr_status_t sc_table_init_locked(sc_table_t *t)
{
    SC_ASSERT_WRITE(t);
    return empty(t);
}

apr_uint32_t sc_table_now(const sc_table_t *t)
{
    /* the OS layer's cheap clock (os.h), not apr_time_now() */
    apr_int64_t s = sc_os_clock_sec() - t->epoch;

    if (s < 1)
        return 1;
    return s > (apr_int64_t)0xFFFFFFF0u ? 0xFFFFFFF0u : (apr_uint32_t)s;
}

apr_status_t sc_table_expiry(const sc_table_t *t, apr_uint32_t ttl,
                             apr_uint32_t now, apr_uint32_t *expires)
{
    if (ttl == SHMCACHE_TTL_DEFAULT)
        ttl = t->default_ttl;
    if (ttl == 0 || ttl == SHMCACHE_TTL_FOREVER) {
        *expires = 0;
        return APR_SUCCESS;
    }
    if (ttl > SHMCACHE_TTL_MAX)
        return SHMCACHE_ETTL;
    /* lives at least ttl whole seconds: expired once now >= expires */
    *expires = now + ttl + 1;
    return APR_SUCCESS;
}

apr_status_t sc_table_check_sizes(const sc_table_t *t, apr_size_t key_len,
                                  apr_size_t value_len)
{
    if (key_len == 0 || key_len > t->max_key)
        return SHMCACHE_EKEYLEN;
    if (value_len > t->max_value)
        return SHMCACHE_EVALLEN;
    return APR_SUCCESS;
}

/* Find the live entry of key with flags and fill *found (its frequency
 * as it is now): every lookup, locked or optimistic. */
SC_HOT_INLINE apr_status_t lookup(const sc_table_t *t, const void *key,
                                  apr_size_t key_len, unsigned flags,
                                  apr_uint32_t now, sc_found_t *found)
{
    apr_uint32_t *link;
    view_t v;
    apr_status_t rv;

    rv = find(t, hash_key(t, key, key_len), key, key_len, flags, &link, &v);
    if (rv != APR_SUCCESS)
        return rv;
    if (expired(v.e, now))
        return SHMCACHE_NOTFOUND;
    found->entry = v.e;
    found->value = v.value;
    found->value_len = v.value_len;
    found->freq = atomic_load_explicit(&v.e->freq, memory_order_relaxed);
    found->stale = is_stale(v.e, now);
    return APR_SUCCESS;
}

apr_status_t sc_table_peek(const sc_table_t *t, const void *key,
                           apr_size_t key_len, apr_uint32_t now,
                           sc_found_t *found)
{
    return lookup(t, key, key_len, 0, now, found);
}

apr_status_t sc_table_find_locked(const sc_table_t *t, const void *key,
                                  apr_size_t key_len, unsigned flags,
                                  apr_uint32_t now, sc_found_t *found)
{
    SC_ASSERT_READ(t);
    return lookup(t, key, key_len, flags, now, found);
}

apr_status_t sc_table_get_locked(const sc_table_t *t, const void *key,
                                 apr_size_t key_len, apr_uint32_t now,
                                 int mark, sc_found_t *found)
{
    apr_status_t rv = sc_table_peek(t, key, key_len, now, found);

    SC_ASSERT_READ(t);
    /* a reader writes only this byte, and only when it changes (readers
     * racing here may lose a step: a frequency, not a count) */
    if (rv == APR_SUCCESS && mark && found->freq < SC_FREQ_MAX)
        atomic_store_explicit(&((sc_entry_sh_t *)found->entry)->freq,
                              (uint8_t)(found->freq + 1), memory_order_relaxed);
    return rv;
}

void sc_table_meta(const sc_table_t *t, const sc_entry_sh_t *e,
                   apr_uint32_t value_len, apr_uint32_t now,
                   shmcache_meta_t *meta)
{
    apr_uint32_t x = *(const volatile apr_uint32_t *)&e->expires;

    meta->version = e->version;
    meta->value_len = value_len;
    meta->stale = is_stale(e, now);
    if (x == 0) {
        meta->expires = 0;
        meta->ttl = SHMCACHE_TTL_FOREVER;
    }
    else {
        meta->expires = apr_time_from_sec(t->epoch + (apr_int64_t)x);
        meta->ttl = x > now ? x - now - 1 : 0;
    }
}

/* Whether an existing entry (live says whether it is unexpired) lets op
 * go ahead. */
static apr_status_t admit(const sc_store_t *op, const view_t *v, int live)
{
    switch (op->mode) {
    case SC_STORE_ADD:
        return live ? SHMCACHE_EXISTS : APR_SUCCESS;
    case SC_STORE_REPLACE:
        return live ? APR_SUCCESS : SHMCACHE_NOTFOUND;
    case SC_STORE_CAS:
        if (!live)
            return SHMCACHE_NOTFOUND;
        return v->e->version == op->expected ? APR_SUCCESS : SHMCACHE_EMISMATCH;
    default:
        return APR_SUCCESS;
    }
}

static void count_store(sc_counters_sh_t *c, const sc_store_t *op)
{
    if (op->flags & SC_ENTRY_LEASE)
        return;                     /* lease.c counts leases */
    switch (op->mode) {
    case SC_STORE_ADD: c->adds++; break;
    case SC_STORE_REPLACE: c->replaces++; break;
    case SC_STORE_CAS: c->cas_ops++; break;
    default: c->sets++; break;
    }
}

/* Fill a freshly allocated entry completely (not yet linked). */
static void fill_entry(sc_table_t *t, apr_uint64_t off, apr_uint64_t h,
                       const sc_store_t *op, apr_uint64_t version)
{
    sc_entry_sh_t *e = (sc_entry_sh_t *)(t->base + off);
    char *key = (char *)e + SC_ENTRY_HDR;

    e->next = 0;
    e->tag = (apr_uint32_t)(h >> 32);
    e->version = version;
    e->expires = op->expires;
    e->stale = op->stale;
    e->value_len = (apr_uint32_t)op->value_len;
    e->key_len = (apr_uint16_t)op->key_len;
    e->qprev = 0;
    e->qnext = 0;
    atomic_store_explicit(&e->freq, 0, memory_order_relaxed);
    e->flags = (uint8_t)(op->flags & SC_ENTRY_LEASE);
    memcpy(key, op->key, op->key_len);
    if (op->value_len > 0)
        memcpy(key + op->key_len, op->value, op->value_len);
}

/* Raise the longest-chain mark to the length of the chain at head (just
 * grown by an insert; chains are short, and the walk is cache-hot). */
static void note_chain(sc_table_t *t, apr_uint32_t head)
{
    apr_uint64_t budget = max_entries(t);
    apr_uint32_t n = chain_length(t, head, &budget);

    if (n > t->hdr->counters.longest_chain)
        t->hdr->counters.longest_chain = n;
}

/* Link the filled entry at off in place of the one *link points at (when
 * old is non-NULL) or at the head of its bucket, then free the old one. */
static apr_status_t link_entry(sc_table_t *t, apr_uint64_t off, apr_uint64_t h,
                               apr_uint32_t *link, const view_t *old)
{
    sc_entry_sh_t *e = (sc_entry_sh_t *)(t->base + off);
    apr_uint32_t *head = &t->buckets[h & t->mask];
    view_t nv;
    apr_status_t rv;

    if (!view(t, B2G(off), &nv))      /* just filled: cannot fail */
        return SHMCACHE_ECORRUPT;
    e->next = old != NULL ? old->e->next : *head;
    ORDERED();
    SC_FAULT_POINT("table.set.filled");
    if (old != NULL) {
        *link = B2G(off);
        ORDERED();
        SC_FAULT_POINT("table.set.linked");
        rv = sc_evict_enqueue_new_locked(t, &nv, h, old);
        return rv == APR_SUCCESS ? sc_evict_free_locked(t, old->g) : rv;
    }
    *head = B2G(off);
    ORDERED();
    t->hdr->counters.items++;
    note_chain(t, *head);
    return sc_evict_enqueue_new_locked(t, &nv, h, NULL);
}

apr_status_t sc_table_store_locked(sc_table_t *t, const sc_store_t *op,
                                   apr_uint32_t now, apr_uint64_t *version)
{
    apr_uint64_t h = hash_key(t, op->key, op->key_len), off, ver;
    apr_uint32_t *link = NULL;
    view_t v;
    int evicted, have;
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    rv = find(t, h, op->key, op->key_len, op->flags, &link, &v);
    if (rv != APR_SUCCESS && rv != SHMCACHE_NOTFOUND)
        return rv;
    have = rv == APR_SUCCESS;
    rv = admit(op, &v, have && !expired(v.e, now));
    if (rv != APR_SUCCESS)
        goto done;
    rv = sc_evict_alloc_locked(t, SC_ENTRY_HDR + op->key_len + op->value_len, now,
                     &off, &evicted);
    if (rv != APR_SUCCESS)
        goto done;
    SC_FAULT_POINT("table.set.allocated");
    if (evicted) {
        /* eviction may have removed the old entry or its predecessor */
        rv = find(t, h, op->key, op->key_len, op->flags, &link, &v);
        if (rv != APR_SUCCESS && rv != SHMCACHE_NOTFOUND)
            return rv;
        have = rv == APR_SUCCESS;
    }
    ver = ++t->hdr->counters.version;
    fill_entry(t, off, h, op, ver);
    rv = link_entry(t, off, h, link, have ? &v : NULL);
    if (rv == APR_SUCCESS && version != NULL)
        *version = ver;
done:
    if (rv == APR_SUCCESS)
        count_store(&t->hdr->counters, op);
    else if (rv != SHMCACHE_ECORRUPT)
        t->hdr->counters.set_failures++;
    return rv;
}

apr_status_t sc_table_delete_locked(sc_table_t *t, const void *key,
                                    apr_size_t key_len, unsigned flags,
                                    apr_uint32_t now)
{
    apr_uint32_t *link;
    view_t v;
    int was_live;
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    rv = find(t, hash_key(t, key, key_len), key, key_len, flags, &link, &v);
    if (rv != APR_SUCCESS)
        return rv;
    was_live = !expired(v.e, now);
    rv = sc_evict_unlink_free_locked(t, link, &v);
    if (rv != APR_SUCCESS)
        return rv;
    if (!was_live) {
        t->hdr->counters.expirations++;
        return SHMCACHE_NOTFOUND;
    }
    if (flags == 0)
        t->hdr->counters.deletes++;
    return APR_SUCCESS;
}

/* Parse 1..20 decimal digits that fit 64 bits. */
static int parse_u64(const char *s, apr_uint32_t len, apr_uint64_t *out)
{
    apr_uint64_t n = 0;
    apr_uint32_t i;

    if (len == 0 || len > 20)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || n > (APR_UINT64_MAX - d) / 10)
            return 0;
        n = n * 10 + d;
    }
    *out = n;
    return 1;
}

/* Write n in decimal into buf (>= 21 bytes); returns the length. */
static apr_size_t format_u64(apr_uint64_t n, char *buf)
{
    char tmp[21];
    apr_size_t len = 0, i;

    do {
        tmp[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    for (i = 0; i < len; i++)
        buf[i] = tmp[len - 1 - i];
    return len;
}

/* n + delta, clamped at 0 below and wrapping above (memcached's rule). */
static apr_uint64_t apply_delta(apr_uint64_t n, apr_int64_t delta)
{
    if (delta >= 0)
        return n + (apr_uint64_t)delta;
    {
        apr_uint64_t down = (apr_uint64_t)(-(delta + 1)) + 1;
        return down > n ? 0 : n - down;
    }
}

apr_status_t sc_table_incr_locked(sc_table_t *t, const void *key,
                                  apr_size_t key_len, apr_int64_t delta,
                                  const apr_uint64_t *initial,
                                  apr_uint32_t expires, apr_uint32_t now,
                                  apr_uint64_t *result)
{
    sc_store_t op;
    sc_found_t f;
    apr_uint64_t n;
    apr_uint32_t stale = 0;
    char digits[21];
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    rv = sc_table_get_locked(t, key, key_len, now, 0, &f);
    if (rv == SHMCACHE_NOTFOUND && initial == NULL)
        return rv;
    if (rv == APR_SUCCESS) {
        if (!parse_u64(f.value, f.value_len, &n))
            return SHMCACHE_ENOTNUM;
        n = apply_delta(n, delta);
        expires = f.entry->expires;
        stale = f.entry->stale;
    }
    else if (rv == SHMCACHE_NOTFOUND)
        n = *initial;
    else
        return rv;
    memset(&op, 0, sizeof op);
    op.mode = SC_STORE_SET;
    op.key = key;
    op.key_len = key_len;
    op.value = digits;
    op.value_len = format_u64(n, digits);
    op.expires = expires;
    op.stale = stale;
    rv = sc_table_store_locked(t, &op, now, NULL);
    if (rv != APR_SUCCESS)
        return rv;
    /* counted as an incr, not as a set */
    t->hdr->counters.sets--;
    t->hdr->counters.incrs++;
    if (result != NULL)
        *result = n;
    return APR_SUCCESS;
}

apr_status_t sc_table_touch_locked(sc_table_t *t, const void *key,
                                   apr_size_t key_len, apr_uint32_t expires,
                                   apr_uint32_t now)
{
    sc_found_t f;
    apr_status_t rv = sc_table_get_locked(t, key, key_len, now, 0, &f);

    SC_ASSERT_WRITE(t);
    if (rv != APR_SUCCESS)
        return rv;
    ((sc_entry_sh_t *)f.entry)->expires = expires;
    t->hdr->counters.touches++;
    return APR_SUCCESS;
}

apr_status_t sc_table_scan_locked(const sc_table_t *t, apr_uint32_t *cursor,
                                  apr_uint32_t max, apr_uint32_t now,
                                  sc_table_copy_fn *fn, void *baton)
{
    apr_uint64_t nb = (apr_uint64_t)t->mask + 1, b = *cursor, end;
    apr_uint64_t limit = max_entries(t);

    SC_ASSERT_READ(t);
    if (b >= nb)
        b = 0;
    end = b + max > nb ? nb : b + max;
    for (; b < end; b++) {
        apr_uint32_t g = t->buckets[b];
        apr_uint64_t steps = 0;
        loop_t loop = LOOP_INIT;
        view_t v;
        while (g != 0) {
            /* an entry must hash to the bucket it is in: chains of several
             * buckets then cannot share entries, so a walk of all buckets
             * visits each entry once, whatever the segment says */
            if (!view(t, g, &v) || ++steps > limit || looped(&loop, g)
                || (hash_key(t, v.key, v.key_len) & t->mask) != b)
                return SHMCACHE_ECORRUPT;
            if (!expired(v.e, now) && !(v.e->flags & SC_ENTRY_LEASE)) {
                int stop = fn(baton, v.e, v.key, v.key_len, v.value,
                              v.value_len, now);
                if (stop != 0) {
                    *cursor = (apr_uint32_t)(b + 1 == nb ? 0 : b + 1);
                    return (apr_status_t)stop;
                }
            }
            g = v.e->next;
        }
    }
    *cursor = (apr_uint32_t)(end == nb ? 0 : end);
    return APR_SUCCESS;
}

/* Length of one chain, stopping at a cycle or a bad link, and taking its
 * steps from *budget (at most max_entries(), so a damaged segment costs a
 * bounded walk). */
static apr_uint32_t chain_length(const sc_table_t *t, apr_uint32_t g,
                                 apr_uint64_t *budget)
{
    apr_uint32_t n = 0;
    loop_t loop = LOOP_INIT;
    view_t v;

    while (g != 0 && *budget > 0 && view(t, g, &v) && !looped(&loop, g)) {
        n++;
        (*budget)--;
        g = v.e->next;
    }
    return n;
}

/* The header's counters into st. */
static void stats_counters(const sc_counters_sh_t *k, shmcache_stats_t *st)
{
    st->sets = k->sets;
    st->adds = k->adds;
    st->replaces = k->replaces;
    st->cas_ops = k->cas_ops;
    st->deletes = k->deletes;
    st->incrs = k->incrs;
    st->touches = k->touches;
    st->set_failures = k->set_failures;
    st->evictions = k->evictions;
    st->expirations = k->expirations;
    st->flushes = k->flushes;
    st->repairs = k->repairs;
    st->resets = k->resets;
    st->leases_granted = k->leases_granted;
    st->lease_waits = k->lease_waits;
    st->lease_timeouts = k->lease_timeouts;
    st->stale_answers = k->stale_answers;
    st->leases_dead = k->leases_dead;
}

void sc_table_stats_locked(const sc_table_t *t, shmcache_stats_t *st)
{
    sc_alloc_stats_t a;

    SC_ASSERT_READ(t);
    sc_alloc_stats_locked(&t->alloc, &a);
    stats_counters(&t->hdr->counters, st);
    st->items = t->hdr->counters.items;
    st->bytes_used = a.used_bytes;
    st->bytes_free = a.free_bytes;
    st->largest_free = a.largest_free;
    st->free_blocks = a.free_blocks;
    st->fragmentation = a.free_bytes == 0 ? 0.0
        : 1.0 - (double)a.largest_free / (double)a.free_bytes;
    st->longest_chain = t->hdr->counters.longest_chain > 0xFFFFFFFFu
        ? 0xFFFFFFFFu : (apr_uint32_t)t->hdr->counters.longest_chain;
}

apr_status_t sc_table_flush_locked(sc_table_t *t)
{
    apr_status_t rv = sc_table_init_locked(t);

    SC_ASSERT_WRITE(t);
    t->hdr->counters.flushes++;
    return rv;
}
