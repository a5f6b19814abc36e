/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shmcache.c - the public entry points (shmcache.h).
 *
 * Each function checks its arguments, takes the segment lock, calls into
 * the table, and releases the lock; nothing below this file takes locks.
 * When the lock reports that its previous writer died (SC_LOCK_RECOVERED),
 * the table is verified and repaired here before anyone reads it.
 *
 * A handle opened read-only (shmcache_options_t.read_only) maps the
 * segment for reading only and holds no lock slot: every writing call
 * refuses with SHMCACHE_EREADONLY before it touches anything, and every
 * read is an optimistic pass (read_only_pass) that takes no lock.
 *
 * The process-local handle (shmcache_t) is allocated from the caller's
 * pool, and the mapping from a subpool of it; close destroys the subpool
 * but leaves the handle struct (with its magic cleared), so a second close
 * is a clean SHMCACHE_EINVAL rather than a use after free.
 */
#include "shmcache.h"
#include "lock.h"
#include "segment.h"
#include "table.h"
#include "lease.h"

#include <apr_strings.h>
#include <string.h>

#define HANDLE_MAGIC 0x53484D43u   /* "SHMC" while open */

/* Gets try an optimistic read first (lock.h). Not under ThreadSanitizer:
 * an optimistic read races with writers by design (what it read is
 * thrown away when the sequence moved), which TSan rightly reports; with
 * TSan every get takes the read lock, so TSan checks that path. */
#if defined(__SANITIZE_THREAD__)
#define SC_OPTIMISTIC_GETS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SC_OPTIMISTIC_GETS 0
#endif
#endif
#ifndef SC_OPTIMISTIC_GETS
#define SC_OPTIMISTIC_GETS 1
#endif

/* Buckets copied out per lock hold by scan and iterate. */
#define SCAN_BATCH 256u

/* A read-only handle's read tries an optimistic pass this many times
 * before it answers SHMCACHE_EBUSY (writers changed the data during every
 * try): many for the short passes (a get, a batch of a scan, the stats),
 * a few for check, which walks the whole table each time. */
#define READ_ONLY_TRIES 64
#define READ_ONLY_CHECK_TRIES 5

struct shmcache_t {
    apr_uint32_t magic;
    apr_pool_t *pool;              /* the caller's pool */
    sc_segment_t *seg;
    sc_table_t table;
    sc_lock_t lock;
    const char *path;
    int read_only;                 /* options.read_only: see the top */
};

void shmcache_options_init(shmcache_options_t *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->size = SHMCACHE_DEFAULT_SIZE;
    o->max_key = SHMCACHE_DEFAULT_MAX_KEY;
    o->max_value = SHMCACHE_DEFAULT_MAX_VALUE;
    o->slots = SHMCACHE_DEFAULT_SLOTS;
    o->mode = SHMCACHE_DEFAULT_MODE;
    o->owner = (apr_uid_t)-1;
    o->group = (apr_gid_t)-1;
    o->lock_timeout_ms = SHMCACHE_DEFAULT_LOCK_TIMEOUT_MS;
}

/* ------------------------------------------------------------------------
 * Handles
 * ---------------------------------------------------------------------- */

static int usable(const shmcache_t *c)
{
    return c != NULL && c->magic == HANDLE_MAGIC;
}

/* Release what the handle holds. Only the process that claimed the lock
 * slot gives it back (sc_lock_detach): a child that inherited the handle
 * across fork() must not free its parent's slot. */
static void release(shmcache_t *c)
{
    sc_lock_detach(&c->lock);
    sc_segment_detach(c->seg);
    c->magic = 0;
}

static apr_status_t handle_cleanup(void *data)
{
    shmcache_t *c = data;

    if (usable(c))
        release(c);
    return APR_SUCCESS;
}

/* Lay out a new segment's regions (creator only, before it is public:
 * nobody else can reach it, and the lock is only being made). */
static apr_status_t init_segment(void *baton, sc_segment_t *seg)
{
    sc_table_t t;
    apr_status_t rv;

    (void)baton;
    sc_lock_init(sc_segment_lock(seg), seg->cfg.nslots);
    rv = sc_table_bind(&t, seg);
    if (rv == APR_SUCCESS)
        rv = sc_table_init_unpublished(&t);
    return rv;
}

/* Bind the handle's lock: claim a slot, or none for a read-only handle. */
static apr_status_t bind_lock(shmcache_t *c, sc_segment_t *seg,
                              const shmcache_options_t *o)
{
    if (o->read_only)
        return sc_lock_attach_read_only(&c->lock, sc_segment_lock(seg),
                                        seg->cfg.nslots, o->lock_timeout_ms);
    return sc_lock_attach(&c->lock, sc_segment_lock(seg), seg->cfg.nslots,
                          o->lock_timeout_ms);
}

/* Make a handle for a mapped, validated segment and claim a lock slot
 * (none for a read-only handle). */
static apr_status_t make_handle(shmcache_t **out, sc_segment_t *seg,
                                const shmcache_options_t *o, apr_pool_t *pool)
{
    shmcache_t *c = apr_pcalloc(pool, sizeof *c);
    apr_status_t rv = sc_table_bind(&c->table, seg);

    if (rv == APR_SUCCESS)
        rv = bind_lock(c, seg, o);
    if (rv != APR_SUCCESS) {
        sc_segment_detach(seg);
        return rv;
    }
    c->table.lock = &c->lock;      /* for the debug checks of *_locked */
    c->read_only = o->read_only != 0;
    c->pool = pool;
    c->seg = seg;
    c->path = seg->path;
    c->magic = HANDLE_MAGIC;
    /* a pre-cleanup: it must run before the pool destroys its children,
     * among them the subpool that holds the mapping */
    apr_pool_pre_cleanup_register(pool, c, handle_cleanup);
    *out = c;
    return APR_SUCCESS;
}

static apr_status_t check_open_args(shmcache_t **cache, const char *path,
                                    apr_pool_t *pool)
{
    if (cache == NULL || path == NULL || *path == '\0' || pool == NULL)
        return SHMCACHE_EINVAL;
    *cache = NULL;
    return APR_SUCCESS;
}

apr_status_t shmcache_create(shmcache_t **cache, const char *path,
                             const shmcache_options_t *opts, apr_pool_t *pool)
{
    shmcache_options_t dflt;
    sc_segment_t *seg;
    apr_status_t rv = check_open_args(cache, path, pool);

    if (rv != APR_SUCCESS)
        return rv;
    if (opts == NULL) {
        shmcache_options_init(&dflt);
        opts = &dflt;
    }
    if (opts->read_only)
        return SHMCACHE_EREADONLY;
    rv = sc_segment_create(&seg, path, opts, init_segment, NULL, pool);
    if (rv != APR_SUCCESS)
        return rv;
    return make_handle(cache, seg, opts, pool);
}

apr_status_t shmcache_attach(shmcache_t **cache, const char *path,
                             const shmcache_options_t *opts, apr_pool_t *pool)
{
    shmcache_options_t dflt;
    sc_segment_t *seg;
    apr_status_t rv = check_open_args(cache, path, pool);

    if (rv != APR_SUCCESS)
        return rv;
    if (opts == NULL) {
        shmcache_options_init(&dflt);
        opts = &dflt;
    }
    rv = sc_segment_attach(&seg, path, opts, pool);
    if (rv != APR_SUCCESS)
        return rv;
    return make_handle(cache, seg, opts, pool);
}

apr_status_t shmcache_open(shmcache_t **cache, const char *path,
                           const shmcache_options_t *opts, apr_pool_t *pool)
{
    apr_status_t rv = APR_ENOENT;
    int tries;

    /* attach; if nothing is there, create (unless read-only); if another
     * process created it in between (EEXIST), attach to theirs */
    for (tries = 0; tries < 3; tries++) {
        rv = shmcache_attach(cache, path, opts, pool);
        if (!APR_STATUS_IS_ENOENT(rv) || (opts != NULL && opts->read_only))
            return rv;
        rv = shmcache_create(cache, path, opts, pool);
        if (!APR_STATUS_IS_EEXIST(rv))
            return rv;
    }
    return rv;
}

apr_status_t shmcache_close(shmcache_t *cache)
{
    if (!usable(cache))
        return SHMCACHE_EINVAL;
    apr_pool_cleanup_kill(cache->pool, cache, handle_cleanup);
    release(cache);
    return APR_SUCCESS;
}

apr_status_t shmcache_remove(const char *path, apr_pool_t *pool)
{
    return shmcache_remove_ex(path, 1, NULL, pool);
}

apr_status_t shmcache_remove_ex(const char *path, int force,
                                apr_uint32_t *attached, apr_pool_t *pool)
{
    apr_uint32_t n = 0;
    apr_status_t rv;

    if (path == NULL || *path == '\0' || pool == NULL)
        return SHMCACHE_EINVAL;
    rv = sc_segment_probe(path, &n, pool);
    if (attached != NULL)
        *attached = n;
    /* with force, a file that is a segment but fails validation goes too
     * (it can only be removed); anything else that is not one stays */
    if (force && (rv == SHMCACHE_ECORRUPT || rv == SHMCACHE_EFORMAT
                  || rv == SHMCACHE_ELAYOUT))
        rv = APR_SUCCESS;
    if (rv != APR_SUCCESS)
        return rv;
    if (!force && n > 0)
        return SHMCACHE_EBUSY;
    return sc_segment_remove(path, pool);
}

apr_status_t shmcache_perms_set(shmcache_t *cache, apr_fileperms_t perms,
                               apr_uid_t uid, apr_gid_t gid)
{
    if (!usable(cache))
        return SHMCACHE_EINVAL;
    if (cache->read_only)
        return SHMCACHE_EREADONLY;
    return sc_segment_perms_set(cache->seg, perms, uid, gid);
}

apr_status_t shmcache_file_close(shmcache_t *cache)
{
    if (!usable(cache))
        return SHMCACHE_EINVAL;
    return sc_segment_file_close(cache->seg);
}

const char *shmcache_path_get(const shmcache_t *cache)
{
    return usable(cache) ? cache->path : NULL;
}

/* ------------------------------------------------------------------------
 * Locking with recovery
 * ---------------------------------------------------------------------- */

/* How a reader holds the lock: the read lock, or the write lock it was
 * handed when it recovered the lock from a dead writer. */
typedef enum held_t { HELD_READ, HELD_WRITE } held_t;

/* Take the read lock. If the previous writer died, the lock hands us the
 * write lock instead: repair the table and keep the write lock for this
 * read (*held says which to release with read_end), so that the caller
 * that recovered finishes its own call before anyone else gets in. */
static apr_status_t read_begin(shmcache_t *c, held_t *held)
{
    apr_status_t rv = sc_lock_rdlock(&c->lock);

    *held = HELD_READ;
    if (rv == SC_LOCK_RECOVERED) {
        sc_table_repair_locked(&c->table);
        *held = HELD_WRITE;
        rv = APR_SUCCESS;
    }
    return rv;
}

/* Release what read_begin took. */
static void read_end(shmcache_t *c, held_t held)
{
    if (held == HELD_WRITE)
        sc_lock_wrunlock(&c->lock);
    else
        sc_lock_rdunlock(&c->lock);
}

/* Take the write lock, repairing the table if its last writer died. */
static apr_status_t write_begin(shmcache_t *c)
{
    apr_status_t rv = sc_lock_wrlock(&c->lock);

    if (rv == SC_LOCK_RECOVERED) {
        sc_table_repair_locked(&c->table);
        rv = APR_SUCCESS;
    }
    return rv;
}

/* Release the write lock after an operation that returned rv. An
 * operation that met corruption repairs the table first (we hold the
 * write lock), so damage costs the entries it touched, once, rather than
 * failing every later write that meets it. */
static apr_status_t write_end(shmcache_t *c, apr_status_t rv)
{
    if (rv == SHMCACHE_ECORRUPT)
        sc_table_repair_locked(&c->table);
    sc_lock_wrunlock(&c->lock);
    return rv;
}

/* The first check of every call that writes: an open handle
 * (SHMCACHE_EINVAL) that may write (SHMCACHE_EREADONLY). */
static apr_status_t check_writable(const shmcache_t *c)
{
    if (!usable(c))
        return SHMCACHE_EINVAL;
    return c->read_only ? SHMCACHE_EREADONLY : APR_SUCCESS;
}

/* Arguments every keyed call shares. */
static apr_status_t check_key(const shmcache_t *c, const void *key,
                              apr_size_t key_len)
{
    if (!usable(c) || key == NULL)
        return SHMCACHE_EINVAL;
    return sc_table_check_sizes(&c->table, key_len, 0);
}

/* check_key for a call that writes. */
static apr_status_t check_write_key(const shmcache_t *c, const void *key,
                                    apr_size_t key_len)
{
    apr_status_t rv = check_writable(c);

    return rv != APR_SUCCESS ? rv : check_key(c, key, key_len);
}

/* ------------------------------------------------------------------------
 * Reading without writing (read-only handles)
 * ---------------------------------------------------------------------- */

/* One optimistic pass over the data: fills its caller's output afresh
 * each time it runs (what an earlier, torn pass left is overwritten). */
typedef apr_status_t (pass_fn)(shmcache_t *c, void *baton);

/* Run pass with no lock and no write to the segment, up to tries times,
 * until one ran with no writer in or meanwhile (the lock's sequence,
 * lock.h): only that pass's answer counts. Waits out a live writer for at
 * most the handle's lock timeout over all tries. Returns the pass's
 * answer; SHMCACHE_EBUSY (a writer ran during every try);
 * SHMCACHE_EABANDONED (a writer died mid-change: only a writer can repair
 * it); SHMCACHE_ETIMEDOUT (a live writer stayed in for the timeout). */
static apr_status_t read_only_pass(shmcache_t *c, pass_fn *pass, void *baton,
                                   int tries)
{
    apr_time_t deadline = apr_time_now()
        + apr_time_from_msec(sc_lock_timeout_ms(&c->lock));
    apr_status_t rv;
    uint64_t seq;
    int i;

    for (i = 0; i < tries; i++) {
        rv = sc_lock_seq_await(&c->lock, deadline, &seq);
        if (rv != APR_SUCCESS)
            return rv;
        sc_lock_pass_enter(&c->lock);
        rv = pass(c, baton);
        sc_lock_pass_leave();
        if (sc_lock_seq_valid(&c->lock, seq))
            return rv;
    }
    return SHMCACHE_EBUSY;
}

/* Count one get: a hit or a miss; gets are their sum (shmcache_stats), so
 * a get that failed (corruption, timeout) is not counted. */
SC_HOT_INLINE void count_get(shmcache_t *c, apr_status_t rv)
{
    if (rv == APR_SUCCESS || rv == SHMCACHE_NOTFOUND)
        sc_lock_count_get(&c->lock, rv == APR_SUCCESS);
}

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

/* Where a get copies the value: a pool or a caller buffer. */
typedef struct sink_t {
    apr_pool_t *pool;
    void **value;
    int to_buf;                    /* copy into buf (else only meta) */
    void *buf;
    apr_size_t buf_size;
    apr_size_t *value_len;
    shmcache_meta_t *meta;
    int count;                     /* counts as a get (not get_meta) */
} sink_t;

SC_HOT_INLINE apr_status_t copy_out(shmcache_t *c, const sc_found_t *f,
                                    apr_uint32_t now, sink_t *s)
{
    if (s->meta != NULL)
        sc_table_meta(&c->table, f->entry, f->value_len, now, s->meta);
    if (s->value_len != NULL)
        *s->value_len = f->value_len;
    if (s->pool != NULL) {
        char *v = apr_palloc(s->pool, (apr_size_t)f->value_len + 1);
        memcpy(v, f->value, f->value_len);
        v[f->value_len] = '\0';
        *s->value = v;
    }
    else if (s->to_buf) {
        if (f->value_len > s->buf_size)
            return SHMCACHE_EBUFSIZE;
        if (f->value_len > 0)       /* buf may be NULL when buf_size is 0 */
            memcpy(s->buf, f->value, f->value_len);
    }
    return APR_SUCCESS;
}

/* A get under the read lock (raises the entry's frequency when it counts). */
static apr_status_t get_locked(shmcache_t *c, const void *key,
                               apr_size_t key_len, sink_t *s)
{
    sc_found_t f;
    apr_uint32_t now;
    held_t held;
    apr_status_t rv = read_begin(c, &held);

    if (rv != APR_SUCCESS)
        return rv;
    now = sc_table_now(&c->table);
    rv = sc_table_get_locked(&c->table, key, key_len, now, s->count, &f);
    if (rv == APR_SUCCESS)
        rv = copy_out(c, &f, now, s);
    read_end(c, held);
    return rv;
}

/* One try at a get without the lock (lock.h, optimistic reads), from the
 * sequence seq. Returns 1 with the answer in *rv when no writer ran
 * meanwhile; 0 when it was torn by a writer, the lookup looked wrong
 * (perhaps torn too: the locked get tells), or the entry must be marked
 * read (its frequency raised), which takes the lock. A pool sink may have had a value
 * allocated for nothing. */
SC_HOT_INLINE int try_optimistic(shmcache_t *c, apr_uint64_t seq,
                                 const void *key, apr_size_t key_len,
                                 sink_t *s, apr_status_t *rv)
{
    sc_found_t f;
    apr_uint32_t now;
    apr_status_t r;

    now = sc_table_now(&c->table);
    r = sc_table_peek(&c->table, key, key_len, now, &f);
    if (r == APR_SUCCESS) {
        if (s->count && f.freq < SC_FREQ_MAX)
            return 0;               /* its frequency must be raised */
        r = copy_out(c, &f, now, s);
    }
    if ((r != APR_SUCCESS && r != SHMCACHE_NOTFOUND
         && r != SHMCACHE_EBUFSIZE)
        || !sc_lock_seq_valid(&c->lock, seq))
        return 0;
    *rv = r;
    return 1;
}

/* A get without the lock: a try, and after a writer a second one once the
 * writer is out (spinning briefly, sc_lock_seq_settle: cheaper than the
 * read lock's shared writes). Returns 1 with the answer in *rv, or 0 when
 * the get must take the read lock. */
SC_HOT_INLINE int get_optimistic(shmcache_t *c, const void *key,
                                 apr_size_t key_len, sink_t *s,
                                 apr_status_t *rv)
{
    apr_uint64_t seq = sc_lock_seq_begin(&c->lock);
    apr_uint64_t last = seq;

    if (!SC_OPTIMISTIC_GETS)
        return 0;
    if ((seq & 1u) == 0 && try_optimistic(c, seq, key, key_len, s, rv))
        return 1;
    seq = sc_lock_seq_settle(&c->lock);
    if ((seq & 1u) || seq == last)  /* writer still in; or not torn */
        return 0;
    return try_optimistic(c, seq, key, key_len, s, rv);
}

/* A get on a read-only handle: what it asks of one pass. */
typedef struct ro_get_t {
    const void *key;
    apr_size_t key_len;
    sink_t *sink;
} ro_get_t;

/* pass_fn: look the key up and copy it out, writing nothing shared (no
 * frequency raised, no get counted). */
static apr_status_t ro_get_pass(shmcache_t *c, void *baton)
{
    ro_get_t *g = baton;
    sc_found_t f;
    apr_uint32_t now = sc_table_now(&c->table);
    apr_status_t rv = sc_table_peek(&c->table, g->key, g->key_len, now, &f);

    if (rv == APR_SUCCESS)
        rv = copy_out(c, &f, now, g->sink);
    return rv;
}

/* A get on a read-only handle (read_only_pass): counted nowhere, since
 * the counters are in the segment. */
static apr_status_t get_read_only(shmcache_t *c, const void *key,
                                  apr_size_t key_len, sink_t *s)
{
    ro_get_t g;

    g.key = key;
    g.key_len = key_len;
    g.sink = s;
    return read_only_pass(c, ro_get_pass, &g, READ_ONLY_TRIES);
}

SC_HOT_INLINE apr_status_t get_into(shmcache_t *c, const void *key,
                                    apr_size_t key_len, sink_t *s)
{
    apr_status_t rv = check_key(c, key, key_len);

    if (rv != APR_SUCCESS)
        return rv;
    if (c->read_only)
        return get_read_only(c, key, key_len, s);
    if (!get_optimistic(c, key, key_len, s, &rv))
        rv = get_locked(c, key, key_len, s);
    if (s->count)
        count_get(c, rv == SHMCACHE_EBUFSIZE ? APR_SUCCESS : rv);
    return rv;
}

apr_status_t shmcache_get(shmcache_t *cache, const void *key,
                          apr_size_t key_len, void **value,
                          apr_size_t *value_len, shmcache_meta_t *meta,
                          apr_pool_t *pool)
{
    sink_t s = {0};

    if (value == NULL || pool == NULL)
        return SHMCACHE_EINVAL;
    s.pool = pool;
    s.value = value;
    s.value_len = value_len;
    s.meta = meta;
    s.count = 1;
    return get_into(cache, key, key_len, &s);
}

apr_status_t shmcache_get_buf(shmcache_t *cache, const void *key,
                              apr_size_t key_len, void *buf,
                              apr_size_t buf_size, apr_size_t *value_len,
                              shmcache_meta_t *meta)
{
    sink_t s = {0};

    if ((buf == NULL && buf_size > 0) || value_len == NULL)
        return SHMCACHE_EINVAL;
    s.to_buf = 1;
    s.buf = buf;
    s.buf_size = buf_size;
    s.value_len = value_len;
    s.meta = meta;
    s.count = 1;
    return get_into(cache, key, key_len, &s);
}

apr_status_t shmcache_get_meta(shmcache_t *cache, const void *key,
                               apr_size_t key_len, shmcache_meta_t *meta)
{
    sink_t s = {0};

    if (meta == NULL)
        return SHMCACHE_EINVAL;
    s.meta = meta;
    return get_into(cache, key, key_len, &s);
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

/* Check a store's arguments and fill *op for it at *now (ttl as the
 * public calls take it; stale_ttl seconds of staleness after it, 0 for
 * none). Returns APR_SUCCESS, SHMCACHE_EINVAL, SHMCACHE_EKEYLEN,
 * SHMCACHE_EVALLEN or SHMCACHE_ETTL. */
static apr_status_t make_store(shmcache_t *c, sc_store_t *op,
                               sc_store_mode_t mode, const void *key,
                               apr_size_t key_len, const void *value,
                               apr_size_t value_len, apr_uint32_t ttl,
                               apr_uint32_t stale_ttl, apr_uint32_t *now)
{
    apr_uint32_t fresh;
    apr_status_t rv = check_writable(c);

    if (rv != APR_SUCCESS)
        return rv;
    if (key == NULL || (value == NULL && value_len > 0))
        return SHMCACHE_EINVAL;
    rv = sc_table_check_sizes(&c->table, key_len, value_len);
    if (rv != APR_SUCCESS)
        return rv;
    if (stale_ttl > SHMCACHE_TTL_MAX)
        return SHMCACHE_ETTL;
    memset(op, 0, sizeof *op);
    op->mode = mode;
    op->key = key;
    op->key_len = key_len;
    op->value = value;
    op->value_len = value_len;
    *now = sc_table_now(&c->table);
    rv = sc_table_expiry(&c->table, ttl, *now, &fresh);
    if (rv != APR_SUCCESS)
        return rv;
    /* fresh until fresh (or forever), then stale for stale_ttl more */
    op->stale = stale_ttl != 0 && fresh != 0 ? fresh : 0;
    op->expires = op->stale != 0 ? fresh + stale_ttl : fresh;
    return APR_SUCCESS;
}

static apr_status_t store(shmcache_t *c, sc_store_mode_t mode,
                          const void *key, apr_size_t key_len,
                          const void *value, apr_size_t value_len,
                          apr_uint32_t ttl, apr_uint64_t expected,
                          apr_uint64_t *version)
{
    sc_store_t op;
    apr_uint32_t now;
    apr_status_t rv = make_store(c, &op, mode, key, key_len, value, value_len,
                                 ttl, 0, &now);

    if (rv != APR_SUCCESS)
        return rv;
    op.expected = expected;
    rv = write_begin(c);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_store_locked(&c->table, &op, now, version);
    return write_end(c, rv);
}

apr_status_t shmcache_set(shmcache_t *cache, const void *key,
                          apr_size_t key_len, const void *value,
                          apr_size_t value_len, apr_uint32_t ttl,
                          apr_uint64_t *version)
{
    return store(cache, SC_STORE_SET, key, key_len, value, value_len, ttl, 0,
                 version);
}

apr_status_t shmcache_add(shmcache_t *cache, const void *key,
                          apr_size_t key_len, const void *value,
                          apr_size_t value_len, apr_uint32_t ttl,
                          apr_uint64_t *version)
{
    return store(cache, SC_STORE_ADD, key, key_len, value, value_len, ttl, 0,
                 version);
}

apr_status_t shmcache_replace(shmcache_t *cache, const void *key,
                              apr_size_t key_len, const void *value,
                              apr_size_t value_len, apr_uint32_t ttl,
                              apr_uint64_t *version)
{
    return store(cache, SC_STORE_REPLACE, key, key_len, value, value_len, ttl,
                 0, version);
}

apr_status_t shmcache_cas(shmcache_t *cache, const void *key,
                          apr_size_t key_len, const void *value,
                          apr_size_t value_len, apr_uint32_t ttl,
                          apr_uint64_t expected, apr_uint64_t *version)
{
    return store(cache, SC_STORE_CAS, key, key_len, value, value_len, ttl,
                 expected, version);
}

apr_status_t shmcache_delete(shmcache_t *cache, const void *key,
                             apr_size_t key_len)
{
    apr_status_t rv = check_write_key(cache, key, key_len);

    if (rv != APR_SUCCESS)
        return rv;
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_delete_locked(&cache->table, key, key_len, 0,
                                sc_table_now(&cache->table));
    return write_end(cache, rv);
}

apr_status_t shmcache_incr(shmcache_t *cache, const void *key,
                           apr_size_t key_len, apr_int64_t delta,
                           const apr_uint64_t *initial, apr_uint32_t ttl,
                           apr_uint64_t *result)
{
    apr_uint32_t now, expires;
    apr_status_t rv = check_write_key(cache, key, key_len);

    if (rv != APR_SUCCESS)
        return rv;
    now = sc_table_now(&cache->table);
    rv = sc_table_expiry(&cache->table, ttl, now, &expires);
    if (rv != APR_SUCCESS)
        return rv;
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_incr_locked(&cache->table, key, key_len, delta, initial,
                              expires, now, result);
    return write_end(cache, rv);
}

apr_status_t shmcache_touch(shmcache_t *cache, const void *key,
                            apr_size_t key_len, apr_uint32_t ttl)
{
    apr_uint32_t now, expires;
    apr_status_t rv = check_write_key(cache, key, key_len);

    if (rv != APR_SUCCESS)
        return rv;
    now = sc_table_now(&cache->table);
    rv = sc_table_expiry(&cache->table, ttl, now, &expires);
    if (rv != APR_SUCCESS)
        return rv;
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_touch_locked(&cache->table, key, key_len, expires, now);
    return write_end(cache, rv);
}

apr_status_t shmcache_flush(shmcache_t *cache)
{
    apr_status_t rv = check_writable(cache);

    if (rv != APR_SUCCESS)
        return rv;
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_flush_locked(&cache->table);
    sc_lock_wrunlock(&cache->lock);
    return rv;
}

/* ------------------------------------------------------------------------
 * Leases (lease.h): decided under the write lock, waited for without it
 * ---------------------------------------------------------------------- */

/* A waiter for another caller's lease checks the holder's liveness this
 * often (it is woken at once when a lease ends), and looks at the lease
 * again under the lock at least this often (a lease lapses at its TTL,
 * which has whole-second granularity, without anyone waking waiters). */
#define LEASE_CHECK_US 2000
#define LEASE_RELOOK_US 250000

void shmcache_lease_opts_init(shmcache_lease_opts_t *opts)
{
    if (opts == NULL)
        return;
    opts->lease_ttl = 30;
    opts->wait_ms = 10000;
}

/* Copy a found value into pool for a lease call (the write lock held). */
static void lease_copy(shmcache_t *c, const sc_found_t *f, apr_uint32_t now,
                       sink_t *s)
{
    if (f->entry == NULL) {
        *s->value = NULL;
        if (s->value_len != NULL)
            *s->value_len = 0;
        return;
    }
    copy_out(c, f, now, s);
}

/* One lease decision under the write lock (req->awaited set by the
 * caller); the value, if any, copied out into s. */
static apr_status_t lease_try(shmcache_t *c, sc_lease_req_t *req,
                              apr_uint32_t lease_ttl, sink_t *s,
                              sc_lease_t *lease)
{
    sc_found_t f;
    apr_uint32_t now = sc_table_now(&c->table);
    apr_status_t rv = sc_table_expiry(&c->table, lease_ttl, now,
                                      &req->lease_expires);

    if (rv != APR_SUCCESS)
        return rv;
    rv = write_begin(c);
    if (rv != APR_SUCCESS)
        return rv;
    f.entry = NULL;
    rv = sc_lease_acquire_locked(&c->table, req, now, &f, lease);
    if (rv == APR_SUCCESS || rv == SHMCACHE_LEASED || rv == SHMCACHE_STALE)
        lease_copy(c, &f, now, s);
    return write_end(c, rv);
}

/* Count a lease wait, or a wait that gave up (write lock, briefly). */
static void count_lease(shmcache_t *c, int timed_out)
{
    if (write_begin(c) != APR_SUCCESS)
        return;
    sc_lease_count_wait_locked(&c->table, timed_out);
    sc_lock_wrunlock(&c->lock);
}

/* Sleep, with no lock held, until a lease ends (any: the word is shared),
 * the holder of *lease dies, LEASE_RELOOK_US passed, or deadline. Returns
 * 0 at the deadline, 1 when the caller should look again. */
static int lease_wait(shmcache_t *c, const sc_lease_t *lease,
                      uint32_t seen, apr_time_t deadline)
{
    apr_time_t relook = apr_time_now() + LEASE_RELOOK_US;

    for (;;) {
        apr_time_t now = apr_time_now(), left = deadline - now;
        if (left <= 0)
            return 0;
        if (now >= relook)
            return 1;
        sc_lock_lease_wait(&c->lock, seen,
                           left < LEASE_CHECK_US ? (apr_uint32_t)left
                                                 : LEASE_CHECK_US);
        if (sc_lock_lease_seq(&c->lock) != seen
            || !sc_lock_proc_alive(&lease->holder))
            return 1;
    }
}

/* The lease calls' fast path: an ordinary get (without the lock when it
 * can), answering APR_SUCCESS for a fresh value; SHMCACHE_STALE for a
 * stale one (value and meta filled); SHMCACHE_NOTFOUND when there is none;
 * or another failure. */
static apr_status_t fresh_hit(shmcache_t *c, const void *key,
                              apr_size_t key_len, sink_t *s)
{
    shmcache_meta_t m, *caller = s->meta;
    apr_status_t rv;

    memset(&m, 0, sizeof m);
    s->meta = &m;
    s->count = 1;
    rv = get_into(c, key, key_len, s);
    s->meta = caller;
    s->count = 0;
    if (rv == APR_SUCCESS && caller != NULL)
        *caller = m;
    return rv == APR_SUCCESS && m.stale ? SHMCACHE_STALE : rv;
}

/* Whether another caller's lease covers the refresh of key, as far as a
 * read lock and one system call can tell (sc_lock_proc_exists): then a
 * stale value is served without the write lock. A holder that died and
 * was reaped is seen; a zombie or a reused pid is not, and its lease is
 * left to the write path of the next caller that finds none standing, or
 * to its TTL. */
static int refresh_under_way(shmcache_t *c, const void *key,
                             apr_size_t key_len)
{
    sc_lease_t lease = {0, {0, 0}, 0};
    held_t held;
    apr_status_t rv = read_begin(c, &held);

    if (rv != APR_SUCCESS)
        return 0;
    rv = sc_lease_peek_locked(&c->table, key, key_len,
                              sc_table_now(&c->table), &lease);
    read_end(c, held);
    return rv == APR_SUCCESS && !lease.failed
           && sc_lock_proc_exists(&lease.holder);
}

/* Arguments of the lease calls. */
static apr_status_t check_lease_args(shmcache_t *c, const void *key,
                                     apr_size_t key_len, void **value,
                                     apr_uint64_t *token, apr_pool_t *pool)
{
    if (value == NULL || token == NULL || pool == NULL)
        return SHMCACHE_EINVAL;
    *value = NULL;
    *token = 0;
    return check_write_key(c, key, key_len);
}

apr_status_t shmcache_lease_get(shmcache_t *cache, const void *key,
                                apr_size_t key_len,
                                const shmcache_lease_opts_t *opts,
                                void **value, apr_size_t *value_len,
                                shmcache_meta_t *meta, apr_uint64_t *token,
                                apr_pool_t *pool)
{
    shmcache_lease_opts_t dflt;
    sc_lease_req_t req;
    sc_lease_t lease = {0, {0, 0}, 0};
    sink_t s = {0};
    apr_time_t deadline;
    int waited = 0;
    apr_status_t rv = check_lease_args(cache, key, key_len, value, token, pool);

    if (rv != APR_SUCCESS)
        return rv;
    if (opts == NULL) {
        shmcache_lease_opts_init(&dflt);
        opts = &dflt;
    }
    s.pool = pool;
    s.value = value;
    s.value_len = value_len;
    s.meta = meta;
    rv = fresh_hit(cache, key, key_len, &s);
    if (rv == SHMCACHE_STALE && refresh_under_way(cache, key, key_len)) {
        sc_lock_count_stale(&cache->lock);
        return SHMCACHE_STALE;
    }
    if (rv != SHMCACHE_NOTFOUND && rv != SHMCACHE_STALE)
        return rv;
    rv = sc_lock_self(&cache->lock, &req.self);
    if (rv != APR_SUCCESS)
        return rv;
    req.key = key;
    req.key_len = key_len;
    req.awaited = 0;
    deadline = apr_time_now() + apr_time_from_msec(opts->wait_ms);
    for (;;) {
        uint32_t seen = sc_lock_lease_seq(&cache->lock);
        rv = lease_try(cache, &req, opts->lease_ttl, &s, &lease);
        if (rv != SHMCACHE_ELEASED)
            break;
        if (!waited && opts->wait_ms > 0)
            count_lease(cache, 0);
        waited = 1;
        req.awaited = lease.token;
        if (opts->wait_ms == 0 || !lease_wait(cache, &lease, seen, deadline)) {
            if (opts->wait_ms > 0)
                count_lease(cache, 1);
            break;
        }
    }
    if (rv == SHMCACHE_LEASED)
        *token = lease.token;
    return rv;
}

/* Wake the callers waiting for a lease of this segment. */
static void lease_ended(shmcache_t *c)
{
    sc_lock_lease_notify(&c->lock);
}

apr_status_t shmcache_lease_set(shmcache_t *cache, const void *key,
                                apr_size_t key_len, apr_uint64_t token,
                                const void *value, apr_size_t value_len,
                                apr_uint32_t ttl, apr_uint32_t stale_ttl)
{
    sc_store_t op;
    apr_uint32_t now;
    apr_status_t rv = make_store(cache, &op, SC_STORE_SET, key, key_len, value,
                                 value_len, ttl, stale_ttl, &now);

    if (rv != APR_SUCCESS)
        return rv;
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_store_locked(&cache->table, &op, now, NULL);
    if (rv == APR_SUCCESS && token != 0)
        sc_lease_complete_locked(&cache->table, key, key_len, token, now);
    rv = write_end(cache, rv);
    lease_ended(cache);
    return rv;
}

apr_status_t shmcache_lease_release(shmcache_t *cache, const void *key,
                                    apr_size_t key_len, apr_uint64_t token,
                                    int failed)
{
    apr_status_t rv = check_write_key(cache, key, key_len);

    if (rv != APR_SUCCESS)
        return rv;
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_lease_release_locked(&cache->table, key, key_len, token, failed,
                                 sc_table_now(&cache->table));
    rv = write_end(cache, rv);
    lease_ended(cache);
    return rv;
}

/* The keys this thread is computing right now (get-or-compute), innermost
 * first: a callback that asks for its own key is refused, not deadlocked
 * on its own lease. */
typedef struct computing_t {
    const shmcache_t *cache;
    const void *key;
    apr_size_t key_len;
    const struct computing_t *outer;
} computing_t;

static SC_THREAD_LOCAL const computing_t *computing;

static int being_computed(const shmcache_t *c, const void *key,
                          apr_size_t key_len)
{
    const computing_t *k;

    for (k = computing; k != NULL; k = k->outer)
        if (k->cache->seg == c->seg && k->key_len == key_len
            && memcmp(k->key, key, key_len) == 0)
            return 1;
    return 0;
}

/* Run fn for key (this thread holds its lease), marked as being computed. */
static apr_status_t run_compute(shmcache_t *c, const void *key,
                                apr_size_t key_len, shmcache_compute_fn *fn,
                                void *baton, void **value,
                                apr_size_t *value_len, apr_uint32_t *ttl,
                                apr_uint32_t *stale_ttl, apr_pool_t *pool)
{
    computing_t me;
    apr_status_t rv;

    me.cache = c;
    me.key = key;
    me.key_len = key_len;
    me.outer = computing;
    computing = &me;
    rv = fn(baton, key, key_len, value, value_len, ttl, stale_ttl, pool);
    computing = me.outer;
    return rv;
}

apr_status_t shmcache_get_or_compute(shmcache_t *cache, const void *key,
                                     apr_size_t key_len,
                                     const shmcache_lease_opts_t *opts,
                                     shmcache_compute_fn *fn, void *baton,
                                     void **value, apr_size_t *value_len,
                                     shmcache_meta_t *meta, apr_pool_t *pool)
{
    apr_uint64_t token;
    apr_uint32_t ttl = SHMCACHE_TTL_DEFAULT, stale_ttl = 0;
    apr_size_t len = 0;
    void *v = NULL;
    apr_status_t rv;

    if (fn == NULL)
        return SHMCACHE_EINVAL;
    if (usable(cache) && cache->read_only)
        return SHMCACHE_EREADONLY;
    if (usable(cache) && key != NULL && being_computed(cache, key, key_len))
        return SHMCACHE_ERECURSE;
    rv = shmcache_lease_get(cache, key, key_len, opts, value, value_len, meta,
                            &token, pool);
    if (rv != SHMCACHE_LEASED)
        return rv;
    rv = run_compute(cache, key, key_len, fn, baton, &v, &len, &ttl,
                     &stale_ttl, pool);
    if (rv != APR_SUCCESS) {
        shmcache_lease_release(cache, key, key_len, token, 1);
        return rv;
    }
    *value = v;
    if (value_len != NULL)
        *value_len = len;
    if (meta != NULL)
        meta->stale = 0;
    rv = shmcache_lease_set(cache, key, key_len, token, v, len, ttl,
                            stale_ttl);
    if (rv != APR_SUCCESS)         /* not stored: waiters must not wait on */
        shmcache_lease_release(cache, key, key_len, token, 1);
    return rv;
}

/* ------------------------------------------------------------------------
 * Walking
 * ---------------------------------------------------------------------- */

/* One entry copied out of the segment. */
typedef struct copied_t {
    const char *key, *value;
    apr_size_t key_len, value_len;
    shmcache_meta_t meta;
} copied_t;

typedef struct batch_t {
    const sc_table_t *table;
    apr_pool_t *pool;
    apr_array_header_t *items;
    unsigned flags;
} batch_t;

/* sc_table_copy_fn: copy one entry into the batch (lock held), with the
 * lengths the table checked. */
static int copy_entry(void *baton, const sc_entry_sh_t *e, const char *key,
                      apr_uint32_t key_len, const char *value,
                      apr_uint32_t value_len, apr_uint32_t now)
{
    batch_t *b = baton;
    copied_t *it = apr_array_push(b->items);

    it->key_len = key_len;
    it->key = apr_pmemdup(b->pool, key, key_len);
    it->value_len = value_len;
    it->value = (b->flags & SHMCACHE_ITER_KEYS_ONLY) ? NULL
        : apr_pmemdup(b->pool, value, value_len);
    sc_table_meta(b->table, e, value_len, now, &it->meta);
    return 0;
}

/* A batch of a scan on a read-only handle: what one pass needs. */
typedef struct ro_batch_t {
    apr_uint32_t *cursor;
    apr_uint32_t from;             /* *cursor before the first pass */
    apr_uint32_t n;
    batch_t *batch;
} ro_batch_t;

/* pass_fn: copy the batch afresh (an earlier, torn pass's copies and
 * cursor are dropped). */
static apr_status_t ro_batch_pass(shmcache_t *c, void *baton)
{
    ro_batch_t *r = baton;

    r->batch->items->nelts = 0;
    *r->cursor = r->from;
    return sc_table_scan_locked(&c->table, r->cursor, r->n,
                                sc_table_now(&c->table), copy_entry,
                                r->batch);
}

/* Copy out up to n buckets from *cursor under the read lock (on a
 * read-only handle, in an optimistic pass). */
static apr_status_t copy_batch(shmcache_t *c, apr_uint32_t *cursor,
                               apr_uint32_t n, batch_t *b)
{
    held_t held;
    apr_status_t rv;

    if (c->read_only) {
        ro_batch_t r;
        r.cursor = cursor;
        r.from = *cursor;
        r.n = n;
        r.batch = b;
        return read_only_pass(c, ro_batch_pass, &r, READ_ONLY_TRIES);
    }
    rv = read_begin(c, &held);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_scan_locked(&c->table, cursor, n, sc_table_now(&c->table),
                              copy_entry, b);
    read_end(c, held);
    return rv;
}

/* Hand a copied batch to fn with no lock held. */
static apr_status_t deliver(const batch_t *b, shmcache_iter_fn *fn,
                            void *baton)
{
    int i;

    for (i = 0; i < b->items->nelts; i++) {
        const copied_t *it = &APR_ARRAY_IDX(b->items, i, copied_t);
        int stop = fn(baton, it->key, it->key_len, it->value, it->value_len,
                      &it->meta);
        if (stop != 0)
            return (apr_status_t)stop;
    }
    return APR_SUCCESS;
}

apr_status_t shmcache_scan(shmcache_t *cache, apr_uint32_t *cursor,
                           apr_uint32_t max_buckets, shmcache_iter_fn *fn,
                           void *baton, unsigned flags)
{
    apr_pool_t *pool;
    batch_t b;
    apr_uint32_t done = 0;
    apr_status_t rv = APR_SUCCESS;

    if (!usable(cache) || cursor == NULL || fn == NULL || max_buckets == 0)
        return SHMCACHE_EINVAL;
    if (apr_pool_create(&pool, cache->pool) != APR_SUCCESS)
        return APR_ENOMEM;
    b.table = &cache->table;
    b.pool = pool;
    b.flags = flags;
    while (rv == APR_SUCCESS && done < max_buckets) {
        apr_uint32_t n = max_buckets - done < SCAN_BATCH
                             ? max_buckets - done : SCAN_BATCH;
        apr_uint32_t before = *cursor;
        apr_pool_clear(pool);
        b.items = apr_array_make(pool, 64, sizeof(copied_t));
        rv = copy_batch(cache, cursor, n, &b);
        if (rv == APR_SUCCESS)
            rv = deliver(&b, fn, baton);
        done += n;
        if (*cursor == 0 || *cursor < before)
            break;
    }
    apr_pool_destroy(pool);
    return rv;
}

apr_status_t shmcache_iterate(shmcache_t *cache, shmcache_iter_fn *fn,
                              void *baton, unsigned flags)
{
    apr_uint32_t cursor = 0;
    apr_status_t rv;

    do {
        rv = shmcache_scan(cache, &cursor, SCAN_BATCH * 16, fn, baton, flags);
    } while (rv == APR_SUCCESS && cursor != 0);
    return rv;
}

/* ------------------------------------------------------------------------
 * Figures and verification
 * ---------------------------------------------------------------------- */

static void stats_config(const shmcache_t *c, shmcache_stats_t *st)
{
    const sc_header_sh_t *h = &c->seg->cfg;

    st->size = h->size;
    st->data_size = c->table.data_hi - c->table.data_lo;
    st->buckets = c->table.mask + 1;
    st->slots = h->nslots;
    st->max_key = c->table.max_key;
    st->max_value = c->table.max_value;
    st->default_ttl = c->table.default_ttl;
    st->created = h->created;
    st->format = h->format;
    st->layout = h->layout;
    st->lock_offset = h->lock_off;
    st->buckets_offset = h->buckets_off;
    st->alloc_offset = h->alloc_off;
    st->data_offset = h->data_off;
}

static void stats_lock(const shmcache_t *c, shmcache_stats_t *st)
{
    sc_lock_stats_t l;
    apr_uint32_t i;

    sc_lock_stats(&c->lock, &l);
    st->hits = l.hits;
    st->gets = l.hits + l.misses;
    st->misses = l.misses;
    st->read_waits = l.read_waits;
    st->write_waits = l.write_waits;
    st->lock_recoveries = l.recoveries;
    st->dead_readers = l.dead_readers;
    st->stale_answers += l.stale;       /* the lock-free ones */
    st->last_dead_pid = l.last_dead_pid;
    /* l.attached counts every claimed slot, dead owners' included; stats
     * is not a hot path, so ask each owner whether it is alive */
    st->attached = sc_lock_count_attached(c->lock.sh, c->lock.nslots,
                                          &c->lock)
                 + (c->read_only ? 0 : 1);     /* a read-only one has no slot */
    st->readers = l.readers;
    st->writer_pid = l.writer_pid;
    st->reader_pid_count = l.reader_pid_count;
    for (i = 0; i < l.reader_pid_count && i < SHMCACHE_STATS_READER_PIDS; i++)
        st->reader_pids[i] = l.reader_pids[i];
}

/* The figures computed from the others. */
static void stats_derived(shmcache_stats_t *st)
{
    st->hit_ratio = st->gets == 0 ? 0.0 : (double)st->hits / (double)st->gets;
    st->fill = st->data_size == 0 ? 0.0
             : (double)st->bytes_used / (double)st->data_size;
}

/* pass_fn: the table's figures (each pass sets every one of them). */
static apr_status_t ro_stats_pass(shmcache_t *c, void *baton)
{
    sc_table_stats_locked(&c->table, baton);
    return APR_SUCCESS;
}

/* The table's figures under the read lock, or in an optimistic pass. */
static apr_status_t stats_table(shmcache_t *c, shmcache_stats_t *st)
{
    held_t held;
    apr_status_t rv;

    if (c->read_only)
        return read_only_pass(c, ro_stats_pass, st, READ_ONLY_TRIES);
    rv = read_begin(c, &held);
    if (rv != APR_SUCCESS)
        return rv;
    sc_table_stats_locked(&c->table, st);
    read_end(c, held);
    return APR_SUCCESS;
}

apr_status_t shmcache_stats(shmcache_t *cache, shmcache_stats_t *stats)
{
    apr_status_t rv;

    if (!usable(cache) || stats == NULL)
        return SHMCACHE_EINVAL;
    memset(stats, 0, sizeof *stats);
    stats_config(cache, stats);
    rv = stats_table(cache, stats);
    if (rv != APR_SUCCESS)
        return rv;
    /* lock figures last: they must not count our own read hold */
    stats_lock(cache, stats);
    stats_derived(stats);
    return APR_SUCCESS;
}

/* Where check describes a problem. */
typedef struct why_t {
    char *buf;
    apr_size_t size;
} why_t;

/* pass_fn: check the whole table (the description of a torn pass is
 * cleared by the next). */
static apr_status_t ro_check_pass(shmcache_t *c, void *baton)
{
    why_t *w = baton;

    if (w->buf != NULL && w->size > 0)
        w->buf[0] = '\0';
    return sc_table_check_locked(&c->table, w->buf, w->size);
}

apr_status_t shmcache_check(shmcache_t *cache, char *why, apr_size_t why_size)
{
    apr_status_t rv;

    if (!usable(cache) || (why == NULL && why_size > 0))
        return SHMCACHE_EINVAL;
    if (why != NULL && why_size > 0)
        why[0] = '\0';
    if (cache->read_only) {
        why_t w;
        w.buf = why;
        w.size = why_size;
        rv = read_only_pass(cache, ro_check_pass, &w, READ_ONLY_CHECK_TRIES);
        if (rv != SHMCACHE_ECORRUPT && why != NULL && why_size > 0)
            why[0] = '\0';        /* a torn pass's words are no finding */
        return rv;
    }
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_check_locked(&cache->table, why, why_size);
    sc_lock_wrunlock(&cache->lock);
    return rv;
}

apr_status_t shmcache_repair(shmcache_t *cache,
                             shmcache_repair_outcome_e *outcome, char *why,
                             apr_size_t why_size)
{
    apr_status_t rv = check_writable(cache);

    if (rv != APR_SUCCESS)
        return rv;
    if (why == NULL && why_size > 0)
        return SHMCACHE_EINVAL;
    if (outcome != NULL)
        *outcome = SHMCACHE_REPAIR_NONE;
    if (why != NULL && why_size > 0)
        why[0] = '\0';
    rv = write_begin(cache);
    if (rv != APR_SUCCESS)
        return rv;
    rv = sc_table_check_locked(&cache->table, why, why_size);
    if (rv == SHMCACHE_ECORRUPT) {
        sc_repair_t done = sc_table_repair_locked(&cache->table);
        if (outcome != NULL)
            *outcome = done == SC_REPAIR_EMPTIED ? SHMCACHE_REPAIR_EMPTIED
                                                 : SHMCACHE_REPAIR_MENDED;
        rv = sc_table_check_locked(&cache->table, NULL, 0);
    }
    sc_lock_wrunlock(&cache->lock);
    return rv;
}
