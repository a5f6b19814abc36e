/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock.h - the reader/writer lock that lives inside the segment.
 *
 * APR has no cross-process reader/writer lock, and its process mutexes
 * live outside the segment (a separately started process such as the CLI
 * could not find them), so the lock is built here on C11 atomics in the
 * segment. (C11 <stdatomic.h> rather than apr_atomic_*: the hot path needs
 * inline atomics with explicit memory orders; apr_atomic_* are out-of-line
 * calls with full barriers.)
 *
 * Design
 * ------
 * - Every attached handle owns one slot (sc_slot_sh_t, one cache line):
 *   its process identity and a count of read holds by its threads. A
 *   reader increments only its own slot's count, so readers on different
 *   cores do not write a shared word; then it checks the writer word.
 * - A writer claims the writer word (its slot index + 1), which turns new
 *   readers away, then waits for every slot's read count to drain. Writers
 *   therefore cannot be starved by a stream of readers.
 * - Sleepers wait on a word with sc_os_wait (futex on Linux) with a
 *   timeout, and are woken only when someone is registered as waiting.
 * - A waiter checks whether the holders it waits on are alive (pid +
 *   start time, sc_os_proc_alive) as soon as its short spin ends and then
 *   every few milliseconds while it sleeps, all reader slots at once. Read
 *   holds of dead slots are dropped; a dead writer's lock is taken over,
 *   and the taker is told (SC_LOCK_RECOVERED) so that it verifies and
 *   repairs the table before anyone reads it. A dead holder therefore
 *   costs waiters milliseconds. A live one is never robbed: every lock
 *   call has an absolute deadline of SC_LOCK_LIVE_FACTOR x timeout from
 *   its start, however the holders change meanwhile, and then returns
 *   SHMCACHE_ETIMEDOUT.
 * - Optimistic reads: the writer also keeps a sequence word, odd from the
 *   moment it has drained the readers until it unlocks (and left odd by a
 *   writer that dies, until the next writer unlocks). A get may read
 *   without any lock: note the sequence (sc_lock_seq_begin), look up and
 *   copy, then check that the sequence has not moved (sc_lock_seq_valid);
 *   if it moved, what was read may be torn: it waits (spinning briefly,
 *   sc_lock_seq_settle) for the writer to finish and tries once more, and
 *   then takes the read lock. Such a reader writes nothing shared, so reads
 *   overlap their cache misses and scale like a private table's (bench/:
 *   a locked read-modify-write per get serialises consecutive gets). It
 *   must only read: every offset it follows is bounds-checked as always,
 *   and anything that needs a write (raising an entry's read frequency) goes
 *   through the read lock. Optimistic readers hold nothing, so they do not
 *   appear in the read counts of stats.
 *
 * Memory layout of the lock region (all cache-line aligned):
 *
 *   +--------------------+----------+----------+-----+------------------+
 *   | sc_lock_sh_t (64B) | slot 0   | slot 1   | ... | slot nslots-1    |
 *   +--------------------+----------+----------+-----+------------------+
 */
#ifndef SC_LOCK_H
#define SC_LOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <apr.h>
#include <apr_errno.h>

#include "shmcache_status.h"
#include "os.h"

#define SC_CACHE_LINE 64u

/* Returned by the lock functions when the caller now holds the WRITE lock
 * taken over from a writer that died holding it: the caller must verify
 * (and repair) the data it guards, then sc_lock_wrunlock. Not a public
 * status: it never leaves the library. */
#define SC_LOCK_RECOVERED (SHMCACHE_END_ERROR)

/* A lock call returns SHMCACHE_ETIMEDOUT at the latest this many lock
 * timeouts after it began (shmcache.h documents it). */
#define SC_LOCK_LIVE_FACTOR 10

/* Slot states */
#define SC_SLOT_FREE     0u
#define SC_SLOT_CLAIMING 1u   /* being claimed or reclaimed */
#define SC_SLOT_ACTIVE   2u

/* In the segment: one attached handle. Exactly one cache line.
 * pid and start are atomic because other processes read them (to judge
 * liveness) while a claimer writes them; the state word orders them. */
typedef struct sc_slot_sh_t {
    _Atomic uint32_t readers;      /* read holds by this handle's threads */
    _Atomic uint32_t state;        /* SC_SLOT_* */
    _Atomic uint32_t pid;          /* owner process, 0 when free */
    apr_uint32_t pad0;
    _Atomic uint64_t start;        /* owner's start time (sc_proc_id_t) */
    _Atomic uint64_t hits;         /* read-path counters of this handle, */
    _Atomic uint64_t misses;       /* kept here so readers do not share a
                                      counter cache line (gets = their sum) */
    _Atomic uint32_t writer_sleepers; /* this slot's share of the lock's */
    _Atomic uint32_t drain_sleepers;  /* sleeper counts, given back when a
                                         dead slot is reclaimed */
    _Atomic uint64_t stale;        /* stale values served without the write
                                      lock (leases) */
    apr_uint64_t pad1;
} sc_slot_sh_t;

/* In the segment: the lock word and its counters. One cache line for the
 * hot words; counters on the next. */
typedef struct sc_lock_sh_t {
    _Atomic uint32_t writer;       /* 0 free, else writer's slot index + 1 */
    _Atomic uint32_t writer_sleepers; /* processes asleep on 'writer' */
    _Atomic uint32_t drain;        /* bumped by a reader leaving while a
                                      writer waits; the writer sleeps on it */
    _Atomic uint32_t drain_sleepers;
    apr_uint32_t nslots;           /* slots that follow this struct */
    _Atomic uint32_t hwm;          /* slots [0, hwm) have ever been claimed:
                                      a writer drains only those */
    _Atomic uint64_t seq;          /* odd while a writer changes the data;
                                      bumped to a new even value at unlock
                                      (64 bits: it never comes back to a
                                      value a stalled reader noted) */
    _Atomic uint64_t retired_stale; /* stale counts of released slots
                                       (written only at release) */
    apr_uint32_t pad0[6];
    _Atomic uint64_t read_waits;   /* read locks that had to sleep */
    _Atomic uint64_t write_waits;  /* write locks that had to sleep */
    _Atomic uint64_t recoveries;   /* write locks taken from dead writers */
    _Atomic uint64_t dead_readers; /* read holds of dead slots dropped */
    _Atomic uint64_t retired_hits; /* counters of slots that were released */
    _Atomic uint64_t retired_misses;
    _Atomic uint32_t lease_seq;    /* bumped when a lease ends; callers
                                      waiting for a lease sleep on it */
    _Atomic uint32_t lease_sleepers;
    _Atomic uint32_t last_dead_pid; /* the last dead holder taken over or
                                       whose read holds were dropped */
    apr_uint32_t pad1;
} sc_lock_sh_t;

/* Process-local: this handle's view of the lock. */
typedef struct sc_lock_t {
    sc_lock_sh_t *sh;
    sc_slot_sh_t *slots;           /* sh + 1 */
    apr_uint32_t slot;             /* this handle's slot index */
    apr_uint32_t timeout_ms;       /* before checking holders' liveness */
    _Atomic apr_uint32_t fork_gen; /* sc_os_fork_generation() at claim;
                                      published last (release) so threads
                                      of a forked child see slot and self */
    sc_proc_id_t self;
    apr_uint32_t nslots;           /* the validated slot count (the
                                      segment's own copy is never read) */
    apr_uint64_t opener;           /* the thread that attached the handle
                                      (sc_os_thread_self) */
    _Atomic int threaded;          /* another thread has counted a get */
    int read_only;                 /* no slot: the region is mapped for
                                      reading only (sc_lock_attach_read_only) */
} sc_lock_t;

/* Bytes the lock region needs for nslots slots. */
apr_uint64_t sc_lock_region_size(apr_uint32_t nslots);

/* Initialise a lock region at sh for nslots slots (creator only, before
 * the segment is published). */
void sc_lock_init(sc_lock_sh_t *sh, apr_uint32_t nslots);

/* Claim a slot for this handle: a free one, or one whose owner is dead
 * (its counters are folded into the retired totals and its read holds
 * dropped). Never reclaims the slot of a dead writer that still holds the
 * writer word (the next lock waiter recovers that). nslots is the slot
 * count the caller validated against the region (segment.c), never read
 * from the lock region again. timeout_ms 0 means the default.
 * Returns APR_SUCCESS, SHMCACHE_ESLOTS (all slots held by live owners), or
 * SHMCACHE_ECORRUPT (nslots is 0 or above SHMCACHE_LIMIT_SLOTS). */
apr_status_t sc_lock_attach(sc_lock_t *l, sc_lock_sh_t *sh,
                            apr_uint32_t nslots, apr_uint32_t timeout_ms);

/* Bind l to the lock region sh of a segment mapped for reading only: no
 * slot is claimed and nothing in the region is ever written through l.
 * Such a handle only reads optimistically (sc_lock_seq_await); every
 * call that would write (rdlock, wrlock, self) returns SHMCACHE_EREADONLY,
 * sc_lock_my_slot returns NULL, rdunlock, wrunlock and detach do nothing.
 * Returns APR_SUCCESS or SHMCACHE_ECORRUPT (as sc_lock_attach). */
apr_status_t sc_lock_attach_read_only(sc_lock_t *l, sc_lock_sh_t *sh,
                                      apr_uint32_t nslots,
                                      apr_uint32_t timeout_ms);

/* Release this handle's slot (counters folded into the retired totals).
 * The handle must hold no lock. */
void sc_lock_detach(sc_lock_t *l);

/* Take the read lock. Returns APR_SUCCESS (read lock held);
 * SC_LOCK_RECOVERED (the WRITE lock is held instead: a writer died; repair,
 * sc_lock_wrunlock, then call again); SHMCACHE_ETIMEDOUT (a live writer
 * held it for longer than the timeout; nothing held); SHMCACHE_ESLOTS
 * (after a fork the child could not get a slot); SHMCACHE_EREADONLY (a
 * read-only handle, which holds no lock). */
apr_status_t sc_lock_rdlock(sc_lock_t *l);
void sc_lock_rdunlock(sc_lock_t *l);

/* Take the write lock. Returns APR_SUCCESS; SC_LOCK_RECOVERED (held, taken
 * over from a dead writer: repair before use); SHMCACHE_ETIMEDOUT (nothing
 * held); SHMCACHE_ESLOTS (as rdlock). */
apr_status_t sc_lock_wrlock(sc_lock_t *l);
void sc_lock_wrunlock(sc_lock_t *l);

/* This handle's slot (for its read-path counters). In a child forked
 * since the slot was claimed, the child's own slot, claimed now; NULL when
 * it cannot get one (every slot taken). */
sc_slot_sh_t *sc_lock_my_slot(sc_lock_t *l);

/* Add one to a read-path counter of this handle's slot. While only the
 * thread that attached the handle has counted, nobody else writes the
 * slot's counters, so a plain load and store do (a locked add per get
 * would serialise consecutive gets, as a lock would: bench/); from the
 * first count of another thread on, every thread adds atomically. The
 * switch is not atomic with the adds: the opener's adds in flight until it
 * sees the switch may overwrite another thread's, losing a few counts,
 * once per handle (shmcache.h, stats). */
SC_HOT_INLINE void sc_lock_count_one(sc_lock_t *l, _Atomic apr_uint64_t *n)
{
    if (!atomic_load_explicit(&l->threaded, memory_order_relaxed)) {
        if (l->opener == sc_os_thread_self()) {
            atomic_store_explicit(n, atomic_load_explicit(
                n, memory_order_relaxed) + 1, memory_order_relaxed);
            return;
        }
        atomic_store_explicit(&l->threaded, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

/* Count one stale value served without the write lock (leases). */
SC_HOT_INLINE void sc_lock_count_stale(sc_lock_t *l)
{
    sc_slot_sh_t *s = sc_lock_my_slot(l);

    if (s != NULL)
        sc_lock_count_one(l, &s->stale);
}

/* Count one get in this handle's slot (no shared cache line): a hit or a
 * miss (gets are their sum). A forked child without a slot counts
 * nothing. */
SC_HOT_INLINE void sc_lock_count_get(sc_lock_t *l, int hit)
{
    sc_slot_sh_t *s = sc_lock_my_slot(l);

    if (s != NULL)
        sc_lock_count_one(l, hit ? &s->hits : &s->misses);
}

/* Start an optimistic read (see Design): the sequence to hand to
 * sc_lock_seq_valid. An odd value means a writer is in (or died in): take
 * the read lock instead. Takes nothing, writes nothing. */
static inline uint64_t sc_lock_seq_begin(const sc_lock_t *l)
{
    return atomic_load_explicit(&l->sh->seq, memory_order_acquire);
}

/* Spin (a few microseconds at most, as any waiter does before it sleeps)
 * while the sequence is odd: a writer is in. Returns the sequence last
 * read, as sc_lock_seq_begin; still odd when the writer takes longer (or
 * died), and then the caller takes the read lock. */
uint64_t sc_lock_seq_settle(const sc_lock_t *l);

/* Whether everything read since sc_lock_seq_begin returned seq was read
 * with no writer in: seq was even and has not moved. Only then may the
 * reader use (or return) what it read. */
static inline int sc_lock_seq_valid(const sc_lock_t *l, uint64_t seq)
{
    atomic_thread_fence(memory_order_acquire);
    return (seq & 1u) == 0
        && atomic_load_explicit(&l->sh->seq, memory_order_relaxed) == seq;
}

/* For a reader that may write nothing (a read-only handle): wait until no
 * writer is in, polling (it cannot register as a sleeper), and put the
 * even sequence to hand to sc_lock_seq_valid in *seq. Returns APR_SUCCESS;
 * SHMCACHE_EABANDONED when the sequence is odd and the writer word names
 * no live process (a writer died mid-change: only a writer can recover
 * that, so waiting is pointless; seen within milliseconds); or
 * SHMCACHE_ETIMEDOUT once deadline (apr_time_now() units) has passed
 * with a live writer still in. */
apr_status_t sc_lock_seq_await(const sc_lock_t *l, apr_time_t deadline,
                               uint64_t *seq);

/* The handle's lock timeout in milliseconds (as given at attach, or the
 * default). */
apr_uint32_t sc_lock_timeout_ms(const sc_lock_t *l);

/* Debug builds check the _locked contracts with these (table.h's
 * SC_ASSERT_*): whether this thread holds a write lock it took and has
 * not released; whether it holds a read or a write lock, or is inside an
 * optimistic pass over l's data marked by sc_lock_pass_enter (a read-only
 * handle reads that way, with no lock to hold). They count what the
 * thread took, never read the segment's lock words: those are input that
 * another process may change at any instant, and a check must not abort
 * on input. Not built with NDEBUG (the checks are compiled out). */
int sc_lock_holds_write(const sc_lock_t *l);
int sc_lock_holds_read(const sc_lock_t *l);
void sc_lock_pass_enter(const sc_lock_t *l);
void sc_lock_pass_leave(void);

/* Whether the process who (pid + start time, as a lock slot records it)
 * is alive: the judgement the lock makes of its holders, for others that
 * record holders in the segment (leases). 0 for an identity that cannot
 * name one process. */
int sc_lock_proc_alive(const sc_proc_id_t *who);

/* Whether a process with who's pid exists at all: one system call, for a
 * hot path (sc_os_proc_exists; a zombie or a reused pid looks alive). */
int sc_lock_proc_exists(const sc_proc_id_t *who);

/* This handle's process identity (after a fork, the child's: its slot is
 * claimed now). Returns SHMCACHE_ESLOTS when a forked child cannot get a
 * slot. */
apr_status_t sc_lock_self(sc_lock_t *l, sc_proc_id_t *who);

/* Leases: the word that callers waiting for another caller's lease sleep
 * on, without holding the lock. sc_lock_lease_seq reads it;
 * sc_lock_lease_wait sleeps at most us microseconds while it still reads
 * seen (returns early on a change, or spuriously); sc_lock_lease_notify
 * bumps it and wakes the sleepers (after a lease was completed or
 * released). */
uint32_t sc_lock_lease_seq(const sc_lock_t *l);
void sc_lock_lease_wait(sc_lock_t *l, uint32_t seen, apr_uint32_t us);
void sc_lock_lease_notify(sc_lock_t *l);

/* Figures for stats: live attached slots, current read holds, the writer's
 * pid (0 if none), and the retired + live read-path counters summed.
 * Reads without the lock (values may be a moment old). */
typedef struct sc_lock_stats_t {
    apr_uint32_t attached, readers;
    apr_uint32_t writer_pid;
    apr_uint32_t reader_pid_count;      /* processes holding read locks, */
    apr_uint32_t reader_pids[8];        /* the first 8 of them */
    apr_uint64_t hits, misses;     /* gets are hits + misses */
    apr_uint64_t stale;            /* stale values served lock-free */
    apr_uint64_t read_waits, write_waits, recoveries, dead_readers;
    apr_uint32_t last_dead_pid;
} sc_lock_stats_t;
void sc_lock_stats(const sc_lock_t *l, sc_lock_stats_t *st);

/* Number of slots among the first nslots (a validated count) held by
 * live processes other than this handle (for remove without force, and
 * stats). Does not need a handle: sh may be mapped read-only. Loads only. */
apr_uint32_t sc_lock_count_attached(const sc_lock_sh_t *sh, apr_uint32_t nslots,
                                    const sc_lock_t *self_or_null);

#endif /* SC_LOCK_H */
