/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease.c - leases against stampedes (contract and design in lease.h).
 *
 * A lease entry's value is one sc_lease_rec_sh_t. It is read once, with
 * its length checked, into a local (sc_lease_t) before anything is
 * decided from it, like every other value read from the segment; a
 * record that does not have the right length is no lease (it is replaced).
 */
#include "lease.h"
#include "lock.h"

#include <stddef.h>
#include <string.h>

/* In the segment: the value of a lease entry. */
typedef struct sc_lease_rec_sh_t {
    apr_uint32_t pid;              /* holder */
    apr_uint32_t failed;           /* 1: its holder gave up, failed */
    apr_uint64_t start;            /* holder's start time (sc_proc_id_t) */
} sc_lease_rec_sh_t;

/* The key's live lease, copied out and checked. Returns APR_SUCCESS,
 * SHMCACHE_NOTFOUND (none, lapsed, or not a lease record) or
 * SHMCACHE_ECORRUPT. *f is its entry. */
static apr_status_t find_lease(const sc_table_t *t, const void *key,
                               apr_size_t key_len, apr_uint32_t now,
                               sc_found_t *f, sc_lease_t *lease)
{
    sc_lease_rec_sh_t rec;
    apr_status_t rv = sc_table_find_locked(t, key, key_len, SC_ENTRY_LEASE,
                                           now, f);

    if (rv != APR_SUCCESS)
        return rv;
    if (f->value_len != sizeof rec)
        return SHMCACHE_NOTFOUND;
    memcpy(&rec, f->value, sizeof rec);
    lease->token = f->entry->version;
    lease->holder.pid = rec.pid;
    lease->holder.start = rec.start;
    lease->failed = rec.failed != 0;
    return APR_SUCCESS;
}

/* Store a new lease held by req->self, replacing any lease of the key;
 * its token in lease->token. */
static apr_status_t put_lease(sc_table_t *t, const sc_lease_req_t *req,
                              apr_uint32_t now, sc_lease_t *lease)
{
    sc_lease_rec_sh_t rec;
    sc_store_t op;

    memset(&rec, 0, sizeof rec);
    rec.pid = req->self.pid;
    rec.start = req->self.start;
    memset(&op, 0, sizeof op);
    op.mode = SC_STORE_SET;
    op.key = req->key;
    op.key_len = req->key_len;
    op.value = &rec;
    op.value_len = sizeof rec;
    op.expires = req->lease_expires;
    op.flags = SC_ENTRY_LEASE;
    lease->holder = req->self;
    lease->failed = 0;
    return sc_table_store_locked(t, &op, now, &lease->token);
}

/* Whether the lease found stands in the way of req: held by a live
 * process and not given up. A dead holder's lease is counted as such. */
static int lease_stands(sc_table_t *t, const sc_lease_t *lease)
{
    if (lease->failed)
        return 0;
    if (sc_lock_proc_alive(&lease->holder))
        return 1;
    t->hdr->counters.leases_dead++;
    return 0;
}

/* Grant req a lease; then look the value up again (storing the lease may
 * have evicted it). */
static apr_status_t grant(sc_table_t *t, const sc_lease_req_t *req,
                          apr_uint32_t now, sc_found_t *value,
                          sc_lease_t *lease)
{
    apr_status_t rv = put_lease(t, req, now, lease);

    if (rv != APR_SUCCESS)
        return rv;
    t->hdr->counters.leases_granted++;
    value->entry = NULL;
    rv = sc_table_find_locked(t, req->key, req->key_len, 0, now, value);
    if (rv != APR_SUCCESS)
        value->entry = NULL;
    return rv == APR_SUCCESS || rv == SHMCACHE_NOTFOUND ? SHMCACHE_LEASED : rv;
}

apr_status_t sc_lease_acquire_locked(sc_table_t *t, const sc_lease_req_t *req,
                                     apr_uint32_t now, sc_found_t *value,
                                     sc_lease_t *lease)
{
    sc_found_t lf;
    int have;
    apr_status_t rv;

    SC_ASSERT_WRITE(t);
    rv = sc_table_find_locked(t, req->key, req->key_len, 0, now, value);
    if (rv == APR_SUCCESS && !value->stale)
        return APR_SUCCESS;
    if (rv != APR_SUCCESS && rv != SHMCACHE_NOTFOUND)
        return rv;
    have = rv == APR_SUCCESS;
    rv = find_lease(t, req->key, req->key_len, now, &lf, lease);
    if (rv != APR_SUCCESS && rv != SHMCACHE_NOTFOUND)
        return rv;
    if (rv == APR_SUCCESS) {
        if (lease->failed && req->awaited != 0 && lease->token == req->awaited)
            return SHMCACHE_ECOMPUTE;
        if (lease_stands(t, lease)) {
            if (!have)
                return SHMCACHE_ELEASED;
            t->hdr->counters.stale_answers++;
            return SHMCACHE_STALE;
        }
    }
    return grant(t, req, now, value, lease);
}

apr_status_t sc_lease_complete_locked(sc_table_t *t, const void *key,
                                      apr_size_t key_len, apr_uint64_t token,
                                      apr_uint32_t now)
{
    return sc_lease_release_locked(t, key, key_len, token, 0, now);
}

apr_status_t sc_lease_release_locked(sc_table_t *t, const void *key,
                                     apr_size_t key_len, apr_uint64_t token,
                                     int failed, apr_uint32_t now)
{
    sc_found_t f;
    sc_lease_t lease;
    apr_status_t rv = find_lease(t, key, key_len, now, &f, &lease);

    SC_ASSERT_WRITE(t);
    if (rv != APR_SUCCESS)
        return rv;
    if (lease.token != token || lease.failed)
        return SHMCACHE_NOTFOUND;      /* taken over, or already given up */
    if (!failed)
        return sc_table_delete_locked(t, key, key_len, SC_ENTRY_LEASE, now);
    /* the one word of the record that changes; f.value was checked to
     * hold a whole record (at any alignment: it follows the key) */
    {
        apr_uint32_t one = 1;
        memcpy((char *)f.value + offsetof(sc_lease_rec_sh_t, failed), &one,
               sizeof one);
    }
    return APR_SUCCESS;
}

void sc_lease_count_wait_locked(sc_table_t *t, int timed_out)
{
    SC_ASSERT_WRITE(t);
    if (timed_out)
        t->hdr->counters.lease_timeouts++;
    else
        t->hdr->counters.lease_waits++;
}

apr_status_t sc_lease_peek_locked(const sc_table_t *t, const void *key,
                                  apr_size_t key_len, apr_uint32_t now,
                                  sc_lease_t *lease)
{
    sc_found_t f;

    SC_ASSERT_READ(t);
    return find_lease(t, key, key_len, now, &f, lease);
}
