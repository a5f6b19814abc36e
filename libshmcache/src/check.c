/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.c - verification and repair of the table (table.h:
 * sc_table_check_locked, sc_table_repair_locked): every invariant of the
 * chains, the eviction queues and the allocator, checked with bounded
 * walks; and the repair run after a writer died, or when an operation met
 * corruption, or on request (shmcache_repair).
 */
#include "entry.h"
#include "evict.h"

#include <apr_strings.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Verification and repair
 * ---------------------------------------------------------------------- */

/* A bitmap over the data region's granules (process-local). */
typedef struct bits_t {
    unsigned char *b;
    apr_uint64_t lo;
} bits_t;

static int bits_make(bits_t *bits, const sc_table_t *t)
{
    apr_uint64_t n = ((t->data_hi - t->data_lo) >> 3) / 8 + 1;

    bits->lo = t->data_lo;
    bits->b = calloc(1, (size_t)n);
    return bits->b != NULL;
}

static int bit_get(const bits_t *bits, apr_uint64_t off)
{
    apr_uint64_t i = (off - bits->lo) >> 3;
    return (bits->b[i >> 3] >> (i & 7)) & 1;
}

static void bit_put(bits_t *bits, apr_uint64_t off, int on)
{
    apr_uint64_t i = (off - bits->lo) >> 3;
    if (on)
        bits->b[i >> 3] |= (unsigned char)(1u << (i & 7));
    else
        bits->b[i >> 3] &= (unsigned char)~(1u << (i & 7));
}

/* Mark every allocated block's payload in *bits; count them. */
static apr_status_t mark_allocated(const sc_table_t *t, bits_t *bits,
                                   apr_uint64_t *count)
{
    apr_uint64_t cursor = 0, steps = 0, limit = max_entries(t) * 2;
    sc_alloc_block_t blk;

    *count = 0;
    do {
        if (sc_alloc_walk_locked(&t->alloc, &cursor, &blk) != APR_SUCCESS
            || ++steps > limit || blk.payload < t->data_lo
            || blk.payload >= t->data_hi)
            return SHMCACHE_ECORRUPT;
        if (!blk.is_free) {
            bit_put(bits, blk.payload, 1);
            (*count)++;
        }
    } while (cursor != 0);
    return APR_SUCCESS;
}

static apr_status_t fail(char *why, apr_size_t size, const char *msg,
                         apr_uint64_t a, apr_uint64_t b)
{
    if (why != NULL && size > 0)
        apr_snprintf(why, size, msg, a, b);
    return SHMCACHE_ECORRUPT;
}

/* Check one chain; clears the bit of every entry it holds (so an entry
 * reached twice is caught). Adds its length to *count. */
static apr_status_t check_chain(const sc_table_t *t, apr_uint64_t b,
                                bits_t *bits, apr_uint64_t *count,
                                char *why, apr_size_t size)
{
    apr_uint32_t g = t->buckets[b];
    view_t v;

    while (g != 0) {
        apr_uint64_t h, room;
        if (!view(t, g, &v))
            return fail(why, size, "bucket %" APR_UINT64_T_FMT ": entry at "
                        "offset %" APR_UINT64_T_FMT " is out of bounds or has "
                        "bad lengths", b, G2B(g));
        if (!bit_get(bits, G2B(g)))
            return fail(why, size, "bucket %" APR_UINT64_T_FMT ": offset %"
                        APR_UINT64_T_FMT " is not an allocated block, or is "
                        "linked twice", b, G2B(g));
        bit_put(bits, G2B(g), 0);
        room = sc_alloc_usable_locked(&t->alloc, G2B(g));
        if (SC_ENTRY_HDR + v.key_len + v.value_len > room)
            return fail(why, size, "entry at offset %" APR_UINT64_T_FMT
                        " is larger than its block (%" APR_UINT64_T_FMT
                        " bytes)", G2B(g), room);
        h = hash_key(t, v.key, v.key_len);
        if ((h & t->mask) != b || v.e->tag != (apr_uint32_t)(h >> 32))
            return fail(why, size, "entry at offset %" APR_UINT64_T_FMT
                        " is in bucket %" APR_UINT64_T_FMT " but its key "
                        "hashes elsewhere", G2B(g), b);
        (*count)++;
        g = v.e->next;
    }
    return APR_SUCCESS;
}

/* Check queue q: a well-linked list of entries (each an allocated block
 * of *bits, cleared as met, so an entry met twice is caught) flagged for
 * q, whose count and bytes match its header; adds its length to *total. */
static apr_status_t check_queue(const sc_table_t *t, int q, bits_t *bits,
                                apr_uint64_t *total, char *why,
                                apr_size_t size)
{
    const sc_queues_sh_t *qs = &t->hdr->queues;
    apr_uint32_t g = qs->head[q], prev = 0;
    apr_uint64_t n = 0, bytes = 0, limit = max_entries(t);
    view_t v;

    while (g != 0) {
        if (++n > limit || !view(t, g, &v) || !bit_get(bits, G2B(g)))
            return fail(why, size, "eviction queue %" APR_UINT64_T_FMT
                        " reaches offset %" APR_UINT64_T_FMT ", which is not "
                        "an entry, or is queued twice", (apr_uint64_t)q,
                        G2B(g));
        bit_put(bits, G2B(g), 0);
        if (queue_of(v.e) != q || v.e->qprev != prev)
            return fail(why, size, "entry at offset %" APR_UINT64_T_FMT " is "
                        "on eviction queue %" APR_UINT64_T_FMT " with a wrong "
                        "flag or back link", G2B(g), (apr_uint64_t)q);
        bytes += entry_bytes(&v);
        prev = g;
        g = v.e->qnext;
    }
    if (qs->tail[q] != prev || qs->count[q] != n || qs->bytes[q] != bytes)
        return fail(why, size, "eviction queue %" APR_UINT64_T_FMT ": its tail, "
                    "count or bytes (%" APR_UINT64_T_FMT ") disagree with its "
                    "entries", (apr_uint64_t)q, n);
    *total += n;
    return APR_SUCCESS;
}

/* Every linked entry is on exactly one queue (the chains were checked:
 * the allocated blocks are exactly the linked entries). */
static apr_status_t check_queues(const sc_table_t *t, bits_t *bits,
                                 apr_uint64_t linked, char *why,
                                 apr_size_t size)
{
    apr_uint64_t allocated, queued = 0;
    apr_status_t rv = mark_allocated(t, bits, &allocated);

    if (rv == APR_SUCCESS)
        rv = check_queue(t, Q_SMALL, bits, &queued, why, size);
    if (rv == APR_SUCCESS)
        rv = check_queue(t, Q_MAIN, bits, &queued, why, size);
    if (rv == APR_SUCCESS && queued != linked)
        rv = fail(why, size, "%" APR_UINT64_T_FMT " entries are linked but %"
                  APR_UINT64_T_FMT " are on the eviction queues", linked,
                  queued);
    if (rv == APR_SUCCESS && !sc_evict_target_ok(t))
        rv = fail(why, size, "eviction queue target %" APR_UINT64_T_FMT
                  " bytes is outside probation's bounds (data region %"
                  APR_UINT64_T_FMT ")", t->hdr->queues.target,
                  t->data_hi - t->data_lo);
    return rv;
}

/* A cursor is 0 or the payload of an allocated block. */
static int cursor_ok(const sc_table_t *t, const bits_t *bits, apr_uint64_t c)
{
    return c == 0 || (c >= t->data_lo && c < t->data_hi && bit_get(bits, c));
}

apr_status_t sc_table_check_locked(const sc_table_t *t, char *why,
                                   apr_size_t why_size)
{
    bits_t bits;
    apr_uint64_t allocated = 0, linked = 0, b, hand = t->hdr->hand;
    apr_status_t rv;

    SC_ASSERT_READ(t);
    rv = sc_alloc_check_locked(&t->alloc, why, why_size);
    if (rv != APR_SUCCESS)
        return rv;
    if (!bits_make(&bits, t))
        return APR_ENOMEM;
    rv = mark_allocated(t, &bits, &allocated);
    if (rv != APR_SUCCESS) {
        fail(why, why_size, "allocator block chain is broken", 0, 0);
        goto done;
    }
    if (!cursor_ok(t, &bits, hand) || !cursor_ok(t, &bits, t->hdr->sweep)) {
        rv = fail(why, why_size, "eviction hand %" APR_UINT64_T_FMT " or sweep %"
                  APR_UINT64_T_FMT " is not on an allocated block", hand,
                  t->hdr->sweep);
        goto done;
    }
    for (b = 0; b <= t->mask && rv == APR_SUCCESS; b++)
        rv = check_chain(t, b, &bits, &linked, why, why_size);
    if (rv != APR_SUCCESS)
        goto done;
    if (linked != allocated)
        rv = fail(why, why_size, "%" APR_UINT64_T_FMT " blocks allocated but %"
                  APR_UINT64_T_FMT " entries linked (leaked blocks)",
                  allocated, linked);
    else if (linked != t->hdr->counters.items)
        rv = fail(why, why_size, "item count says %" APR_UINT64_T_FMT
                  " but %" APR_UINT64_T_FMT " entries are linked",
                  t->hdr->counters.items, linked);
    else
        rv = check_queues(t, &bits, linked, why, why_size);
done:
    free(bits.b);
    return rv;
}

/* Whether one of the first n entries of the chain starting at head (the
 * entries repair_chain has kept so far, a prefix it checked) has the
 * same key as v. At most n steps, whatever the links say now. */
static int dup_before(const sc_table_t *t, apr_uint32_t head, apr_uint64_t n,
                      const view_t *v)
{
    view_t w;

    while (n-- > 0 && head != 0 && view(t, head, &w)) {
        if (same_key(&w, v->e->tag, v->key, v->key_len,
                     v->e->flags & SC_ENTRY_LEASE))
            return 1;
        head = w.e->next;
    }
    return 0;
}

/* Whether the entry v at granule g may stay in bucket b: its block is an
 * allocated block not yet claimed by another chain position (*alloc),
 * holds the entry, and the key hashes to b with v's tag. */
static int keepable(const sc_table_t *t, apr_uint64_t b, apr_uint32_t g,
                    const view_t *v, const bits_t *alloc)
{
    apr_uint64_t h;

    if (!bit_get(alloc, G2B(g))
        || SC_ENTRY_HDR + v->key_len + v->value_len
               > sc_alloc_usable_locked(&t->alloc, G2B(g)))
        return 0;
    h = hash_key(t, v->key, v->key_len);
    return (h & t->mask) == b && v->e->tag == (apr_uint32_t)(h >> 32);
}

/* Repair one chain: cut it at the first bad link, unlink duplicates, and
 * move every kept entry's bit from *alloc to *live. An entry leaves
 * *alloc when it is kept or dropped as a duplicate, so reaching it again
 * (a cycle) cuts the chain there: at most one step per allocated block,
 * and never more than max_entries() in all. Returns the kept count. */
static apr_uint64_t repair_chain(sc_table_t *t, apr_uint64_t b, bits_t *alloc,
                                 bits_t *live)
{
    apr_uint32_t *link = &t->buckets[b];
    apr_uint64_t kept = 0, steps = 0, limit = max_entries(t);
    view_t v;

    for (;;) {
        apr_uint32_t g = *(volatile apr_uint32_t *)link;
        if (g == 0)
            break;
        if (++steps > limit || !view(t, g, &v) || !keepable(t, b, g, &v, alloc)) {
            *link = 0;
            break;
        }
        bit_put(alloc, G2B(g), 0);
        if (dup_before(t, t->buckets[b], kept, &v)) {
            *link = v.e->next;      /* unlinked; its block is freed later */
            continue;
        }
        bit_put(live, G2B(g), 1);
        kept++;
        link = &v.e->next;
    }
    return kept;
}

/* Put every entry of the (repaired) chains back on the queue its flag
 * names, after a writer died with the queues half-changed. Their order
 * on each queue is lost (bucket order), their frequency kept. */
static apr_status_t rebuild_queues(sc_table_t *t, apr_uint64_t kept)
{
    apr_uint64_t b, steps = 0;
    apr_status_t rv = APR_SUCCESS;
    view_t v;

    memset(&t->hdr->queues, 0, sizeof t->hdr->queues);
    for (b = 0; b <= t->mask && rv == APR_SUCCESS; b++) {
        apr_uint32_t g = t->buckets[b];
        while (g != 0 && rv == APR_SUCCESS) {
            if (++steps > kept || !view(t, g, &v))
                return SHMCACHE_ECORRUPT;
            rv = sc_evict_enqueue_locked(t, &v, queue_of(v.e));
            g = v.e->next;
        }
    }
    return rv;
}

static int is_live(void *baton, apr_uint64_t payload)
{
    return bit_get(baton, payload);
}

/* Rebuild the allocator from its block sizes (mending whatever a dead
 * writer's half-finished split or merge left in the back links and
 * lists), repair the chains, then rebuild again to free the blocks no
 * chain holds. APR_SUCCESS, APR_ENOMEM, or SHMCACHE_ECORRUPT when the
 * block sizes do not tile the data region. */
static apr_status_t try_repair(sc_table_t *t)
{
    bits_t alloc, live;
    apr_uint64_t allocated, kept = 0, b;
    apr_status_t rv;

    alloc.b = live.b = NULL;
    if (!bits_make(&alloc, t) || !bits_make(&live, t)) {
        rv = APR_ENOMEM;
        goto done;
    }
    rv = sc_alloc_rebuild_locked(&t->alloc, NULL, NULL);
    if (rv == APR_SUCCESS)
        rv = mark_allocated(t, &alloc, &allocated);
    if (rv != APR_SUCCESS)
        goto done;
    for (b = 0; b <= t->mask; b++)
        kept += repair_chain(t, b, &alloc, &live);
    rv = sc_alloc_rebuild_locked(&t->alloc, is_live, &live);
    if (rv != APR_SUCCESS)
        goto done;
    t->hdr->counters.items = kept;
    rv = rebuild_queues(t, kept);
    if (rv != APR_SUCCESS)
        goto done;
    if (!cursor_ok(t, &live, t->hdr->hand))
        t->hdr->hand = 0;
    if (!cursor_ok(t, &live, t->hdr->sweep))
        t->hdr->sweep = 0;
    rv = sc_table_check_locked(t, NULL, 0);
done:
    free(alloc.b);
    free(live.b);
    return rv;
}

sc_repair_t sc_table_repair_locked(sc_table_t *t)
{
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    if (sc_table_check_locked(t, NULL, 0) == APR_SUCCESS)
        return SC_REPAIR_NONE;
    rv = try_repair(t);
    if (rv == APR_SUCCESS) {
        t->hdr->counters.repairs++;
        return SC_REPAIR_MENDED;
    }
    if (rv == APR_ENOMEM)           /* no memory for the bitmaps: not the */
        return SC_REPAIR_NONE;      /* table's fault; nothing is lost */
    sc_table_init_locked(t);
    t->hdr->counters.resets++;
    return SC_REPAIR_EMPTIED;
}
