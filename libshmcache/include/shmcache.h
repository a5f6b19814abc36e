/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shmcache.h - a key-value cache that lives in a named shared-memory segment.
 *
 * This header is the complete reference for the library.
 *
 * One hash table lives entirely inside a segment that is named by a
 * filesystem path. Any process that can open the path can attach, whether
 * or not it is related to the creator; each process may map the segment at a
 * different address, so the segment holds offsets, never pointers. Memory
 * inside the segment comes from an O(1) two-level segregated-fit allocator
 * that also lives in the segment. One reader/writer lock, also in the
 * segment, guards the table: many readers at once, one writer, writers are
 * not starved, and a process that dies while holding the lock is detected
 * and recovered from (see Caveats). Gets usually take no lock at all: they
 * read optimistically and check that no writer ran meanwhile (see
 * Reading), so they neither wait for each other nor write shared memory.
 * Leases (below) let one caller compute a missing value while the others
 * wait or are served the stale one. A second tier on memcached or Redis,
 * for several machines, is in shmcache_tier.h (library shmcache_tier, which
 * needs APR-util; this one does not).
 *
 * Conventions
 * -----------
 * - Every function returns an apr_status_t: APR_SUCCESS, one of the library
 *   codes below, or an APR / OS code passed through from the failed call.
 *   shmcache_strerror() explains any of them.
 * - A miss is a normal status (SHMCACHE_NOTFOUND), not an error.
 * - The library never logs, never aborts and never exits. It never keeps a
 *   pointer into caller memory after a call returns.
 * - Keys and values are binary-safe byte strings (NUL bytes allowed).
 * - A shmcache_t may be shared by all threads of one process. It must not
 *   be used by a child after fork(): the child attaches its own handle
 *   (the library detects the misuse and re-registers the child; see Caveats).
 * - TTLs are whole seconds. SHMCACHE_TTL_DEFAULT (0) means "the cache's
 *   default TTL", SHMCACHE_TTL_FOREVER means "never expires", anything else
 *   up to SHMCACHE_TTL_MAX is a number of seconds from now.
 *
 * Parameters and statuses every function shares
 * ---------------------------------------------
 * - cache (in): a handle from shmcache_create, shmcache_attach or
 *   shmcache_open that has not been closed (and whose pool still lives).
 *   NULL or a closed handle gives SHMCACHE_EINVAL.
 * - key, key_len (in): the key's bytes (read during the call only, never
 *   kept) and their number, 1..max_key of the cache. key NULL gives
 *   SHMCACHE_EINVAL; key_len 0 or above max_key SHMCACHE_EKEYLEN.
 * - value, value_len (in, for stores): the value's bytes (read during the
 *   call only) and their number, 0..max_value (SHMCACHE_EVALLEN above).
 *   value may be NULL only when value_len is 0.
 * - Out parameters marked "(may be NULL)" are skipped when NULL; the
 *   others must not be NULL (SHMCACHE_EINVAL). An out parameter is only
 *   meaningful after APR_SUCCESS unless its description says otherwise.
 * - pool (in, for calls that return memory): what is returned is
 *   allocated from it and lives as long as it does; the library keeps no
 *   reference to it after the call.
 * - Any call that takes the lock can also return SHMCACHE_ETIMEDOUT (a
 *   live holder kept it too long; nothing was done), SHMCACHE_ECORRUPT
 *   (the segment's contents are inconsistent: a write repairs them before
 *   it returns) and, in a child process that forked with the handle and
 *   finds every process slot taken, SHMCACHE_ESLOTS.
 * - On a read-only handle (options.read_only) every call that writes
 *   returns SHMCACHE_EREADONLY, and reads can return SHMCACHE_EBUSY,
 *   SHMCACHE_EABANDONED or SHMCACHE_ETIMEDOUT (see Read-only handles).
 *
 * Minimal example
 * ---------------
 *     apr_pool_t *pool;  shmcache_t *c;  shmcache_options_t o;
 *     void *v;  apr_size_t vlen;
 *     apr_initialize();  apr_pool_create(&pool, NULL);
 *     shmcache_options_init(&o);  o.size = 64 << 20;
 *     if (shmcache_open(&c, "/dev/shm/app.cache", &o, pool) != APR_SUCCESS) ...
 *     shmcache_set(c, "k", 1, "hello", 5, 60, NULL);
 *     if (shmcache_get(c, "k", 1, &v, &vlen, NULL, pool) == APR_SUCCESS) ...
 *     shmcache_close(c);
 *
 * Caveats
 * -------
 * - Put the segment on a memory filesystem (/dev/shm on Linux). A file on a
 *   disk works but the kernel writes dirty pages back to the disk.
 * - Memory is reserved when the segment is created (posix_fallocate); on a
 *   filesystem that cannot reserve, pages may still be missing later. On
 *   a memory filesystem (Linux tmpfs) create also refuses
 *   (SHMCACHE_ERESERVE) a size above the memory plus swap available at
 *   that moment, since a tmpfs may be larger than the RAM behind it; the
 *   check is not a reservation against other programs' later use.
 * - Expiry has whole-second granularity: an entry set with ttl N lives
 *   between N and N+1 seconds; meta.ttl counts the whole seconds left.
 * - Expiry uses the wall clock (apr_time_now); a clock step moves every
 *   expiry with it.
 * - Liveness of lock holders is judged by process id plus process start
 *   time. Processes in different pid namespaces (containers) sharing one
 *   segment cannot see each other's pids: a live holder in another
 *   namespace may look dead and have its lock taken over, or a dead one may
 *   look alive. Share a segment only within one pid namespace.
 * - A process that is stopped (SIGSTOP, a debugger) while holding the lock
 *   is alive: the others wait for it and never steal the lock from a live
 *   process. Every call that takes the lock returns SHMCACHE_ETIMEDOUT at
 *   the latest 10 x lock_timeout_ms after it first had to wait, however
 *   the holders change meanwhile. A dead holder (killed, crashed) is seen
 *   within milliseconds: a waiter checks the liveness of the holders it
 *   waits on right after a short spin and then every 2 ms, and takes the
 *   lock over; the caller that took over a dead writer's lock repairs the
 *   table and finishes its own call before anyone else gets in.
 * - Trust: every process that can write the segment file can change any
 *   byte of the segment at any instant. The library reads each value that
 *   decides an address, a length, a count or a loop bound once, checks
 *   it, and uses only the checked copy, so a hostile or buggy writer can
 *   make calls of other processes fail (SHMCACHE_ECORRUPT, repaired by the
 *   next write) or wait up to their deadline, and can change or destroy
 *   cached data, but cannot make them read or write outside the mapping,
 *   loop without bound, or signal a process. Give write access only to
 *   processes you would trust with the cached data.
 * - Truncation: a process that truncates the segment file makes every
 *   process that touches a page past the new end receive SIGBUS (the OS
 *   delivers it; a library cannot check the file's size before every
 *   access at an acceptable cost). Programs that attach segments that
 *   others can write should catch SIGBUS around their cache calls, as
 *   shmcache-cli and mod_shmcache's parent do, or not share write access.
 * - A killed process that its parent has not reaped (a zombie) counts as
 *   dead: it holds nothing and its pid cannot be reused until reaped.
 * - No lock upgrade: a thread must not call into the cache from inside an
 *   iterate callback on the same handle if that call writes; iterate copies
 *   entries out and calls back with the lock released, so reads are fine.
 * - A segment has a fixed size and a fixed bucket count, set at creation.
 *   Moving to another size means a new segment (shmcache-cli dump/load).
 * - The on-segment format is tied to the build: a library built with
 *   another format version or struct layout refuses to attach
 *   (SHMCACHE_EFORMAT, SHMCACHE_ELAYOUT).
 */
#ifndef SHMCACHE_H
#define SHMCACHE_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_file_info.h>
#include <apr_time.h>

#include "shmcache_status.h"   /* SHMCACHE_DECLARE, the status codes,
                                  shmcache_strerror */

#ifdef __cplusplus
extern "C" {
#endif

#define SHMCACHE_VERSION_MAJOR 0
#define SHMCACHE_VERSION_MINOR 1
#define SHMCACHE_VERSION_PATCH 0
#define SHMCACHE_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------
 * Limits and constants
 * ---------------------------------------------------------------------- */
#define SHMCACHE_TTL_DEFAULT   0u           /**< use the cache's default */
#define SHMCACHE_TTL_FOREVER   0xFFFFFFFFu  /**< never expires */
#define SHMCACHE_TTL_MAX       (10u * 366u * 24u * 3600u) /**< ~10 years */

#define SHMCACHE_DEFAULT_MAX_KEY     250u
#define SHMCACHE_LIMIT_MAX_KEY       65535u
#define SHMCACHE_DEFAULT_MAX_VALUE   (1024u * 1024u)
#define SHMCACHE_DEFAULT_SIZE        (64u * 1024u * 1024u)
#define SHMCACHE_MIN_SIZE            (256u * 1024u)
/** Largest segment the format can address (offsets are 32-bit counts of
 *  8-byte granules). */
#define SHMCACHE_LIMIT_SIZE          ((apr_uint64_t)32 << 30)
#define SHMCACHE_DEFAULT_SLOTS       256u
#define SHMCACHE_LIMIT_SLOTS         4096u
#define SHMCACHE_DEFAULT_LOCK_TIMEOUT_MS   1000u
#define SHMCACHE_DEFAULT_MODE        (APR_FPROT_UREAD | APR_FPROT_UWRITE)

/* ------------------------------------------------------------------------
 * Types
 * ---------------------------------------------------------------------- */

/** Opaque process-local handle on an attached segment. */
typedef struct shmcache_t shmcache_t;

/** Options for create / attach / open. Always start from
 *  shmcache_options_init(); fields added later default sensibly. Fields
 *  marked (create) are stored in the segment at creation and ignored by an
 *  attach; fields marked (handle) apply to this process's handle only. */
typedef struct shmcache_options_t {
    apr_uint64_t size;          /**< (create) total segment bytes,
                                     SHMCACHE_MIN_SIZE..SHMCACHE_LIMIT_SIZE */
    apr_uint32_t buckets;       /**< (create) hash buckets, rounded up to a
                                     power of two; 0 = size / 256 */
    apr_uint32_t max_key;       /**< (create) longest key, 1..65535 */
    apr_uint32_t max_value;     /**< (create) longest value */
    apr_uint32_t default_ttl;   /**< (create) TTL for SHMCACHE_TTL_DEFAULT,
                                     0 = never expires */
    apr_uint32_t slots;         /**< (create) process slots (attached
                                     handles at once), 8..4096 */
    apr_fileperms_t mode;       /**< (create) file mode, default 0600 */
    int set_owner;              /**< (create) chown the file to owner/group */
    apr_uid_t owner;            /**< (create) with set_owner, -1 = keep */
    apr_gid_t group;            /**< (create) with set_owner, -1 = keep */
    apr_uint32_t lock_timeout_ms;   /**< (handle) patience with live lock
                                     holders: a call gives up with
                                     SHMCACHE_ETIMEDOUT 10 x this after it
                                     first waited; default 1000 (dead
                                     holders are seen within milliseconds) */
    int allow_foreign_owner;    /**< (handle) attach to a file owned by
                                     another (non-root) user (not needed
                                     with read_only) */
    int read_only;              /**< (handle) attach for reading only; see
                                     Read-only handles below */
} shmcache_options_t;

/* ------------------------------------------------------------------------
 * Read-only handles
 *
 * With options.read_only set, shmcache_attach (and shmcache_open, which
 * then never creates) opens the segment file for reading only (O_RDONLY;
 * GENERIC_READ on Windows) and maps it read-only, so read permission on
 * the file is enough: a monitoring user with mode 0640 and the group, or
 * root inspecting a cache owned by another user. Such a handle
 *
 * - writes nothing to the segment, ever: it takes no process slot (it is
 *   not counted in stats.attached, and SHMCACHE_ESLOTS cannot happen),
 *   raises no entry's read frequency (eviction does not see its reads),
 *   and counts no hit or miss in the segment (stats.hits and misses are
 *   the writers' handles' only);
 * - needs no allow_foreign_owner for a file owned by another user: a
 *   reader that cannot write trusts nothing it reads (every value read
 *   from the segment is checked, as for any handle);
 * - reads only optimistically: shmcache_get, shmcache_get_buf,
 *   shmcache_get_meta, shmcache_stats, shmcache_scan, shmcache_iterate and
 *   shmcache_check note the lock's write sequence, read and copy what they
 *   need, and keep it only if no writer ran meanwhile; otherwise they try
 *   again, up to 64 times (5 for check, which walks the whole table each
 *   time) and then return SHMCACHE_EBUSY. A writer that is in the middle
 *   of a change is waited for (polling) for at most lock_timeout_ms over
 *   the whole call (SHMCACHE_ETIMEDOUT); a writer that died in the middle
 *   of one, which only a writable handle can recover, is reported at once
 *   (within milliseconds) as SHMCACHE_EABANDONED;
 * - refuses every call that would write (shmcache_set, add, replace, cas,
 *   delete, incr, touch, flush, lease_get, lease_set, lease_release,
 *   get_or_compute, repair, perms_set) with SHMCACHE_EREADONLY, before
 *   touching anything. shmcache_create refuses read_only with
 *   SHMCACHE_EREADONLY.
 *
 * A read-only handle cannot repair what it finds (check reports damage;
 * repair needs a writable handle). Like any process that maps the file,
 * it receives SIGBUS if the file is truncated under it (see Caveats).
 * ---------------------------------------------------------------------- */

/** Metadata of one entry, filled by the get functions when asked for. */
typedef struct shmcache_meta_t {
    apr_uint64_t version;       /**< changes on every write; for cas */
    apr_time_t expires;         /**< absolute expiry, 0 = never */
    apr_uint32_t ttl;           /**< seconds left, SHMCACHE_TTL_FOREVER if
                                     never expires */
    apr_size_t value_len;       /**< length of the stored value */
    int stale;                  /**< past its soft expiry (see the lease
                                     functions); 0 for entries stored
                                     without one */
} shmcache_meta_t;

/** Figures returned by shmcache_stats. Counters are totals since creation
 *  (including processes that have detached). */
typedef struct shmcache_stats_t {
    /* configuration */
    apr_uint64_t size;              /**< segment bytes */
    apr_uint64_t data_size;         /**< bytes of the data region */
    apr_uint32_t buckets;
    apr_uint32_t slots;
    apr_uint32_t max_key;
    apr_uint32_t max_value;
    apr_uint32_t default_ttl;
    apr_time_t created;             /**< creation time */
    apr_uint32_t format;            /**< on-segment format version */
    apr_uint32_t layout;            /**< layout word (struct sizes) of the
                                         build that made the segment */
    apr_uint64_t lock_offset;       /**< region offsets from the segment */
    apr_uint64_t buckets_offset;    /**< start, in the order of the layout: */
    apr_uint64_t alloc_offset;      /**< header | lock | buckets | */
    apr_uint64_t data_offset;       /**< allocator | data */
    /* contents */
    apr_uint64_t items;             /**< live + not yet reclaimed expired */
    apr_uint64_t bytes_used;        /**< allocator bytes in use (entries) */
    apr_uint64_t bytes_free;        /**< allocator bytes free */
    apr_uint64_t largest_free;      /**< largest free block */
    apr_uint64_t free_blocks;       /**< number of free blocks */
    double fragmentation;           /**< 1 - largest_free / bytes_free, 0..1 */
    apr_uint32_t longest_chain;     /**< longest bucket chain any insert has
                                         built since creation or the last
                                         flush (a high-water mark, so a hash
                                         flood shows even after it ends) */
    /* operations */
    apr_uint64_t gets, hits, misses; /**< gets = hits + misses (gets that
                                         failed are not counted). Each
                                         handle counts its own; the thread
                                         that opened it counts without a
                                         locked instruction until another
                                         thread counts a get on it, and at
                                         that switch a count or a few may be
                                         lost, once per handle. Exact when
                                         each thread has its own handle. */
    apr_uint64_t sets, adds, replaces, cas_ops, deletes, incrs, touches;
    apr_uint64_t set_failures;      /**< stores refused (exists, mismatch,
                                         too big, ...) */
    apr_uint64_t evictions;         /**< live entries evicted for space */
    apr_uint64_t expirations;       /**< expired entries reclaimed */
    apr_uint64_t flushes;
    /* lock */
    apr_uint64_t read_waits;        /**< read locks that had to sleep */
    apr_uint64_t write_waits;       /**< write locks that had to sleep */
    apr_uint64_t lock_recoveries;   /**< locks taken over from dead writers */
    apr_uint64_t dead_readers;      /**< read holds of dead processes dropped */
    apr_int64_t last_dead_pid;      /**< pid of the last dead process whose
                                         write lock was taken over or whose
                                         read holds were dropped; 0 if none */
    apr_uint64_t repairs;           /**< tables repaired after a dead writer */
    apr_uint64_t resets;            /**< tables emptied as a last resort */
    apr_uint32_t attached;          /**< attached handles of live processes
                                         (slots of dead ones not counted) */
    apr_int64_t writer_pid;         /**< pid holding the write lock, 0 none */
    apr_uint32_t readers;           /**< read holds right now (a get that
                                         reads without the lock holds
                                         none) */
    apr_uint32_t reader_pid_count;  /**< processes holding a read lock now;
                                         the first SHMCACHE_STATS_READER_PIDS
                                         of them are in reader_pids */
    apr_int64_t reader_pids[8];     /**< SHMCACHE_STATS_READER_PIDS entries */
    /* leases */
    apr_uint64_t leases_granted;    /**< leases handed to a caller */
    apr_uint64_t lease_waits;       /**< calls that waited for another
                                         caller's lease */
    apr_uint64_t lease_timeouts;    /**< of those, gave up at their limit */
    apr_uint64_t stale_answers;     /**< stale values served while another
                                         caller refreshed them */
    apr_uint64_t leases_dead;       /**< leases taken over from a dead
                                         holder */
    /* derived */
    double hit_ratio;               /**< hits / gets, 0 when no gets */
    double fill;                    /**< bytes_used / data_size, 0..1 */
} shmcache_stats_t;

/** Every figure of shmcache_stats_t in one list, for programs that show
 *  them all: shmcache-cli's table and JSON, and mod_shmcache's status
 *  page, `?auto` and `?json` are generated from it, so their names agree.
 *  X(group, field, type, show, label) is expanded once per figure, in
 *  the order a reader expects them:
 *  - group: config, contents, operations, lock, leases or processes;
 *  - field: the member of shmcache_stats_t, and the figure's JSON key;
 *  - type: U32, U64, I64 or DBL (the member's type), TIME (apr_time_t)
 *    or PIDS (reader_pids, of which reader_pid_count are valid);
 *  - show: NUMBER, BYTES, COUNTER (a count since creation, for which a
 *    rate per second makes sense), RATIO (0..1, shown as a percentage),
 *    PID (0 = none) or TIME;
 *  - label: a short English label ("memory used").
 *  reader_pid_count is not listed: it is the length of reader_pids. */
#define SHMCACHE_STATS_FIELDS(X) \
    X(config, size, U64, BYTES, "size") \
    X(config, data_size, U64, BYTES, "data size") \
    X(config, buckets, U32, NUMBER, "buckets") \
    X(config, slots, U32, NUMBER, "slots") \
    X(config, max_key, U32, NUMBER, "max key") \
    X(config, max_value, U32, NUMBER, "max value") \
    X(config, default_ttl, U32, NUMBER, "default ttl") \
    X(config, created, TIME, TIME, "created") \
    X(config, format, U32, NUMBER, "format") \
    X(config, layout, U32, NUMBER, "layout") \
    X(config, lock_offset, U64, NUMBER, "lock offset") \
    X(config, buckets_offset, U64, NUMBER, "buckets offset") \
    X(config, alloc_offset, U64, NUMBER, "allocator offset") \
    X(config, data_offset, U64, NUMBER, "data offset") \
    X(contents, items, U64, NUMBER, "items") \
    X(contents, bytes_used, U64, BYTES, "memory used") \
    X(contents, bytes_free, U64, BYTES, "memory free") \
    X(contents, fill, DBL, RATIO, "fill") \
    X(contents, largest_free, U64, BYTES, "largest free block") \
    X(contents, free_blocks, U64, NUMBER, "free blocks") \
    X(contents, fragmentation, DBL, RATIO, "fragmentation") \
    X(contents, longest_chain, U32, NUMBER, "longest chain") \
    X(operations, gets, U64, COUNTER, "gets") \
    X(operations, hits, U64, COUNTER, "hits") \
    X(operations, misses, U64, COUNTER, "misses") \
    X(operations, hit_ratio, DBL, RATIO, "hit ratio") \
    X(operations, sets, U64, COUNTER, "sets") \
    X(operations, adds, U64, COUNTER, "adds") \
    X(operations, replaces, U64, COUNTER, "replaces") \
    X(operations, cas_ops, U64, COUNTER, "cas") \
    X(operations, deletes, U64, COUNTER, "deletes") \
    X(operations, incrs, U64, COUNTER, "incrs") \
    X(operations, touches, U64, COUNTER, "touches") \
    X(operations, set_failures, U64, COUNTER, "refused stores") \
    X(operations, evictions, U64, COUNTER, "evictions") \
    X(operations, expirations, U64, COUNTER, "expirations") \
    X(operations, flushes, U64, COUNTER, "flushes") \
    X(lock, read_waits, U64, COUNTER, "read waits") \
    X(lock, write_waits, U64, COUNTER, "write waits") \
    X(lock, lock_recoveries, U64, COUNTER, "lock recoveries") \
    X(lock, dead_readers, U64, COUNTER, "dead readers") \
    X(lock, last_dead_pid, I64, PID, "last dead pid") \
    X(lock, repairs, U64, COUNTER, "repairs") \
    X(lock, resets, U64, COUNTER, "resets") \
    X(leases, leases_granted, U64, COUNTER, "leases granted") \
    X(leases, lease_waits, U64, COUNTER, "lease waits") \
    X(leases, lease_timeouts, U64, COUNTER, "lease timeouts") \
    X(leases, stale_answers, U64, COUNTER, "stale answers") \
    X(leases, leases_dead, U64, COUNTER, "dead holders") \
    X(processes, attached, U32, NUMBER, "attached") \
    X(processes, writer_pid, I64, PID, "writer pid") \
    X(processes, readers, U32, NUMBER, "readers now") \
    X(processes, reader_pids, PIDS, NUMBER, "reader pids")

/** How many reader pids shmcache_stats_t lists. */
#define SHMCACHE_STATS_READER_PIDS 8

/** Options of the lease calls (shmcache_lease_opts_init sets the
 *  defaults). */
typedef struct shmcache_lease_opts_t {
    apr_uint32_t lease_ttl;     /**< seconds a lease lives when its holder
                                     neither stores nor releases it (and
                                     stays alive); default 30 */
    apr_uint32_t wait_ms;       /**< how long a caller that finds another
                                     caller's lease (and no value) waits for
                                     the value before SHMCACHE_ELEASED; 0 =
                                     do not wait; default 10000 */
} shmcache_lease_opts_t;

/** Callback of shmcache_get_or_compute: compute the value of key into
 *  *value (allocated from pool) and *value_len, and choose its *ttl and
 *  *stale_ttl (seconds, as shmcache_lease_set takes them; both start at
 *  SHMCACHE_TTL_DEFAULT and 0). Called with no lock held; it may call
 *  shmcache_get_or_compute for other keys. A status other than
 *  APR_SUCCESS stores nothing and fails the lease (callers waiting for it
 *  get SHMCACHE_ECOMPUTE). */
typedef apr_status_t (shmcache_compute_fn)(void *baton, const void *key,
                                           apr_size_t key_len, void **value,
                                           apr_size_t *value_len,
                                           apr_uint32_t *ttl,
                                           apr_uint32_t *stale_ttl,
                                           apr_pool_t *pool);

/** Callback of shmcache_iterate. Called with the lock released, on a copy
 *  of the entry. Return 0 to go on, anything else to stop (that value is
 *  then returned by shmcache_iterate). value is NULL and value_len is the
 *  stored length when SHMCACHE_ITER_KEYS_ONLY is given. */
typedef int (shmcache_iter_fn)(void *baton, const void *key, apr_size_t key_len,
                               const void *value, apr_size_t value_len,
                               const shmcache_meta_t *meta);

#define SHMCACHE_ITER_KEYS_ONLY 0x1   /**< do not copy values */

/* ------------------------------------------------------------------------
 * Lifecycle
 * ---------------------------------------------------------------------- */

/** Fill opts with the defaults: 64 MiB, automatic buckets, keys up to 250
 *  bytes, values up to 1 MiB, no default TTL, 256 slots, mode 0600, lock
 *  timeout 1 s, owner and group kept, not read-only, no foreign owner.
 *  Every field a later release adds gets a default here, so always start
 *  from this.
 *  @param opts out: the options to fill; NULL does nothing. */
SHMCACHE_DECLARE(void) shmcache_options_init(shmcache_options_t *opts);

/** Create a new segment at path and attach to it.
 *  The segment is built in a file of its own beside path (PATH.init.PID,
 *  created exclusively with exactly opts->mode, never following a
 *  symlink), its memory is reserved, the table is initialised, and only
 *  then is it published at path (it never replaces anything there).
 *  @param cache out: the new handle; set to NULL first, and on failure.
 *  @param path in: the file to create (copied; the handle keeps its own
 *         copy); not NULL, not empty. Its directory must be writable.
 *  @param opts in (may be NULL: the defaults): the (create) fields shape
 *         the segment, the (handle) fields this handle; read_only is
 *         refused. Read during the call only.
 *  @param pool in: the handle and its mapping live until shmcache_close
 *         or until pool is destroyed (a pool cleanup closes the handle).
 *  @return APR_SUCCESS; APR_EEXIST if anything is at path (even a
 *  symlink); SHMCACHE_EINVAL for bad arguments or options (max_key,
 *  max_value, slots, buckets out of range); SHMCACHE_ESIZE /
 *  SHMCACHE_EOVERFLOW for a size that cannot work; SHMCACHE_ETTL for
 *  default_ttl; SHMCACHE_ERESERVE when the filesystem cannot hold the
 *  segment; SHMCACHE_EREADONLY for opts->read_only; APR_EACCES,
 *  APR_ENOENT, APR_EPERM (set_owner) and other OS codes. On failure
 *  nothing is left at path. */
SHMCACHE_DECLARE(apr_status_t) shmcache_create(shmcache_t **cache,
                                               const char *path,
                                               const shmcache_options_t *opts,
                                               apr_pool_t *pool);

/** Attach to an existing segment at path. A segment is published at its
 *  path only once it is complete (shmcache_create), so there is nothing to
 *  wait for; every header field is validated before use. A writable
 *  handle claims one of the segment's process slots (given back by
 *  shmcache_close); a read-only one claims none.
 *  @param cache out: the new handle; set to NULL first, and on failure.
 *  @param path in: the segment file (copied); not NULL, not empty; a
 *         symlink is never followed.
 *  @param opts in (may be NULL: the defaults): only the (handle) fields
 *         are used (lock_timeout_ms, allow_foreign_owner, read_only). Read
 *         during the call only.
 *  @param pool in: the handle and its mapping live until shmcache_close
 *         or until pool is destroyed.
 *  @return APR_SUCCESS; APR_ENOENT if nothing is at path;
 *  SHMCACHE_ENOTCACHE, SHMCACHE_EFORMAT, SHMCACHE_ELAYOUT,
 *  SHMCACHE_ECORRUPT for a file that is not a usable segment;
 *  SHMCACHE_EOWNER for a symlink, something that is not a regular file,
 *  or (unless allow_foreign_owner or read_only) a file owned by another
 *  user than the caller and root; SHMCACHE_ESLOTS when every process slot
 *  is held by a live process (not for read_only); SHMCACHE_EINVAL;
 *  APR_EACCES (the caller may not open the file for writing, or with
 *  read_only for reading) and other OS codes. */
SHMCACHE_DECLARE(apr_status_t) shmcache_attach(shmcache_t **cache,
                                               const char *path,
                                               const shmcache_options_t *opts,
                                               apr_pool_t *pool);

/** Attach to path if a segment exists there, else create it with opts.
 *  Safe when many processes call it at once: exactly one creates, the
 *  others attach to its segment. With opts->read_only it only attaches.
 *  @param cache, path, opts, pool as shmcache_create (opts->read_only is
 *         allowed here).
 *  @return as shmcache_attach, and, when it created, as shmcache_create;
 *  APR_ENOENT with read_only when nothing is at path; APR_EEXIST only if
 *  a segment kept appearing and disappearing at path three times. */
SHMCACHE_DECLARE(apr_status_t) shmcache_open(shmcache_t **cache,
                                             const char *path,
                                             const shmcache_options_t *opts,
                                             apr_pool_t *pool);

/** Detach: release this handle's process slot, unmap, close the file.
 *  The segment and its contents stay. The handle is invalid afterwards
 *  (its memory stays in its pool, so a second close is caught). No thread
 *  may be inside another call on the handle.
 *  @param cache in: the handle; NULL or already closed gives
 *         SHMCACHE_EINVAL.
 *  @return APR_SUCCESS; SHMCACHE_EINVAL. */
SHMCACHE_DECLARE(apr_status_t) shmcache_close(shmcache_t *cache);

/* ------------------------------------------------------------------------
 * Leases: one caller computes a missing value, the others wait or are
 * served the stale one.
 *
 * A lease is the right to compute a key's value. shmcache_lease_get hands
 * it to exactly one caller when the key has no value, or when its value is
 * stale (stored with a stale_ttl, and past ttl): the others wait for the
 * value (up to wait_ms, sleeping, with no lock held) or, when a stale
 * value exists, are served it at once (SHMCACHE_STALE). The holder stores
 * the value with shmcache_lease_set, which ends the lease and wakes the
 * waiters. A lease ends by itself after lease_ttl; a lease whose holder
 * process died is taken over at once by the next caller (the holder is
 * recorded as pid + start time, and judged as lock holders are). Leases
 * live in the segment, so they work across processes, threads and faces
 * (the CLI's fetch, the module's key API); they are local to the segment.
 * ---------------------------------------------------------------------- */

/** Fill *opts with the defaults (lease_ttl 30 s, wait_ms 10000).
 *  @param opts out: the options to fill; NULL does nothing. */
SHMCACHE_DECLARE(void) shmcache_lease_opts_init(shmcache_lease_opts_t *opts);

/** Get key's value, or the lease to compute it.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key (1..max_key bytes, binary-safe; read
 *         during the call only).
 *  @param opts in (may be NULL: the defaults): lease_ttl (seconds, as a
 *         TTL; the lease lapses after it) and wait_ms (how long to wait
 *         for another caller's lease, 0 = not at all).
 *  @param value out: the value, copied into pool and NUL-terminated (not
 *         counted in *value_len); set to NULL first, and NULL when none
 *         came with the status. Not NULL itself.
 *  @param value_len out (may be NULL): its length.
 *  @param meta out (may be NULL): its metadata (meta->stale says whether
 *         it is stale).
 *  @param token out: with SHMCACHE_LEASED, the lease to hand to
 *         shmcache_lease_set or shmcache_lease_release; else 0. Not NULL.
 *  @param pool in: the value is allocated from it. Not NULL.
 *  @return APR_SUCCESS (a fresh value); SHMCACHE_LEASED (the caller holds
 *  the lease; *value is the stale value or NULL); SHMCACHE_STALE (a stale
 *  value; another caller is refreshing it); SHMCACHE_ELEASED (no value,
 *  and another caller's lease did not end within wait_ms);
 *  SHMCACHE_ECOMPUTE (the lease waited for was released as failed);
 *  SHMCACHE_EKEYLEN; SHMCACHE_EINVAL; SHMCACHE_ETTL (lease_ttl);
 *  SHMCACHE_ENOMEM (the lease record cannot fit); SHMCACHE_EREADONLY;
 *  SHMCACHE_ESLOTS; SHMCACHE_ECORRUPT; SHMCACHE_ETIMEDOUT. */
SHMCACHE_DECLARE(apr_status_t) shmcache_lease_get(shmcache_t *cache,
                                                  const void *key,
                                                  apr_size_t key_len,
                                                  const shmcache_lease_opts_t *opts,
                                                  void **value,
                                                  apr_size_t *value_len,
                                                  shmcache_meta_t *meta,
                                                  apr_uint64_t *token,
                                                  apr_pool_t *pool);

/** Store the value computed under lease token and end the lease: the
 *  value is fresh for ttl seconds (SHMCACHE_TTL_DEFAULT, FOREVER or
 *  seconds) and then stale for stale_ttl more seconds (0: never stale),
 *  during which shmcache_lease_get serves it to every caller but the one
 *  it hands the refresh lease. The value is stored even when the lease has
 *  lapsed or was taken over meanwhile (the newer holder's value will
 *  replace it). Wakes the callers waiting for the key.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key the lease is for (as in Conventions).
 *  @param token in: the token shmcache_lease_get returned with
 *         SHMCACHE_LEASED; 0 stores the value without ending any lease.
 *  @param value, value_len in: the value (as in Conventions; copied into
 *         the segment, not kept).
 *  @param ttl in: freshness, as in Conventions.
 *  @param stale_ttl in: seconds of staleness after ttl, 0..SHMCACHE_TTL_MAX
 *         (0: the value expires at ttl).
 *  @return APR_SUCCESS; SHMCACHE_EKEYLEN; SHMCACHE_EVALLEN; SHMCACHE_ETTL;
 *  SHMCACHE_EINVAL; SHMCACHE_ENOMEM; SHMCACHE_EREADONLY; SHMCACHE_ESLOTS;
 *  SHMCACHE_ECORRUPT; SHMCACHE_ETIMEDOUT. */
SHMCACHE_DECLARE(apr_status_t) shmcache_lease_set(shmcache_t *cache,
                                                  const void *key,
                                                  apr_size_t key_len,
                                                  apr_uint64_t token,
                                                  const void *value,
                                                  apr_size_t value_len,
                                                  apr_uint32_t ttl,
                                                  apr_uint32_t stale_ttl);

/** Give lease token up without a value. With failed, the callers waiting
 *  for this lease get SHMCACHE_ECOMPUTE (a later caller takes a new
 *  lease; without, one of them gets the lease. Wakes the waiters.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key the lease is for (as in Conventions).
 *  @param token in: the token shmcache_lease_get returned.
 *  @param failed in: non-zero when the computation failed.
 *  @return APR_SUCCESS; SHMCACHE_NOTFOUND (the lease had lapsed, was
 *  taken over, or was already given up); SHMCACHE_EKEYLEN;
 *  SHMCACHE_EINVAL; SHMCACHE_EREADONLY; SHMCACHE_ESLOTS;
 *  SHMCACHE_ECORRUPT; SHMCACHE_ETIMEDOUT. */
SHMCACHE_DECLARE(apr_status_t) shmcache_lease_release(shmcache_t *cache,
                                                      const void *key,
                                                      apr_size_t key_len,
                                                      apr_uint64_t token,
                                                      int failed);

/** Get key's value, computing it with fn when it is missing (or stale and
 *  this caller gets the refresh lease): exactly one caller across all
 *  processes computes; the others wait for its value (opts->wait_ms) or
 *  are served the stale one. fn runs with no lock held and may itself call
 *  shmcache_get_or_compute for other keys; for a key this thread is
 *  already computing, the call returns SHMCACHE_ERECURSE at once. Two
 *  computations that wait for each other across processes (A computes x
 *  and needs y, B computes y and needs x) end when wait_ms runs out.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key (as in Conventions).
 *  @param opts in (may be NULL): as shmcache_lease_get.
 *  @param fn in: the computation (see shmcache_compute_fn); not NULL.
 *  @param baton in: handed to fn as it is (may be NULL).
 *  @param value out: the value (from pool, or the one fn returned). Not
 *         NULL.
 *  @param value_len out (may be NULL): its length.
 *  @param meta out (may be NULL): the value's metadata; stale 0 for a
 *         value fn just computed.
 *  @param pool in: for the value, and handed to fn. Not NULL.
 *  @return APR_SUCCESS (*value fresh, or just computed and stored);
 *  SHMCACHE_STALE (*value stale, being refreshed by another caller); fn's
 *  own status when fn failed (nothing stored); SHMCACHE_ERECURSE;
 *  SHMCACHE_ECOMPUTE; SHMCACHE_ELEASED; a store's status (ENOMEM...) with
 *  *value still set to the computed value; SHMCACHE_EREADONLY; and as
 *  shmcache_lease_get. */
SHMCACHE_DECLARE(apr_status_t) shmcache_get_or_compute(shmcache_t *cache,
                                                       const void *key,
                                                       apr_size_t key_len,
                                                       const shmcache_lease_opts_t *opts,
                                                       shmcache_compute_fn *fn,
                                                       void *baton,
                                                       void **value,
                                                       apr_size_t *value_len,
                                                       shmcache_meta_t *meta,
                                                       apr_pool_t *pool);

/** Set the segment file's permission bits and owner through the
 *  descriptor this handle opened (fchmod, fchown), never by path: a file
 *  or symlink put at the path since the handle was opened is not touched.
 *  For a privileged process fixing a segment that a less-trusted user can
 *  write (the root httpd parent reusing its cache at a restart).
 *  @param cache an open handle.
 *  @param perms the exact APR permission bits (APR_FPROT_*), not filtered
 *         by the umask; (apr_fileperms_t)-1 leaves them as they are.
 *  @param uid new owner, or (apr_uid_t)-1 to keep it.
 *  @param gid new group, or (apr_gid_t)-1 to keep it.
 *  @return APR_SUCCESS; SHMCACHE_EINVAL for a closed handle;
 *  SHMCACHE_EREADONLY for a read-only handle; APR_EBADF after
 *  shmcache_file_close; APR_ENOTIMPL on Windows (file access there is a
 *  DACL: an owner-only mode gives the file, at creation, a protected DACL
 *  for the creating user and Administrators); OS codes such as
 *  APR_EPERM. */
SHMCACHE_DECLARE(apr_status_t) shmcache_perms_set(shmcache_t *cache,
                                                  apr_fileperms_t perms,
                                                  apr_uid_t uid,
                                                  apr_gid_t gid);

/** What shmcache_repair did. */
typedef enum shmcache_repair_outcome_e {
    SHMCACHE_REPAIR_NONE = 0,       /**< check found nothing to mend */
    SHMCACHE_REPAIR_MENDED = 1,     /**< damage mended; every entry that
                                         could be kept was kept */
    SHMCACHE_REPAIR_EMPTIED = 2     /**< the allocator's block sizes were
                                         damaged beyond rebuilding: the
                                         cache was emptied */
} shmcache_repair_outcome_e;

/** Verify the cache (as shmcache_check) under the write lock and, when
 *  that finds damage, repair it there and then: the same repair a lock
 *  waiter runs after a writer died (chains cut at bad links, damaged and
 *  duplicate entries dropped, leaked blocks freed, the allocator and the
 *  eviction queues rebuilt; counted in stats as a repair, or as a reset
 *  when the cache had to be emptied).
 *  @param cache an open, writable handle.
 *  @param outcome out (may be NULL): what was done; SHMCACHE_REPAIR_NONE
 *         on every failure before the repair.
 *  @param why out (may be NULL when why_size is 0): what check found
 *         before repairing, NUL-terminated, truncated to why_size; "" when
 *         it found nothing.
 *  @param why_size in: bytes at why.
 *  @return APR_SUCCESS (the cache passes check now); SHMCACHE_ECORRUPT
 *  (it still fails: another process keeps damaging it); APR_ENOMEM (the
 *  check's bitmap could not be allocated); SHMCACHE_EINVAL;
 *  SHMCACHE_EREADONLY; SHMCACHE_ESLOTS; SHMCACHE_ETIMEDOUT. */
SHMCACHE_DECLARE(apr_status_t) shmcache_repair(shmcache_t *cache,
                                               shmcache_repair_outcome_e *outcome,
                                               char *why,
                                               apr_size_t why_size);

/** Close this handle's descriptor of the segment file; the mapping and
 *  everything else about the handle stay. For a process that inherited
 *  the handle over fork() and must not be able to truncate or re-mode the
 *  file through the descriptor (an httpd child of a root parent): it only
 *  affects this process's copy. Afterwards shmcache_perms_set returns
 *  APR_EBADF; closing again is a no-op.
 *  @param cache an open handle.
 *  @return APR_SUCCESS; SHMCACHE_EINVAL for a closed handle; OS codes. */
SHMCACHE_DECLARE(apr_status_t) shmcache_file_close(shmcache_t *cache);

/** Remove the segment file at path. Processes still attached keep their
 *  mapping (on Unix) until they close. Refuses files that are not shmcache
 *  segments (SHMCACHE_ENOTCACHE) so a mistyped path deletes nothing; a
 *  segment that fails validation (corrupt, another format or build) is
 *  removed. Same as shmcache_remove_ex(path, 1, NULL, pool).
 *  @param path in: the segment file; not NULL, not empty; a symlink is
 *         refused (SHMCACHE_EOWNER), never followed.
 *  @param pool in: for temporary allocations only.
 *  @return APR_SUCCESS; APR_ENOENT; SHMCACHE_ENOTCACHE; SHMCACHE_EOWNER
 *  (a symlink or not a regular file); SHMCACHE_EINVAL; OS codes (APR_EACCES
 *  when the directory is not writable). */
SHMCACHE_DECLARE(apr_status_t) shmcache_remove(const char *path,
                                               apr_pool_t *pool);

/** shmcache_remove that, unless force is set, first refuses with
 *  SHMCACHE_EBUSY while live processes are attached; *attached (may be
 *  NULL) receives their number (0 unless the segment was validated).
 *  Without force, a segment that fails validation is refused with the
 *  status attach would give (SHMCACHE_ECORRUPT, SHMCACHE_EFORMAT,
 *  SHMCACHE_ELAYOUT), never counted as having no processes; with force it
 *  is removed anyway (it is still refused when it is not a segment at all).
 *  The file is only read to decide (it is opened and mapped read-only).
 *  @param path in: the segment file; not NULL, not empty.
 *  @param force in: non-zero removes it whatever is attached.
 *  @param attached out (may be NULL): live processes attached.
 *  @param pool in: for temporary allocations only.
 *  @return APR_SUCCESS; SHMCACHE_EBUSY; APR_ENOENT; SHMCACHE_ENOTCACHE;
 *  SHMCACHE_ECORRUPT, SHMCACHE_EFORMAT, SHMCACHE_ELAYOUT (without force);
 *  SHMCACHE_EOWNER; SHMCACHE_EINVAL; OS codes. */
SHMCACHE_DECLARE(apr_status_t) shmcache_remove_ex(const char *path, int force,
                                                  apr_uint32_t *attached,
                                                  apr_pool_t *pool);

/** The path the handle was attached by.
 *  @param cache in: a handle.
 *  @return the path, owned by the handle and valid until it is closed;
 *  NULL for a NULL or closed handle. */
SHMCACHE_DECLARE(const char *) shmcache_path_get(const shmcache_t *cache);

/* ------------------------------------------------------------------------
 * Reading. A get first reads without any lock: it notes the lock's write
 * sequence, looks up and copies, then checks that no writer started
 * meanwhile; only then does it answer. Otherwise (a writer was or came in,
 * or the entry's read frequency is below its top and must be raised, the
 * one write a reader makes) it takes the read lock and
 * looks again, waiting for writers as any reader does. Such a get can
 * answer while a writer waits for the lock, never with data a writer is
 * changing. With a pool, a get retried under the lock may leave an unused
 * copy in the pool. Readers run in parallel either way. A read-only
 * handle never takes the lock: it retries the lock-free read instead (see
 * Read-only handles).
 * ---------------------------------------------------------------------- */

/** Copy the value of key into memory from pool (NUL-terminated for
 *  convenience; *value_len excludes the NUL). Counts a hit or a miss in
 *  this handle's slot (not on a read-only handle).
 *  @param cache an open handle (read-only allowed).
 *  @param key, key_len the key (as in Conventions).
 *  @param value out: the copy, allocated from pool. Not NULL.
 *  @param value_len out (may be NULL): the value's length.
 *  @param meta out (may be NULL): version, expiry, TTL left, length.
 *  @param pool in: for the copy (a retried get may leave an unused copy
 *         there too). Not NULL.
 *  @return APR_SUCCESS; SHMCACHE_NOTFOUND (missing or expired);
 *  SHMCACHE_EKEYLEN; SHMCACHE_EINVAL; SHMCACHE_ECORRUPT;
 *  SHMCACHE_ETIMEDOUT; SHMCACHE_ESLOTS; on a read-only handle also
 *  SHMCACHE_EBUSY and SHMCACHE_EABANDONED. */
SHMCACHE_DECLARE(apr_status_t) shmcache_get(shmcache_t *cache,
                                            const void *key, apr_size_t key_len,
                                            void **value, apr_size_t *value_len,
                                            shmcache_meta_t *meta,
                                            apr_pool_t *pool);

/** Copy the value of key into buf (capacity buf_size, not NUL-terminated).
 *  *value_len always receives the stored length on APR_SUCCESS and on
 *  SHMCACHE_EBUFSIZE, so the caller can retry with a bigger buffer. Counts
 *  as a get (SHMCACHE_EBUFSIZE as a hit).
 *  @param cache, key, key_len as shmcache_get.
 *  @param buf out: receives the value's bytes; may be NULL only when
 *         buf_size is 0. Left undefined on SHMCACHE_EBUFSIZE.
 *  @param buf_size in: bytes at buf.
 *  @param value_len out: the stored length. Not NULL.
 *  @param meta out (may be NULL): as shmcache_get.
 *  @return as shmcache_get, plus SHMCACHE_EBUFSIZE. */
SHMCACHE_DECLARE(apr_status_t) shmcache_get_buf(shmcache_t *cache,
                                                const void *key, apr_size_t key_len,
                                                void *buf, apr_size_t buf_size,
                                                apr_size_t *value_len,
                                                shmcache_meta_t *meta);

/** Fetch only the metadata of key (version, expiry, TTL left, length),
 *  copying no value and counting no get.
 *  @param cache, key, key_len as shmcache_get.
 *  @param meta out: the metadata. Not NULL.
 *  @return as shmcache_get. */
SHMCACHE_DECLARE(apr_status_t) shmcache_get_meta(shmcache_t *cache,
                                                 const void *key, apr_size_t key_len,
                                                 shmcache_meta_t *meta);

/* ------------------------------------------------------------------------
 * Writing (takes the write lock). A store evicts entries when the cache is
 * full (expired entries first, then entries not read since the eviction
 * hand last passed them), so it only fails when the item cannot fit.
 * ---------------------------------------------------------------------- */

/** Store value under key, replacing any entry.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key (as in Conventions).
 *  @param value, value_len the value (as in Conventions): copied into the
 *         segment during the call.
 *  @param ttl in: as in Conventions.
 *  @param version out (may be NULL): the entry's new version (for cas).
 *  @return APR_SUCCESS; SHMCACHE_EKEYLEN; SHMCACHE_EVALLEN; SHMCACHE_ETTL;
 *  SHMCACHE_ENOMEM (cannot fit even in an empty cache); SHMCACHE_EINVAL;
 *  SHMCACHE_EREADONLY; SHMCACHE_ESLOTS; SHMCACHE_ECORRUPT;
 *  SHMCACHE_ETIMEDOUT. On failure any previous entry is left as it was. */
SHMCACHE_DECLARE(apr_status_t) shmcache_set(shmcache_t *cache,
                                            const void *key, apr_size_t key_len,
                                            const void *value, apr_size_t value_len,
                                            apr_uint32_t ttl,
                                            apr_uint64_t *version);

/** shmcache_set only if key is absent (or expired).
 *  @param cache, key, key_len, value, value_len, ttl, version as
 *         shmcache_set.
 *  @return as shmcache_set, plus SHMCACHE_EXISTS (nothing stored). */
SHMCACHE_DECLARE(apr_status_t) shmcache_add(shmcache_t *cache,
                                            const void *key, apr_size_t key_len,
                                            const void *value, apr_size_t value_len,
                                            apr_uint32_t ttl,
                                            apr_uint64_t *version);

/** shmcache_set only if key is present (and not expired).
 *  @param cache, key, key_len, value, value_len, ttl, version as
 *         shmcache_set.
 *  @return as shmcache_set, plus SHMCACHE_NOTFOUND (nothing stored). */
SHMCACHE_DECLARE(apr_status_t) shmcache_replace(shmcache_t *cache,
                                                const void *key, apr_size_t key_len,
                                                const void *value, apr_size_t value_len,
                                                apr_uint32_t ttl,
                                                apr_uint64_t *version);

/** Compare-and-swap: store only if the entry's version equals expected.
 *  @param cache, key, key_len, value, value_len, ttl as shmcache_set.
 *  @param expected in: the version the caller read (meta.version, or a
 *         store's *version).
 *  @param version out (may be NULL): the new version.
 *  @return as shmcache_set, plus SHMCACHE_NOTFOUND and SHMCACHE_EMISMATCH
 *  (nothing stored). */
SHMCACHE_DECLARE(apr_status_t) shmcache_cas(shmcache_t *cache,
                                            const void *key, apr_size_t key_len,
                                            const void *value, apr_size_t value_len,
                                            apr_uint32_t ttl,
                                            apr_uint64_t expected,
                                            apr_uint64_t *version);

/** Remove key.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key (as in Conventions).
 *  @return APR_SUCCESS; SHMCACHE_NOTFOUND (missing, or expired: an
 *  expired entry is reclaimed); SHMCACHE_EKEYLEN; SHMCACHE_EINVAL;
 *  SHMCACHE_EREADONLY; SHMCACHE_ESLOTS; SHMCACHE_ECORRUPT;
 *  SHMCACHE_ETIMEDOUT. */
SHMCACHE_DECLARE(apr_status_t) shmcache_delete(shmcache_t *cache,
                                               const void *key, apr_size_t key_len);

/** Add delta (negative to decrement) to the unsigned decimal number stored
 *  under key, atomically. Decrementing below 0 gives 0; incrementing past
 *  2^64-1 wraps (as memcached). If key is missing: with initial non-NULL,
 *  store *initial (delta is not applied) with ttl; with initial NULL,
 *  return SHMCACHE_NOTFOUND. An existing entry keeps its expiry.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key (as in Conventions).
 *  @param delta in: added (negative: subtracted).
 *  @param initial in (may be NULL): the number to store when key is
 *         missing; read during the call only.
 *  @param ttl in: as in Conventions; used only when initial is stored.
 *  @param result out (may be NULL): the number now stored.
 *  @return APR_SUCCESS; SHMCACHE_NOTFOUND; SHMCACHE_ENOTNUM (the value is
 *  not 1..20 decimal digits that fit 64 bits); the codes of shmcache_set. */
SHMCACHE_DECLARE(apr_status_t) shmcache_incr(shmcache_t *cache,
                                             const void *key, apr_size_t key_len,
                                             apr_int64_t delta,
                                             const apr_uint64_t *initial,
                                             apr_uint32_t ttl,
                                             apr_uint64_t *result);

/** Give key a new ttl (as in Conventions) without changing its value or
 *  version.
 *  @param cache an open, writable handle.
 *  @param key, key_len the key (as in Conventions).
 *  @param ttl in: the new TTL, counted from now.
 *  @return APR_SUCCESS; SHMCACHE_NOTFOUND; SHMCACHE_ETTL; SHMCACHE_EKEYLEN;
 *  SHMCACHE_EINVAL; SHMCACHE_EREADONLY; SHMCACHE_ESLOTS;
 *  SHMCACHE_ECORRUPT; SHMCACHE_ETIMEDOUT. */
SHMCACHE_DECLARE(apr_status_t) shmcache_touch(shmcache_t *cache,
                                              const void *key, apr_size_t key_len,
                                              apr_uint32_t ttl);

/** Remove every entry. Counters are kept (flushes counts one more).
 *  @param cache an open, writable handle.
 *  @return APR_SUCCESS; SHMCACHE_EINVAL; SHMCACHE_EREADONLY;
 *  SHMCACHE_ESLOTS; SHMCACHE_ETIMEDOUT. */
SHMCACHE_DECLARE(apr_status_t) shmcache_flush(shmcache_t *cache);

/* ------------------------------------------------------------------------
 * Walking, figures and verification
 * ---------------------------------------------------------------------- */

/** Call fn for every live entry. The read lock is held only while a small
 *  batch of buckets is copied out, never over the whole table, and fn runs
 *  with no lock held, so fn may call any function of this library. An entry
 *  present for the whole walk is seen exactly once; entries written during
 *  the walk may or may not be seen.
 *  @param cache an open handle (read-only allowed).
 *  @param fn in: called once per entry with baton and a copy of the entry
 *         (valid during the call only); not NULL.
 *  @param baton in: handed to fn as it is (may be NULL).
 *  @param flags in: 0, or SHMCACHE_ITER_KEYS_ONLY (no value copied).
 *  @return APR_SUCCESS; fn's non-zero return value (cast to apr_status_t)
 *  when fn stops the walk; SHMCACHE_EINVAL; APR_ENOMEM; SHMCACHE_ESLOTS;
 *  SHMCACHE_ECORRUPT; SHMCACHE_ETIMEDOUT; on a read-only handle also
 *  SHMCACHE_EBUSY and SHMCACHE_EABANDONED. */
SHMCACHE_DECLARE(apr_status_t) shmcache_iterate(shmcache_t *cache,
                                                shmcache_iter_fn *fn,
                                                void *baton,
                                                unsigned flags);

/** Resumable form of shmcache_iterate: walks at most max_buckets buckets
 *  starting at *cursor (start with 0) and advances *cursor; the walk is
 *  over when *cursor comes back as 0.
 *  @param cache, fn, baton, flags as shmcache_iterate.
 *  @param cursor in/out: the first bucket to walk (0 to start); receives
 *         the next one, 0 at the end. Not NULL. An out-of-range cursor
 *         starts over at 0.
 *  @param max_buckets in: buckets to walk in this call, at least 1.
 *  @return as shmcache_iterate. */
SHMCACHE_DECLARE(apr_status_t) shmcache_scan(shmcache_t *cache,
                                             apr_uint32_t *cursor,
                                             apr_uint32_t max_buckets,
                                             shmcache_iter_fn *fn,
                                             void *baton,
                                             unsigned flags);

/** Fill *stats (takes the read lock briefly; per-process counters are
 *  summed without it; a read-only handle reads optimistically).
 *  @param cache an open handle (read-only allowed).
 *  @param stats out: every figure (zeroed first). Not NULL.
 *  @return APR_SUCCESS; SHMCACHE_EINVAL; SHMCACHE_ESLOTS;
 *  SHMCACHE_ETIMEDOUT; on a read-only handle also SHMCACHE_EBUSY and
 *  SHMCACHE_EABANDONED. */
SHMCACHE_DECLARE(apr_status_t) shmcache_stats(shmcache_t *cache,
                                              shmcache_stats_t *stats);

/** Verify every invariant of the segment: header, every allocator block,
 *  every bucket chain, entry counts and byte totals. Takes the write lock
 *  (so nothing changes underneath) and changes nothing (a writable handle
 *  that finds the previous writer died repairs first, as any locker
 *  does). A read-only handle checks in optimistic passes instead: a pass
 *  during which a writer ran is thrown away and tried again, up to 5
 *  times (then SHMCACHE_EBUSY).
 *  @param cache an open handle (read-only allowed).
 *  @param why out (may be NULL when why_size is 0): a NUL-terminated
 *         description of the first problem found, truncated to why_size;
 *         "" when there is none.
 *  @param why_size in: bytes at why.
 *  @return APR_SUCCESS; SHMCACHE_ECORRUPT; SHMCACHE_EINVAL; APR_ENOMEM;
 *  SHMCACHE_ESLOTS; SHMCACHE_ETIMEDOUT; on a read-only handle also
 *  SHMCACHE_EBUSY and SHMCACHE_EABANDONED. */
SHMCACHE_DECLARE(apr_status_t) shmcache_check(shmcache_t *cache,
                                              char *why, apr_size_t why_size);

#ifdef __cplusplus
}
#endif

#endif /* SHMCACHE_H */
