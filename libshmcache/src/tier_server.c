/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier_server.c - one L2 server of a tier: its APR-util client (one
 * apr_memcache_t or apr_redis_t holding just this server, so the tier, not
 * the client's modulo hash, decides where a key goes), the apr_reslist of
 * connections the client keeps for it, a queue served by up to pool_max
 * worker threads (one at first, another whenever a request finds them all
 * busy), the circuit breaker and the counters.
 *
 * Why workers: apr_memcache 1.6 reads with no timeout at all and
 * apr_redis 1.6 takes whole seconds, so a caller cannot be bounded by the
 * client. A caller queues its request and waits on a condition variable
 * until its deadline; a worker runs the client call. A request whose
 * caller gave up is dropped if still queued, or finishes in its worker and
 * its result is freed there. At most pool_max workers per server also
 * cap the calls in flight at the reslist's hard max, so no worker waits
 * for a connection.
 *
 * Spinning: two thread wake-ups per call cost about as much as a loopback
 * round trip on a virtual machine, so both sides poll briefly before they
 * sleep. A worker that has finished a call polls the queue for up to
 * SC_WORKER_SPIN (one worker per server at a time); a caller polls its
 * job's state for up to about twice the recent call latency, at most
 * SC_CALLER_SPIN and never past its deadline, and not at all while calls
 * take longer than that (a distant or slow L2: sleeping is cheaper). Each
 * poll yields the processor, so a spinner never keeps the server or the
 * worker it waits for off a busy machine's cores.
 *
 * Locking: srv->lock guards the queue, the job states, the breaker and the
 * counters; it is never held during a client call. Only a job's state and
 * the queue's length and stop flag are also read without it, by the
 * spinners (atomics); every decision is taken again under the lock. No
 * segment lock is ever involved here.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_thread_proc.h>
#include <apr_reslist.h>
#include <apr_signal.h>
#include "tier_private.h"

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ABANDONED } job_state_e;

/* Longest poll of a worker for its next job, and of a caller for its
 * answer (see "Spinning" above). */
#define SC_WORKER_SPIN 100      /* microseconds */
#define SC_CALLER_SPIN 200

/* A request in flight: malloc'd, freed by whoever sees it last (the caller
 * once DONE, the worker once ABANDONED). */
typedef struct job_t {
    struct job_t *next;
    _Atomic int state;          /* a job_state_e; written under srv->lock */
    int probe;                  /* the one call let through a breaker
                                   whose open time is over */
    apr_status_t status;
    sc_l2_req_t req;            /* req.value points to a malloc'd copy */
    char *out;                  /* GET: malloc'd value */
    apr_size_t out_len;
    apr_uint32_t number;
} job_t;

struct sc_tier_server_t {
    sc_l2_kind_e kind;
    const char *host;
    apr_port_t port;
    apr_memcache_t *mc;
    apr_memcache_server_t *ms;
    apr_redis_t *rc;
    apr_redis_server_t *rs;
    apr_reslist_t *conns;       /* the client's pool (for maintain, stats) */
    apr_interval_time_t timeout;
    apr_interval_time_t maint_period;
    apr_uint32_t breaker_failures;
    apr_interval_time_t breaker_time;

    apr_thread_mutex_t *lock;
    apr_thread_cond_t *wake;    /* workers: a job is queued, or stop */
    apr_thread_cond_t *done;    /* callers: a job is done; stop: exits */
    job_t *head, *tail;
    apr_pool_t *pool;           /* threads and workers; used under lock */
    apr_thread_t **threads;
    apr_uint32_t nthreads, max_threads;
    apr_uint32_t idle;          /* workers waiting for a job */
    _Atomic apr_uint32_t queued; /* jobs in the queue */
    apr_uint32_t live;          /* workers not yet exited */
    apr_uint32_t spinning;      /* workers polling for a job (0 or 1) */
    apr_interval_time_t latency; /* moving average of a call, queue to answer */
    _Atomic int stopping;
    apr_time_t maint_next;

    apr_uint32_t fails;         /* consecutive failures */
    int probing;                /* a probe is in flight (half-open) */
    apr_time_t open_until;      /* breaker open while now < this */
    apr_uint64_t calls, errors, timeouts, skipped, trips;
};

static void job_free(job_t *job)
{
    free((void *)job->req.value);
    free(job->out);
    free(job);
}

/* Breaker and counters for a finished or abandoned call. Lock held.
 * Closed: failures count up; at breaker_failures it opens for
 * breaker_time. Then one call (the probe) goes through while the others
 * are skipped: its success closes the breaker, its failure opens it again. */
static void note_locked(sc_tier_server_t *srv, job_t *job, apr_status_t status,
                        int timed_out)
{
    apr_time_t now;

    if (job->probe)
        srv->probing = 0;
    if (status == SC_L2_REFUSED)
        srv->errors++;
    if (status != SC_L2_DOWN) {     /* the server answered */
        srv->fails = 0;
        return;
    }
    if (timed_out)
        srv->timeouts++;
    else
        srv->errors++;
    srv->fails++;
    now = apr_time_now();
    if (srv->fails >= srv->breaker_failures && srv->open_until <= now) {
        srv->open_until = now + srv->breaker_time;
        srv->trips++;
    }
}

/* The end of a client call that returned rv and, for a get, the value v
 * of len bytes (in the call's pool): SC_L2_DOWN when the client marked
 * its server dead during the call (down), else rv, with the value copied
 * into job->out (NUL-terminated; APR_ENOMEM when that fails). */
static apr_status_t finish_job(job_t *job, apr_status_t rv, int down,
                               const char *v, apr_size_t len)
{
    if (down)
        return SC_L2_DOWN;
    if (rv == APR_SUCCESS && v) {
        job->out = malloc(len + 1);
        if (!job->out)
            return APR_ENOMEM;
        memcpy(job->out, v, len);
        job->out[len] = '\0';
        job->out_len = len;
    }
    return rv;
}

/* A client call on memcached. Returns the client's status, REPLACE's
 * NOT_STORED turned into APR_NOTFOUND. */
static apr_status_t run_memcache(sc_tier_server_t *srv, job_t *job, apr_pool_t *p)
{
    sc_l2_req_t *r = &job->req;
    char *v = NULL;
    apr_size_t len = 0;
    apr_uint16_t flags;
    apr_status_t rv;

    /* the tier's breaker decides when to try again, not the client's
     * own 5-second dead period */
    if (srv->ms->status != APR_MC_SERVER_LIVE)
        apr_memcache_enable_server(srv->mc, srv->ms);
    switch (r->op) {
    case SC_L2_GET:
        rv = apr_memcache_getp(srv->mc, p, r->key, &v, &len, &flags);
        break;
    case SC_L2_SET:
        rv = apr_memcache_set(srv->mc, r->key, (char *)r->value, r->value_len,
                              r->exptime, 0);
        break;
    case SC_L2_ADD:
        rv = apr_memcache_add(srv->mc, r->key, (char *)r->value, r->value_len,
                              r->exptime, 0);
        break;
    case SC_L2_REPLACE:
        rv = apr_memcache_replace(srv->mc, r->key, (char *)r->value,
                                  r->value_len, r->exptime, 0);
        if (rv == APR_EEXIST)
            rv = APR_NOTFOUND;
        break;
    case SC_L2_DELETE:
        rv = apr_memcache_delete(srv->mc, r->key, 0);
        break;
    case SC_L2_INCR:
        rv = apr_memcache_incr(srv->mc, r->key, (apr_int32_t)r->delta, &job->number);
        break;
    default:
        rv = apr_memcache_decr(srv->mc, r->key, (apr_int32_t)r->delta, &job->number);
        break;
    }
    /* a client that lost its connection marks the server dead and may
     * answer NOTFOUND (no live server): that is a failure, not a miss */
    return finish_job(job, rv, srv->ms->status != APR_MC_SERVER_LIVE, v, len);
}

/* The same on Redis (ADD and REPLACE are emulated by tier.c). */
static apr_status_t run_redis(sc_tier_server_t *srv, job_t *job, apr_pool_t *p)
{
    sc_l2_req_t *r = &job->req;
    char *v = NULL;
    apr_size_t len = 0;
    apr_uint16_t flags;
    apr_status_t rv;

    if (srv->rs->status != APR_RC_SERVER_LIVE)
        apr_redis_enable_server(srv->rc, srv->rs);
    switch (r->op) {
    case SC_L2_GET:
        rv = apr_redis_getp(srv->rc, p, r->key, &v, &len, &flags);
        break;
    case SC_L2_SET:
        if (r->exptime)
            rv = apr_redis_setex(srv->rc, r->key, (char *)r->value, r->value_len,
                                 r->exptime, 0);
        else
            rv = apr_redis_set(srv->rc, r->key, (char *)r->value, r->value_len, 0);
        break;
    case SC_L2_DELETE:
        rv = apr_redis_delete(srv->rc, r->key, 0);
        break;
    case SC_L2_INCR:
        rv = apr_redis_incr(srv->rc, r->key, (apr_int32_t)r->delta, &job->number);
        break;
    case SC_L2_DECR:
        rv = apr_redis_decr(srv->rc, r->key, (apr_int32_t)r->delta, &job->number);
        break;
    default:
        rv = APR_ENOTIMPL;
        break;
    }
    return finish_job(job, rv, srv->rs->status != APR_RC_SERVER_LIVE, v, len);
}

static int answered(apr_status_t rv)
{
    return rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST;
}

/* Close idle connections beyond smax older than the pool ttl (apr_reslist
 * does this only when a connection is released or on maintain). */
static void maintain(sc_tier_server_t *srv)
{
    apr_reslist_maintain(srv->conns);
}

/* Poll, without the lock, until a job is queued, the server stops or
 * SC_WORKER_SPIN has passed. */
static void poll_for_job(sc_tier_server_t *srv)
{
    apr_time_t until = apr_time_now() + SC_WORKER_SPIN;

    while (atomic_load(&srv->queued) == 0 && !atomic_load(&srv->stopping)
           && apr_time_now() < until)
        apr_thread_yield();
}

typedef struct worker_t {
    sc_tier_server_t *srv;
    apr_pool_t *pool;
} worker_t;

static void *APR_THREAD_FUNC worker_main(apr_thread_t *thd, void *data)
{
    worker_t *w = data;
    sc_tier_server_t *srv = w->srv;
    job_t *job;
    apr_status_t rv;
    apr_time_t now;

#ifdef SIGPIPE
    /* a server that closed the connection must give EPIPE to the client
     * call, not kill the process (httpd ignores SIGPIPE; a CLI does not) */
    apr_signal_block(SIGPIPE);
#endif
    apr_thread_mutex_lock(srv->lock);
    while (!srv->stopping) {
        job = srv->head;
        if (!job) {
            srv->idle++;
            rv = apr_thread_cond_timedwait(srv->wake, srv->lock, srv->maint_period);
            srv->idle--;
            now = apr_time_now();
            if (rv == APR_TIMEUP && now >= srv->maint_next && !srv->stopping) {
                srv->maint_next = now + srv->maint_period;
                apr_thread_mutex_unlock(srv->lock);
                maintain(srv);
                apr_thread_mutex_lock(srv->lock);
            }
            continue;
        }
        srv->head = job->next;
        if (!srv->head)
            srv->tail = NULL;
        srv->queued--;
        if (job->state == JOB_ABANDONED) {
            job_free(job);
            continue;
        }
        job->state = JOB_RUNNING;
        srv->calls++;
        apr_thread_mutex_unlock(srv->lock);

        rv = srv->kind == SC_L2_MEMCACHE ? run_memcache(srv, job, w->pool)
                                         : run_redis(srv, job, w->pool);
        apr_pool_clear(w->pool);

        apr_thread_mutex_lock(srv->lock);
        if (job->state == JOB_ABANDONED) {
            /* already counted as a timeout by its caller */
            job_free(job);
            continue;
        }
        if (!answered(rv) && rv != SC_L2_DOWN)
            rv = SC_L2_REFUSED;     /* the server is there, said no */
        note_locked(srv, job, rv, 0);
        job->status = rv;
        job->state = JOB_DONE;
        apr_thread_cond_broadcast(srv->done);
        if (!srv->head && !srv->spinning) {
            srv->spinning = 1;
            apr_thread_mutex_unlock(srv->lock);
            poll_for_job(srv);
            apr_thread_mutex_lock(srv->lock);
            srv->spinning = 0;
        }
    }
    srv->live--;
    apr_thread_cond_broadcast(srv->done);
    apr_thread_mutex_unlock(srv->lock);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

/* Make the client object and its connection pool. A server down at start
 * with pool_min > 0 would fail apr_reslist_create: it is then made with
 * min 0 and connects on demand. */
static apr_status_t make_client(sc_tier_server_t *srv,
                                const shmcache_tier_options_t *o, apr_pool_t *root)
{
    apr_uint32_t ttl_us = o->pool_ttl_ms >= 4294967u ? 0xFFFFFFFFu
                                                     : o->pool_ttl_ms * 1000u;
    apr_uint32_t min = o->pool_min;
    apr_status_t rv;

    for (;;) {
        if (srv->kind == SC_L2_MEMCACHE) {
            rv = apr_memcache_server_create(root, srv->host, srv->port, min,
                                            o->pool_smax, o->pool_max, ttl_us,
                                            &srv->ms);
            if (rv == APR_SUCCESS) {
                srv->conns = srv->ms->conns;
                if ((rv = apr_memcache_create(root, 1, 0, &srv->mc)) == APR_SUCCESS)
                    rv = apr_memcache_add_server(srv->mc, srv->ms);
            }
        } else {
            /* rwto: whole seconds; the workers' deadline is the real bound */
            rv = apr_redis_server_create(root, srv->host, srv->port, min,
                                         o->pool_smax, o->pool_max, ttl_us, 1,
                                         &srv->rs);
            if (rv == APR_SUCCESS) {
                srv->conns = srv->rs->conns;
                if ((rv = apr_redis_create(root, 1, 0, &srv->rc)) == APR_SUCCESS)
                    rv = apr_redis_add_server(srv->rc, srv->rs);
            }
        }
        if (rv == APR_SUCCESS || min == 0)
            break;
        min = 0;
    }
    if (rv == APR_SUCCESS)
        apr_reslist_timeout_set(srv->conns, srv->timeout);
    return rv;
}

/* Start one more worker (up to max_threads); a failure leaves the ones
 * there are (at least the first) to do the work. Lock held: srv->pool is only
 * used under it. */
static apr_status_t spawn_locked(sc_tier_server_t *srv)
{
    worker_t *w;
    apr_status_t rv;

    if (srv->nthreads >= srv->max_threads || srv->stopping)
        return APR_SUCCESS;
    w = apr_pcalloc(srv->pool, sizeof(*w));
    w->srv = srv;
    if ((rv = apr_pool_create(&w->pool, srv->pool)) != APR_SUCCESS)
        return rv;
    rv = apr_thread_create(&srv->threads[srv->nthreads], NULL, worker_main, w,
                           srv->pool);
    if (rv == APR_SUCCESS) {
        srv->nthreads++;
        srv->live++;
    }
    return rv;
}

apr_status_t sc_tier_server_create(sc_tier_server_t **out, sc_l2_kind_e kind,
                                   const char *host, apr_port_t port,
                                   const shmcache_tier_options_t *o,
                                   apr_pool_t *root)
{
    sc_tier_server_t *srv = apr_pcalloc(root, sizeof(*srv));
    apr_status_t rv;

    srv->kind = kind;
    srv->host = apr_pstrdup(root, host);
    srv->port = port;
    srv->timeout = (apr_interval_time_t)o->timeout_ms * 1000;
    srv->breaker_failures = o->breaker_failures ? o->breaker_failures : 1;
    srv->breaker_time = (apr_interval_time_t)o->breaker_ms * 1000;
    srv->latency = SC_CALLER_SPIN / 4;
    srv->maint_period = (apr_interval_time_t)o->pool_ttl_ms * 500;
    if (srv->maint_period < 50000)
        srv->maint_period = 50000;
    if (srv->maint_period > 1000000)
        srv->maint_period = 1000000;
    if ((rv = make_client(srv, o, root)) != APR_SUCCESS)
        goto done;
    if ((rv = apr_thread_mutex_create(&srv->lock, APR_THREAD_MUTEX_DEFAULT, root))
        || (rv = apr_thread_cond_create(&srv->wake, root))
        || (rv = apr_thread_cond_create(&srv->done, root)))
        goto done;
    if ((rv = apr_pool_create(&srv->pool, root)) != APR_SUCCESS)
        goto done;
    srv->max_threads = o->pool_max;
    srv->threads = apr_pcalloc(root, o->pool_max * sizeof(apr_thread_t *));
    apr_thread_mutex_lock(srv->lock);
    rv = spawn_locked(srv);     /* the first; it also runs the maintenance */
    apr_thread_mutex_unlock(srv->lock);
    if (rv == APR_SUCCESS)
        *out = srv;
done:
    if (rv != APR_SUCCESS && srv->lock)
        sc_tier_server_stop(srv, apr_time_from_sec(1));
    return rv;
}

/* Take a job that no worker has taken out of the queue. Lock held. */
static void unqueue_locked(sc_tier_server_t *srv, job_t *job)
{
    job_t **pp = &srv->head, *prev = NULL;

    while (*pp && *pp != job) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = job->next;
    if (srv->tail == job)
        srv->tail = prev;
    srv->queued--;
}

/* How long a caller polls for its answer: about twice the recent call
 * latency, none when calls take longer than SC_CALLER_SPIN. Lock held. */
static apr_interval_time_t spin_locked(const sc_tier_server_t *srv)
{
    apr_interval_time_t spin = 2 * srv->latency + 10;

    if (srv->latency > SC_CALLER_SPIN)
        return 0;
    return spin < SC_CALLER_SPIN ? spin : SC_CALLER_SPIN;
}

/* Poll, without the lock, until job is done or until has passed. */
static void poll_for_answer(job_t *job, apr_time_t until)
{
    while (atomic_load(&job->state) != JOB_DONE && apr_time_now() < until)
        apr_thread_yield();
}

/* Fold one call's time, queue to answer (or timeout), into the moving
 * average (weight 1/8). Lock held. */
static void note_latency_locked(sc_tier_server_t *srv, apr_time_t start)
{
    srv->latency += (apr_time_now() - start - srv->latency) / 8;
}

/* Queue a job and wait for it until the deadline. Lock held. */
static apr_status_t wait_locked(sc_tier_server_t *srv, job_t *job)
{
    apr_time_t start = apr_time_now();
    apr_time_t deadline = start + srv->timeout;
    apr_interval_time_t left, spin;

    job->state = JOB_QUEUED;
    if (srv->tail)
        srv->tail->next = job;
    else
        srv->head = job;
    srv->tail = job;
    if (++srv->queued > srv->idle + srv->spinning)
        spawn_locked(srv);      /* all busy: one more, up to pool_max */
    if (!srv->spinning)         /* a polling worker needs no wake-up */
        apr_thread_cond_signal(srv->wake);
    if ((spin = spin_locked(srv)) > 0) {
        apr_thread_mutex_unlock(srv->lock);
        poll_for_answer(job, start + spin < deadline ? start + spin : deadline);
        apr_thread_mutex_lock(srv->lock);
    }
    /* a worker changes job->state while the wait below releases the lock */
    /* cppcheck-suppress knownConditionTrueFalse */
    while (job->state != JOB_DONE) {
        left = deadline - apr_time_now();
        if (left <= 0)
            break;
        apr_thread_cond_timedwait(srv->done, srv->lock, left);
    }
    note_latency_locked(srv, start);
    /* cppcheck-suppress knownConditionTrueFalse */
    if (job->state == JOB_DONE)
        return job->status;
    note_locked(srv, job, SC_L2_DOWN, 1);
    if (job->state == JOB_QUEUED) {
        unqueue_locked(srv, job);   /* no worker will see it: the caller frees */
        job->state = JOB_DONE;
    } else {
        job->state = JOB_ABANDONED; /* its worker frees it */
    }
    return SC_L2_DOWN;
}

apr_status_t sc_tier_server_call(sc_tier_server_t *srv, const sc_l2_req_t *req,
                                 sc_l2_res_t *res, apr_pool_t *pool)
{
    job_t *job;
    apr_status_t rv;

    job = calloc(1, sizeof(*job));
    if (!job)
        return APR_ENOMEM;
    job->req = *req;
    job->req.value = NULL;
    if (req->value) {
        char *copy = malloc(req->value_len ? req->value_len : 1);
        if (!copy) {
            free(job);
            return APR_ENOMEM;
        }
        memcpy(copy, req->value, req->value_len);
        job->req.value = copy;
    }

    apr_thread_mutex_lock(srv->lock);
    if (srv->stopping || srv->open_until > apr_time_now()
        || (srv->fails >= srv->breaker_failures && srv->probing)) {
        srv->skipped++;
        apr_thread_mutex_unlock(srv->lock);
        job_free(job);
        return SC_L2_DOWN;
    }
    if (srv->fails >= srv->breaker_failures) {
        srv->probing = 1;
        job->probe = 1;
    }
    rv = wait_locked(srv, job);
    if (job->state == JOB_DONE) {
        if (res) {
            res->number = job->number;
            res->value = NULL;
            res->value_len = job->out_len;
            if (job->out)
                res->value = apr_pmemdup(pool, job->out, job->out_len + 1);
        }
        job_free(job);
    }
    apr_thread_mutex_unlock(srv->lock);
    return rv;
}

apr_status_t sc_tier_server_stop(sc_tier_server_t *srv, apr_interval_time_t wait)
{
    apr_time_t deadline = apr_time_now() + wait;
    apr_interval_time_t left;
    apr_status_t ret;
    apr_uint32_t i;
    job_t *job;

    apr_thread_mutex_lock(srv->lock);
    srv->stopping = 1;
    apr_thread_cond_broadcast(srv->wake);
    while (srv->live > 0 && (left = deadline - apr_time_now()) > 0)
        apr_thread_cond_timedwait(srv->done, srv->lock, left);
    while ((job = srv->head) != NULL) {
        srv->head = job->next;
        if (job->state == JOB_ABANDONED) {
            job_free(job);
        } else {                    /* its caller frees it */
            job->status = SC_L2_DOWN;
            job->state = JOB_DONE;
        }
    }
    srv->tail = NULL;
    apr_thread_cond_broadcast(srv->done);
    ret = srv->live == 0 ? APR_SUCCESS : APR_TIMEUP;
    apr_thread_mutex_unlock(srv->lock);
    if (ret == APR_SUCCESS) {
        for (i = 0; i < srv->nthreads; i++) {
            apr_status_t trv;
            apr_thread_join(&trv, srv->threads[i]);
        }
        srv->nthreads = 0;
    }
    return ret;
}

void sc_tier_server_stats(sc_tier_server_t *srv, shmcache_tier_server_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->host = srv->host;
    st->port = srv->port;
    st->conns_busy = apr_reslist_acquired_count(srv->conns);
    apr_thread_mutex_lock(srv->lock);
    st->breaker_open = srv->open_until > apr_time_now();
    st->calls = srv->calls;
    st->errors = srv->errors;
    st->timeouts = srv->timeouts;
    st->trips = srv->trips;
    apr_thread_mutex_unlock(srv->lock);
}

void sc_tier_server_add_totals(sc_tier_server_t *srv, shmcache_tier_stats_t *st)
{
    apr_thread_mutex_lock(srv->lock);
    st->l2_errors += srv->errors;
    st->l2_timeouts += srv->timeouts;
    st->l2_skipped += srv->skipped;
    st->breaker_trips += srv->trips;
    st->servers++;
    if (srv->open_until > apr_time_now())
        st->servers_open++;
    apr_thread_mutex_unlock(srv->lock);
}

sc_l2_kind_e sc_tier_server_kind(const sc_tier_server_t *srv)
{
    return srv->kind;
}
