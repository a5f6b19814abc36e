/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tamper.c - the segment is untrusted at every instant: a process
 * that can write the segment rewrites fields of a live cache while other
 * processes are inside operations, and nothing may crash, read or write
 * outside the mapping, wait past its documented bound, or return a status
 * shmcache.h does not document.
 *
 * Concurrent tamper cases (one per field class): a tamperer helper maps
 * the segment file itself (plain mmap, no library handle) and flips one
 * class of fields between their valid value and hostile ones as fast as
 * it can, with tiny random pauses; meanwhile OPS_HELPERS operations
 * helpers run every public call in a loop (get, get_buf, get_meta, set,
 * add, replace, cas, incr, delete, touch, iterate, scan, stats, check,
 * flush, attach + close, and the remove probe without force, which must
 * never remove the segment while its caller is attached). The classes:
 * header region offsets, sizes and limits; the allocator's bounds,
 * bitmaps and list heads; the lock's slot count, writer word (a free
 * slot, a slot out of range, live slots that take turns) and sequence
 * word; entries' key and value lengths; chain links and bucket words
 * (self-loops, 2-cycles, wild granules); allocator block headers. Outside
 * the header and lock classes the tamperer also plants a dead writer
 * every 150 ms, so that repair runs while the fields flip. Every call is
 * timed against 10 x lock_timeout_ms (shmcache.h, Caveats) plus a
 * scheduling margin; a watchdog thread names a call that overstays and
 * ends a helper whose call never returns. Every process maps segments
 * between PROT_NONE guard pages (tests/guard_pages.c). At the end of each
 * case a settle helper checks the cache and, if it is damaged, mends it by
 * the repair that a planted dead writer triggers (or, failing that, a
 * flush), within bounded time; the cache must then pass check. Each
 * helper prints its calls, the statuses it saw (and which calls returned
 * ECORRUPT or ETIMEDOUT) and its slowest call; the tamperer its flips.
 *
 * Crafted-repair cases: chains that no correct writer makes (a duplicate
 * key that links to itself, a 2-cycle, a self-loop, duplicates along a
 * long chain) reached through a planted dead writer: one ordinary set must
 * recover the lock, repair and return within 2 x lock timeout + 1 s, and
 * check must pass afterwards. Each runs in a helper under a time limit, so
 * a repair that never ends fails the case instead of hanging ctest.
 *
 * Run longer: SHMCACHE_TAMPER_SECONDS (default 4) per tamper case;
 * SHMCACHE_TAMPER_SEED (default 1) changes the tamperer's choices;
 * SHMCACHE_TAMPER_MARGIN_MS (default 500) is the scheduling margin added
 * to every call's bound. Run one part: CK_RUN_CASE=tamper (or repair);
 * one field class: SHMCACHE_TAMPER_ONLY=header (allocator, lock,
 * entry-lengths, chain-links, block-headers). SHMCACHE_TAMPER_NO_PROBE=1
 * leaves out the remove probe (a probe that removes the segment in use
 * stops every other check of the case: this shows what lies behind it).
 * SHMCACHE_TAMPER_DRY=1 makes the tamperer idle: a control run of the
 * same load, which must pass on any machine (a failure then is the
 * harness's or the machine's, not the library's defence).
 *
 * Linux only (the tamperer maps the file with mmap and judges slots by
 * pid); elsewhere the suite is empty.
 */
#include "harness.h"

#include "alloc.h"
#include "lock.h"
#include "segment.h"
#include "table.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#if defined(__linux__)
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define TAMPER_SUPPORTED 1
#else
#define TAMPER_SUPPORTED 0
#endif

#if TAMPER_SUPPORTED

/* ------------------------------------------------------------------------
 * Parameters
 * ---------------------------------------------------------------------- */

#define SEG_SIZE      SHMCACHE_MIN_SIZE  /* small: 4096 slots x 64 B run past it */
#define SEG_BUCKETS   256u           /* iterate is one batch: one lock call */
#define SEG_SLOTS     16u
#define NKEYS         96u            /* keys the operations use */
#define OPS_HELPERS   3
#define LOCK_MS       50u            /* lock_timeout_ms of the operations */
#define REPAIR_LOCK_MS 100u          /* lock_timeout_ms of settle and repair */
#define HANG_EXTRA_MS 5000           /* a call this far past its bound hangs */

static long tamper_seconds(void)
{
    return th_env_long("SHMCACHE_TAMPER_SECONDS", 4);
}

static long margin_ms(void)
{
    return th_env_long("SHMCACHE_TAMPER_MARGIN_MS", 500);
}

/* The documented bound of one call of a handle with lock timeout t ms
 * (shmcache.h: ETIMEDOUT after 10 x lock_timeout_ms), plus the margin. */
static apr_time_t call_bound_us(apr_uint32_t t)
{
    return ((apr_time_t)10 * t + margin_ms()) * 1000;
}

/* ------------------------------------------------------------------------
 * Small tools
 * ---------------------------------------------------------------------- */

/* xorshift64*: a reproducible stream per seed. */
static apr_uint64_t rnd(apr_uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static apr_uint64_t below(apr_uint64_t *s, apr_uint64_t n)
{
    return n == 0 ? 0 : rnd(s) % n;
}

static void key_name(char *buf, apr_size_t n, unsigned i)
{
    apr_snprintf(buf, n, "key-%03u", i);
}

/* Milliseconds since t0. */
static long ms_since(apr_time_t t0)
{
    return (long)((apr_time_now() - t0) / 1000);
}

/* A shared mapping of the whole segment file, made with plain mmap (no
 * library handle). map.size is the file's length. */
typedef struct seg_map_t {
    char *base;
    apr_size_t size;
    sc_header_sh_t hdr;            /* the header as it was when mapped */
} seg_map_t;

/* Map the file at path read-write. Returns 0 on failure. */
static int map_file(seg_map_t *m, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_NOFOLLOW);

    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || (apr_size_t)st.st_size < SC_HEADER_SIZE) {
        close(fd);
        return 0;
    }
    m->size = (apr_size_t)st.st_size;
    m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m->base == MAP_FAILED)
        return 0;
    memcpy(&m->hdr, m->base, sizeof m->hdr);
    return 1;
}

static void unmap_file(seg_map_t *m)
{
    munmap(m->base, m->size);
}

static sc_lock_sh_t *lock_of(const seg_map_t *m)
{
    return (sc_lock_sh_t *)(m->base + m->hdr.lock_off);
}

static sc_slot_sh_t *slot_of(const seg_map_t *m, apr_uint32_t i)
{
    return (sc_slot_sh_t *)(lock_of(m) + 1) + i;
}

static apr_uint32_t *buckets_of(const seg_map_t *m)
{
    return (apr_uint32_t *)(m->base + m->hdr.buckets_off);
}

static sc_alloc_sh_t *alloc_of(const seg_map_t *m)
{
    return (sc_alloc_sh_t *)(m->base + m->hdr.alloc_off);
}

/* A 32-bit or 64-bit word of the mapping, for atomic access. */
static _Atomic uint32_t *word32(const seg_map_t *m, apr_uint64_t off)
{
    return (_Atomic uint32_t *)(void *)(m->base + off);
}

static _Atomic uint64_t *word64(const seg_map_t *m, apr_uint64_t off)
{
    return (_Atomic uint64_t *)(void *)(m->base + off);
}

/* Whether pid names a live process (signal 0 only checks). */
static int pid_alive(apr_uint32_t pid)
{
    return pid != 0 && pid <= 0x7FFFFFFFu && kill((pid_t)pid, 0) == 0;
}

/* Whether another process with this slot's identity is attached. */
static int slot_live(const seg_map_t *m, apr_uint32_t i)
{
    sc_slot_sh_t *s = slot_of(m, i);

    return atomic_load(&s->state) == SC_SLOT_ACTIVE && pid_alive(atomic_load(&s->pid));
}

/* Make slot i hold the write lock for a dead process: owner pid (a pid
 * that is no longer a process, or 0), ACTIVE, the writer word pointing at
 * it and the sequence odd, as a writer killed inside a change leaves it. */
static void plant_dead_writer_at(const seg_map_t *m, apr_uint32_t i,
                                 apr_uint32_t dead_pid)
{
    sc_lock_sh_t *l = lock_of(m);
    sc_slot_sh_t *s = slot_of(m, i);
    apr_uint32_t hwm = atomic_load(&l->hwm);

    if (atomic_load(&s->pid) != dead_pid || atomic_load(&s->state) != SC_SLOT_ACTIVE) {
        atomic_store(&s->pid, dead_pid);
        atomic_store(&s->start, 0);
        atomic_store(&s->state, SC_SLOT_ACTIVE);
    }
    if (hwm < i + 1)
        atomic_store(&l->hwm, i + 1);
    atomic_store(&l->writer, i + 1);
    atomic_fetch_or(&l->seq, 1u);
}

/* Plant a dead writer: the slot dead_pid left behind if it is still
 * there, else a free slot given dead_pid. Returns the slot, or -1 when
 * neither exists. */
static int plant_dead_writer(const seg_map_t *m, apr_uint32_t dead_pid)
{
    apr_uint32_t i, n = m->hdr.nslots;

    for (i = 0; i < n; i++)
        if (atomic_load(&slot_of(m, i)->pid) == dead_pid
            && atomic_load(&slot_of(m, i)->state) == SC_SLOT_ACTIVE) {
            plant_dead_writer_at(m, i, dead_pid);
            return (int)i;
        }
    for (i = 0; i < n; i++)
        if (atomic_load(&slot_of(m, i)->state) == SC_SLOT_FREE) {
            plant_dead_writer_at(m, i, dead_pid);
            return (int)i;
        }
    return -1;
}

/* Wait for proc at most ms; kill it after that. Returns the exit code,
 * 128 + signal, or -1 on a timeout. */
static int wait_limited(apr_proc_t *proc, long ms)
{
    apr_time_t end = apr_time_now() + (apr_time_t)ms * 1000;
    apr_exit_why_e why;
    int code;

    for (;;) {
        if (apr_proc_wait(proc, &code, &why, APR_NOWAIT) == APR_CHILD_DONE)
            return APR_PROC_CHECK_SIGNALED(why) ? 128 + code : code;
        if (apr_time_now() > end) {
            apr_proc_kill(proc, SIGKILL);
            th_wait(proc);
            return -1;
        }
        apr_sleep(5000);
    }
}

/* What a helper's exit code means, for messages. */
static const char *exit_meaning(int rc)
{
    switch (rc) {
    case -1: return "did not finish in time (a hang; killed)";
    case 0:  return "passed";
    case 1:  return "exited with 1 (a sanitizer report? see the output above)";
    case 3:  return "saw a status shmcache.h does not document for the call";
    case 4:  return "had a call that outlasted its documented bound";
    case 5:  return "removed (without force) a segment it was attached to";
    case 6:  return "had a call that never returned (watchdog ended it)";
    case 7:  return "could not set up (attach or map)";
    case 8:  return "left a cache that fails check";
    case 9:  return "saw a wrong answer";
    default:
        return rc > 128 ? apr_psprintf(th_pool, "died of signal %d (a crash, or a "
                                       "sanitizer report with abort_on_error)",
                                       rc - 128)
                        : "failed";
    }
}

/* ------------------------------------------------------------------------
 * Statuses: what shmcache.h documents for each call
 * ---------------------------------------------------------------------- */

typedef struct status_set_t {
    const char *op;
    apr_status_t ok[12];
    int n;
} status_set_t;

#define S(x) SHMCACHE_##x
static const status_set_t ST_GET = {"get", {APR_SUCCESS, S(NOTFOUND), S(EKEYLEN),
    S(EINVAL), S(ECORRUPT), S(ETIMEDOUT)}, 6};
static const status_set_t ST_GETBUF = {"get_buf", {APR_SUCCESS, S(NOTFOUND),
    S(EKEYLEN), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT), S(EBUFSIZE)}, 7};
static const status_set_t ST_META = {"get_meta", {APR_SUCCESS, S(NOTFOUND),
    S(EKEYLEN), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT)}, 6};
static const status_set_t ST_SET = {"set", {APR_SUCCESS, S(EKEYLEN), S(EVALLEN),
    S(ETTL), S(ENOMEM), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT)}, 8};
static const status_set_t ST_ADD = {"add", {APR_SUCCESS, S(EKEYLEN), S(EVALLEN),
    S(ETTL), S(ENOMEM), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT), S(EXISTS)}, 9};
static const status_set_t ST_REPLACE = {"replace", {APR_SUCCESS, S(EKEYLEN),
    S(EVALLEN), S(ETTL), S(ENOMEM), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT),
    S(NOTFOUND)}, 9};
static const status_set_t ST_CAS = {"cas", {APR_SUCCESS, S(EKEYLEN), S(EVALLEN),
    S(ETTL), S(ENOMEM), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT), S(NOTFOUND),
    S(EMISMATCH)}, 10};
static const status_set_t ST_DELETE = {"delete", {APR_SUCCESS, S(NOTFOUND),
    S(EKEYLEN), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT)}, 6};
static const status_set_t ST_INCR = {"incr", {APR_SUCCESS, S(NOTFOUND),
    S(ENOTNUM), S(EKEYLEN), S(EVALLEN), S(ETTL), S(ENOMEM), S(EINVAL),
    S(ECORRUPT), S(ETIMEDOUT)}, 10};
static const status_set_t ST_TOUCH = {"touch", {APR_SUCCESS, S(NOTFOUND),
    S(ETTL), S(EKEYLEN), S(EINVAL), S(ECORRUPT), S(ETIMEDOUT)}, 7};
static const status_set_t ST_ITERATE = {"iterate", {APR_SUCCESS, S(EINVAL),
    S(ECORRUPT), S(ETIMEDOUT)}, 4};
static const status_set_t ST_SCAN = {"scan", {APR_SUCCESS, S(EINVAL),
    S(ECORRUPT), S(ETIMEDOUT)}, 4};
static const status_set_t ST_STATS = {"stats", {APR_SUCCESS, S(EINVAL),
    S(ETIMEDOUT)}, 3};
static const status_set_t ST_CHECK = {"check", {APR_SUCCESS, S(ECORRUPT),
    S(EINVAL), S(ETIMEDOUT)}, 4};
static const status_set_t ST_FLUSH = {"flush", {APR_SUCCESS, S(EINVAL),
    S(ETIMEDOUT)}, 3};
/* attach of a new handle: a tampered header may be refused, never
 * half-accepted */
static const status_set_t ST_ATTACH = {"attach", {APR_SUCCESS, S(ENOTCACHE),
    S(EFORMAT), S(ELAYOUT), S(ECORRUPT), S(ESLOTS), S(ETIMEDOUT), S(EOWNER),
    APR_ENOENT}, 9};
/* the remove probe without force, while this process is attached: busy,
 * or the segment reported as corrupt; never APR_SUCCESS (checked apart).
 * APR_ENOENT (for attach too) only follows a removal that is reported as
 * a failure by the process that made it. */
static const status_set_t ST_PROBE = {"remove_ex(force=0)", {S(EBUSY),
    S(ECORRUPT), S(ENOTCACHE), S(EFORMAT), S(ELAYOUT), APR_ENOENT}, 6};

/* A short name for a status, for the per-case table. */
static const char *status_name(apr_status_t rv)
{
    static char other[32];

    switch (rv) {
    case APR_SUCCESS: return "SUCCESS";
    case S(NOTFOUND): return "NOTFOUND";
    case S(EXISTS): return "EXISTS";
    case S(EMISMATCH): return "EMISMATCH";
    case S(ENOMEM): return "ENOMEM";
    case S(ENOTNUM): return "ENOTNUM";
    case S(ECORRUPT): return "ECORRUPT";
    case S(ETIMEDOUT): return "ETIMEDOUT";
    case S(EBUFSIZE): return "EBUFSIZE";
    case S(EBUSY): return "EBUSY";
    case S(ESLOTS): return "ESLOTS";
    case S(EINVAL): return "EINVAL";
    case APR_ENOENT: return "ENOENT";
    default:
        apr_snprintf(other, sizeof other, "status %d", (int)rv);
        return other;
    }
}

/* ------------------------------------------------------------------------
 * The operations helper's bookkeeping: every call timed and counted
 * ---------------------------------------------------------------------- */

#define MAX_SEEN 96

typedef struct op_log_t {
    apr_status_t seen[MAX_SEEN];   /* distinct (call, status) pairs, */
    const char *seen_op[MAX_SEEN]; /* with counts */
    unsigned long count[MAX_SEEN];
    int nseen;
    unsigned long calls;
    long slowest_us;
    const char *slowest_op;
    int undocumented;              /* calls with an undocumented status */
    int overstayed;                /* calls past their bound */
    int removed_in_use;            /* probe removed an attached segment */
    int wrong;                     /* impossible answers */
} op_log_t;

static op_log_t oplog;

/* What the watchdog thread watches: the call in flight (0 when none). */
static _Atomic apr_time_t call_started;
static const char *_Atomic call_name;
static apr_time_t bound_us;

static void call_begin(const char *op)
{
    atomic_store(&call_name, op);
    atomic_store(&call_started, apr_time_now());
}

/* Note one status of call op in the table. */
static void tally(const char *op, apr_status_t rv)
{
    int i;

    for (i = 0; i < oplog.nseen; i++)
        if (oplog.seen[i] == rv && oplog.seen_op[i] == op) {
            oplog.count[i]++;
            return;
        }
    if (oplog.nseen < MAX_SEEN) {
        oplog.seen[oplog.nseen] = rv;
        oplog.seen_op[oplog.nseen] = op;
        oplog.count[oplog.nseen++] = 1;
    }
}

/* End the call begun by call_begin: time it against the bound, count its
 * status and check that the header documents it for set. Returns rv. */
static apr_status_t call_end(const status_set_t *set, apr_status_t rv)
{
    long us = (long)(apr_time_now() - atomic_load(&call_started));
    char buf[128];
    int i, documented = 0;

    atomic_store(&call_started, 0);
    oplog.calls++;
    tally(set->op, rv);
    if (us > oplog.slowest_us) {
        oplog.slowest_us = us;
        oplog.slowest_op = set->op;
    }
    if (us > bound_us) {
        fprintf(stderr, "tamper: %s took %ld ms, bound %ld ms (returned %s)\n",
                set->op, us / 1000, (long)(bound_us / 1000), status_name(rv));
        oplog.overstayed++;
    }
    for (i = 0; i < set->n; i++)
        documented |= rv == set->ok[i];
    if (!documented) {
        fprintf(stderr, "tamper: %s returned %d (%s), not documented for it\n",
                set->op, (int)rv, shmcache_strerror(rv, buf, sizeof buf));
        oplog.undocumented++;
    }
    return rv;
}

/* Time one call: TIMED(&ST_GET, shmcache_get(...)). */
#define TIMED(set, call) (call_begin((set)->op), call_end((set), (call)))

/* Set when the helper is leaving: the watchdog thread stops. */
static _Atomic int watchdog_quit;
static pthread_t watchdog_thread;

/* Watchdog thread: names a call that overstays its bound, and ends the
 * process (exit code 6) when it is HANG_EXTRA_MS past it, so a call that
 * never returns is reported as what it is. */
static void *watchdog(void *data)
{
    apr_time_t named = 0;

    (void)data;
    while (!atomic_load(&watchdog_quit)) {
        apr_time_t t0 = atomic_load(&call_started);
        apr_time_t late = t0 == 0 ? 0 : apr_time_now() - t0;
        if (t0 != 0 && late > bound_us && named != t0) {
            fprintf(stderr, "tamper: watchdog: %s (pid %d) running for %ld ms, "
                    "bound %ld ms\n", atomic_load(&call_name), (int)getpid(),
                    (long)(late / 1000), (long)(bound_us / 1000));
            named = t0;
        }
        if (t0 != 0 && late > bound_us + (apr_time_t)HANG_EXTRA_MS * 1000) {
            fprintf(stderr, "tamper: watchdog: %s (pid %d) has not returned "
                    "after %ld ms: a hang\n", atomic_load(&call_name),
                    (int)getpid(), (long)(late / 1000));
            _exit(6);
        }
        usleep(20000);
    }
    return NULL;
}

/* At exit: the watchdog is joined before the process tears down what it
 * uses (a thread left running into exit() crashed under ASan). */
static void stop_watchdog(void)
{
    atomic_store(&watchdog_quit, 1);
    pthread_join(watchdog_thread, NULL);
}

static void start_watchdog(apr_uint32_t lock_ms)
{
    bound_us = call_bound_us(lock_ms);
    if (pthread_create(&watchdog_thread, NULL, watchdog, NULL) == 0)
        atexit(stop_watchdog);
}

/* Two lines per helper: calls, statuses seen (summed over calls), the
 * slowest call; then which calls returned ECORRUPT or ETIMEDOUT. */
static void print_log(const char *who)
{
    apr_status_t st[MAX_SEEN];
    unsigned long cnt[MAX_SEEN];
    char line[2048];
    apr_size_t n;
    int i, j, k = 0;

    for (i = 0; i < oplog.nseen; i++) {
        for (j = 0; j < k && st[j] != oplog.seen[i]; j++)
            ;
        if (j == k) {
            st[k] = oplog.seen[i];
            cnt[k++] = 0;
        }
        cnt[j] += oplog.count[i];
    }
    n = (apr_size_t)apr_snprintf(line, sizeof line, "tamper: %s: %lu calls, "
                                 "slowest %s %ld ms;", who, oplog.calls,
                                 oplog.slowest_op ? oplog.slowest_op : "-",
                                 oplog.slowest_us / 1000);
    for (j = 0; j < k && n < sizeof line - 40; j++)
        n += (apr_size_t)apr_snprintf(line + n, sizeof line - n, " %s %lu",
                                      status_name(st[j]), cnt[j]);
    fprintf(stderr, "%s\n", line);
    n = 0;
    line[0] = '\0';
    for (i = 0; i < oplog.nseen && n < sizeof line - 60; i++)
        if (oplog.seen[i] == SHMCACHE_ECORRUPT || oplog.seen[i] == SHMCACHE_ETIMEDOUT)
            n += (apr_size_t)apr_snprintf(line + n, sizeof line - n, " %s:%s %lu",
                                          oplog.seen_op[i], status_name(oplog.seen[i]),
                                          oplog.count[i]);
    if (n > 0)
        fprintf(stderr, "tamper: %s: failures by call:%s\n", who, line);
}

/* ------------------------------------------------------------------------
 * The operations
 * ---------------------------------------------------------------------- */

/* iterate callback: touch every byte handed over (a wild length shows
 * under ASan or as a guard-page fault) and count. */
static int walk_one(void *baton, const void *key, apr_size_t key_len,
                    const void *value, apr_size_t value_len,
                    const shmcache_meta_t *meta)
{
    apr_uint64_t *sum = baton;
    apr_size_t i;

    if (key_len == 0 || key_len > SHMCACHE_LIMIT_MAX_KEY
        || (value != NULL && value_len > SEG_SIZE)) {
        fprintf(stderr, "tamper: iterate gave a key of %lu and a value of %lu "
                "bytes\n", (unsigned long)key_len, (unsigned long)value_len);
        oplog.wrong++;
        return 1;
    }
    for (i = 0; i < key_len; i++)
        *sum += ((const unsigned char *)key)[i];
    for (i = 0; value != NULL && i < value_len; i++)
        *sum += ((const unsigned char *)value)[i];
    *sum += meta->version;
    return 0;
}

/* The keyed reads of key k. */
static void do_reads(shmcache_t *c, const char *k, apr_pool_t *p)
{
    char small[64];
    shmcache_meta_t m;
    apr_size_t n;
    void *v;

    TIMED(&ST_GET, shmcache_get(c, k, strlen(k), &v, &n, &m, p));
    TIMED(&ST_GETBUF, shmcache_get_buf(c, k, strlen(k), small, sizeof small, &n,
                                       NULL));
    TIMED(&ST_META, shmcache_get_meta(c, k, strlen(k), &m));
}

/* The keyed writes of key k (and a counter). */
static void do_writes(shmcache_t *c, const char *k, apr_uint64_t *rs)
{
    static const char val[400] = {'v'};
    apr_uint64_t init = 1, res, ver = 0;
    apr_size_t vlen = (apr_size_t)below(rs, sizeof val);
    shmcache_meta_t m;
    char ctr[16];

    apr_snprintf(ctr, sizeof ctr, "ctr-%u", (unsigned)below(rs, 8));
    TIMED(&ST_SET, shmcache_set(c, k, strlen(k), val, vlen, 0, NULL));
    TIMED(&ST_ADD, shmcache_add(c, k, strlen(k), val, vlen / 2, 60, NULL));
    TIMED(&ST_REPLACE, shmcache_replace(c, k, strlen(k), val, vlen / 3, 0, NULL));
    if (TIMED(&ST_META, shmcache_get_meta(c, k, strlen(k), &m)) == APR_SUCCESS)
        ver = m.version;
    TIMED(&ST_CAS, shmcache_cas(c, k, strlen(k), val, vlen / 4, 0, ver, NULL));
    TIMED(&ST_INCR, shmcache_incr(c, ctr, strlen(ctr), 3, &init, 0, &res));
    TIMED(&ST_TOUCH, shmcache_touch(c, k, strlen(k), 100));
    if (below(rs, 4) == 0)
        TIMED(&ST_DELETE, shmcache_delete(c, k, strlen(k)));
}

/* iterate (values and keys only) and one scan step. */
static void do_walks(shmcache_t *c, apr_uint32_t *cursor)
{
    apr_uint64_t sum = 0;

    TIMED(&ST_ITERATE, shmcache_iterate(c, walk_one, &sum, 0));
    TIMED(&ST_ITERATE, shmcache_iterate(c, walk_one, &sum,
                                        SHMCACHE_ITER_KEYS_ONLY));
    if (TIMED(&ST_SCAN, shmcache_scan(c, cursor, 97, walk_one, &sum, 0))
        != APR_SUCCESS)
        *cursor = 0;
}

static void do_figures(shmcache_t *c)
{
    shmcache_stats_t st;
    char why[256];

    TIMED(&ST_STATS, shmcache_stats(c, &st));
    TIMED(&ST_CHECK, shmcache_check(c, why, sizeof why));
}

/* A second handle: attach and close (a tampered header may be refused). */
static void do_attach(const char *path, apr_pool_t *p)
{
    shmcache_options_t o;
    shmcache_t *c2;

    shmcache_options_init(&o);
    o.lock_timeout_ms = LOCK_MS;
    if (TIMED(&ST_ATTACH, shmcache_attach(&c2, path, &o, p)) == APR_SUCCESS)
        shmcache_close(c2);
}

/* The remove probe without force: this process is attached, so it must
 * never remove the segment. */
static void do_probe(const char *path, apr_pool_t *p)
{
    apr_uint32_t n = 0;
    apr_status_t rv;

    call_begin(ST_PROBE.op);
    rv = shmcache_remove_ex(path, 0, &n, p);
    if (rv == APR_SUCCESS) {
        atomic_store(&call_started, 0);
        oplog.calls++;
        tally(ST_PROBE.op, rv);
        fprintf(stderr, "tamper: remove_ex(force=0) removed the segment while "
                "this process (pid %d) was attached (it counted %u attached)\n",
                (int)getpid(), (unsigned)n);
        oplog.removed_in_use++;
        return;
    }
    call_end(&ST_PROBE, rv);
}

/* Helper: argv = path, seconds, seed. Runs every operation in a loop for
 * the given time. Exit code: see exit_meaning(). */
static int ops_helper(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_t *c = NULL;
    apr_pool_t *p;
    apr_uint64_t rs;
    apr_uint32_t cursor = 0;
    apr_time_t end, next_flush;
    apr_status_t rv = APR_SUCCESS;
    unsigned long i;
    char key[32], who[32];
    int tries;

    if (argc < 3)
        return 99;
    rs = (apr_uint64_t)atoll(argv[2]) * 0x9E3779B97F4A7C15ull + 17u;
    start_watchdog(LOCK_MS);
    shmcache_options_init(&o);
    o.lock_timeout_ms = LOCK_MS;
    /* the tamperer waits for this attach, but a helper started late may
     * meet a header mid-flip: a refused attach is fine, try again */
    for (tries = 0; tries < 200; tries++) {
        rv = TIMED(&ST_ATTACH, shmcache_attach(&c, argv[0], &o, th_pool));
        if (rv == APR_SUCCESS)
            break;
        apr_sleep(1000);
    }
    if (c == NULL) {
        fprintf(stderr, "tamper: ops %s: no attach in 200 tries, last: %s\n",
                argv[2], status_name(rv));
        return 7;
    }
    end = apr_time_now() + apr_time_from_sec(atol(argv[1]));
    next_flush = apr_time_now() + 300000 * (apr_time_t)atol(argv[2]);
    apr_pool_create(&p, th_pool);
    for (i = 0; apr_time_now() < end && oplog.removed_in_use == 0; i++) {
        key_name(key, sizeof key, (unsigned)below(&rs, NKEYS));
        apr_pool_clear(p);
        do_reads(c, key, p);
        do_writes(c, key, &rs);
        if (i % 8 == 0)
            do_walks(c, &cursor);
        if (i % 16 == 0)
            do_figures(c);
        if (i % 32 == 5) {
            do_attach(argv[0], p);
            if (getenv("SHMCACHE_TAMPER_NO_PROBE") == NULL)
                do_probe(argv[0], p);
        }
        if (apr_time_now() >= next_flush) {     /* occasionally: it empties */
            TIMED(&ST_FLUSH, shmcache_flush(c));
            next_flush = apr_time_now() + 700000;
        }
    }
    shmcache_close(c);
    apr_snprintf(who, sizeof who, "ops %s (pid %d)", argv[2], (int)getpid());
    print_log(who);
    if (oplog.wrong > 0)
        return 9;
    if (oplog.removed_in_use > 0)
        return 5;
    if (oplog.undocumented > 0)
        return 3;
    return oplog.overstayed > 0 ? 4 : 0;
}

/* ------------------------------------------------------------------------
 * The tamperer
 * ---------------------------------------------------------------------- */

enum { T_HEADER, T_ALLOC, T_LOCK, T_ENTRY, T_CHAIN, T_BLOCK, T_COUNT };
static const char *const class_names[T_COUNT] = {
    "header", "allocator", "lock", "entry-lengths", "chain-links", "block-headers"
};

/* The tamperer's state: its mapping, a private snapshot of the segment
 * (refreshed now and then) to find live entries and blocks without
 * trusting the live bytes, and its counters. */
typedef struct tamper_t {
    seg_map_t m;
    char *snap;
    apr_uint64_t rs;
    apr_uint64_t entries[256];     /* payload offsets of entries */
    apr_uint64_t blocks[256];      /* payload offsets of any blocks */
    int nentries, nblocks;
    unsigned long flips, plants;
    apr_time_t next_plant;         /* when to plant the next dead writer */
    apr_uint32_t planted;          /* writer word planted (0 = none) */
    apr_time_t unplant_at;         /* when to take it back */
} tamper_t;

/* A pause of a few hundred nanoseconds to a few microseconds, random. */
static void tiny_pause(tamper_t *t)
{
    volatile unsigned spin = (unsigned)below(&t->rs, 400);

    while (spin > 0)
        spin--;
    if ((t->flips & 1023) == 0)
        sched_yield();
}

/* Store hostile in w, hold it a moment, and put the old value back unless
 * the library has written the word meanwhile. */
static void flip32(tamper_t *t, _Atomic uint32_t *w, apr_uint32_t hostile)
{
    apr_uint32_t old = atomic_load(w), cur = hostile;

    atomic_store(w, hostile);
    tiny_pause(t);
    atomic_compare_exchange_strong(w, &cur, old);
    t->flips++;
    tiny_pause(t);
}

/* As flip32 for a field whose valid value never changes: restore it. */
static void flip_fixed32(tamper_t *t, _Atomic uint32_t *w, apr_uint32_t valid,
                         apr_uint32_t hostile)
{
    atomic_store(w, hostile);
    tiny_pause(t);
    atomic_store(w, valid);
    t->flips++;
    tiny_pause(t);
}

/* The writer word: hostile for a moment, then free again unless someone
 * (a waiter recovering what looked like a dead writer) took it meanwhile. */
static void flip_writer(tamper_t *t, _Atomic uint32_t *w, apr_uint32_t hostile)
{
    apr_uint32_t cur = hostile;

    atomic_store(w, hostile);
    tiny_pause(t);
    atomic_compare_exchange_strong(w, &cur, 0);
    t->flips++;
    tiny_pause(t);
}

static void flip_fixed64(tamper_t *t, _Atomic uint64_t *w, apr_uint64_t valid,
                         apr_uint64_t hostile)
{
    atomic_store(w, hostile);
    tiny_pause(t);
    atomic_store(w, valid);
    t->flips++;
    tiny_pause(t);
}

/* Re-read the segment into the snapshot and list its blocks and entries
 * (a walk of a private copy, with the bounds the header had at the
 * start: the live allocator may be mid-change or tampered). */
static void refresh_targets(tamper_t *t)
{
    const sc_header_sh_t *h = &t->m.hdr;
    sc_alloc_t al;
    apr_uint64_t cursor = 0;
    sc_alloc_block_t blk;
    int steps = 0;

    memcpy(t->snap, t->m.base, t->m.size);
    t->nentries = t->nblocks = 0;
    if (sc_alloc_bind(&al, t->snap, (sc_alloc_sh_t *)(t->snap + h->alloc_off),
                      h->data_off, h->data_off + h->data_size) != APR_SUCCESS)
        return;
    do {
        if (sc_alloc_walk_locked(&al, &cursor, &blk) != APR_SUCCESS)
            break;
        if (t->nblocks < 256)
            t->blocks[t->nblocks++] = blk.payload;
        if (!blk.is_free && t->nentries < 256)
            t->entries[t->nentries++] = blk.payload;
    } while (cursor != 0 && ++steps < 100000);
}

/* A granule likely to get past a naive check: into the guard page past
 * the end, the last granule, the header, all ones, an entry's middle. */
static apr_uint32_t hostile_granule(tamper_t *t, apr_uint32_t self)
{
    apr_uint64_t end = t->m.size / SC_ALLOC_ALIGN;

    switch (below(&t->rs, 7)) {
    case 0: return (apr_uint32_t)(end + 64 + below(&t->rs, 8000)); /* guard */
    case 1: return (apr_uint32_t)end - 1;
    case 2: return 1;
    case 3: return 0xFFFFFFFFu;
    case 4: return self + 1 + (apr_uint32_t)below(&t->rs, 3);
    case 5: return self;
    default: return (apr_uint32_t)(end + (1u << 27));      /* 1 GiB past */
    }
}

/* A dead writer now and then (every ~150 ms), so that repair runs while
 * the class's fields flip: a free slot in the writer word (only when the
 * lock is free), sequence odd. Taken back after a few lock timeouts if
 * nobody recovered it (a live process may have claimed the slot since,
 * and then the lock would look held by it). Never waits. */
static void maybe_plant(tamper_t *t)
{
    sc_lock_sh_t *l = lock_of(&t->m);
    apr_time_t now = apr_time_now();
    apr_uint32_t i, want;

    if (t->planted != 0) {
        if (now < t->unplant_at)
            return;
        want = t->planted;
        atomic_compare_exchange_strong(&l->writer, &want, 0);
        t->planted = 0;
    }
    if (now < t->next_plant)
        return;
    t->next_plant = now + 150000;
    for (i = 0; i < t->m.hdr.nslots; i++) {
        if (atomic_load(&slot_of(&t->m, i)->state) != SC_SLOT_FREE)
            continue;
        want = 0;
        if (atomic_compare_exchange_strong(&l->writer, &want, i + 1)) {
            atomic_fetch_or(&l->seq, 1u);
            t->plants++;
            t->planted = i + 1;
            t->unplant_at = now + 4 * LOCK_MS * 1000;
        }
        return;
    }
}

/* Header: region offsets and sizes and the configuration. A handle
 * copied them at attach; a new attach must refuse or succeed cleanly. */
static void tamper_header(tamper_t *t)
{
    const sc_header_sh_t *h = &t->m.hdr;
    apr_uint64_t big[] = {0, h->size, h->size - 8, (apr_uint64_t)1 << 40,
                          ~(apr_uint64_t)0, h->size + 4096, 4096};
    apr_uint32_t small[] = {0, 1, 0xFFFFFFFFu, 0x40000000u, 0x80000000u, 4096,
                            65535, 65536};
    apr_uint64_t hv = big[below(&t->rs, sizeof big / sizeof big[0])];
    apr_uint32_t sv = small[below(&t->rs, sizeof small / sizeof small[0])];

#define FLIP64(f) flip_fixed64(t, word64(&t->m, offsetof(sc_header_sh_t, f)), h->f, hv)
#define FLIP32(f) flip_fixed32(t, word32(&t->m, offsetof(sc_header_sh_t, f)), h->f, sv)
    switch (below(&t->rs, 10)) {
    case 0: FLIP64(lock_off); break;
    case 1: FLIP64(buckets_off); break;
    case 2: FLIP64(alloc_off); break;
    case 3: FLIP64(data_off); break;
    case 4: FLIP64(data_size); break;
    case 5: FLIP32(nbuckets); break;
    case 6: FLIP32(nslots); break;
    case 7: FLIP32(max_key); break;
    case 8: FLIP32(max_value); break;
    default: hv = h->data_size * 2; FLIP64(data_size); break;
    }
#undef FLIP64
#undef FLIP32
}

/* Allocator control block: the region bounds, the bitmaps and the list
 * heads. */
static void tamper_alloc(tamper_t *t)
{
    sc_alloc_sh_t *a = alloc_of(&t->m);
    apr_uint64_t ctl = t->m.hdr.alloc_off;
    apr_uint32_t begin = (apr_uint32_t)(t->m.hdr.data_off / SC_ALLOC_ALIGN);
    apr_uint32_t end = (apr_uint32_t)((t->m.hdr.data_off + t->m.hdr.data_size)
                                      / SC_ALLOC_ALIGN);
    apr_uint32_t ends[] = {0xFFFFFFFFu, end + 8192, end + 1, end + 64, begin};
    apr_uint32_t begins[] = {0, 1, begin - 64, end, begin + 1};
    unsigned i, j, k;

    switch (below(&t->rs, 6)) {
    case 0: case 1:
        flip_fixed32(t, word32(&t->m, ctl + offsetof(sc_alloc_sh_t, end)), end,
                     ends[below(&t->rs, 5)]);
        break;
    case 2:
        flip_fixed32(t, word32(&t->m, ctl + offsetof(sc_alloc_sh_t, begin)), begin,
                     begins[below(&t->rs, 5)]);
        break;
    case 3:
        flip32(t, word32(&t->m, ctl + offsetof(sc_alloc_sh_t, fl_bitmap)),
               below(&t->rs, 2) ? 0xFFFFFFFFu : 0);
        break;
    case 4:
        i = (unsigned)below(&t->rs, SC_ALLOC_FL_COUNT);
        flip32(t, word32(&t->m, ctl + offsetof(sc_alloc_sh_t, sl_bitmap)
                         + 4 * i), 0xFFFFu);
        break;
    default:
        /* a non-empty list's head, most of the time */
        k = (unsigned)below(&t->rs, SC_ALLOC_FL_COUNT * SC_ALLOC_SL_COUNT);
        for (j = 0; j < SC_ALLOC_FL_COUNT * SC_ALLOC_SL_COUNT; j++)
            if ((&a->heads[0][0])[(k + j) % (SC_ALLOC_FL_COUNT * SC_ALLOC_SL_COUNT)] != 0)
                break;
        k = (k + j) % (SC_ALLOC_FL_COUNT * SC_ALLOC_SL_COUNT);
        flip32(t, word32(&t->m, ctl + offsetof(sc_alloc_sh_t, heads) + 4 * k),
               t->nblocks > 0 && below(&t->rs, 3) == 0
                   ? (apr_uint32_t)(t->blocks[below(&t->rs, t->nblocks)] / 8 - 1)
                   : hostile_granule(t, begin));
        break;
    }
}

/* The writer word held by live slots, switching between them every 30 ms
 * without ever being free, for ms: a waiter's deadline must not move. */
static void writer_among_live(tamper_t *t, long ms)
{
    sc_lock_sh_t *l = lock_of(&t->m);
    apr_uint32_t live[SEG_SLOTS], n = 0, i, w = 0;
    apr_time_t end = apr_time_now() + (apr_time_t)ms * 1000;

    for (i = 0; i < t->m.hdr.nslots && n < SEG_SLOTS; i++)
        if (slot_live(&t->m, i))
            live[n++] = i;
    if (n == 0)
        return;
    for (i = 0; apr_time_now() < end; i++) {
        w = live[i % n] + 1;
        atomic_store(&l->writer, w);
        t->flips++;
        apr_sleep(30000);
    }
    atomic_compare_exchange_strong(&l->writer, &w, 0);
}

/* Lock region: slot count, writer word (a free slot, out of range, live
 * slots), sequence word. The writer word's valid value is 0 (free): a
 * flip puts 0 back, never a writer's value that may have gone since.
 * Phases by time, in each 4 s period: from 0.3 s live holders that switch
 * (2.5 s), then quick flips and planted dead writers. */
static void tamper_lock(tamper_t *t, apr_time_t started)
{
    sc_lock_sh_t *l = lock_of(&t->m);
    apr_uint64_t lk = t->m.hdr.lock_off;
    apr_uint32_t nslots = t->m.hdr.nslots, i;
    apr_uint32_t counts[] = {SHMCACHE_LIMIT_SLOTS, 0, 1, 0xFFFFFFFFu, nslots + 1};
    long phase = ms_since(started) % 4000;

    if (phase >= 300 && phase < 500) {
        writer_among_live(t, 2500);
        return;
    }
    switch (below(&t->rs, 5)) {
    case 0:
        flip_fixed32(t, word32(&t->m, lk + offsetof(sc_lock_sh_t, nslots)), nslots,
                     counts[below(&t->rs, 5)]);
        break;
    case 1:                         /* a free slot "holds" it: a dead writer */
        for (i = 0; i < nslots; i++)
            if (atomic_load(&slot_of(&t->m, i)->state) == SC_SLOT_FREE)
                break;
        flip_writer(t, (_Atomic uint32_t *)&l->writer, i + 1);
        break;
    case 2:                         /* a slot that does not exist */
        flip_writer(t, (_Atomic uint32_t *)&l->writer,
               below(&t->rs, 2) ? nslots + 1 + (apr_uint32_t)below(&t->rs, 5000)
                                : 0xFFFFFFFFu);
        break;
    case 3: {                       /* odd (a writer in), or moved */
        apr_uint64_t s = atomic_load(&l->seq), want = s | 1u;
        atomic_store(&l->seq, want);
        tiny_pause(t);
        atomic_compare_exchange_strong(&l->seq, &want, s);
        t->flips++;
        break;
    }
    default:
        maybe_plant(t);
        break;
    }
}

/* Whether payload p still holds, in the live segment, the entry the
 * snapshot saw there (allocated, same key length): targets go stale as
 * blocks are freed, split and merged, and a stale one would hit another
 * class of field. Racy by nature; it only keeps the aim close. */
static int still_entry(const tamper_t *t, apr_uint64_t p)
{
    apr_uint32_t hdr = atomic_load(word32(&t->m, p - 8));
    const sc_entry_sh_t *live = (const sc_entry_sh_t *)(t->m.base + p);
    const sc_entry_sh_t *was = (const sc_entry_sh_t *)(t->snap + p);

    return (hdr & 0x80000000u) == 0 && live->key_len == was->key_len
        && was->key_len != 0;
}

/* Whether the block header before payload p is still the one the
 * snapshot saw (same size and flag word). */
static int still_block(const tamper_t *t, apr_uint64_t p)
{
    return atomic_load(word32(&t->m, p - 8))
        == *(const apr_uint32_t *)(const void *)(t->snap + p - 8);
}

/* key_len and value_len of live entries. */
static void tamper_entry(tamper_t *t)
{
    apr_uint64_t e;
    apr_uint32_t lens[] = {0xFFFFFFFFu, 0x7FFFFFFFu, SEG_SIZE, 1u << 20, 0};
    _Atomic uint16_t *kl;
    uint16_t old, hostile, cur;

    if (t->nentries == 0)
        return;
    e = t->entries[below(&t->rs, t->nentries)];
    if (!still_entry(t, e))
        return;
    if (below(&t->rs, 2)) {
        flip32(t, word32(&t->m, e + offsetof(sc_entry_sh_t, value_len)),
               lens[below(&t->rs, 5)]);
        return;
    }
    kl = (_Atomic uint16_t *)(void *)(t->m.base + e + offsetof(sc_entry_sh_t, key_len));
    old = atomic_load(kl);
    hostile = below(&t->rs, 2) ? 0xFFFFu : (uint16_t)(old + 1 + below(&t->rs, 300));
    if (below(&t->rs, 5) == 0)
        hostile = 0;
    cur = hostile;
    atomic_store(kl, hostile);
    tiny_pause(t);
    atomic_compare_exchange_strong(kl, &cur, old);
    t->flips++;
    tiny_pause(t);
}

/* Words held hostile together, to be put back together. */
typedef struct held_t {
    _Atomic uint32_t *w;
    apr_uint32_t old, hostile;
} held_t;

#define HOLD_MAX 8

/* Make *w hostile now, remembering its value in h[*n]. */
static void hold(held_t *h, int *n, _Atomic uint32_t *w, apr_uint32_t hostile)
{
    h[*n].w = w;
    h[*n].old = atomic_load(w);
    h[*n].hostile = hostile;
    atomic_store(w, hostile);
    (*n)++;
}

/* After a moment, put back every held word the library has not written
 * since (last held first, so a word held twice gets its first value). */
static void release_held(tamper_t *t, held_t *h, int n)
{
    tiny_pause(t);
    while (n-- > 0) {
        apr_uint32_t cur = h[n].hostile;
        atomic_compare_exchange_strong(h[n].w, &cur, h[n].old);
        t->flips++;
    }
    tiny_pause(t);
}

/* Chain links: entries' next words and bucket words (self-loops,
 * 2-cycles, out-of-range granules). */
static void tamper_chain(tamper_t *t)
{
    apr_uint32_t *b = buckets_of(&t->m);
    apr_uint32_t nb = t->m.hdr.nbuckets, i, start;
    apr_uint64_t e, f;

    if (t->nentries == 0)
        return;
    e = t->entries[below(&t->rs, t->nentries)];
    if (!still_entry(t, e))
        return;
    switch (below(&t->rs, 4)) {
    case 0: {                       /* a bucket: a hostile or foreign head */
        start = (apr_uint32_t)below(&t->rs, nb);
        for (i = 0; i < nb && b[(start + i) % nb] == 0; i++)
            ;
        i = (start + i) % nb;
        flip32(t, word32(&t->m, t->m.hdr.buckets_off + 4 * i),
               below(&t->rs, 2) ? (apr_uint32_t)(e / 8) : hostile_granule(t, b[i]));
        break;
    }
    case 1: {                       /* a 2-cycle between two entries */
        _Atomic uint32_t *ne, *nf;
        apr_uint32_t oe, of, ce, cf;
        f = t->entries[below(&t->rs, t->nentries)];
        if (!still_entry(t, f))
            break;
        ne = word32(&t->m, e + offsetof(sc_entry_sh_t, next));
        nf = word32(&t->m, f + offsetof(sc_entry_sh_t, next));
        oe = atomic_load(ne);
        of = atomic_load(nf);
        ce = (apr_uint32_t)(f / 8);
        cf = (apr_uint32_t)(e / 8);
        atomic_store(ne, ce);
        atomic_store(nf, cf);
        tiny_pause(t);
        atomic_compare_exchange_strong(ne, &ce, oe);
        atomic_compare_exchange_strong(nf, &cf, of);
        t->flips++;
        break;
    }
    default: {                      /* entries' next: themselves or wild */
        held_t held[HOLD_MAX];
        int n = 0, k;
        for (k = 0; k < HOLD_MAX; k++, e = t->entries[below(&t->rs, t->nentries)])
            if (still_entry(t, e))
                hold(held, &n, word32(&t->m, e + offsetof(sc_entry_sh_t, next)),
                     below(&t->rs, 2) ? (apr_uint32_t)(e / 8)
                                      : hostile_granule(t, (apr_uint32_t)(e / 8)));
        release_held(t, held, n);
        break;
    }
    }
}

/* A hostile header word for the block whose header is word w. */
static apr_uint32_t hostile_size(tamper_t *t, apr_uint32_t word)
{
    apr_uint32_t size = word & 0x7FFFFFFFu, hostile;

    switch (below(&t->rs, 5)) {
    case 0: hostile = 0x7FFFFFFFu; break;
    case 1: hostile = size + 1; break;
    case 2: hostile = size + 16384; break;      /* runs into the guard */
    case 3: hostile = 0; break;
    default: return word ^ 0x80000000u;         /* the free bit */
    }
    if (hostile != 0 && below(&t->rs, 4) == 0)
        hostile |= 0x80000000u;
    return hostile;
}

/* The header granule of a block a malloc is about to take: the head of
 * a non-empty free list (0 when none is found inside the data region). */
static apr_uint64_t head_block(tamper_t *t)
{
    const apr_uint32_t *heads = &alloc_of(&t->m)->heads[0][0];
    apr_uint64_t lo = t->m.hdr.data_off / 8;
    apr_uint64_t hi = (t->m.hdr.data_off + t->m.hdr.data_size) / 8 - 2;
    unsigned k = (unsigned)below(&t->rs, SC_ALLOC_FL_COUNT * SC_ALLOC_SL_COUNT), j;

    for (j = 0; j < SC_ALLOC_FL_COUNT * SC_ALLOC_SL_COUNT; j++) {
        apr_uint64_t h = heads[(k + j) % (SC_ALLOC_FL_COUNT * SC_ALLOC_SL_COUNT)];
        if (h >= lo && h <= hi)
            return h;
    }
    return 0;
}

/* Allocator block headers in the data region: sizes and prev links. Half
 * the time of a block that a malloc is about to take (a free-list head),
 * else of any block (an entry a store is about to free, or a neighbour);
 * toggled several times in a row: a check and a later read of the same
 * word must disagree to catch a second read. */
static void tamper_block(tamper_t *t)
{
    apr_uint64_t h = 0, p;
    _Atomic uint32_t *w;
    apr_uint32_t hostile;
    int k;

    if (below(&t->rs, 2))
        h = head_block(t);
    if (h == 0) {
        if (t->nblocks == 0)
            return;
        p = t->blocks[below(&t->rs, t->nblocks)];
        if (!still_block(t, p))
            return;
        h = p / 8 - 1;
    }
    if (below(&t->rs, 2)) {
        w = word32(&t->m, h * 8);
        hostile = hostile_size(t, atomic_load(w));
    } else {
        w = word32(&t->m, h * 8 + 4);
        hostile = below(&t->rs, 2) ? (apr_uint32_t)h
                                   : hostile_granule(t, (apr_uint32_t)h);
    }
    for (k = 0; k < 16; k++)
        flip32(t, w, hostile);
}

/* Put back every field with a fixed valid value (the rest is left as the
 * library last wrote it, or as tampered: the settle step mends it). */
static void restore_fixed(tamper_t *t)
{
    const sc_header_sh_t *h = &t->m.hdr;

    memcpy(t->m.base + offsetof(sc_header_sh_t, lock_off), &h->lock_off,
           offsetof(sc_header_sh_t, counters) - offsetof(sc_header_sh_t, lock_off));
    alloc_of(&t->m)->begin = (apr_uint32_t)(h->data_off / SC_ALLOC_ALIGN);
    alloc_of(&t->m)->end = (apr_uint32_t)((h->data_off + h->data_size) / SC_ALLOC_ALIGN);
    lock_of(&t->m)->nslots = h->nslots;
}

/* Wait (at most 5 s) until the operations helpers hold their slots, so
 * that each starts from a clean attach (later attaches meet the flips). */
static void await_operations(const tamper_t *t)
{
    apr_time_t end = apr_time_now() + apr_time_from_sec(5);
    apr_uint32_t i, live;

    do {
        for (i = 0, live = 0; i < t->m.hdr.nslots; i++)
            live += slot_live(&t->m, i) ? 1u : 0u;
        if (live >= OPS_HELPERS)
            return;
        apr_sleep(2000);
    } while (apr_time_now() < end);
}

/* Helper: argv = path, class index, seconds, seed. Waits for the
 * operations helpers, tampers until the time is up, restores the fixed
 * fields, prints its counts. */
static int tamper_helper(int argc, const char *const *argv)
{
    tamper_t t;
    apr_time_t started = apr_time_now(), end, next_refresh = 0;
    int cls;

    if (argc < 4)
        return 99;
    memset(&t, 0, sizeof t);
    cls = atoi(argv[1]);
    t.rs = (apr_uint64_t)atoll(argv[3]) * 0x9E3779B97F4A7C15ull + 101u + (apr_uint64_t)cls;
    if (!map_file(&t.m, argv[0]) || cls < 0 || cls >= T_COUNT)
        return 7;
    t.snap = malloc(t.m.size);
    if (t.snap == NULL)
        return 7;
    await_operations(&t);
    started = apr_time_now();
    t.next_plant = started + 300000;
    end = started + apr_time_from_sec(atol(argv[2]));
    while (getenv("SHMCACHE_TAMPER_DRY") != NULL && apr_time_now() < end)
        apr_sleep(10000);
    while (apr_time_now() < end) {
        if (apr_time_now() >= next_refresh) {
            refresh_targets(&t);
            next_refresh = apr_time_now() + 20000;
        }
        switch (cls) {
        case T_HEADER: tamper_header(&t); break;
        case T_ALLOC:  tamper_alloc(&t); break;
        case T_LOCK:   tamper_lock(&t, started); break;
        case T_ENTRY:  tamper_entry(&t); break;
        case T_CHAIN:  tamper_chain(&t); break;
        default:       tamper_block(&t); break;
        }
        if (cls != T_LOCK && cls != T_HEADER)
            maybe_plant(&t);
    }
    restore_fixed(&t);
    fprintf(stderr, "tamper: tamperer (%s): %lu flips, %lu dead writers planted\n",
            class_names[cls], t.flips, t.plants);
    free(t.snap);
    unmap_file(&t.m);
    return 0;
}

/* ------------------------------------------------------------------------
 * Settling: the cache after the tampering must pass check, mended if need
 * be by the repair a dead writer triggers, or by a flush
 * ---------------------------------------------------------------------- */

/* Helper: argv = path, dead pid. Attach; check; if damaged, plant a dead
 * writer with that pid and set a key (the repair runs), check again; if
 * still damaged, flush and check. Each step within its bound. */
static int settle_helper(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_t *c = NULL;
    seg_map_t m;
    char why[256];
    apr_time_t t0;
    apr_status_t rv = APR_SUCCESS;
    int tries, slot;

    if (argc < 2)
        return 99;
    start_watchdog(REPAIR_LOCK_MS);
    shmcache_options_init(&o);
    o.lock_timeout_ms = REPAIR_LOCK_MS;
    for (tries = 0; tries < 50; tries++) {
        rv = TIMED(&ST_ATTACH, shmcache_attach(&c, argv[0], &o, th_pool));
        if (rv == APR_SUCCESS)
            break;
        apr_sleep(20000);
    }
    if (c == NULL) {
        fprintf(stderr, "tamper: settle: attach after the tampering: %s\n",
                shmcache_strerror(rv, why, sizeof why));
        return 7;
    }
    rv = TIMED(&ST_CHECK, shmcache_check(c, why, sizeof why));
    fprintf(stderr, "tamper: settle: check after the tampering: %s%s%s\n",
            status_name(rv), rv == APR_SUCCESS ? "" : ": ",
            rv == APR_SUCCESS ? "" : why);
    if (rv != APR_SUCCESS) {
        if (!map_file(&m, argv[0]))
            return 7;
        slot = plant_dead_writer(&m, (apr_uint32_t)atol(argv[1]));
        unmap_file(&m);
        t0 = apr_time_now();
        rv = TIMED(&ST_SET, shmcache_set(c, "settle", 6, "v", 1, 0, NULL));
        fprintf(stderr, "tamper: settle: dead writer in slot %d; set (repair) "
                "%s in %ld ms\n", slot, status_name(rv), ms_since(t0));
        rv = TIMED(&ST_CHECK, shmcache_check(c, why, sizeof why));
        fprintf(stderr, "tamper: settle: check after repair: %s%s%s\n",
                status_name(rv), rv == APR_SUCCESS ? "" : ": ",
                rv == APR_SUCCESS ? "" : why);
    }
    if (rv != APR_SUCCESS) {
        TIMED(&ST_FLUSH, shmcache_flush(c));
        rv = TIMED(&ST_CHECK, shmcache_check(c, why, sizeof why));
        fprintf(stderr, "tamper: settle: check after flush: %s%s%s\n",
                status_name(rv), rv == APR_SUCCESS ? "" : ": ",
                rv == APR_SUCCESS ? "" : why);
    }
    shmcache_close(c);
    if (oplog.undocumented > 0)
        return 3;
    if (oplog.overstayed > 0)
        return 4;
    return rv == APR_SUCCESS ? 0 : 8;
}

/* Helper: attach to argv[0] if possible, then die without closing: the
 * slot keeps this (soon dead) process's pid. */
static int attach_and_die_helper(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_t *c;

    if (argc < 1)
        return 99;
    shmcache_options_init(&o);
    shmcache_attach(&c, argv[0], &o, th_pool);
    fflush(NULL);
    _exit(0);
}

/* A pid that is no process any more (it attached to path if it could,
 * and died holding its slot). */
static apr_uint32_t dead_pid(const char *path)
{
    const char *args[2] = {path, NULL};
    apr_proc_t proc;

    th_spawn(&proc, "attach-and-die", args);
    ck_assert_int_eq(wait_limited(&proc, 30000), 0);
    return (apr_uint32_t)proc.pid;
}

/* ------------------------------------------------------------------------
 * The tamper cases
 * ---------------------------------------------------------------------- */

/* A small cache at path holding NKEYS keys of varied sizes and counters. */
static void make_cache(const char *path)
{
    static const char val[300] = {'x'};
    shmcache_options_t o;
    shmcache_t *c;
    char key[32];
    unsigned i;

    shmcache_options_init(&o);
    o.size = SEG_SIZE;
    o.buckets = SEG_BUCKETS;
    o.slots = SEG_SLOTS;
    th_ok(shmcache_create(&c, path, &o, th_pool));
    for (i = 0; i < NKEYS; i++) {
        key_name(key, sizeof key, i);
        th_ok(shmcache_set(c, key, strlen(key), val, (i * 37u) % sizeof val, 0, NULL));
    }
    th_ok(shmcache_check(c, NULL, 0));
    th_ok(shmcache_close(c));
}

/* Run one field class: tamperer + operations helpers for the configured
 * time, then settle. Fails with what each helper reported. */
static void run_tamper_case(int cls)
{
    const char *only = getenv("SHMCACHE_TAMPER_ONLY");
    const char *path = th_path(class_names[cls]);
    long secs = tamper_seconds();
    long limit = secs * 1000 + (long)(call_bound_us(LOCK_MS) / 1000) + HANG_EXTRA_MS + 15000;
    const char *seed = apr_psprintf(th_pool, "%ld", th_env_long("SHMCACHE_TAMPER_SEED", 1));
    const char *s_secs = apr_psprintf(th_pool, "%ld", secs);
    const char *targs[5], *oargs[4], *sargs[3];
    apr_proc_t tamperer, ops[OPS_HELPERS], settle;
    int rc[OPS_HELPERS], trc, src, i;
    char msg[1024];
    apr_size_t n = 0;
    apr_time_t t0 = apr_time_now();

    if (only != NULL && strcmp(only, class_names[cls]) != 0)
        return;
    fprintf(stderr, "tamper: == %s: %ld s, %d operation helpers, lock timeout "
            "%u ms, bound %ld ms per call, seed %s\n", class_names[cls], secs,
            OPS_HELPERS, LOCK_MS, (long)(call_bound_us(LOCK_MS) / 1000), seed);
    make_cache(path);
    targs[0] = path;
    targs[1] = apr_psprintf(th_pool, "%d", cls);
    targs[2] = s_secs;
    targs[3] = seed;
    targs[4] = NULL;
    for (i = 0; i < OPS_HELPERS; i++) {
        oargs[0] = path;
        oargs[1] = s_secs;
        oargs[2] = apr_psprintf(th_pool, "%d", i + 1);
        oargs[3] = NULL;
        th_spawn(&ops[i], "ops", oargs);
    }
    th_spawn(&tamperer, "tamperer", targs);
    for (i = 0; i < OPS_HELPERS; i++)
        rc[i] = wait_limited(&ops[i], limit);
    trc = wait_limited(&tamperer, limit);
    sargs[0] = path;
    sargs[1] = apr_psprintf(th_pool, "%u", (unsigned)dead_pid(path));
    sargs[2] = NULL;
    th_spawn(&settle, "settle", sargs);
    src = wait_limited(&settle, 60000);
    fprintf(stderr, "tamper: == %s: done in %ld ms\n", class_names[cls], ms_since(t0));
    msg[0] = '\0';
    for (i = 0; i < OPS_HELPERS; i++)
        if (rc[i] != 0)
            n += (apr_size_t)apr_snprintf(msg + n, sizeof msg - n,
                                          " ops helper %d %s (%d);", i + 1,
                                          exit_meaning(rc[i]), rc[i]);
    if (trc != 0)
        n += (apr_size_t)apr_snprintf(msg + n, sizeof msg - n, " tamperer %s (%d);",
                                      exit_meaning(trc), trc);
    if (src != 0)
        n += (apr_size_t)apr_snprintf(msg + n, sizeof msg - n, " settle %s (%d);",
                                      exit_meaning(src), src);
    ck_assert_msg(n == 0, "%s fields flipped under load:%s", class_names[cls], msg);
}

START_TEST(header_fields_flipped_after_attach_are_never_followed)
{
    run_tamper_case(T_HEADER);
}
END_TEST

START_TEST(a_flipped_allocator_bound_or_list_head_is_never_followed)
{
    run_tamper_case(T_ALLOC);
}
END_TEST

START_TEST(a_lock_whose_words_flip_keeps_every_wait_bounded)
{
    run_tamper_case(T_LOCK);
}
END_TEST

START_TEST(entry_lengths_that_flip_are_read_once)
{
    run_tamper_case(T_ENTRY);
}
END_TEST

START_TEST(chain_links_that_flip_never_loop_or_escape)
{
    run_tamper_case(T_CHAIN);
}
END_TEST

START_TEST(block_headers_that_flip_never_send_the_allocator_outside)
{
    run_tamper_case(T_BLOCK);
}
END_TEST

/* ------------------------------------------------------------------------
 * Crafted chains repaired through a planted dead writer
 * ---------------------------------------------------------------------- */

enum { C_DUP_SELF, C_TWO_CYCLE, C_SELF_LOOP, C_LONG_DUPS };
#define LONG_CHAIN 40

/* Give the entry at payload off the key (same length) and tag of the
 * entry at payload src: a duplicate no writer makes. */
static void copy_key(const seg_map_t *m, apr_uint64_t off, apr_uint64_t src)
{
    sc_entry_sh_t *d = (sc_entry_sh_t *)(m->base + off);
    const sc_entry_sh_t *s = (const sc_entry_sh_t *)(m->base + src);

    d->tag = s->tag;
    memcpy(m->base + off + SC_ENTRY_HDR, m->base + src + SC_ENTRY_HDR, s->key_len);
}

static void link_to(const seg_map_t *m, apr_uint64_t from, apr_uint64_t to)
{
    ((sc_entry_sh_t *)(m->base + from))->next = (apr_uint32_t)(to / SC_ALLOC_ALIGN);
}

/* Build, in a fresh cache at path, want keys of one length that all hash
 * to one bucket; return that bucket, with its chain's entries (head first)
 * in chain[]. */
static apr_uint32_t one_bucket_chain(const char *path, unsigned want,
                                     apr_uint64_t *chain, unsigned *len)
{
    shmcache_options_t o;
    shmcache_t *c;
    seg_map_t m;
    apr_uint32_t bucket = 0, g;
    unsigned i, n = 0;
    char key[32];

    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.buckets = 64;
    o.slots = SEG_SLOTS;
    th_ok(shmcache_create(&c, path, &o, th_pool));
    ck_assert(map_file(&m, path));
    /* "k-0" hashes somewhere: gather keys that land in its bucket, plus a
     * few others elsewhere that must survive every repair */
    for (i = 0; n < want && i < 100000; i++) {
        apr_snprintf(key, sizeof key, "k-%05u", i);
        g = (apr_uint32_t)(XXH3_64bits_withSeed(key, strlen(key), m.hdr.seed)
                           & (m.hdr.nbuckets - 1));
        if (i == 0)
            bucket = g;
        if (g == bucket) {
            th_ok(shmcache_set(c, key, strlen(key), "value", 5, 0, NULL));
            n++;
        } else if (i % 7 == 0 && i < 2000) {
            th_ok(shmcache_set(c, key, strlen(key), "other", 5, 0, NULL));
        }
    }
    th_ok(shmcache_close(c));
    for (n = 0, g = buckets_of(&m)[bucket]; g != 0 && n < want; n++) {
        chain[n] = (apr_uint64_t)g * SC_ALLOC_ALIGN;
        g = ((sc_entry_sh_t *)(m.base + chain[n]))->next;
    }
    *len = n;
    unmap_file(&m);
    return bucket;
}

/* Break the chain as case kind says. */
static void craft(const char *path, int kind)
{
    apr_uint64_t chain[LONG_CHAIN];
    unsigned len, i;
    seg_map_t m;

    one_bucket_chain(path, kind == C_LONG_DUPS ? LONG_CHAIN : 4, chain, &len);
    ck_assert_uint_ge(len, kind == C_LONG_DUPS ? LONG_CHAIN : 4);
    ck_assert(map_file(&m, path));
    switch (kind) {
    case C_DUP_SELF:                /* X, then a second X linking to itself */
        copy_key(&m, chain[1], chain[0]);
        link_to(&m, chain[1], chain[1]);
        break;
    case C_TWO_CYCLE:               /* X -> Y -> X */
        link_to(&m, chain[1], chain[0]);
        break;
    case C_SELF_LOOP:               /* the head links to itself */
        link_to(&m, chain[0], chain[0]);
        break;
    default:                        /* every third entry a duplicate of the
                                       one before it, the tail back to one */
        for (i = 3; i < len; i += 3)
            copy_key(&m, chain[i], chain[i - 1]);
        link_to(&m, chain[len - 1], chain[3]);
        break;
    }
    unmap_file(&m);
}

/* Helper: argv = path, lock timeout ms, items before. One set must recover the planted
 * dead writer, repair and return within 2 x lock timeout + 1 s; check
 * must pass afterwards, and the key just set must be there. Prints what
 * survived. */
static int repair_helper(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    apr_uint32_t lock_ms;
    apr_uint64_t sum = 0;
    apr_size_t n;
    char why[256], buf[8];
    apr_time_t t0;
    long took;
    apr_status_t rv;

    if (argc < 3)
        return 99;
    lock_ms = (apr_uint32_t)atol(argv[1]);
    start_watchdog(lock_ms);
    shmcache_options_init(&o);
    o.lock_timeout_ms = lock_ms;
    if (shmcache_attach(&c, argv[0], &o, th_pool) != APR_SUCCESS)
        return 7;
    t0 = apr_time_now();
    rv = TIMED(&ST_SET, shmcache_set(c, "fresh", 5, "v", 1, 0, NULL));
    took = ms_since(t0);
    fprintf(stderr, "tamper: repair: set returned %s in %ld ms (bound %ld ms)\n",
            status_name(rv), took, 2L * lock_ms + 1000);
    if (rv != APR_SUCCESS || took > 2L * lock_ms + 1000)
        return rv != APR_SUCCESS ? 9 : 4;
    rv = TIMED(&ST_CHECK, shmcache_check(c, why, sizeof why));
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "tamper: repair: check afterwards: %s: %s\n",
                status_name(rv), why);
        return 8;
    }
    if (TIMED(&ST_GETBUF, shmcache_get_buf(c, "fresh", 5, buf, sizeof buf, &n,
                                           NULL)) != APR_SUCCESS)
        return 9;
    TIMED(&ST_STATS, shmcache_stats(c, &st));
    TIMED(&ST_ITERATE, shmcache_iterate(c, walk_one, &sum, SHMCACHE_ITER_KEYS_ONLY));
    fprintf(stderr, "tamper: repair: %lu items survive of %s before, the new key "
            "included (repairs %lu, resets %lu, lock recoveries %lu)\n",
            (unsigned long)st.items, argv[2],
            (unsigned long)st.repairs, (unsigned long)st.resets,
            (unsigned long)st.lock_recoveries);
    shmcache_close(c);
    if (st.lock_recoveries != 1 || st.repairs + st.resets != 1)
        return 9;
    return oplog.undocumented > 0 ? 3 : 0;
}

/* Craft the chain, plant a dead writer (a real process that attached and
 * died), and run one set through the repair under a time limit. */
static void run_repair_case(int kind, const char *what)
{
    const char *path = th_path("crafted");
    const char *args[4];
    apr_uint32_t pid;
    apr_proc_t proc;
    seg_map_t m;
    apr_time_t t0;
    int slot, rc;

    craft(path, kind);
    pid = dead_pid(path);
    ck_assert(map_file(&m, path));
    slot = plant_dead_writer(&m, pid);
    args[2] = apr_psprintf(th_pool, "%" APR_UINT64_T_FMT, m.hdr.counters.items);
    unmap_file(&m);
    ck_assert_int_ge(slot, 0);
    fprintf(stderr, "tamper: == repair of %s: dead writer pid %u in slot %d\n",
            what, (unsigned)pid, slot);
    args[0] = path;
    args[1] = apr_psprintf(th_pool, "%u", REPAIR_LOCK_MS);
    args[3] = NULL;
    t0 = apr_time_now();
    th_spawn(&proc, "repair", args);
    rc = wait_limited(&proc, 20000);
    fprintf(stderr, "tamper: == repair of %s: %s in %ld ms\n", what,
            exit_meaning(rc), ms_since(t0));
    ck_assert_msg(rc == 0, "repair of %s: the helper %s (%d)", what,
                  exit_meaning(rc), rc);
}

START_TEST(a_duplicate_key_linking_to_itself_is_repaired_in_bounded_time)
{
    run_repair_case(C_DUP_SELF, "a duplicate key linking to itself");
}
END_TEST

START_TEST(a_two_cycle_in_one_bucket_is_repaired_in_bounded_time)
{
    run_repair_case(C_TWO_CYCLE, "a 2-cycle");
}
END_TEST

START_TEST(a_self_loop_is_repaired_in_bounded_time)
{
    run_repair_case(C_SELF_LOOP, "a self-loop");
}
END_TEST

START_TEST(duplicates_along_a_long_chain_are_repaired_in_bounded_time)
{
    run_repair_case(C_LONG_DUPS, "duplicates along a long chain");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("tamper");
    TCase *tamper = tcase_create("tamper");
    TCase *repair = tcase_create("repair");

    tcase_add_checked_fixture(tamper, th_setup, th_teardown);
    tcase_set_timeout(tamper, (double)tamper_seconds() + 120);
    tcase_add_test(tamper, header_fields_flipped_after_attach_are_never_followed);
    tcase_add_test(tamper, a_flipped_allocator_bound_or_list_head_is_never_followed);
    tcase_add_test(tamper, a_lock_whose_words_flip_keeps_every_wait_bounded);
    tcase_add_test(tamper, entry_lengths_that_flip_are_read_once);
    tcase_add_test(tamper, chain_links_that_flip_never_loop_or_escape);
    tcase_add_test(tamper, block_headers_that_flip_never_send_the_allocator_outside);
    suite_add_tcase(s, tamper);

    tcase_add_checked_fixture(repair, th_setup, th_teardown);
    tcase_set_timeout(repair, 60);
    tcase_add_test(repair, a_duplicate_key_linking_to_itself_is_repaired_in_bounded_time);
    tcase_add_test(repair, a_two_cycle_in_one_bucket_is_repaired_in_bounded_time);
    tcase_add_test(repair, a_self_loop_is_repaired_in_bounded_time);
    tcase_add_test(repair, duplicates_along_a_long_chain_are_repaired_in_bounded_time);
    suite_add_tcase(s, repair);
    return s;
}

const th_helper_t test_helpers[] = {
    {"ops", ops_helper},
    {"tamperer", tamper_helper},
    {"settle", settle_helper},
    {"attach-and-die", attach_and_die_helper},
    {"repair", repair_helper},
    {NULL, NULL}
};

#else /* !TAMPER_SUPPORTED */

Suite *test_suite(void)
{
    return suite_create("tamper");
}

const th_helper_t test_helpers[] = {
    {NULL, NULL}
};

#endif
