/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_watch.c - recoveries made visible in the error log.
 *
 * The library never logs; it counts what it recovered from in
 * shmcache_stats: lock_recoveries (a writer died holding the lock),
 * dead_readers (read holds of dead processes dropped), repairs (the table
 * mended after a dead writer) and resets (the table emptied as a last
 * resort). This file remembers, per cache, the last values it logged and
 * logs the difference whenever a newer figure is observed: warn for the
 * first three, error for resets, with an SCLOGNO and the cache's name.
 *
 * Observed means: a shmcache_stats that the module takes anyway, or one it
 * takes for this purpose:
 *   - the parent's sc_cache_prepare (start and every graceful restart):
 *     always, so what happened since the last check is never lost;
 *   - in a child, at the end of a request (log_transaction) and when the
 *     shmcache-status page or mod_status's hook shows the cache, once
 *     SC_WATCH_INTERVAL has passed since the last check of any process.
 * Children share one "next check" time and the last logged values in a
 * small anonymous shared block that the parent makes once (in ap_pglobal,
 * so it outlives graceful restarts and is inherited by every child), so a
 * change is logged once, by whoever sees it first, and a storm of
 * recoveries gives at most four lines per cache per interval: the counts
 * are summed into those lines. The dead processes' pids are not in the
 * counters, so the lines cannot name them. On Windows, where children do
 * not inherit memory, each child keeps its own block and a change may be
 * logged once per child.
 *
 * The parent never checks periodically: shmcache_stats takes the read lock,
 * which a stopped holder can keep for up to 10 x lock-timeout, and the
 * parent must not be held that long by a child.
 */
#include "sc_private.h"

#include "http_main.h"
#include "apr_shm.h"
#include "apr_strings.h"

APLOG_USE_MODULE(shmcache);

/* Caches watched at once (more are not watched, said once at startup). */
#define SC_WATCH_MAX 64
/* Least time between two periodic checks (all processes together). */
#define SC_WATCH_INTERVAL apr_time_from_sec(5)
#define SC_WATCH_KINDS 4
#define SC_WATCH_KEY "mod_shmcache_watch"

/* One cache's last logged figures (shared by the parent and children). */
typedef struct sc_watch_slot_t {
    apr_uint32_t hash;          /* apr_hashfunc_default of the path */
    apr_uint32_t len;           /* path length; 0 = free slot */
    _Atomic apr_uint64_t seen[SC_WATCH_KINDS];
} sc_watch_slot_t;

struct sc_watch_t {
    _Atomic apr_time_t next_check;  /* next periodic check, any process */
    apr_uint32_t used;              /* slots handed out (parent only) */
    sc_watch_slot_t slots[SC_WATCH_MAX];
};

/* What each counter means, its log level and id. */
static const struct {
    const char *text;
    int level;
} kinds[SC_WATCH_KINDS] = {
    {"lock recovery(ies): a process died holding the write lock, the lock "
     "was taken over", APLOG_WARNING},
    {"dead reader(s): read holds of processes that died were dropped",
     APLOG_WARNING},
    {"repair(s) of the table after a writer died in the middle of a change",
     APLOG_WARNING},
    {"reset(s): the table was found damaged beyond repair and emptied, "
     "every entry was lost", APLOG_ERR},
};

static apr_uint64_t kind_value(const shmcache_stats_t *st, int k)
{
    switch (k) {
    case 0: return st->lock_recoveries;
    case 1: return st->dead_readers;
    case 2: return st->repairs;
    default: return st->resets;
    }
}

/* Log one kind of recovery that went up by delta (total since creation);
 * dead_pid is the last dead process the lock saw (0: unknown). */
static void log_kind(sc_cache_t *c, server_rec *s, int k, apr_uint64_t delta,
                     apr_uint64_t total, apr_int64_t dead_pid)
{
    /* one call site per kind, so each has its own id */
#define WATCH_FMT SC_FMT "%" APR_UINT64_T_FMT " %s (%" APR_UINT64_T_FMT \
                  " since creation; last dead pid %" APR_INT64_T_FMT ")"
#define WATCH_ARGS SC_ARGS(c), delta, kinds[k].text, total, dead_pid
    switch (k) {
    case 0:
        ap_log_error(APLOG_MARK, kinds[k].level, 0, s, SCLOGNO(00501)
                     WATCH_FMT, WATCH_ARGS);
        break;
    case 1:
        ap_log_error(APLOG_MARK, kinds[k].level, 0, s, SCLOGNO(00502)
                     WATCH_FMT, WATCH_ARGS);
        break;
    case 2:
        ap_log_error(APLOG_MARK, kinds[k].level, 0, s, SCLOGNO(00503)
                     WATCH_FMT, WATCH_ARGS);
        break;
    default:
        ap_log_error(APLOG_MARK, kinds[k].level, 0, s, SCLOGNO(00504)
                     WATCH_FMT, WATCH_ARGS);
        break;
    }
#undef WATCH_FMT
#undef WATCH_ARGS
}

sc_watch_t *sc_watch_get(server_rec *s)
{
    apr_pool_t *pg = ap_pglobal;
    sc_watch_t *w = NULL;
    apr_shm_t *shm;
    void *data = NULL;
    apr_status_t rv;

    if (pg == NULL)
        return NULL;
    /* the module's statics do not survive its reload at a restart; the
     * block hangs on ap_pglobal, which does */
    apr_pool_userdata_get(&data, SC_WATCH_KEY, pg);
    if (data != NULL)
        return data;
    rv = apr_shm_create(&shm, sizeof *w, NULL, pg);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, SCLOGNO(00505)
                     "mod_shmcache: no shared memory for the recovery watch; "
                     "each process logs the recoveries it sees itself");
        w = apr_pcalloc(pg, sizeof *w);
    }
    else {
        w = apr_shm_baseaddr_get(shm);
        memset(w, 0, sizeof *w);
    }
    apr_pool_userdata_set(w, SC_WATCH_KEY, apr_pool_cleanup_null, pg);
    return w;
}

/* The slot of c's path, a new one, or NULL when every slot is taken. */
static sc_watch_slot_t *slot_for(sc_watch_t *w, const char *path)
{
    apr_ssize_t len = (apr_ssize_t)strlen(path);
    apr_uint32_t hash = apr_hashfunc_default(path, &len);
    apr_uint32_t i;

    for (i = 0; i < w->used; i++)
        if (w->slots[i].hash == hash && w->slots[i].len == (apr_uint32_t)len)
            return &w->slots[i];
    if (w->used == SC_WATCH_MAX)
        return NULL;
    w->slots[w->used].hash = hash;
    w->slots[w->used].len = (apr_uint32_t)len;
    return &w->slots[w->used++];
}

/* Log what grew since the last logged figures and remember the new ones;
 * a counter that went down (the segment was made anew) is remembered
 * silently. Each growth is logged once, by whichever process swaps it in. */
static void observe(sc_watch_slot_t *slot, sc_cache_t *c,
                    const shmcache_stats_t *st, server_rec *s)
{
    int k;

    for (k = 0; k < SC_WATCH_KINDS; k++) {
        apr_uint64_t cur = kind_value(st, k);
        apr_uint64_t old = atomic_load(&slot->seen[k]);

        while (cur != old
               && !atomic_compare_exchange_weak(&slot->seen[k], &old, cur))
            ;
        if (cur > old)
            log_kind(c, s, k, cur - old, cur, k < 2 ? st->last_dead_pid : 0);
    }
}

void sc_watch_bind(sc_cache_t *c, const shmcache_stats_t *st, int fresh,
                   server_rec *s)
{
    sc_watch_t *w = sc_watch_get(s);
    sc_watch_slot_t *slot;
    int k;

    if (w == NULL)
        return;
    slot = slot_for(w, c->path);
    c->watch = slot;
    if (slot == NULL) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SCLOGNO(00506)
                     SC_FMT "more than %d caches: recoveries of this one are "
                     "counted on the status page but not logged", SC_ARGS(c),
                     SC_WATCH_MAX);
        return;
    }
    if (fresh)                  /* a new segment: nothing to report yet */
        for (k = 0; k < SC_WATCH_KINDS; k++)
            atomic_store(&slot->seen[k], st != NULL ? kind_value(st, k) : 0);
    else
        observe(slot, c, st, s);
}

/* Whether this caller takes the periodic turn: at most one per
 * SC_WATCH_INTERVAL among every process and thread. */
static int take_turn(sc_watch_t *w)
{
    apr_time_t now = apr_time_now();
    apr_time_t due = atomic_load_explicit(&w->next_check, memory_order_relaxed);

    if (now < due && due - now <= SC_WATCH_INTERVAL)
        return 0;               /* (a clock stepped back waits no longer) */
    return atomic_compare_exchange_strong(&w->next_check, &due,
                                          now + SC_WATCH_INTERVAL);
}

void sc_watch_observe(sc_cache_t *c, const shmcache_stats_t *st, server_rec *s)
{
    sc_registry_t *reg = sc_registry();

    c = sc_cache_target(c);
    if (c->watch != NULL && reg != NULL && reg->watch != NULL
        && take_turn(reg->watch))
        observe(c->watch, c, st, s);
}

int sc_watch_due(void)
{
    sc_registry_t *reg = sc_registry();

    return reg != NULL && reg->watch != NULL && take_turn(reg->watch);
}

void sc_watch_check(sc_cache_t *c, shmcache_t *h, server_rec *s)
{
    shmcache_stats_t st;

    if (c->alias == NULL && c->watch != NULL && h != NULL
        && shmcache_stats(h, &st) == APR_SUCCESS)
        observe(c->watch, c, &st, s);
}
