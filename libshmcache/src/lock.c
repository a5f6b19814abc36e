/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock.c - the reader/writer lock that lives in the segment (see lock.h).
 *
 * Owns every word of the lock region: the writer word, the sleeper counts,
 * the drain word, the counters, and the per-handle slots (identity, read
 * holds, read-path counters). Only this file writes them.
 *
 * The protocol, with its memory orders
 * ------------------------------------
 * Reader R (slot s) and writer W (slot w) meet in a Dekker pattern:
 *
 *   R: fetch_add(s.readers)   seq_cst    W: CAS(writer, 0 -> w+1)  seq_cst
 *   R: load(writer)           seq_cst    W: load(hwm), then every
 *      == 0: R holds the read lock          load(slot.readers)     seq_cst
 *      != 0: R backs off (fetch_sub)        == 0 everywhere: W holds it
 *
 * All four are seq_cst, so they sit in one total order: either R's load
 * sees W's claim (R backs off) or W's loads see R's increment (W waits).
 * Both cannot miss each other, which acquire/release alone would allow.
 * The same argument covers hwm: a slot claimed after W read hwm raises hwm
 * (seq_cst) before its first increment, so its reader sees W's claim.
 * The seq_cst RMWs also give the acquire/release edges that order the data:
 * wrunlock's CAS releases W's writes to the next reader's fetch_add/load;
 * rdunlock's fetch_sub releases R's reads before W's load of that count.
 *
 * Sleeping: a waiter registers in a sleeper count (global and its slot's
 * share), re-checks, then sc_os_wait()s on the word with a short timeout;
 * the releasing side changes the word and then loads the count (seq_cst on
 * both sides: Dekker again), so it calls sc_os_wake() only when someone
 * sleeps, and a sleeper cannot miss the change. A reader leaving while a
 * writer waits bumps 'drain', the word the draining writer sleeps on.
 * Nobody sleeps or polls while holding the lock; a writer that has claimed
 * the writer word and waits for readers to drain does not hold it yet.
 *
 * Dead holders: a waiter spins briefly, then checks at once whether the
 * holders it waits on are alive (sc_os_proc_alive: pid plus start time),
 * and again every CHECK_US while it sleeps. A draining writer checks every
 * slot that still has read holds at once. Dead readers' holds are dropped
 * (slot reclaimed, dead_readers counted); a dead writer's word is taken
 * over by CAS (recoveries counted) and the taker alone gets
 * SC_LOCK_RECOVERED. A live holder is never robbed: the call gives up with
 * SHMCACHE_ETIMEDOUT at its deadline, LIVE_FACTOR (10) x timeout_ms after
 * it first waited, fixed then and never moved, however the holders change.
 *
 * Slots: FREE -> CLAIMING (CAS, exclusive) -> identity written -> ACTIVE
 * (CAS). Reclaiming a dead owner's slot goes ACTIVE -> CLAIMING (CAS),
 * re-checks the identity and that the slot does not hold the writer word,
 * drops its holds, folds its counters, and either keeps it or frees it. A
 * slot left CLAIMING by a process that died mid-claim is promoted back to
 * ACTIVE (CAS) once it has looked the same for a whole timeout, and then
 * reclaimed the ordinary way.
 *
 * Threads of one process share a handle and its slot; fork is detected by
 * comparing fork_gen with sc_os_fork_generation() and the child claims a
 * slot of its own (serialised among its threads by a process-local flag).
 */
#include "lock.h"
#include "fault.h"
#include "shmcache.h"        /* the slot and timeout limits */

#include <apr_time.h>
#include <string.h>

/* A waiter spins (with sc_os_cpu_relax) for up to SPIN_US before it
 * sleeps: a critical section (a set: under a microsecond) ends sooner than
 * a futex sleep and wake-up (tens of microseconds), and a writer that
 * sleeps behind another writer costs the holder a wake-up syscall too.
 * bench/ measured 2-process sets at a third of 1-process throughput with a
 * 64-load spin. The clock is read every SPIN_BATCH re-checks. */
#define SPIN_US 20
#define SPIN_BATCH 32
/* A waiter that has spun checks whether the holders it waits on are
 * alive at once, and again every CHECK_US while it sleeps (it sleeps at
 * most that long in one go; a release wakes it at once through
 * sc_os_wake). A check reads the holder's start time (/proc on Linux):
 * microseconds, so a dead holder costs waiters milliseconds. */
#define CHECK_US 2000
/* A lock call gives up with SHMCACHE_ETIMEDOUT this many lock timeouts
 * after its first wait began, whoever held the lock meanwhile. Generous so
 * a slow but healthy writer (a check or flush of a big table, a
 * descheduled process) is not reported. */
#define LIVE_FACTOR SC_LOCK_LIVE_FACTOR
/* Slots left half-claimed that one attach considers at most. */
#define STUCK_MAX 16

_Static_assert(sizeof(sc_slot_sh_t) == SC_CACHE_LINE, "a slot is one line");
_Static_assert(sizeof(sc_lock_sh_t) == 2 * SC_CACHE_LINE,
               "hot words on one line, counters on the next");

/* One lock call's patience: its absolute deadline, when it next checks
 * the holders' liveness, and a holder slot seen half-claimed by a dead
 * process (a live claimer finishes in microseconds, but the slot is
 * declared dead only once it looked so for a whole lock timeout). */
typedef struct patience_t {
    apr_time_t deadline;           /* 0 until the call first waits */
    apr_time_t next_check;         /* next liveness check */
    apr_uint32_t stale_slot;       /* slot seen CLAIMING and dead, or none */
    sc_proc_id_t stale_who;
    apr_time_t stale_since;
    int slept;                     /* this lock call has slept */
} patience_t;

#define NO_SLOT 0xFFFFFFFFu

/* A read-only handle, which cannot sleep on a word (it cannot register
 * as a sleeper), polls a writer this often. */
#define READ_ONLY_POLL_US 500

/* Threads of a forked child that re-claim a slot take turns on this. */
static _Atomic uint32_t fork_claim_busy;

/* The lock whose data this thread is reading in an optimistic pass
 * (sc_lock_pass_enter), for the debug checks of the _locked contracts. */
static SC_THREAD_LOCAL const sc_lock_t *in_pass;

/* This thread's holds, for the same checks: write holds and read holds
 * it took and has not released. Kept in the thread, not read from the
 * segment: another process may change the segment's lock words at any
 * instant (a tamperer, a bug), and a debug check must not abort on what
 * is input (sc_lock_holds_write). Counted in debug builds only. */
#ifndef NDEBUG
static SC_THREAD_LOCAL unsigned held_writes, held_reads;
/* an unlock of a hold never taken (a contract broken) leaves 0, not a
 * wrapped count that would pass every later check */
#define NOTE_HOLD(counter, delta) \
    ((counter) = (delta) > 0 ? (counter) + 1u : (counter) > 0 ? (counter) - 1u : 0u)
#else
#define NOTE_HOLD(counter, delta) ((void)0)
#endif

/* ---------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------- */

static sc_slot_sh_t *slot_at(const sc_lock_t *l, apr_uint32_t i)
{
    return &l->slots[i];
}

static apr_time_t timeout_us(const sc_lock_t *l)
{
    return (apr_time_t)l->timeout_ms * 1000;
}

/* Read a slot's owner; the acquire on state pairs with the release that
 * published the identity. */
static void read_owner(const sc_slot_sh_t *s, sc_proc_id_t *who,
                       apr_uint32_t *state)
{
    *state = atomic_load_explicit(&s->state, memory_order_acquire);
    who->pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
    who->start = atomic_load_explicit(&s->start, memory_order_relaxed);
}

static int same_owner(const sc_slot_sh_t *s, const sc_proc_id_t *who)
{
    return atomic_load_explicit(&s->pid, memory_order_relaxed) == who->pid
        && atomic_load_explicit(&s->start, memory_order_relaxed) == who->start;
}

static void write_owner(sc_slot_sh_t *s, const sc_proc_id_t *who)
{
    atomic_store_explicit(&s->pid, who->pid, memory_order_relaxed);
    atomic_store_explicit(&s->start, who->start, memory_order_relaxed);
}

/* The highest slot index a writer must drain, never beyond nslots. */
static apr_uint32_t drain_limit(const sc_lock_t *l)
{
    apr_uint32_t n = atomic_load(&l->sh->hwm);          /* seq_cst */

    return n < l->nslots ? n : l->nslots;
}

/* Make hwm cover slot i before its owner's first read (seq_cst). */
static void raise_hwm(sc_lock_sh_t *sh, apr_uint32_t i)
{
    apr_uint32_t cur = atomic_load(&sh->hwm);

    while (cur < i + 1 && !atomic_compare_exchange_weak(&sh->hwm, &cur, i + 1))
        ;
}

/* ---------------------------------------------------------------------
 * Sleeping and waking
 * ------------------------------------------------------------------- */

/* Wake the draining writer if it sleeps. Called after a slot's count
 * reached zero while the writer word was set. */
static void notify_drain(sc_lock_sh_t *sh)
{
    atomic_fetch_add(&sh->drain, 1);                    /* seq_cst */
    if (atomic_load(&sh->drain_sleepers) != 0)
        sc_os_wake(&sh->drain, 1);
}

/* Wake everyone asleep on the writer word. Called after it changed. */
static void notify_writer(sc_lock_sh_t *sh)
{
    if (atomic_load(&sh->writer_sleepers) != 0)         /* seq_cst */
        sc_os_wake(&sh->writer, 1);
}

/* Sleep on the writer word while it still reads w, at most CHECK_US. The
 * global count goes up before the slot's share and down after it, so a
 * slot reclaimed after its owner died here never gives back more than it
 * added. */
static void sleep_on_writer(sc_lock_t *l, uint32_t w)
{
    sc_slot_sh_t *me = slot_at(l, l->slot);

    atomic_fetch_add(&l->sh->writer_sleepers, 1);       /* seq_cst */
    atomic_fetch_add(&me->writer_sleepers, 1);
    if (atomic_load(&l->sh->writer) == w)
        sc_os_wait(&l->sh->writer, w, CHECK_US);
    atomic_fetch_sub(&me->writer_sleepers, 1);
    atomic_fetch_sub(&l->sh->writer_sleepers, 1);
}

/* Sleep on the drain word (read as d before slot s was seen busy) while
 * s still has readers, at most CHECK_US. */
static void sleep_on_drain(sc_lock_t *l, const sc_slot_sh_t *s, uint32_t d)
{
    sc_slot_sh_t *me = slot_at(l, l->slot);

    atomic_fetch_add(&l->sh->drain_sleepers, 1);        /* seq_cst */
    atomic_fetch_add(&me->drain_sleepers, 1);
    if (atomic_load(&s->readers) != 0)
        sc_os_wait(&l->sh->drain, d, CHECK_US);
    atomic_fetch_sub(&me->drain_sleepers, 1);
    atomic_fetch_sub(&l->sh->drain_sleepers, 1);
}

/* The spin of every waiter: count re-checks and answer whether to stop
 * (SPIN_US spent), pausing the CPU between re-checks. *end starts at 0. */
static int spin_done(int *checks, apr_time_t *end)
{
    sc_os_cpu_relax();
    if (++*checks % SPIN_BATCH != 0)
        return 0;
    if (*end == 0)
        *end = apr_time_now() + SPIN_US;
    return apr_time_now() >= *end;
}

/* Spin up to SPIN_US until *word != value; returns 1 if it changed. */
static int spin_while_equal(_Atomic uint32_t *word, uint32_t value)
{
    apr_time_t end = 0;
    int checks = 0;

    do {
        if (atomic_load_explicit(word, memory_order_relaxed) != value)
            return 1;
    } while (!spin_done(&checks, &end));
    return 0;
}

/* ---------------------------------------------------------------------
 * Slots: claiming, reclaiming, releasing
 * ------------------------------------------------------------------- */

/* Move a slot's counters into the retired totals (idempotent: each is
 * exchanged for 0, so a reclaim that dies half-way can be redone). */
static void fold_counters(sc_lock_sh_t *sh, sc_slot_sh_t *s)
{
    atomic_fetch_add_explicit(&sh->retired_hits,
        atomic_exchange_explicit(&s->hits, 0, memory_order_relaxed),
        memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->retired_misses,
        atomic_exchange_explicit(&s->misses, 0, memory_order_relaxed),
        memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->retired_stale,
        atomic_exchange_explicit(&s->stale, 0, memory_order_relaxed),
        memory_order_relaxed);
}

/* Drop everything a slot's (dead) owner left behind: read holds (counted
 * as dead readers, and the draining writer woken), sleeper registrations,
 * counters. The caller owns the slot (state CLAIMING). */
static void drop_holds(sc_lock_sh_t *sh, sc_slot_sh_t *s)
{
    uint32_t n = atomic_exchange(&s->readers, 0);       /* seq_cst */

    if (n != 0) {
        atomic_fetch_add_explicit(&sh->dead_readers, n, memory_order_relaxed);
        notify_drain(sh);
    }
    n = atomic_exchange(&s->writer_sleepers, 0);
    if (n != 0)
        atomic_fetch_sub(&sh->writer_sleepers, n);
    n = atomic_exchange(&s->drain_sleepers, 0);
    if (n != 0)
        atomic_fetch_sub(&sh->drain_sleepers, n);
    fold_counters(sh, s);
}

/* Return a slot the caller owns (CLAIMING) to FREE. */
static void release_slot(sc_slot_sh_t *s)
{
    sc_proc_id_t nobody = {0, 0};

    write_owner(s, &nobody);
    atomic_store_explicit(&s->state, SC_SLOT_FREE, memory_order_release);
}

/* Finish a claim of slot i (owned, CLAIMING): write our identity, publish
 * ACTIVE. Returns 0 if the slot was taken from us meanwhile (we stalled
 * for a whole lock timeout mid-claim and were taken for dead). */
static int finish_claim(sc_lock_t *l, apr_uint32_t i)
{
    sc_slot_sh_t *s = slot_at(l, i);
    uint32_t st = SC_SLOT_CLAIMING;

    write_owner(s, &l->self);
    SC_FAULT_POINT("lock.attach.claiming");
    if (!same_owner(s, &l->self))
        return 0;
    if (!atomic_compare_exchange_strong_explicit(&s->state, &st,
            SC_SLOT_ACTIVE, memory_order_release, memory_order_relaxed))
        return 0;
    raise_hwm(l->sh, i);
    l->slot = i;
    return 1;
}

/* Claim slot i if it is FREE. Returns 1 when it is ours. */
static int claim_free(sc_lock_t *l, apr_uint32_t i)
{
    sc_slot_sh_t *s = slot_at(l, i);
    uint32_t st = SC_SLOT_FREE;

    if (atomic_load_explicit(&s->state, memory_order_relaxed) != SC_SLOT_FREE)
        return 0;
    if (!atomic_compare_exchange_strong_explicit(&s->state, &st,
            SC_SLOT_CLAIMING, memory_order_acquire, memory_order_relaxed))
        return 0;
    return finish_claim(l, i);
}

/* Take slot i from its dead owner `who` (seen in state `seen`): drop what
 * it left, then keep the slot for this handle (keep) or free it. A slot
 * that still holds the writer word, or whose owner changed, is left alone.
 * A CLAIMING slot is first promoted back to ACTIVE so that exactly one
 * reclaimer wins the ACTIVE -> CLAIMING CAS. Returns 1 on success. */
static int reap_slot(sc_lock_t *l, apr_uint32_t i, const sc_proc_id_t *who,
                     uint32_t seen, int keep)
{
    sc_slot_sh_t *s = slot_at(l, i);
    uint32_t st = seen;

    if (seen == SC_SLOT_CLAIMING
        && !atomic_compare_exchange_strong(&s->state, &st, SC_SLOT_ACTIVE))
        return 0;
    st = seen == SC_SLOT_FREE ? SC_SLOT_FREE : SC_SLOT_ACTIVE;
    if (!atomic_compare_exchange_strong(&s->state, &st, SC_SLOT_CLAIMING))
        return 0;
    if (!same_owner(s, who) || atomic_load(&l->sh->writer) == i + 1) {
        atomic_store_explicit(&s->state, seen == SC_SLOT_FREE ? SC_SLOT_FREE
                              : SC_SLOT_ACTIVE, memory_order_release);
        return 0;
    }
    drop_holds(l->sh, s);
    SC_FAULT_POINT("lock.reap.claimed");
    if (keep)
        return finish_claim(l, i);
    release_slot(s);
    return 1;
}

/* Claim the first FREE slot. Returns 1 on success. */
static int claim_any_free(sc_lock_t *l)
{
    apr_uint32_t i;

    for (i = 0; i < l->nslots; i++)
        if (claim_free(l, i))
            return 1;
    return 0;
}

/* Reclaim for this handle the first ACTIVE slot whose owner is dead and
 * that does not hold the writer word. Returns 1 on success. */
static int claim_any_dead(sc_lock_t *l)
{
    sc_proc_id_t who;
    apr_uint32_t i, st;

    for (i = 0; i < l->nslots; i++) {
        read_owner(slot_at(l, i), &who, &st);
        if (st != SC_SLOT_ACTIVE || atomic_load(&l->sh->writer) == i + 1)
            continue;
        if (!sc_os_proc_alive(&who) && reap_slot(l, i, &who, st, 1))
            return 1;
    }
    return 0;
}

/* Reclaim a slot left CLAIMING by a process that died mid-claim: one that
 * looks the same (dead or unknown owner) before and after a whole lock
 * timeout. Only tried when no slot is free or dead. Returns 1 on success. */
static int claim_any_stuck(sc_lock_t *l)
{
    apr_uint32_t idx[STUCK_MAX], i, k, n = 0, st;
    sc_proc_id_t who[STUCK_MAX], now;

    for (i = 0; i < l->nslots && n < STUCK_MAX; i++) {
        read_owner(slot_at(l, i), &who[n], &st);
        if (st == SC_SLOT_CLAIMING && !sc_os_proc_alive(&who[n]))
            idx[n++] = i;
    }
    if (n == 0)
        return 0;
    apr_sleep(timeout_us(l));
    for (k = 0; k < n; k++) {
        read_owner(slot_at(l, idx[k]), &now, &st);
        if (st == SC_SLOT_CLAIMING && now.pid == who[k].pid
            && now.start == who[k].start
            && reap_slot(l, idx[k], &who[k], SC_SLOT_CLAIMING, 1))
            return 1;
    }
    return 0;
}

/* Give this handle a slot: a free one, a dead process's, or a stuck one;
 * then publish fork_gen (release) so threads see slot and self. */
static apr_status_t claim_slot(sc_lock_t *l)
{
    sc_os_proc_self(&l->self);   /* also arms fork detection */
    if (!claim_any_free(l) && !claim_any_dead(l) && !claim_any_stuck(l))
        return SHMCACHE_ESLOTS;
    atomic_store_explicit(&l->fork_gen, sc_os_fork_generation(),
                          memory_order_release);
    return APR_SUCCESS;
}

/* Whether this handle has a slot and it belongs to this process (no fork
 * since). A read-only handle has none. */
static int slot_is_mine(const sc_lock_t *l)
{
    return !l->read_only
        && atomic_load_explicit(&l->fork_gen, memory_order_acquire)
           == sc_os_fork_generation();
}

/* In a forked child: claim a slot of the child's own, once, whichever
 * thread gets here first. The parent's slot is left to the parent. */
static apr_status_t claim_after_fork(sc_lock_t *l)
{
    apr_status_t rv = APR_SUCCESS;

    while (atomic_exchange(&fork_claim_busy, 1) != 0)
        sc_os_wait(&fork_claim_busy, 1, CHECK_US);
    if (!slot_is_mine(l))
        rv = claim_slot(l);
    atomic_store(&fork_claim_busy, 0);
    sc_os_wake(&fork_claim_busy, 1);
    return rv;
}

/* The fast-path fork check of every lock call (a read-only handle may
 * take no lock and claim no slot). */
static apr_status_t check_fork(sc_lock_t *l)
{
    if (slot_is_mine(l))
        return APR_SUCCESS;
    return l->read_only ? SHMCACHE_EREADONLY : claim_after_fork(l);
}

/* ---------------------------------------------------------------------
 * Waiting for holders
 * ------------------------------------------------------------------- */

/* A lock call starts with no deadline (kept off the fast path: only
 * these two fields are read before a wait fills the rest). */
static void patience_start(patience_t *p)
{
    p->deadline = 0;
    p->slept = 0;
}

/* The call is about to wait: fix its deadline at the first wait (never
 * moved afterwards) and answer whether it has passed. Returns now, or 0
 * when the deadline has passed. */
static apr_time_t still_patient(const sc_lock_t *l, patience_t *p)
{
    apr_time_t now = apr_time_now();

    if (p->deadline == 0) {
        p->deadline = now + LIVE_FACTOR * timeout_us(l);
        p->next_check = now;        /* the first check comes at once */
        p->stale_slot = NO_SLOT;
    }
    return now >= p->deadline ? 0 : now;
}

/* Whether it is time for a liveness check (then the next is scheduled). */
static int check_due(patience_t *p, apr_time_t now)
{
    if (now < p->next_check)
        return 0;
    p->next_check = now + CHECK_US;
    return 1;
}

/* Whether slot idx's owner, read as who in state st, is dead. A slot left
 * CLAIMING (its owner died mid-claim, or is still claiming) counts as dead
 * only once it has looked the same for a whole lock timeout. A slot index
 * out of range (a tampered writer word) has no owner: dead. */
static int holder_dead(const sc_lock_t *l, patience_t *p, apr_uint32_t idx,
                       const sc_proc_id_t *who, apr_uint32_t st,
                       apr_time_t now)
{
    if (idx >= l->nslots)
        return 1;
    if (sc_os_proc_alive(who))
        return 0;
    if (st != SC_SLOT_CLAIMING)
        return 1;
    if (p->stale_slot != idx || p->stale_who.pid != who->pid
        || p->stale_who.start != who->start || now < p->stale_since) {
        p->stale_slot = idx;
        p->stale_who = *who;
        p->stale_since = now;
        return 0;
    }
    return now - p->stale_since >= timeout_us(l);
}

/* The owner of slot idx as seen now (nobody, for an index out of range). */
static void owner_of(const sc_lock_t *l, apr_uint32_t idx, sc_proc_id_t *who,
                     apr_uint32_t *st)
{
    who->pid = 0;
    who->start = 0;
    *st = SC_SLOT_FREE;
    if (idx < l->nslots)
        read_owner(slot_at(l, idx), who, st);
}

/* The writer word read w names a dead holder (who, in state st): take it
 * over by CAS, reclaim the dead writer's slot (dropping its read holds),
 * and count the recovery. Returns SC_LOCK_RECOVERED when we now own the
 * writer word, or APR_SUCCESS to look again (someone else moved first). */
static apr_status_t take_over(sc_lock_t *l, const sc_proc_id_t *who,
                              apr_uint32_t st, uint32_t w)
{
    apr_uint32_t dead = w - 1;
    uint32_t expect = w;

    /* last look right before the CAS: the slot must still be the dead
     * owner's, or a new live owner may have the word by now */
    if (dead < l->nslots && !same_owner(slot_at(l, dead), who))
        return APR_SUCCESS;
    if (!atomic_compare_exchange_strong(&l->sh->writer, &expect, l->slot + 1))
        return APR_SUCCESS;
    atomic_fetch_add_explicit(&l->sh->recoveries, 1, memory_order_relaxed);
    atomic_store_explicit(&l->sh->last_dead_pid, who->pid, memory_order_relaxed);
    if (dead < l->nslots)
        reap_slot(l, dead, who, st, 0);
    SC_FAULT_POINT("lock.wr.recovered");
    return SC_LOCK_RECOVERED;
}

/* The writer word read w != 0: wait a little for it to change, checking
 * the writer's liveness when due. Returns APR_SUCCESS (look again),
 * SC_LOCK_RECOVERED (we took over a dead writer's word; readers not
 * drained yet) or SHMCACHE_ETIMEDOUT (the call's deadline passed). */
static apr_status_t await_writer(sc_lock_t *l, patience_t *p, uint32_t w)
{
    sc_proc_id_t who;
    apr_uint32_t st;
    apr_time_t now;

    if (spin_while_equal(&l->sh->writer, w))
        return p->deadline != 0 && apr_time_now() >= p->deadline
                   ? SHMCACHE_ETIMEDOUT : APR_SUCCESS;
    now = still_patient(l, p);
    if (now == 0)
        return SHMCACHE_ETIMEDOUT;
    if (check_due(p, now)) {
        owner_of(l, w - 1, &who, &st);
        if (atomic_load(&l->sh->writer) != w)
            return APR_SUCCESS;
        if (holder_dead(l, p, w - 1, &who, st, now))
            return take_over(l, &who, st, w);
    }
    sleep_on_writer(l, w);
    p->slept = 1;
    return APR_SUCCESS;
}

/* Reclaim every slot in [from, n) that has read holds and a dead owner
 * (all of them at once, so several dead readers cost one check). Returns
 * the number reclaimed. */
static apr_uint32_t reap_dead_readers(sc_lock_t *l, patience_t *p,
                                      apr_uint32_t from, apr_uint32_t n,
                                      apr_time_t now)
{
    apr_uint32_t i, reaped = 0, st;
    sc_proc_id_t who;

    for (i = from; i < n; i++) {
        if (atomic_load(&slot_at(l, i)->readers) == 0)
            continue;
        read_owner(slot_at(l, i), &who, &st);
        if (holder_dead(l, p, i, &who, st, now)
            && reap_slot(l, i, &who, st, 0)) {
            atomic_store_explicit(&l->sh->last_dead_pid, who.pid,
                                  memory_order_relaxed);
            reaped++;
        }
    }
    return reaped;
}

/* Slot i (of the first n) has readers and we own the writer word: wait a
 * little for them to leave, reclaiming the slots of dead readers when a
 * check is due. Returns APR_SUCCESS (look again) or SHMCACHE_ETIMEDOUT. */
static apr_status_t await_drain(sc_lock_t *l, patience_t *p, apr_uint32_t i,
                                apr_uint32_t n)
{
    sc_slot_sh_t *s = slot_at(l, i);
    uint32_t d;
    apr_time_t now;

    if (spin_while_equal(&s->readers, atomic_load_explicit(&s->readers,
                         memory_order_relaxed)))
        return p->deadline != 0 && apr_time_now() >= p->deadline
                   ? SHMCACHE_ETIMEDOUT : APR_SUCCESS;
    now = still_patient(l, p);
    if (now == 0)
        return SHMCACHE_ETIMEDOUT;
    if (check_due(p, now) && reap_dead_readers(l, p, i, n, now) > 0)
        return APR_SUCCESS;
    d = atomic_load(&l->sh->drain);
    sleep_on_drain(l, s, d);
    p->slept = 1;
    return APR_SUCCESS;
}

/* We own the writer word: wait until no slot has read holds. */
static apr_status_t drain_readers(sc_lock_t *l, patience_t *p)
{
    apr_uint32_t i, n = drain_limit(l);
    apr_status_t rv;

    for (i = 0; i < n; i++) {
        while (atomic_load(&slot_at(l, i)->readers) != 0) {  /* seq_cst */
            rv = await_drain(l, p, i, n);
            if (rv != APR_SUCCESS)
                return rv;
        }
    }
    return APR_SUCCESS;
}

/* Give up the writer word if it is still ours, and wake its sleepers. */
static void release_writer(sc_lock_t *l)
{
    uint32_t me = l->slot + 1;

    if (atomic_compare_exchange_strong(&l->sh->writer, &me, 0)) /* seq_cst */
        notify_writer(l->sh);
}

/* The writer, readers drained, is about to change the data: make the
 * sequence odd (it already is when the last writer died in it), before
 * any data store (the release fence orders the stores that follow). */
static void seq_enter(sc_lock_sh_t *sh)
{
    uint64_t s = atomic_load_explicit(&sh->seq, memory_order_relaxed);

    if ((s & 1u) == 0)
        atomic_store_explicit(&sh->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

/* The writer is done: a new even sequence, after every data store. */
static void seq_leave(sc_lock_sh_t *sh)
{
    uint64_t s = atomic_load_explicit(&sh->seq, memory_order_relaxed);

    atomic_store_explicit(&sh->seq, (s | 1u) + 1, memory_order_release);
}

/* A read hold of slot s ends (unlock, or a reader backing off). */
static void leave_read(sc_lock_sh_t *sh, sc_slot_sh_t *s)
{
    uint32_t old = atomic_fetch_sub(&s->readers, 1);    /* seq_cst */

    if (old == 0) {                 /* unbalanced unlock: undo, ignore */
        atomic_fetch_add(&s->readers, 1);
        return;
    }
    if (old == 1 && atomic_load(&sh->writer) != 0)
        notify_drain(sh);
}

/* We own the writer word (status claimed: APR_SUCCESS or
 * SC_LOCK_RECOVERED): drain the readers. On failure the word is given
 * back and nothing is held. */
static apr_status_t finish_write(sc_lock_t *l, patience_t *p,
                                 apr_status_t claimed)
{
    apr_status_t rv = drain_readers(l, p);

    if (rv != APR_SUCCESS) {
        release_writer(l);
        return rv;
    }
    seq_enter(l->sh);
    SC_FAULT_POINT("lock.wr.held");
    return claimed;
}

/* ---------------------------------------------------------------------
 * The contract of lock.h
 * ------------------------------------------------------------------- */

/* Bytes of the lock region: the lock struct plus nslots lines. */
apr_uint64_t sc_lock_region_size(apr_uint32_t nslots)
{
    return (apr_uint64_t)sizeof(sc_lock_sh_t)
         + (apr_uint64_t)nslots * sizeof(sc_slot_sh_t);
}

/* Zero the region and record nslots. Creator only, before publishing. */
void sc_lock_init(sc_lock_sh_t *sh, apr_uint32_t nslots)
{
    /* all-zero bytes are a valid value of every lock-free atomic here */
    memset(sh, 0, (size_t)sc_lock_region_size(nslots));
    sh->nslots = nslots;
}

/* Claim a slot (free, dead, or stuck mid-claim). APR_SUCCESS,
 * SHMCACHE_ESLOTS, or SHMCACHE_ECORRUPT for a bad slot count. */
/* Point a zeroed l at the region (no slot yet). SHMCACHE_ECORRUPT for a
 * slot count out of range. */
static apr_status_t bind_region(sc_lock_t *l, sc_lock_sh_t *sh,
                                apr_uint32_t nslots, apr_uint32_t timeout_ms)
{
    memset(l, 0, sizeof *l);
    if (nslots == 0 || nslots > SHMCACHE_LIMIT_SLOTS)
        return SHMCACHE_ECORRUPT;
    l->sh = sh;
    l->slots = (sc_slot_sh_t *)(sh + 1);
    l->nslots = nslots;
    l->timeout_ms = timeout_ms != 0 ? timeout_ms
                                    : SHMCACHE_DEFAULT_LOCK_TIMEOUT_MS;
    l->opener = sc_os_thread_self();
    return APR_SUCCESS;
}

apr_status_t sc_lock_attach(sc_lock_t *l, sc_lock_sh_t *sh,
                            apr_uint32_t nslots, apr_uint32_t timeout_ms)
{
    apr_status_t rv = bind_region(l, sh, nslots, timeout_ms);

    if (rv != APR_SUCCESS)
        return rv;
    rv = claim_slot(l);
    if (rv != APR_SUCCESS)
        memset(l, 0, sizeof *l);    /* detach of a failed handle: no-op */
    return rv;
}

/* Bind without a slot (see lock.h). */
apr_status_t sc_lock_attach_read_only(sc_lock_t *l, sc_lock_sh_t *sh,
                                      apr_uint32_t nslots,
                                      apr_uint32_t timeout_ms)
{
    apr_status_t rv = bind_region(l, sh, nslots, timeout_ms);

    if (rv != APR_SUCCESS)
        return rv;
    l->slot = NO_SLOT;
    l->read_only = 1;
    sc_os_proc_self(&l->self);
    return APR_SUCCESS;
}

/* Free this handle's slot (counters folded into the retired totals). A
 * handle inherited over fork has no slot of its own to free. */
void sc_lock_detach(sc_lock_t *l)
{
    sc_slot_sh_t *s;
    uint32_t st = SC_SLOT_ACTIVE;

    if (l->sh == NULL || !slot_is_mine(l))
        return;
    s = slot_at(l, l->slot);
    if (!atomic_compare_exchange_strong(&s->state, &st, SC_SLOT_CLAIMING))
        return;
    if (!same_owner(s, &l->self)) {
        atomic_store(&s->state, SC_SLOT_ACTIVE);   /* not ours any more */
        return;
    }
    drop_holds(l->sh, s);
    release_slot(s);
}

/* Read lock: see lock.h for the statuses. */
apr_status_t sc_lock_rdlock(sc_lock_t *l)
{
    patience_t p;
    sc_slot_sh_t *me;
    apr_status_t rv;
    uint32_t w;

    if ((rv = check_fork(l)) != APR_SUCCESS)
        return rv;
    patience_start(&p);
    me = slot_at(l, l->slot);
    for (;;) {
        atomic_fetch_add(&me->readers, 1);              /* seq_cst */
        w = atomic_load(&l->sh->writer);                /* seq_cst */
        if (w == 0)
            break;
        leave_read(l->sh, me);
        rv = await_writer(l, &p, w);
        if (rv == SC_LOCK_RECOVERED)
            rv = finish_write(l, &p, rv);
        if (rv != APR_SUCCESS)
            goto done;
    }
    SC_FAULT_POINT("lock.rd.held");
done:
    if (rv == APR_SUCCESS)
        NOTE_HOLD(held_reads, 1);
    else if (rv == SC_LOCK_RECOVERED)
        NOTE_HOLD(held_writes, 1);
    if (p.slept)
        atomic_fetch_add_explicit(&l->sh->read_waits, 1, memory_order_relaxed);
    return rv;
}

/* Drop a read hold. After a fork the child holds none of the parent's. */
void sc_lock_rdunlock(sc_lock_t *l)
{
    NOTE_HOLD(held_reads, -1);
    if (slot_is_mine(l))
        leave_read(l->sh, slot_at(l, l->slot));
}

/* Write lock: see lock.h for the statuses. */
apr_status_t sc_lock_wrlock(sc_lock_t *l)
{
    patience_t p;
    apr_status_t rv;
    uint32_t w;

    if ((rv = check_fork(l)) != APR_SUCCESS)
        return rv;
    patience_start(&p);
    for (;;) {
        w = 0;
        if (atomic_compare_exchange_strong(&l->sh->writer, &w, l->slot + 1)) {
            rv = APR_SUCCESS;                           /* seq_cst */
            break;
        }
        rv = await_writer(l, &p, w);
        if (rv != APR_SUCCESS)
            break;
    }
    if (rv == APR_SUCCESS || rv == SC_LOCK_RECOVERED) {
        SC_FAULT_POINT("lock.wr.claimed");
        rv = finish_write(l, &p, rv);
    }
    if (rv == APR_SUCCESS || rv == SC_LOCK_RECOVERED)
        NOTE_HOLD(held_writes, 1);
    if (p.slept)
        atomic_fetch_add_explicit(&l->sh->write_waits, 1, memory_order_relaxed);
    return rv;
}

/* Release the write lock (only if this handle's slot still owns it). */
void sc_lock_wrunlock(sc_lock_t *l)
{
    NOTE_HOLD(held_writes, -1);
    if (!slot_is_mine(l)
        || atomic_load(&l->sh->writer) != l->slot + 1)
        return;
    seq_leave(l->sh);
    release_writer(l);
}

/* Wait out a writer briefly for an optimistic reader: see lock.h. */
uint64_t sc_lock_seq_settle(const sc_lock_t *l)
{
    uint64_t s = sc_lock_seq_begin(l);
    apr_time_t end = 0;
    int checks = 0;

    while ((s & 1u) && !spin_done(&checks, &end))
        s = sc_lock_seq_begin(l);
    return s;
}

/* This handle's slot, for its read-path counters (after a fork, the
 * child's own: see lock.h). */
sc_slot_sh_t *sc_lock_my_slot(sc_lock_t *l)
{
    if (!slot_is_mine(l) && check_fork(l) != APR_SUCCESS)
        return NULL;
    return slot_at(l, l->slot);
}

/* Whether the odd sequence s is a writer's that died: the writer word
 * names no live process, and the sequence has not moved meanwhile (a
 * writer that left between the two loads is not dead). */
static int writer_abandoned(const sc_lock_t *l, uint64_t s)
{
    uint32_t w = atomic_load_explicit(&l->sh->writer, memory_order_acquire);
    sc_proc_id_t who;
    apr_uint32_t st;

    owner_of(l, w - 1, &who, &st);      /* w == 0: index out of range */
    if (sc_lock_seq_begin(l) != s)
        return 0;
    return w == 0 || who.pid == 0 || !sc_os_proc_alive(&who);
}

/* A reader that writes nothing waits out a writer: see lock.h. */
apr_status_t sc_lock_seq_await(const sc_lock_t *l, apr_time_t deadline,
                               uint64_t *seq)
{
    for (;;) {
        uint64_t s = sc_lock_seq_settle(l);
        if ((s & 1u) == 0) {
            *seq = s;
            return APR_SUCCESS;
        }
        if (writer_abandoned(l, s))
            return SHMCACHE_EABANDONED;
        if (apr_time_now() >= deadline)
            return SHMCACHE_ETIMEDOUT;
        apr_sleep(READ_ONLY_POLL_US);
    }
}

apr_uint32_t sc_lock_timeout_ms(const sc_lock_t *l)
{
    return l->timeout_ms;
}

#ifndef NDEBUG
int sc_lock_holds_write(const sc_lock_t *l)
{
    (void)l;                  /* any of this thread's write holds */
    return held_writes > 0;
}

int sc_lock_holds_read(const sc_lock_t *l)
{
    return in_pass == l || held_writes > 0 || held_reads > 0;
}
#endif

void sc_lock_pass_enter(const sc_lock_t *l)
{
    in_pass = l;
}

void sc_lock_pass_leave(void)
{
    in_pass = NULL;
}

/* Sum the figures without the lock. attached counts ACTIVE slots, which
 * may include dead owners not yet reclaimed (sc_lock_count_attached
 * checks liveness). */
void sc_lock_stats(const sc_lock_t *l, sc_lock_stats_t *st)
{
    const sc_lock_sh_t *sh = l->sh;
    apr_uint32_t i, w;

    memset(st, 0, sizeof *st);
    for (i = 0; i < l->nslots; i++) {
        const sc_slot_sh_t *s = &l->slots[i];
        if (atomic_load_explicit(&s->state, memory_order_relaxed)
            == SC_SLOT_ACTIVE)
            st->attached++;
        apr_uint32_t r = atomic_load_explicit(&s->readers, memory_order_relaxed);
        st->readers += r;
        if (r > 0) {
            if (st->reader_pid_count < 8)
                st->reader_pids[st->reader_pid_count] =
                    atomic_load_explicit(&s->pid, memory_order_relaxed);
            st->reader_pid_count++;
        }
        st->hits += atomic_load_explicit(&s->hits, memory_order_relaxed);
        st->misses += atomic_load_explicit(&s->misses, memory_order_relaxed);
        st->stale += atomic_load_explicit(&s->stale, memory_order_relaxed);
    }
    w = atomic_load_explicit(&sh->writer, memory_order_relaxed);
    if (w != 0 && w <= l->nslots)
        st->writer_pid = atomic_load_explicit(&l->slots[w - 1].pid,
                                              memory_order_relaxed);
    st->hits += atomic_load_explicit(&sh->retired_hits, memory_order_relaxed);
    st->misses += atomic_load_explicit(&sh->retired_misses,
                                       memory_order_relaxed);
    st->stale += atomic_load_explicit(&sh->retired_stale, memory_order_relaxed);
    st->read_waits = atomic_load_explicit(&sh->read_waits, memory_order_relaxed);
    st->write_waits = atomic_load_explicit(&sh->write_waits,
                                           memory_order_relaxed);
    st->recoveries = atomic_load_explicit(&sh->recoveries, memory_order_relaxed);
    st->dead_readers = atomic_load_explicit(&sh->dead_readers,
                                            memory_order_relaxed);
    st->last_dead_pid = atomic_load_explicit(&sh->last_dead_pid,
                                             memory_order_relaxed);
}

/* Slots of live processes other than self_or_null's, among the first
 * nslots (validated by the caller). Loads only, so sh may be mapped
 * read-only. */
apr_uint32_t sc_lock_count_attached(const sc_lock_sh_t *sh, apr_uint32_t nslots,
                                    const sc_lock_t *self_or_null)
{
    const sc_slot_sh_t *slots = (const sc_slot_sh_t *)(sh + 1);
    apr_uint32_t i, count = 0, st;
    sc_proc_id_t who;

    for (i = 0; i < nslots; i++) {
        if (self_or_null != NULL && self_or_null->sh == sh
            && i == self_or_null->slot)
            continue;
        read_owner(&slots[i], &who, &st);
        if (st != SC_SLOT_FREE && who.pid != 0 && sc_os_proc_alive(&who))
            count++;
    }
    return count;
}

/* The lock's judgement of a holder, for leases (see lock.h). */
int sc_lock_proc_alive(const sc_proc_id_t *who)
{
    return sc_os_proc_alive(who);
}

int sc_lock_proc_exists(const sc_proc_id_t *who)
{
    return sc_os_proc_exists(who);
}

/* This handle's process identity, after the fork check (see lock.h). */
apr_status_t sc_lock_self(sc_lock_t *l, sc_proc_id_t *who)
{
    apr_status_t rv = check_fork(l);

    if (rv == APR_SUCCESS)
        *who = l->self;
    return rv;
}

uint32_t sc_lock_lease_seq(const sc_lock_t *l)
{
    return atomic_load(&l->sh->lease_seq);              /* seq_cst */
}

/* Sleep on the lease word (Dekker with sc_lock_lease_notify, as the
 * writer word's sleepers). */
void sc_lock_lease_wait(sc_lock_t *l, uint32_t seen, apr_uint32_t us)
{
    atomic_fetch_add(&l->sh->lease_sleepers, 1);        /* seq_cst */
    if (atomic_load(&l->sh->lease_seq) == seen)
        sc_os_wait(&l->sh->lease_seq, seen, us);
    atomic_fetch_sub(&l->sh->lease_sleepers, 1);
}

void sc_lock_lease_notify(sc_lock_t *l)
{
    atomic_fetch_add(&l->sh->lease_seq, 1);             /* seq_cst */
    if (atomic_load(&l->sh->lease_sleepers) != 0)
        sc_os_wake(&l->sh->lease_seq, 1);
}
