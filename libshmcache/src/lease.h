/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease.h - leases against stampedes, kept in the table.
 *
 * When a key is missing (or its value is stale), exactly one caller gets
 * a lease: the right to compute the value. The lease is a small entry of
 * the key's chain flagged SC_ENTRY_LEASE (table.h) whose value records the
 * holder (pid + start time, as the lock records its holders) and whether
 * the holder gave up because its computation failed; its version is the
 * lease's token, and its expiry the lease TTL, so an abandoned lease
 * lapses by itself. A lease whose holder is dead is taken over at once by
 * the next caller that asks. Nothing here waits or sleeps: callers wait
 * between calls, without the lock (shmcache.c, on the lock's lease word).
 *
 * Locking: every function needs the write lock.
 */
#ifndef SC_LEASE_H
#define SC_LEASE_H

#include "table.h"
#include "os.h"

/* A lease as found in the segment (checked copy). */
typedef struct sc_lease_t {
    apr_uint64_t token;            /* its entry's version */
    sc_proc_id_t holder;           /* who holds it */
    int failed;                    /* released as failed by its holder */
} sc_lease_t;

/* One lease request: the key, who asks, until when a granted lease lives
 * (table seconds), and the token of a lease the caller waited for (0 if
 * none: then a failed lease does not concern it). */
typedef struct sc_lease_req_t {
    const void *key;
    apr_size_t key_len;
    sc_proc_id_t self;
    apr_uint32_t lease_expires;
    apr_uint64_t awaited;
} sc_lease_req_t;

/* Look up the key's value and lease and decide. Returns:
 * - APR_SUCCESS: a fresh value (*value);
 * - SHMCACHE_LEASED: the caller now holds the lease (*lease: token); a
 *   stale value is in *value when value->entry is not NULL;
 * - SHMCACHE_STALE: a stale value (*value); another holds the lease;
 * - SHMCACHE_ELEASED: no value; another live caller holds the lease
 *   (*lease: its holder and token, to wait for);
 * - SHMCACHE_ECOMPUTE: the lease the caller waited for (req->awaited) was
 *   released as failed;
 * - SHMCACHE_ENOMEM, SHMCACHE_ECORRUPT.
 * *value points into the segment: copy it before releasing the lock. */
apr_status_t sc_lease_acquire_locked(sc_table_t *t, const sc_lease_req_t *req,
                                     apr_uint32_t now, sc_found_t *value,
                                     sc_lease_t *lease);

/* The key's lease as it stands (holder, token, failed), for a look with
 * the read lock. Returns APR_SUCCESS, SHMCACHE_NOTFOUND (none, or lapsed)
 * or SHMCACHE_ECORRUPT. Writes nothing. */
apr_status_t sc_lease_peek_locked(const sc_table_t *t, const void *key,
                                  apr_size_t key_len, apr_uint32_t now,
                                  sc_lease_t *lease);

/* The key's value was just stored by the holder of lease token: remove
 * that lease if it is still the key's lease (a lease taken over since, or
 * lapsed, is left alone). Returns APR_SUCCESS, SHMCACHE_NOTFOUND (the
 * lease was no longer there) or SHMCACHE_ECORRUPT. */
apr_status_t sc_lease_complete_locked(sc_table_t *t, const void *key,
                                      apr_size_t key_len, apr_uint64_t token,
                                      apr_uint32_t now);

/* The holder of lease token gives it up without a value: the lease is
 * removed, or with failed kept but marked failed (callers that waited for
 * it learn SHMCACHE_ECOMPUTE; a new caller takes a new lease). Returns as
 * sc_lease_complete_locked. */
apr_status_t sc_lease_release_locked(sc_table_t *t, const void *key,
                                     apr_size_t key_len, apr_uint64_t token,
                                     int failed, apr_uint32_t now);

/* Count a caller that waits for another's lease, or (timed_out) one that
 * gave up waiting. */
void sc_lease_count_wait_locked(sc_table_t *t, int timed_out);

#endif /* SC_LEASE_H */
