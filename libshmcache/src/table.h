/* SPDX-License-Identifier: Apache-2.0 */
/*
 * table.h - the hash table: hashing, buckets, entries, expiry, eviction,
 * verification and repair.
 *
 * Entries live in allocator blocks in the data region; the bucket array
 * holds the granule offset of each chain's first entry. Every change is
 * made so that a writer dying at any instant leaves chains that are
 * consistent: a new entry is filled completely before one aligned 32-bit
 * store links it in, and an old entry is unlinked (one store) before its
 * block is freed. What a dead writer can leave behind is a leaked block, a
 * stale counter, or an allocator half-way through a split or merge:
 * sc_table_repair_locked mends all three.
 *
 * An entry in the segment (8-byte aligned, in an allocator block):
 *
 *   0       4       8              16      20      24      28      32      36   38  39  40
 *   +-------+-------+--------------+-------+-------+-------+-------+-------+----+---+---+---
 *   | next  | tag   | version      |expires| stale |value_ | qprev | qnext |key_|frq|flg|key
 *   |granule|hash>>32               | (sec) | (sec) | len   |granule|granule|len |   |   |...
 *   +-------+-------+--------------+-------+-------+-------+-------+-------+----+---+---+---
 *                                                                   ... then value bytes
 *
 * expires is the hard expiry (the entry is gone after it); stale, when not
 * 0, the soft one: from then on the value is stale (served to all but one
 * caller while that one refreshes it, lease.c). An entry with
 * SC_ENTRY_LEASE in flags is a lease (lease.c), not a value: it shares its
 * key's chain, every lookup says which of the two it wants, and scans
 * skip leases.
 *
 * Eviction (S3-FIFO with an ARC-style adaptive probation share, adapted
 * to variable sizes and to readers that may not write shared lists):
 * every entry is on one of two FIFO queues, linked through qprev/qnext:
 * probation (new entries) and main (entries read while on probation, or
 * whose key the ghost remembers). A reader only raises the entry's
 * frequency byte (0..3, and only when it changes: a hot entry costs no
 * write at all). A store that needs room evicts from probation while
 * probation holds more than its target, else from main: probation's oldest
 * entry moves to main if it was read, else it goes; main's oldest is
 * reinserted with its frequency lowered if it was read, else it goes.
 * Every live entry evicted leaves its key in the ghost (one 32-bit word
 * per bucket in its own region: a tag, the queue, and that queue's
 * eviction count then). A new key the ghost remembers goes straight to
 * main when it is back soon enough: from probation within twice the
 * cache's entry count of probation evictions, from main within
 * probation's count of main evictions. Returns from probation within
 * main's count and those from main also steer probation's target (ARC's
 * rule: back from probation, probation was too small; back from main,
 * main was), a quarter step at a time, between 4% and 90% of the data
 * region, starting at 10%. Work per store is bounded (SC_MAX_SKIPS
 * moves). When the evictions free enough bytes but no contiguous block (a
 * large item, a fragmented region), the store evicts in address order
 * from the last victim on, so that victims coalesce: a large item finds
 * room in bounded work. Expired entries are reclaimed before anything is
 * evicted. Cost: 8 bytes per entry (the queue links) and 4 per bucket
 * (the ghost); 16 bytes in the header (target, clocks).
 *
 * Locking: *_locked functions need the segment lock: the read lock for
 * sc_table_get_locked, sc_table_find_locked, sc_table_scan_locked,
 * sc_table_stats_locked and sc_table_check_locked, the write lock for
 * everything else. "The read lock" also covers an optimistic pass of a
 * read-only handle (lock.h, sc_lock_pass_enter): such a caller holds no
 * lock, writes nothing, and keeps what it read only if the lock's
 * sequence did not move. Debug builds check the contract at the entry of
 * each *_locked function of table.c (SC_ASSERT_WRITE / SC_ASSERT_READ,
 * compiled out with NDEBUG) against the lock the handle bound to the
 * table (sc_table_t.lock). A table with no lock bound is one no other
 * process can reach: a segment being built by its creator, before it is
 * published, or a test's private table; nothing is checked for it.
 */
#ifndef SC_TABLE_H
#define SC_TABLE_H

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <apr.h>

#include "segment.h"

/* In the segment: an entry header; key and value bytes follow it. */
typedef struct sc_entry_sh_t {
    apr_uint32_t next;             /* next entry in the chain, 0 = end */
    apr_uint32_t tag;              /* high 32 bits of the key's hash */
    apr_uint64_t version;          /* for cas; unique per write */
    apr_uint32_t expires;          /* seconds since epoch, 0 = never */
    apr_uint32_t stale;            /* stale from then on, 0 = never */
    apr_uint32_t value_len;
    apr_uint32_t qprev, qnext;     /* neighbours on its eviction queue */
    uint16_t key_len;
    _Atomic uint8_t freq;          /* raised by readers, up to SC_FREQ_MAX;
                                      lowered by eviction */
    uint8_t flags;                 /* SC_ENTRY_* */
} sc_entry_sh_t;

#define SC_ENTRY_HDR 40u           /* bytes before the key */
#define SC_ENTRY_LEASE 0x01u       /* a lease, not a value (lease.c) */
#define SC_ENTRY_MAIN 0x02u        /* on the main queue, else probation */
#define SC_FREQ_MAX 3u

/* Process-local: the table as this process sees it. Configuration is
 * copied from the validated header at attach and never re-read, so a
 * corrupted header cannot steer accesses out of bounds. */
typedef struct sc_table_t {
    char *base;
    sc_header_sh_t *hdr;
    apr_uint32_t *buckets;
    apr_uint32_t *ghost;           /* nbuckets ghost words (evict.c) */
    sc_alloc_t alloc;              /* bound to the data region */
    apr_uint64_t data_lo, data_hi; /* data region, byte offsets */
    apr_uint64_t max_entries;      /* most entries the region can hold */
    unsigned ghost_shift;          /* sc_evict_ghost_shift(max_entries) */
    apr_uint64_t seed;
    apr_uint32_t mask;             /* nbuckets - 1 */
    apr_uint32_t max_key, max_value, default_ttl;
    apr_int64_t epoch;             /* seconds */
    const sc_lock_t *lock;         /* the handle's lock, for the debug
                                      checks of *_locked; NULL (set by
                                      sc_table_bind) for a table no other
                                      process can reach */
} sc_table_t;

/* The _locked contracts, checked in debug builds (see Locking above). */
#ifdef NDEBUG
#define SC_ASSERT_WRITE(t) ((void)0)
#define SC_ASSERT_READ(t) ((void)0)
#else
#define SC_ASSERT_WRITE(t) \
    assert((t)->lock == NULL || sc_lock_holds_write((t)->lock))
#define SC_ASSERT_READ(t) \
    assert((t)->lock == NULL || sc_lock_holds_read((t)->lock))
#endif

/* How a store treats an existing entry. */
typedef enum sc_store_mode_t {
    SC_STORE_SET, SC_STORE_ADD, SC_STORE_REPLACE, SC_STORE_CAS
} sc_store_mode_t;

/* One store request. expires is absolute (seconds since epoch, from
 * sc_table_expiry), 0 = never. */
typedef struct sc_store_t {
    sc_store_mode_t mode;
    const void *key;
    apr_size_t key_len;
    const void *value;
    apr_size_t value_len;
    apr_uint32_t expires;
    apr_uint32_t stale;            /* soft expiry, 0 = never stale */
    apr_uint64_t expected;         /* SC_STORE_CAS only */
    unsigned flags;                /* 0 for a value, SC_ENTRY_LEASE */
} sc_store_t;

/* A found entry (pointers into the segment, valid while the lock is
 * held). */
typedef struct sc_found_t {
    const sc_entry_sh_t *entry;
    const char *value;
    apr_uint32_t value_len;
    unsigned freq;                 /* the entry's frequency byte, as read */
    int stale;                     /* past its soft expiry */
} sc_found_t;

/* Bind t to a validated segment, from its validated header copy
 * (seg->cfg), with no lock bound (t->lock NULL: the caller sets it when
 * the segment is or will be shared). Writes nothing. Returns APR_SUCCESS
 * or SHMCACHE_ECORRUPT (a data region the allocator cannot manage). */
apr_status_t sc_table_bind(sc_table_t *t, sc_segment_t *seg);

/* Lay out an empty table in a segment that its creator is still building
 * (state INIT, not yet published at its path): no other process can
 * reach it and no lock exists yet, so none is held or needed. t must
 * have no lock bound. */
apr_status_t sc_table_init_unpublished(sc_table_t *t);

/* Empty the table: clear every bucket, make the data region one free
 * block, zero the item count and the hand (flush, and a repair that
 * must reset). Needs the write lock. */
apr_status_t sc_table_init_locked(sc_table_t *t);

/* Seconds since the epoch now (>= 1). */
apr_uint32_t sc_table_now(const sc_table_t *t);

/* Absolute expiry for ttl (SHMCACHE_TTL_DEFAULT, SHMCACHE_TTL_FOREVER or
 * seconds) at now. Returns SHMCACHE_ETTL above SHMCACHE_TTL_MAX. */
apr_status_t sc_table_expiry(const sc_table_t *t, apr_uint32_t ttl,
                             apr_uint32_t now, apr_uint32_t *expires);

/* Check key and value lengths against the limits: SHMCACHE_EKEYLEN,
 * SHMCACHE_EVALLEN or APR_SUCCESS. */
apr_status_t sc_table_check_sizes(const sc_table_t *t, apr_size_t key_len,
                                  apr_size_t value_len);

/* Find a live (unexpired) entry; raise its frequency when mark is set.
 * Returns APR_SUCCESS, SHMCACHE_NOTFOUND or SHMCACHE_ECORRUPT. */
apr_status_t sc_table_get_locked(const sc_table_t *t, const void *key,
                                 apr_size_t key_len, apr_uint32_t now,
                                 int mark, sc_found_t *found);

/* Find the live entry of key with the given flags (0: a value,
 * SC_ENTRY_LEASE: a lease), writing nothing. Returns APR_SUCCESS,
 * SHMCACHE_NOTFOUND or SHMCACHE_ECORRUPT. */
apr_status_t sc_table_find_locked(const sc_table_t *t, const void *key,
                                  apr_size_t key_len, unsigned flags,
                                  apr_uint32_t now, sc_found_t *found);

/* As sc_table_get_locked without marking, and writing nothing: for an
 * optimistic read (lock.h), which holds no lock. What it finds may be
 * torn by a concurrent writer (even SHMCACHE_ECORRUPT may be a false
 * alarm): the caller uses it only once sc_lock_seq_valid says no writer
 * ran. Every offset is bounds-checked as in a locked lookup, so a torn
 * read never leaves the data region. */
apr_status_t sc_table_peek(const sc_table_t *t, const void *key,
                           apr_size_t key_len, apr_uint32_t now,
                           sc_found_t *found);

/* Fill meta from a found entry whose value is value_len bytes (the
 * length as checked when the entry was found, not read again). */
void sc_table_meta(const sc_table_t *t, const sc_entry_sh_t *e,
                   apr_uint32_t value_len, apr_uint32_t now,
                   shmcache_meta_t *meta);

/* Store per op (evicting as needed); *version gets the new version.
 * Returns APR_SUCCESS; SHMCACHE_EXISTS, SHMCACHE_NOTFOUND,
 * SHMCACHE_EMISMATCH per mode; SHMCACHE_ENOMEM when the item cannot fit
 * even after evicting; SHMCACHE_ECORRUPT. */
apr_status_t sc_table_store_locked(sc_table_t *t, const sc_store_t *op,
                                   apr_uint32_t now, apr_uint64_t *version);

/* Remove key's value (flags 0) or lease (SC_ENTRY_LEASE): APR_SUCCESS,
 * SHMCACHE_NOTFOUND (also for an expired one, which is reclaimed) or
 * SHMCACHE_ECORRUPT. Only values count as deletes in the counters. */
apr_status_t sc_table_delete_locked(sc_table_t *t, const void *key,
                                    apr_size_t key_len, unsigned flags,
                                    apr_uint32_t now);

/* incr as shmcache_incr documents; expires is used only when creating. */
apr_status_t sc_table_incr_locked(sc_table_t *t, const void *key,
                                  apr_size_t key_len, apr_int64_t delta,
                                  const apr_uint64_t *initial,
                                  apr_uint32_t expires, apr_uint32_t now,
                                  apr_uint64_t *result);

/* Set a live entry's expiry in place (one aligned store).
 * Returns APR_SUCCESS, SHMCACHE_NOTFOUND or SHMCACHE_ECORRUPT. */
apr_status_t sc_table_touch_locked(sc_table_t *t, const void *key,
                                   apr_size_t key_len, apr_uint32_t expires,
                                   apr_uint32_t now);

/* Copy-out callback of sc_table_scan_locked: called with the lock held for
 * each live entry, with its key and value bytes and their lengths as
 * checked against the data region (use only these, never e's own length
 * fields: another process may change them at any instant); must only
 * copy. Non-zero stops the scan. */
typedef int (sc_table_copy_fn)(void *baton, const sc_entry_sh_t *e,
                               const char *key, apr_uint32_t key_len,
                               const char *value, apr_uint32_t value_len,
                               apr_uint32_t now);

/* Call fn for the live values (never leases) of buckets [*cursor, *cursor + max), and
 * advance *cursor (0 when the end is reached). Returns APR_SUCCESS,
 * SHMCACHE_ECORRUPT, or fn's non-zero value (cast) when fn stopped. */
apr_status_t sc_table_scan_locked(const sc_table_t *t, apr_uint32_t *cursor,
                                  apr_uint32_t max, apr_uint32_t now,
                                  sc_table_copy_fn *fn, void *baton);

/* Contents figures and the header's counters (items, allocator bytes,
 * longest chain, operation and recovery counts). */
void sc_table_stats_locked(const sc_table_t *t, shmcache_stats_t *st);

/* Verify every invariant of the table and the allocator; describe the
 * first problem in why. Returns APR_SUCCESS or SHMCACHE_ECORRUPT. */
apr_status_t sc_table_check_locked(const sc_table_t *t, char *why,
                                   apr_size_t why_size);

/* After a writer died holding the lock, or an operation met corruption:
 * if sc_table_check_locked finds anything, rebuild the allocator from its
 * block sizes (which every writer keeps walkable at every instant), then
 * drop chain links that are out of bounds, entries that are damaged or
 * duplicated, free leaked blocks and rebuild the allocator's lists, back
 * links and the counters. Only when the block sizes themselves do not
 * tile the data region (damage no writer leaves: tampering, a bug) is the
 * table emptied (sc_table_init_locked). Counts the outcome in the header
 * (repairs or resets). Every walk is bounded by the entries the region
 * can hold. Always leaves a table that passes sc_table_check_locked
 * unless another process keeps changing the segment meanwhile. */
typedef enum sc_repair_t {
    SC_REPAIR_NONE, SC_REPAIR_MENDED, SC_REPAIR_EMPTIED
} sc_repair_t;
sc_repair_t sc_table_repair_locked(sc_table_t *t);

/* Empty the table (sc_table_init_locked) and count a flush. */
apr_status_t sc_table_flush_locked(sc_table_t *t);

#endif /* SC_TABLE_H */
