/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier_inval.c - the optional invalidation channel of a tier: a write on
 * one machine drops the other machines' L1 copies of that key within
 * about one poll interval, instead of leaving them stale for up to l1_ttl.
 *
 * Neither APR-util client can subscribe to anything (apr_redis has no
 * generic command, so no SUBSCRIBE; memcached has no notifications), so
 * the channel is a log kept in L2 itself with the operations both have:
 *
 *   PREFIX~inv        a counter (incr): the number of the last entry
 *   PREFIX~inv:N      entry N (set, expires after SC_INVAL_ENTRY_TTL):
 *                     16 hex digits of the writer's origin, then the key
 *
 * A writer, after its L2 write, increments the counter and stores the
 * entry under the number it got (two more L2 calls, each bounded by the
 * timeout). Every process with a tier polls the counter every interval
 * and reads the entries it has not seen; for each one written by another
 * process it deletes the key from its L1. An entry not there yet (its
 * writer is between the two calls) is waited for up to SC_INVAL_WAIT; an
 * entry that never comes, a log that ran more than SC_INVAL_BATCH entries
 * ahead or a counter that went back (evicted, restarted) are counted as
 * lost: those copies fall back to the l1_ttl bound. Both log keys start
 * with '~' and are not 32 hex digits long, so no user key maps to them
 * (tier_key.c).
 *
 * The log lives on the server that owns PREFIX~inv on the ring, so every
 * machine with the same server list uses the same one. Nothing here runs
 * under the segment lock: L1 is touched only by shmcache_delete.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <apr_signal.h>
#include "tier_private.h"

#define SC_INVAL_ENTRY_TTL 60u          /* seconds an entry stays in L2 */
#define SC_INVAL_BATCH     1000u        /* most entries read per poll */
#define SC_INVAL_WAIT      APR_USEC_PER_SEC /* for an entry announced but absent */
#define SC_INVAL_ORIGIN    16           /* hex digits of the origin */

struct sc_tier_inval_t {
    sc_tier_server_t *srv;
    shmcache_t *l1;
    const char *prefix;
    char origin[SC_INVAL_ORIGIN + 1];   /* this process's, random */
    apr_interval_time_t interval;
    apr_pool_t *scratch;                /* the poller's, cleared per poll */
    apr_thread_t *thread;
    apr_thread_mutex_t *lock;           /* for the cond */
    apr_thread_cond_t *wake;
    _Atomic int stopping;               /* set under lock, read anywhere */
    int synced;                         /* last is the log's position */
    apr_uint32_t last;                  /* last entry read */
    apr_time_t missing_since;           /* entry last + 1 announced, absent */
    _Atomic apr_uint64_t sent, applied, lost;
};

/* The L2 key of the counter (n == 0) or of entry n, into req->key. */
static void log_key(const sc_tier_inval_t *iv, sc_l2_req_t *req, apr_uint32_t n)
{
    if (n == 0)
        apr_snprintf(req->key, sizeof(req->key), "%s~inv", iv->prefix);
    else
        apr_snprintf(req->key, sizeof(req->key), "%s~inv:%u", iv->prefix, n);
}

/* Add 1 to the counter and return the new value in *n (creating the
 * counter on memcached, whose incr does not). APR_SUCCESS or why not. */
static apr_status_t next_number(sc_tier_inval_t *iv, apr_uint32_t *n, apr_pool_t *p)
{
    sc_l2_req_t req;
    sc_l2_res_t res;
    apr_status_t rv;
    int tries;

    for (tries = 0; tries < 2; tries++) {
        memset(&req, 0, sizeof(req));
        log_key(iv, &req, 0);
        req.op = SC_L2_INCR;
        req.delta = 1;
        rv = sc_tier_server_call(iv->srv, &req, &res, p);
        if (rv == APR_SUCCESS) {
            *n = res.number;
            return APR_SUCCESS;
        }
        if (rv != APR_NOTFOUND)
            return rv;
        req.op = SC_L2_ADD;             /* memcached only: Redis creates it */
        req.value = "0";
        req.value_len = 1;
        rv = sc_tier_server_call(iv->srv, &req, NULL, p);
        if (rv != APR_SUCCESS && rv != APR_EEXIST)
            return rv;
    }
    return SC_L2_DOWN;
}

void sc_tier_inval_publish(sc_tier_inval_t *iv, const void *key, apr_size_t len)
{
    sc_l2_req_t req;
    apr_pool_t *p;
    apr_uint32_t n;
    char *v;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        return;
    if (next_number(iv, &n, p) == APR_SUCCESS) {
        memset(&req, 0, sizeof(req));
        log_key(iv, &req, n);
        req.op = SC_L2_SET;
        v = apr_palloc(p, SC_INVAL_ORIGIN + len);
        memcpy(v, iv->origin, SC_INVAL_ORIGIN);
        memcpy(v + SC_INVAL_ORIGIN, key, len);
        req.value = v;
        req.value_len = SC_INVAL_ORIGIN + len;
        req.exptime = SC_INVAL_ENTRY_TTL;
        if (sc_tier_server_call(iv->srv, &req, NULL, p) == APR_SUCCESS)
            atomic_fetch_add(&iv->sent, 1);
    }
    apr_pool_destroy(p);
}

/* The counter's value into *n: APR_SUCCESS (0 when it does not exist). */
static apr_status_t read_counter(sc_tier_inval_t *iv, apr_uint32_t *n)
{
    sc_l2_req_t req;
    sc_l2_res_t res;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    log_key(iv, &req, 0);
    req.op = SC_L2_GET;
    rv = sc_tier_server_call(iv->srv, &req, &res, iv->scratch);
    *n = 0;
    if (rv == APR_SUCCESS && res.value)
        *n = (apr_uint32_t)strtoul(res.value, NULL, 10);
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

/* Read entry n and drop its key from L1 unless this process wrote it.
 * APR_SUCCESS when done with n (applied, own, or given up as lost);
 * APR_NOTFOUND to try n again at the next poll; another status: L2 down. */
static apr_status_t apply_entry(sc_tier_inval_t *iv, apr_uint32_t n)
{
    sc_l2_req_t req;
    sc_l2_res_t res;
    apr_time_t now;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    log_key(iv, &req, n);
    req.op = SC_L2_GET;
    rv = sc_tier_server_call(iv->srv, &req, &res, iv->scratch);
    if (rv == APR_NOTFOUND) {
        now = apr_time_now();
        if (!iv->missing_since)
            iv->missing_since = now;
        if (now - iv->missing_since < SC_INVAL_WAIT)
            return APR_NOTFOUND;
        atomic_fetch_add(&iv->lost, 1);
        rv = APR_SUCCESS;
    } else if (rv == APR_SUCCESS && res.value && res.value_len > SC_INVAL_ORIGIN
               && memcmp(res.value, iv->origin, SC_INVAL_ORIGIN) != 0) {
        shmcache_delete(iv->l1, res.value + SC_INVAL_ORIGIN,
                        res.value_len - SC_INVAL_ORIGIN);
        atomic_fetch_add(&iv->applied, 1);
    }
    if (rv == APR_SUCCESS)
        iv->missing_since = 0;
    return rv;
}

/* One poll: read the counter, apply the entries since the last one seen. */
static void poll_once(sc_tier_inval_t *iv)
{
    apr_uint32_t head, ahead;

    if (read_counter(iv, &head) != APR_SUCCESS)
        return;
    if (!iv->synced) {              /* start from now, not from history */
        iv->last = head;
        iv->synced = 1;
        return;
    }
    ahead = head - iv->last;        /* unsigned: wraps like the counter */
    if (ahead > SC_INVAL_BATCH) {   /* far behind, or the counter restarted */
        atomic_fetch_add(&iv->lost, ahead <= 0x7FFFFFFFu ? ahead : 1);
        iv->last = head;
        iv->missing_since = 0;
        return;
    }
    while (iv->last != head && !atomic_load(&iv->stopping)
           && apply_entry(iv, iv->last + 1) == APR_SUCCESS)
        iv->last++;
}

static void *APR_THREAD_FUNC poller_main(apr_thread_t *thd, void *data)
{
    sc_tier_inval_t *iv = data;

#ifdef SIGPIPE
    apr_signal_block(SIGPIPE);
#endif
    apr_thread_mutex_lock(iv->lock);
    while (!iv->stopping) {
        apr_thread_mutex_unlock(iv->lock);
        poll_once(iv);
        apr_pool_clear(iv->scratch);
        apr_thread_mutex_lock(iv->lock);
        if (!iv->stopping)
            apr_thread_cond_timedwait(iv->wake, iv->lock, iv->interval);
    }
    apr_thread_mutex_unlock(iv->lock);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

apr_status_t sc_tier_inval_start(sc_tier_inval_t **out, sc_tier_server_t *srv,
                                 shmcache_t *l1, const char *prefix,
                                 apr_uint32_t interval_ms, apr_pool_t *root)
{
    sc_tier_inval_t *iv = apr_pcalloc(root, sizeof(*iv));
    unsigned char rnd[SC_INVAL_ORIGIN / 2];
    apr_status_t rv;
    int i;

    iv->srv = srv;
    iv->l1 = l1;
    iv->prefix = prefix;
    iv->interval = (apr_interval_time_t)interval_ms * 1000;
    if ((rv = apr_generate_random_bytes(rnd, sizeof(rnd))) != APR_SUCCESS)
        return rv;
    for (i = 0; i < (int)sizeof(rnd); i++)
        apr_snprintf(iv->origin + 2 * i, 3, "%02x", rnd[i]);
    if ((rv = apr_pool_create(&iv->scratch, root)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&iv->lock, APR_THREAD_MUTEX_DEFAULT, root))
        || (rv = apr_thread_cond_create(&iv->wake, root)))
        return rv;
    /* the poller's first poll, at once, takes the log's position */
    if ((rv = apr_thread_create(&iv->thread, NULL, poller_main, iv, root)) != APR_SUCCESS)
        return rv;
    *out = iv;
    return APR_SUCCESS;
}

void sc_tier_inval_stop(sc_tier_inval_t *iv)
{
    apr_status_t trv;

    apr_thread_mutex_lock(iv->lock);
    iv->stopping = 1;
    apr_thread_cond_signal(iv->wake);
    apr_thread_mutex_unlock(iv->lock);
    /* its L2 calls end at their deadline, whatever the server does */
    apr_thread_join(&trv, iv->thread);
}

void sc_tier_inval_add_totals(sc_tier_inval_t *iv, shmcache_tier_stats_t *st)
{
    st->inval_sent += atomic_load(&iv->sent);
    st->inval_applied += atomic_load(&iv->applied);
    st->inval_lost += atomic_load(&iv->lost);
}
