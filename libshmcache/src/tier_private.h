/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier_private.h - what the files of the tier share (not installed).
 *
 * tier.c          the public shmcache_tier_* calls: the L1/L2 semantics
 * tier_server.c   one L2 server: its client object and connection pool,
 *                 the worker threads that bound every call by a deadline,
 *                 the circuit breaker and the counters
 * tier_ring.c     the consistent-hash ring that picks a key's server
 * tier_key.c      L2 key mapping and the value envelope (expiry header)
 * tier_url.c      options: URL parsing and checks
 * tier_inval.c    the optional invalidation channel (a log in L2, polled)
 */
#ifndef SC_TIER_PRIVATE_H
#define SC_TIER_PRIVATE_H

#include <apr_pools.h>
#include <apr_memcache.h>
#include <apr_redis.h>
#include "shmcache_tier.h"

/* L2 keys: memcached's limit is 250 bytes; leave room for the prefix. */
#define SC_TIER_KEY_MAX       250
#define SC_TIER_PLAIN_KEY_MAX 200
/* the envelope: 4 magic bytes + 8-byte big-endian expiry (unix seconds) */
#define SC_TIER_ENV_LEN       12

typedef enum { SC_L2_MEMCACHE, SC_L2_REDIS } sc_l2_kind_e;

typedef enum {
    SC_L2_GET, SC_L2_SET, SC_L2_ADD, SC_L2_REPLACE, SC_L2_DELETE,
    SC_L2_INCR, SC_L2_DECR
} sc_l2_op_e;

/* Status of an L2 call that did not get an answer from the server:
 * refused, failed, timed out or skipped by the breaker (the kind is
 * counted by tier_server.c). */
#define SC_L2_DOWN APR_EGENERAL
/* The server answered with an error (memcached's CLIENT_ERROR or
 * SERVER_ERROR, Redis's -ERR): counted as an error, but it says nothing
 * about the server's health, so it does not count towards the breaker. */
#define SC_L2_REFUSED APR_EINVAL

/* One request to one server. key is the mapped, NUL-terminated L2 key. */
typedef struct sc_l2_req_t {
    sc_l2_op_e op;
    char key[SC_TIER_KEY_MAX + 1];
    const char *value;          /* SET/ADD/REPLACE (copied by the call) */
    apr_size_t value_len;
    apr_uint32_t exptime;       /* L2 expiry argument, 0 = never */
    apr_uint32_t delta;         /* INCR/DECR, <= 2^31-1 */
} sc_l2_req_t;

/* Its answer. value (GET) is in the caller's pool, NUL-terminated. */
typedef struct sc_l2_res_t {
    char *value;
    apr_size_t value_len;
    apr_uint32_t number;        /* INCR/DECR result */
} sc_l2_res_t;

typedef struct sc_tier_server_t sc_tier_server_t;

/* --- tier_url.c ---------------------------------------------------------- */
/* Parse opts->url into kind and n host/port pairs (hosts from pool).
 * Returns APR_SUCCESS or SHMCACHE_EINVAL with *why set. */
apr_status_t sc_tier_url_parse(const char *url, sc_l2_kind_e *kind,
                               const char ***hosts, apr_port_t **ports,
                               apr_uint32_t *n, const char **why,
                               apr_pool_t *pool);

/* --- tier_server.c ------------------------------------------------------- */
/* Make a server with its client, pool and opts->pool_max workers, all in
 * root (a pool whose allocator has a mutex). */
apr_status_t sc_tier_server_create(sc_tier_server_t **srv, sc_l2_kind_e kind,
                                   const char *host, apr_port_t port,
                                   const shmcache_tier_options_t *opts,
                                   apr_pool_t *root);
/* Run req on srv, waiting at most opts->timeout_ms. Returns APR_SUCCESS,
 * APR_NOTFOUND, APR_EEXIST (ADD: present; REPLACE: NOTFOUND instead),
 * SC_L2_REFUSED or SC_L2_DOWN. res may be NULL when nothing is read back. Thread-safe. */
apr_status_t sc_tier_server_call(sc_tier_server_t *srv, const sc_l2_req_t *req,
                                 sc_l2_res_t *res, apr_pool_t *pool);
/* Stop the workers, waiting up to wait for those inside a client call.
 * APR_SUCCESS when all have exited (root may then be destroyed),
 * APR_TIMEUP when some are stuck (root must be left alone). */
apr_status_t sc_tier_server_stop(sc_tier_server_t *srv, apr_interval_time_t wait);
void sc_tier_server_stats(sc_tier_server_t *srv, shmcache_tier_server_stats_t *st);
/* add the server's counters to the tier's totals */
void sc_tier_server_add_totals(sc_tier_server_t *srv, shmcache_tier_stats_t *st);
sc_l2_kind_e sc_tier_server_kind(const sc_tier_server_t *srv);

/* --- tier_ring.c --------------------------------------------------------- */
typedef struct sc_tier_ring_t sc_tier_ring_t;
/* A ring of n servers named names[i] ("host:port"). */
apr_status_t sc_tier_ring_build(sc_tier_ring_t **ring, const char *const *names,
                                apr_uint32_t n, apr_pool_t *pool);
/* The server (0..n-1) that owns the mapped key. */
apr_uint32_t sc_tier_ring_pick(const sc_tier_ring_t *ring, const char *key,
                               apr_size_t len);

/* --- tier_key.c ---------------------------------------------------------- */
/* Write prefix + the L2 form of key into out (SC_TIER_KEY_MAX + 1 bytes,
 * NUL-terminated); returns its length. prefix is at most
 * SHMCACHE_TIER_MAX_PREFIX bytes (checked by the options). */
apr_size_t sc_tier_key_map(const char *prefix, const void *key, apr_size_t len,
                           char *out);
/* 1 if value is 1..20 decimal digits (stored bare in L2) */
int sc_tier_is_number(const void *value, apr_size_t len);
/* Make the L2 form of a value in pool: bare for numbers, else the
 * envelope with expires (unix seconds, 0 = never) + value. */
void sc_tier_envelope(const void *value, apr_size_t len, apr_int64_t expires,
                      const char **out, apr_size_t *out_len, apr_pool_t *pool);
/* Read an L2 value: *value and *len point into raw past any envelope;
 * *expires gets the expiry (0 never, -1 unknown: bare value). */
void sc_tier_unenvelope(const char *raw, apr_size_t raw_len, const char **value,
                        apr_size_t *len, apr_int64_t *expires);

/* --- tier_inval.c -------------------------------------------------------- */
typedef struct sc_tier_inval_t sc_tier_inval_t;
/* Start the channel: its log lives on srv; a poller thread drops from l1
 * the keys other processes wrote, every interval_ms. Everything in root. */
apr_status_t sc_tier_inval_start(sc_tier_inval_t **iv, sc_tier_server_t *srv,
                                 shmcache_t *l1, const char *prefix,
                                 apr_uint32_t interval_ms, apr_pool_t *root);
/* Announce that key (as the caller gave it) changed in L2. Two L2 calls,
 * each bounded by the timeout; a failure is only not announced. */
void sc_tier_inval_publish(sc_tier_inval_t *iv, const void *key, apr_size_t len);
/* Stop and join the poller (its L2 calls end at their deadline). */
void sc_tier_inval_stop(sc_tier_inval_t *iv);
void sc_tier_inval_add_totals(sc_tier_inval_t *iv, shmcache_tier_stats_t *st);

#endif /* SC_TIER_PRIVATE_H */
