/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shmcache_tier.h - a second tier (L2) on memcached or Redis behind a
 * shmcache segment (L1), so the caches of several machines share values.
 *
 * The segment stays L1 (sub-microsecond, this machine only); an existing
 * memcached or Redis deployment is L2, shared by every machine. The tier
 * talks to L2 through APR-util's clients, apr_memcache and apr_redis, whose
 * connections are pooled per server with apr_reslist. It is a separate
 * static library (libshmcache_tier.a) because it needs APR-util; the core
 * does not. Link it with the core:
 *     cc app.c $(pkg-config --cflags --libs shmcache-tier)
 *     target_link_libraries(app PRIVATE shmcache::shmcache_tier)  (CMake)
 *
 * Semantics
 * ---------
 * get      L1 hit: answered from L1. L1 miss: asked of L2; an L2 hit is
 *          stored in L1 for min(TTL left in L2, l1_ttl) and answered. An
 *          L2 miss is not remembered unless neg_ttl > 0: then L1 keeps a
 *          "known missing" marker for neg_ttl seconds (get answers
 *          SHMCACHE_NOTFOUND from it without asking L2).
 * set, add, replace, delete, touch
 *          write-through: L2 first, then L1 (add/replace decide on L2's
 *          answer when L2 answers). Another machine reading L2 sees the new
 *          value at once; a copy already in another machine's L1 may be
 *          stale for at most l1_ttl seconds (+1 s of TTL rounding), or
 *          usually for about invalidate_ms with the invalidation channel
 *          (below). The L1 copy written here also lives at most l1_ttl.
 * incr     L2 is the authority (atomic across machines); the result is
 *          stored in L1 (for l1_ttl) and returned.
 * cas      refused: APR_ENOTIMPL. Versions are per segment and L2 has no
 *          version a second machine could compare, so a tiered cas could
 *          not be what shmcache_cas promises.
 *
 * L2 unavailable (refused, timed out, errors, circuit breaker open): every
 * call still answers, from L1 alone, within timeout_ms. Writes are then
 * done in L1 only and return L1's status (other machines do not see them;
 * counted in l2_errors / l2_timeouts / l2_skipped); incr counts in L1 alone
 * (those increments are not carried to L2 later). After breaker_failures
 * consecutive failures or timeouts of one server the breaker of that server
 * opens: for breaker_ms no call goes to it (answered from L1 at once,
 * counted in l2_skipped); then one call goes through as a probe while the
 * others are still skipped: its success closes the breaker, its failure
 * opens it again. So when L2 comes back the tier resumes by itself.
 *
 * Invalidation channel (invalidate_ms > 0)
 * ----------------------------------------
 * Every write that L2 accepted (set, add, replace, delete, incr) is also
 * announced in a log kept in L2 itself (a counter PREFIX~inv and entries
 * PREFIX~inv:N holding the key, kept 60 s, on the server that owns the
 * counter); each tier polls the log every invalidate_ms and deletes from
 * its L1 the keys other processes announced. Another machine's stale copy
 * then lasts about invalidate_ms plus two L2 round trips instead of up to
 * l1_ttl. Costs: two more L2 calls per write, up to 1 + new entries per
 * poll, one poller thread per tier. A log, not a subscription: apr_redis
 * has no generic command (no SUBSCRIBE) and memcached no notifications.
 * Entries that cannot be read (expired, log more than 1000 ahead, counter
 * evicted) are counted in inval_lost; those copies keep the l1_ttl bound,
 * which stays the guarantee. All machines must list the same servers.
 *
 * Nothing network-related ever happens under the segment lock: the tier
 * uses only the public shmcache_* calls, each of which takes and releases
 * the lock itself, and talks to L2 between them.
 *
 * Keys and values in L2
 * ---------------------
 * A key of 1..200 printable non-space ASCII bytes not starting with '~' is
 * used as it is (after the optional prefix); any other key shmcache accepts
 * (long, binary, spaces) becomes prefix + "~" + 32 hex digits of its
 * XXH3-128 hash. Values are stored with a 12-byte header holding the
 * absolute expiry (so another machine can compute the TTL left), except
 * decimal numbers (1..20 digits), which are stored bare so that L2's own
 * increment works on them; a bare value read from L2 is cached in L1 for
 * l1_ttl. Expiry across machines assumes clocks agree to a second or so.
 *
 * Servers, spreading and pools
 * ----------------------------
 * url: "memcache://host:port[,host:port...]" or "redis://host:port[,...]"
 * (port defaults 11211 / 6379). Keys are spread over the servers by a
 * consistent-hash ring (160 points per server, XXH3): adding a server to N
 * moves about 1/(N+1) of the keys. A key always goes to its own server;
 * when that server is down the key is served from L1 alone (no fail-over,
 * so a counter never splits over two servers).
 *
 * Each server has one apr_reslist of connections per process (min, smax,
 * max, ttl as below) and up to `max` worker threads (started as needed)
 * that run the client calls, so a caller can give up after timeout_ms whatever the client does:
 * apr_memcache 1.6 reads with no timeout at all and apr_redis 1.6 takes
 * its read/write timeout in whole seconds, so neither can bound a call to
 * milliseconds itself. A call abandoned at its deadline finishes (or
 * fails) in its worker and its result is dropped.
 *
 * What the clients lack, and what the tier does instead
 * -----------------------------------------------------
 * - no touch (both): touch is get + set with the new TTL (not atomic).
 * - apr_redis has no add/replace/SETNX and no generic command: on Redis,
 *   add and replace are get-then-set (not atomic across machines), and
 *   incr with an initial value on a missing key is get-then-set too (two
 *   machines creating the same counter at the same instant may both store
 *   the initial value; create counters before sharing them).
 * - increments: both clients take a 32-bit signed delta and parse the
 *   result with atoi, so L2 counters are exact up to 2^31-1; a delta
 *   outside that range gives SHMCACHE_EINVAL. Redis counters are signed:
 *   decrementing below 0 is not clamped to 0 there (memcached clamps).
 * - apr_memcache's incr has no initial value: the tier does add(initial),
 *   and if another machine added first, the incr again (atomic).
 * - apr_memcache 1.6 reads memcached's CLIENT_ERROR (incr of a value that
 *   is not a number) as the result 0: an increment (delta > 0) that gives
 *   0 is taken as SHMCACHE_ENOTNUM; a decrement of such a value gives 0.
 * - an error answer of a server (CLIENT_ERROR, SERVER_ERROR, -ERR) counts
 *   in l2_errors but not towards the breaker: the server is up.
 */
#ifndef SHMCACHE_TIER_H
#define SHMCACHE_TIER_H

#include <apr_network_io.h>
#include "shmcache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of shmcache_tier_options_t (documented there). */
#define SHMCACHE_TIER_DEFAULT_POOL_MIN      0u
#define SHMCACHE_TIER_DEFAULT_POOL_SMAX     2u
#define SHMCACHE_TIER_DEFAULT_POOL_MAX      8u
#define SHMCACHE_TIER_DEFAULT_POOL_TTL_MS   30000u
#define SHMCACHE_TIER_DEFAULT_TIMEOUT_MS    50u
#define SHMCACHE_TIER_DEFAULT_L1_TTL        5u
#define SHMCACHE_TIER_DEFAULT_BREAKER_FAILS 5u
#define SHMCACHE_TIER_DEFAULT_BREAKER_MS    3000u
#define SHMCACHE_TIER_MAX_SERVERS           64u
#define SHMCACHE_TIER_MAX_PREFIX            32u

/** A tier: one L1 handle and the L2 servers, for one process. */
typedef struct shmcache_tier_t shmcache_tier_t;

/** Settings of a tier. Start from shmcache_tier_options_init(). */
typedef struct shmcache_tier_options_t {
    const char *url;            /**< memcache://h:p[,h:p] or redis://... */
    const char *prefix;         /**< prepended to every L2 key, up to 32
                                     bytes, no spaces; default "" */
    apr_uint32_t pool_min;      /**< connections opened at start and kept
                                     per server (apr_reslist min); 0 */
    apr_uint32_t pool_smax;     /**< idle connections kept beyond ttl
                                     (soft max); 2 */
    apr_uint32_t pool_max;      /**< hard max of connections per server
                                     and process, also its worker
                                     threads; 1..1024, default 8 */
    apr_uint32_t pool_ttl_ms;   /**< an idle connection beyond smax is
                                     closed after this; 30000 */
    apr_uint32_t timeout_ms;    /**< longest an L2 call may take (connect
                                     included), 1..60000; default 50 */
    apr_uint32_t l1_ttl;        /**< seconds an L1 copy of a shared value
                                     may live (its staleness bound), >= 1;
                                     default 5 */
    apr_uint32_t neg_ttl;       /**< seconds an L2 miss is remembered in L1,
                                     0 = never (default) */
    apr_uint32_t breaker_failures; /**< consecutive failures that open a
                                     server's breaker; default 5 */
    apr_uint32_t breaker_ms;    /**< how long it stays open; default 3000 */
    apr_uint32_t invalidate_ms; /**< 0 (default): no invalidation channel;
                                     10..10000: announce every L2 write in
                                     a log in L2 and poll it this often,
                                     dropping other machines' L1 copies
                                     (see "Invalidation channel") */
} shmcache_tier_options_t;

/** Counters of a tier in this process (all servers together). */
typedef struct shmcache_tier_stats_t {
    apr_uint64_t gets;          /**< shmcache_tier_get calls */
    apr_uint64_t l1_hits;       /**< answered from L1 */
    apr_uint64_t neg_hits;      /**< answered "missing" by an L1 marker */
    apr_uint64_t l2_hits;       /**< L1 miss, L2 hit (L1 filled) */
    apr_uint64_t l2_misses;     /**< L1 miss, L2 miss */
    apr_uint64_t l2_writes;     /**< writes and incrs done in L2 */
    apr_uint64_t l2_errors;     /**< L2 calls that failed (refused, I/O,
                                     protocol), timeouts excluded */
    apr_uint64_t l2_timeouts;   /**< L2 calls given up at timeout_ms */
    apr_uint64_t l2_skipped;    /**< calls not sent: breaker open */
    apr_uint64_t breaker_trips; /**< times a breaker opened */
    apr_uint64_t inval_sent;    /**< writes announced in the log */
    apr_uint64_t inval_applied; /**< other processes' announcements
                                     applied to L1 (key dropped) */
    apr_uint64_t inval_lost;    /**< announcements that could not be read
                                     (expired, log too far ahead): those
                                     copies keep the l1_ttl bound */
    apr_uint32_t servers;       /**< L2 servers */
    apr_uint32_t servers_open;  /**< of which with the breaker open now */
} shmcache_tier_stats_t;

/** Figures of one L2 server in this process. */
typedef struct shmcache_tier_server_stats_t {
    const char *host;           /**< as in the URL (owned by the tier) */
    apr_port_t port;
    int breaker_open;           /**< calls to it are skipped now */
    apr_uint32_t conns_busy;    /**< connections in use (apr_reslist) */
    apr_uint64_t calls;         /**< L2 calls sent to it */
    apr_uint64_t errors;
    apr_uint64_t timeouts;
    apr_uint64_t trips;
} shmcache_tier_server_stats_t;

/** Fill opts with the defaults (url NULL: must be set). */
SHMCACHE_DECLARE(void) shmcache_tier_options_init(shmcache_tier_options_t *opts);

/** Check opts (URL syntax, ranges) without connecting. On failure *why
 *  (may be NULL) gets a sentence from pool.
 *  @return APR_SUCCESS; SHMCACHE_EINVAL. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_options_check(
    const shmcache_tier_options_t *opts, const char **why, apr_pool_t *pool);

/** Parse "MIN,SMAX,MAX,TTL_MS" (a trailing part may be left out) into
 *  opts' pool fields. @return APR_SUCCESS; SHMCACHE_EINVAL. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_pool_parse(
    shmcache_tier_options_t *opts, const char *spec);

/** Make a tier over the open cache l1 with opts (copied). Starts one
 *  worker thread per server (more, up to pool_max, when calls find them
 *  all busy); connects lazily (pool_min connections are
 *  opened at once, failures ignored). Must be called in the process that
 *  uses it (after any fork). Stopped when pool is cleared: workers are
 *  joined; a worker stuck in a client call past 1 s is left behind with
 *  its memory. l1 must stay open while the tier lives.
 *  @return APR_SUCCESS; SHMCACHE_EINVAL (bad options); APR errors from
 *  thread or client creation. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_create(shmcache_tier_t **tier,
                                                    shmcache_t *l1,
                                                    const shmcache_tier_options_t *opts,
                                                    apr_pool_t *pool);

/** The L1 cache of tier. */
SHMCACHE_DECLARE(shmcache_t *) shmcache_tier_l1(shmcache_tier_t *tier);

/** Get key as described above; value copied into pool and NUL-terminated.
 *  @return APR_SUCCESS; SHMCACHE_NOTFOUND; the errors of shmcache_get. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_get(shmcache_tier_t *tier,
                                                 const void *key, apr_size_t key_len,
                                                 void **value, apr_size_t *value_len,
                                                 apr_pool_t *pool);

/** Store (write-through). ttl as in shmcache_set (SHMCACHE_TTL_DEFAULT =
 *  the segment's default TTL). @return as shmcache_set. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_set(shmcache_tier_t *tier,
                                                 const void *key, apr_size_t key_len,
                                                 const void *value, apr_size_t value_len,
                                                 apr_uint32_t ttl);

/** Store only if absent in L2 (in L1 when L2 is unavailable).
 *  @return as shmcache_add. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_add(shmcache_tier_t *tier,
                                                 const void *key, apr_size_t key_len,
                                                 const void *value, apr_size_t value_len,
                                                 apr_uint32_t ttl);

/** Store only if present in L2 (in L1 when L2 is unavailable).
 *  @return as shmcache_replace. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_replace(shmcache_tier_t *tier,
                                                     const void *key, apr_size_t key_len,
                                                     const void *value, apr_size_t value_len,
                                                     apr_uint32_t ttl);

/** Remove key from L2 and L1. @return APR_SUCCESS when it was in either;
 *  SHMCACHE_NOTFOUND; the errors of shmcache_delete. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_delete(shmcache_tier_t *tier,
                                                    const void *key, apr_size_t key_len);

/** New ttl in L2 (get + set) and L1. @return as shmcache_touch. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_touch(shmcache_tier_t *tier,
                                                   const void *key, apr_size_t key_len,
                                                   apr_uint32_t ttl);

/** Add delta in L2 (the authority), store the result in L1. initial and
 *  ttl as in shmcache_incr. @return as shmcache_incr; SHMCACHE_EINVAL for
 *  a delta outside 32 bits. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_incr(shmcache_tier_t *tier,
                                                  const void *key, apr_size_t key_len,
                                                  apr_int64_t delta,
                                                  const apr_uint64_t *initial,
                                                  apr_uint32_t ttl,
                                                  apr_uint64_t *result);

/** Refused on a tier. @return APR_ENOTIMPL. */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_cas(shmcache_tier_t *tier,
                                                 const void *key, apr_size_t key_len,
                                                 const void *value, apr_size_t value_len,
                                                 apr_uint32_t ttl,
                                                 apr_uint64_t expected,
                                                 apr_uint64_t *version);

/** Counters of this process's tier. */
SHMCACHE_DECLARE(void) shmcache_tier_stats(shmcache_tier_t *tier,
                                           shmcache_tier_stats_t *stats);

/** Number of L2 servers, and the figures of server i (0-based).
 *  @return APR_SUCCESS; SHMCACHE_EINVAL (i out of range). */
SHMCACHE_DECLARE(apr_uint32_t) shmcache_tier_servers(shmcache_tier_t *tier);
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_server_stats(shmcache_tier_t *tier,
                                                          apr_uint32_t i,
                                                          shmcache_tier_server_stats_t *stats);

/** Ask server i whether it answers (a get of a key nobody writes), within
 *  the timeout; *rtt (may be NULL) gets the time it took. Counted like any
 *  call (a failure can open the breaker).
 *  @return APR_SUCCESS when it answered; SHMCACHE_EINVAL (i out of range);
 *  APR_EGENERAL (no answer, or breaker open). */
SHMCACHE_DECLARE(apr_status_t) shmcache_tier_ping(shmcache_tier_t *tier,
                                                  apr_uint32_t i,
                                                  apr_interval_time_t *rtt);

/** The URL of tier, as configured. */
SHMCACHE_DECLARE(const char *) shmcache_tier_url(shmcache_tier_t *tier);

#ifdef __cplusplus
}
#endif

#endif /* SHMCACHE_TIER_H */
