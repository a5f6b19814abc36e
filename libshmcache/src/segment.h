/* SPDX-License-Identifier: Apache-2.0 */
/*
 * segment.h - the segment: a file mapped by every process, its header and
 * its layout; create, attach, validate, remove.
 *
 * The segment is a regular file (on a memory filesystem such as /dev/shm)
 * mapped shared with apr_mmap. A file, not apr_shm: with apr_shm's
 * name-based backend nothing appears at the path, a relative path names
 * another segment, and its permissions cannot be set, whereas a file gives
 * full control of the path, owner and mode.
 *
 * Layout (byte offsets from the base; every region starts on a 64-byte
 * line, the data region on a page):
 *
 *   0            4096                                                         size
 *   +------------+-----------+---------------+-----------+--------------+---------+
 *   | header     | lock      | bucket array  | ghost     | allocator    | data    |
 *   | sc_header_ | sc_lock_  | nbuckets x    | nbuckets x| sc_alloc_sh_t| entries |
 *   | sh_t       | sh_t +    | uint32 granule| uint32    | (TLSF lists) | (blocks)|
 *   |            | slots[N]  | offsets       | key tags  |              |         |
 *   +------------+-----------+---------------+-----------+--------------+---------+
 *   lock_off     buckets_off    ghost_off     alloc_off      data_off
 *
 * The ghost is the eviction policy's memory of keys recently evicted
 * (evict.c): one 32-bit word per slot, a key tag, the queue the key left
 * and when.
 *
 * Creation is race-free and never exposes a half-built segment: the
 * creator builds and initialises the whole segment in a file of its own,
 * PATH.init.PID (exclusive, mode set exactly, memory reserved), marks it
 * READY, and only then publishes it at PATH with sc_os_file_publish, which
 * fails if anything is already there. Exactly one of several racing
 * creators wins; the others attach to the winner's segment. A creator that
 * dies half-way leaves only its PATH.init.PID file, which the next creator
 * detects (the pid is dead) and removes. An attacher therefore only ever
 * sees complete segments, and still validates every header field.
 */
#ifndef SC_SEGMENT_H
#define SC_SEGMENT_H

#include <stdatomic.h>
#include <stdint.h>
#include <apr_file_io.h>
#include <apr_mmap.h>
#include <apr_pools.h>

#include "shmcache.h"
#include "alloc.h"
#include "lock.h"

#define SC_MAGIC          "SHMCACHE"   /* 8 bytes, no NUL */
#define SC_FORMAT_VERSION 4u   /* 2: the lock's sequence word (optimistic
                                  reads); 3: entries carry a soft expiry,
                                  leases and queue links; the ghost region,
                                  the queues, lease counters; 4: ghost
                                  words carry a queue and an age,
                                  probation's target and the queue clocks */
#define SC_HEADER_SIZE    4096u

#define SC_STATE_INIT  0x494E4954u     /* "INIT": being initialised */
#define SC_STATE_READY 0x52454459u     /* "REDY": usable */

/* In the segment: counters written under the write lock. */
typedef struct sc_counters_sh_t {
    apr_uint64_t items;            /* entries in the table */
    apr_uint64_t version;          /* last version handed out */
    apr_uint64_t sets, adds, replaces, cas_ops, deletes, incrs, touches;
    apr_uint64_t set_failures, evictions, expirations, flushes;
    apr_uint64_t repairs, resets;
    /* leases (lease.c) */
    apr_uint64_t leases_granted;   /* leases handed to a caller */
    apr_uint64_t lease_waits;      /* calls that waited for another's lease */
    apr_uint64_t lease_timeouts;   /* of those, gave up at their wait limit */
    apr_uint64_t stale_answers;    /* stale values served during a refresh */
    apr_uint64_t leases_dead;      /* leases taken from a dead holder */
    apr_uint64_t longest_chain;    /* longest chain an insert has built since
                                      creation or the last flush */
} sc_counters_sh_t;

/* In the segment: the eviction policy's two FIFO queues (evict.c): [0]
 * probation (new entries), [1] main (entries that proved themselves), and
 * what adapts probation's share.
 * Entries link through their qprev/qnext granules; head is the newest. */
typedef struct sc_queues_sh_t {
    apr_uint32_t head[2], tail[2]; /* entry granules, 0 = empty */
    apr_uint64_t bytes[2];         /* entry bytes on each */
    apr_uint64_t count[2];
    apr_uint64_t target;           /* bytes probation may hold before main
                                      gives up entries (adapted by ghost
                                      hits), 0 = the initial tenth */
    apr_uint32_t clock[2];         /* live entries evicted from each queue
                                      so far: the ghost's ages */
} sc_queues_sh_t;

/* In the segment: the header, at offset 0. */
typedef struct sc_header_sh_t {
    char magic[8];                 /* SC_MAGIC */
    apr_uint32_t format;           /* SC_FORMAT_VERSION */
    apr_uint32_t layout;           /* layout word of the build (segment.c) */
    _Atomic uint32_t state;        /* SC_STATE_* */
    apr_uint32_t pad0;
    apr_uint64_t size;             /* total bytes, == file length */
    apr_uint64_t seed;             /* XXH3 seed, random per segment */
    apr_int64_t created;           /* apr_time_t of creation */
    apr_int64_t epoch;             /* seconds: expiries count from here */
    /* regions: byte offsets and sizes */
    apr_uint64_t lock_off, lock_size;
    apr_uint64_t buckets_off, buckets_size;
    apr_uint64_t ghost_off, ghost_size;
    apr_uint64_t alloc_off, alloc_size;
    apr_uint64_t data_off, data_size;
    /* configuration fixed at creation */
    apr_uint32_t nbuckets;         /* power of two */
    apr_uint32_t nslots;
    apr_uint32_t max_key;
    apr_uint32_t max_value;
    apr_uint32_t default_ttl;
    apr_uint32_t pad1;
    sc_counters_sh_t counters;
    apr_uint64_t hand;             /* address sweep for room: a payload offset */
    apr_uint64_t sweep;            /* expiry sweep cursor: a payload offset */
    sc_queues_sh_t queues;         /* the eviction queues (evict.c) */
} sc_header_sh_t;

/* Process-local: one mapping of a segment.
 *
 * The rule for everything read from the segment (any process that can
 * open the file can change any byte of it at any instant, also while
 * another process is inside an operation): a value that decides an
 * address, a length, a count, a loop bound or a branch is loaded once
 * into a local, checked, and only the checked local is used afterwards;
 * every loop over segment data has a bound derived from checked locals.
 * For the header that local is cfg: a copy taken once at attach (or the
 * creator's own plan) and validated; the layout and the configuration
 * (region offsets, sizes, slot and bucket counts, limits, seed, epoch)
 * are only ever read from cfg. The live header (hdr) is used only for the
 * counters and the eviction cursors, which the table checks at each use.
 * alloc.c, table.c and lock.c follow the same rule for their regions. */
typedef struct sc_segment_t {
    apr_pool_t *pool;              /* owns file, mmap, this struct */
    apr_file_t *file;
    apr_mmap_t *mmap;
    char *base;                    /* mapping address */
    apr_uint64_t size;             /* mapped bytes */
    sc_header_sh_t *hdr;           /* the live header (== base) */
    sc_header_sh_t cfg;            /* its validated copy (see above) */
    const char *path;
    int read_only;                 /* mapped (and opened) for reading only */
} sc_segment_t;

/* The regions of a validated segment, at the offsets of its header copy
 * (seg->cfg): the one place that turns an offset into an address. */
static inline void *sc_segment_region(const sc_segment_t *seg,
                                      apr_uint64_t off)
{
    return seg->base + (apr_size_t)off;
}

static inline sc_lock_sh_t *sc_segment_lock(const sc_segment_t *seg)
{
    return (sc_lock_sh_t *)sc_segment_region(seg, seg->cfg.lock_off);
}

static inline apr_uint32_t *sc_segment_buckets(const sc_segment_t *seg)
{
    return (apr_uint32_t *)sc_segment_region(seg, seg->cfg.buckets_off);
}

static inline apr_uint32_t *sc_segment_ghost(const sc_segment_t *seg)
{
    return (apr_uint32_t *)sc_segment_region(seg, seg->cfg.ghost_off);
}

static inline sc_alloc_sh_t *sc_segment_alloc(const sc_segment_t *seg)
{
    return (sc_alloc_sh_t *)sc_segment_region(seg, seg->cfg.alloc_off);
}

/* Build a segment for opts in PATH.init.PID: reserve and map it, write the
 * planned header in state INIT, call init(baton, seg) to lay out the
 * regions, mark it READY and publish it at path. Returns APR_EEXIST when
 * something is already at path; on any failure nothing is left behind. */
typedef apr_status_t (sc_segment_init_fn)(void *baton, sc_segment_t *seg);
apr_status_t sc_segment_create(sc_segment_t **seg, const char *path,
                               const shmcache_options_t *opts,
                               sc_segment_init_fn *init, void *baton,
                               apr_pool_t *pool);

/* Attach to the file at path and validate its header (magic, format,
 * layout, state, sizes, region bounds) before anything else reads it.
 * With opts->read_only the file is opened and mapped for reading only
 * (seg->read_only; any store into the mapping faults) and its owner is
 * not checked. Returns APR_ENOENT, SHMCACHE_ENOTCACHE, SHMCACHE_EFORMAT,
 * SHMCACHE_ELAYOUT, SHMCACHE_ECORRUPT, SHMCACHE_EOWNER or an OS status
 * (APR_EACCES: the caller may not open it that way). */
apr_status_t sc_segment_attach(sc_segment_t **seg, const char *path,
                               const shmcache_options_t *opts,
                               apr_pool_t *pool);

/* Remove the segment file's name (sc_os_file_remove): processes attached
 * keep working, and a new segment can be created at path at once. */
apr_status_t sc_segment_remove(const char *path, apr_pool_t *pool);

/* Check that the file at path is a valid shmcache segment (as attach
 * validates it) and count the live processes attached to it (attached may
 * be NULL; it is 0 unless APR_SUCCESS). Returns APR_SUCCESS, or the
 * status attach would give (SHMCACHE_ENOTCACHE, SHMCACHE_EFORMAT,
 * SHMCACHE_ELAYOUT, SHMCACHE_ECORRUPT, an OS status): a segment that fails
 * validation is reported as such, never as one with 0 processes. */
apr_status_t sc_segment_probe(const char *path, apr_uint32_t *attached,
                              apr_pool_t *pool);

/* Set the file's permission bits (unless perms is (apr_fileperms_t)-1)
 * and owner ((apr_uid_t)-1 / (apr_gid_t)-1 keep them) through the
 * descriptor opened at attach or create, never by path. Returns
 * APR_SUCCESS, APR_EBADF after sc_segment_file_close, SHMCACHE_EREADONLY
 * for a read-only attach, APR_ENOTIMPL on Windows, or an OS status. */
apr_status_t sc_segment_perms_set(sc_segment_t *seg, apr_fileperms_t perms,
                                  apr_uid_t uid, apr_gid_t gid);

/* Close the descriptor of the file; the mapping stays. Idempotent. */
apr_status_t sc_segment_file_close(sc_segment_t *seg);

/* Unmap and close (destroys seg->pool). */
void sc_segment_detach(sc_segment_t *seg);

#endif /* SC_SEGMENT_H */
