/* SPDX-License-Identifier: Apache-2.0 */
/*
 * segment.c - the segment file: planning its layout, creating it without
 * races, attaching to it and validating its header, probing and removing
 * it. The layout is drawn in segment.h. Platform work goes through APR
 * (files, mmap, random bytes, directories) and os.h.
 */
#include "segment.h"
#include "fault.h"
#include "os.h"

#include <apr_file_info.h>
#include <apr_strings.h>
#include <string.h>
#include <xxhash.h>

#define ROUND_UP(x, a) (((x) + ((a) - 1)) & ~((apr_uint64_t)(a) - 1))
#define SC_PAGE 4096u

/* A word built from the sizes of the on-segment structs and the format,
 * so that a build with another layout refuses to attach. */
static apr_uint32_t layout_word(void)
{
    const apr_uint32_t sizes[] = {
        SC_FORMAT_VERSION,
        (apr_uint32_t)sizeof(sc_header_sh_t),
        (apr_uint32_t)sizeof(sc_counters_sh_t),
        (apr_uint32_t)sizeof(sc_lock_sh_t),
        (apr_uint32_t)sizeof(sc_slot_sh_t),
        (apr_uint32_t)sizeof(sc_alloc_sh_t),
        (apr_uint32_t)sizeof(sc_queues_sh_t),
        SC_ALLOC_OVERHEAD, SC_ALLOC_ALIGN,
        (apr_uint32_t)sizeof(void *) /* 32/64-bit builds may not share */
    };
    return XXH32(sizes, sizeof sizes, 0x5343u);
}

/* Smallest power of two >= n (n <= 2^31). */
static apr_uint32_t pow2_at_least(apr_uint64_t n)
{
    apr_uint32_t p = 64;

    while (p < n && p < 0x80000000u)
        p <<= 1;
    return p;
}

/* Check the options that do not depend on the layout. */
static apr_status_t check_options(const shmcache_options_t *o)
{
    if (o->size < SHMCACHE_MIN_SIZE || o->size > SHMCACHE_LIMIT_SIZE)
        return o->size > SHMCACHE_LIMIT_SIZE ? SHMCACHE_EOVERFLOW : SHMCACHE_ESIZE;
    if (o->max_key == 0 || o->max_key > SHMCACHE_LIMIT_MAX_KEY
        || o->max_value == 0 || o->slots < 8 || o->slots > SHMCACHE_LIMIT_SLOTS
        || o->buckets > 0x40000000u)
        return SHMCACHE_EINVAL;
    if (o->default_ttl > SHMCACHE_TTL_MAX && o->default_ttl != SHMCACHE_TTL_FOREVER)
        return SHMCACHE_ETTL;
    return APR_SUCCESS;
}

/* Compute the region offsets for o into a zeroed header (no I/O).
 * Returns SHMCACHE_EINVAL, SHMCACHE_ESIZE, SHMCACHE_EOVERFLOW or
 * SHMCACHE_ETTL when the options cannot make a segment. */
static apr_status_t plan_header(sc_header_sh_t *h, const shmcache_options_t *o)
{
    apr_uint64_t size, item;
    apr_status_t rv = check_options(o);

    if (rv != APR_SUCCESS)
        return rv;
    memset(h, 0, sizeof *h);
    size = o->size & ~(apr_uint64_t)(SC_PAGE - 1);
    h->nslots = o->slots;
    h->nbuckets = pow2_at_least(o->buckets != 0 ? o->buckets : size / 256);
    h->lock_off = SC_HEADER_SIZE;
    h->lock_size = ROUND_UP(sc_lock_region_size(h->nslots), SC_CACHE_LINE);
    h->buckets_off = h->lock_off + h->lock_size;
    h->buckets_size = ROUND_UP((apr_uint64_t)h->nbuckets * 4, SC_CACHE_LINE);
    h->ghost_off = h->buckets_off + h->buckets_size;
    h->ghost_size = h->buckets_size;
    h->alloc_off = h->ghost_off + h->ghost_size;
    h->alloc_size = ROUND_UP(sizeof(sc_alloc_sh_t), SC_CACHE_LINE);
    h->data_off = ROUND_UP(h->alloc_off + h->alloc_size, SC_PAGE);
    /* the metadata must leave a data region of at least half the segment */
    if (h->data_off > size / 2)
        return SHMCACHE_ESIZE;
    h->data_size = size - h->data_off;
    h->size = size;
    h->max_key = o->max_key;
    /* "never more than fits": an item may take at most half the data */
    if (h->data_size / 2 < (apr_uint64_t)h->max_key + 64 + 1024)
        return SHMCACHE_ESIZE;
    item = h->data_size / 2 - h->max_key - 64;
    h->max_value = o->max_value < item ? o->max_value : (apr_uint32_t)item;
    h->default_ttl = o->default_ttl == SHMCACHE_TTL_FOREVER ? 0 : o->default_ttl;
    memcpy(h->magic, SC_MAGIC, sizeof h->magic);
    h->format = SC_FORMAT_VERSION;
    h->layout = layout_word();
    h->created = apr_time_now();
    h->epoch = (apr_int64_t)apr_time_sec(h->created) - 1;
    return apr_generate_random_bytes((unsigned char *)&h->seed, sizeof h->seed);
}

/* Map size bytes of file into a new sc_segment_t in pool: for reading
 * and writing, or for reading only (read_only: a store into the mapping
 * would fault). */
static apr_status_t map(sc_segment_t **out, apr_file_t *file,
                        apr_uint64_t size, const char *path, int read_only,
                        apr_pool_t *pool)
{
    sc_segment_t *seg = apr_pcalloc(pool, sizeof *seg);
    apr_status_t rv;

    rv = apr_mmap_create(&seg->mmap, file, 0, (apr_size_t)size,
                         read_only ? APR_MMAP_READ
                                   : APR_MMAP_READ | APR_MMAP_WRITE, pool);
    if (rv != APR_SUCCESS)
        return rv;
    seg->read_only = read_only;
    seg->pool = pool;
    seg->file = file;
    seg->base = seg->mmap->mm;
    seg->size = size;
    seg->hdr = (sc_header_sh_t *)seg->base;
    seg->path = apr_pstrdup(pool, path);
    *out = seg;
    return APR_SUCCESS;
}

/* The directory part of path ("." when there is none) and the file name. */
static void split_path(const char *path, char **dir, const char **name,
                       apr_pool_t *pool)
{
    const char *slash = strrchr(path, '/'), *bslash = strrchr(path, '\\');

    if (bslash != NULL && (slash == NULL || bslash > slash))
        slash = bslash;
    if (slash == NULL) {
        *dir = ".";
        *name = path;
        return;
    }
    *dir = slash == path ? apr_pstrdup(pool, "/")
                         : apr_pstrndup(pool, path, (apr_size_t)(slash - path));
    *name = slash + 1;
}

/* Remove PATH.init.PID files left by creators that died (their pid is no
 * longer running). Best effort: errors are ignored. */
static void remove_dead_creators(const char *path, apr_pool_t *pool)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    char *dir;
    const char *name;
    char *prefix;
    apr_size_t plen;

    split_path(path, &dir, &name, pool);
    prefix = apr_pstrcat(pool, name, ".init.", NULL);
    plen = strlen(prefix);
    if (apr_dir_open(&d, dir, pool) != APR_SUCCESS)
        return;
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        sc_proc_id_t id = {0, 0};
        char *end;
        apr_int64_t pid;
        if (fi.name == NULL || strncmp(fi.name, prefix, plen) != 0)
            continue;
        pid = apr_strtoi64(fi.name + plen, &end, 10);
        if (*end != '\0' || pid <= 0 || pid > 0x7FFFFFFF)
            continue;
        id.pid = (apr_uint32_t)pid;
        if (!sc_os_proc_alive(&id))
            apr_file_remove(apr_pstrcat(pool, dir, "/", fi.name, NULL), pool);
    }
    apr_dir_close(d);
}

/* Build and initialise the segment in the file at tmp. */
static apr_status_t build(sc_segment_t **seg, const char *tmp,
                          const sc_header_sh_t *plan,
                          const shmcache_options_t *o,
                          sc_segment_init_fn *init, void *baton,
                          apr_pool_t *pool)
{
    apr_file_t *f;
    apr_status_t rv;

    rv = sc_os_file_create(&f, tmp, o->mode, pool);
    if (rv == APR_SUCCESS && o->set_owner)
        rv = sc_os_file_chown(f, o->owner, o->group);
    if (rv == APR_SUCCESS)
        rv = sc_os_file_reserve(f, plan->size);
    if (rv == APR_SUCCESS)
        rv = map(seg, f, plan->size, tmp, 0, pool);
    if (rv != APR_SUCCESS)
        return rv;
    memcpy((*seg)->hdr, plan, sizeof *plan);
    memcpy(&(*seg)->cfg, plan, sizeof *plan);
    atomic_store_explicit(&(*seg)->hdr->state, SC_STATE_INIT, memory_order_relaxed);
    SC_FAULT_POINT("segment.create.init");
    rv = init(baton, *seg);
    if (rv != APR_SUCCESS)
        return rv;
    atomic_store_explicit(&(*seg)->hdr->state, SC_STATE_READY, memory_order_release);
    return APR_SUCCESS;
}

apr_status_t sc_segment_create(sc_segment_t **seg, const char *path,
                               const shmcache_options_t *opts,
                               sc_segment_init_fn *init, void *baton,
                               apr_pool_t *pool)
{
    sc_header_sh_t plan;
    sc_proc_id_t self;
    apr_pool_t *sub;
    const char *tmp;
    apr_status_t rv;

    rv = plan_header(&plan, opts);
    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_pool_create(&sub, pool);
    if (rv != APR_SUCCESS)
        return rv;
    sc_os_proc_self(&self);
    remove_dead_creators(path, sub);
    tmp = apr_psprintf(sub, "%s.init.%u", path, (unsigned)self.pid);
    apr_file_remove(tmp, sub);  /* our own pid: a leftover of ours */
    rv = build(seg, tmp, &plan, opts, init, baton, sub);
    SC_FAULT_POINT("segment.create.ready");
    if (rv == APR_SUCCESS)
        rv = sc_os_file_publish(tmp, path);
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, sub);
        apr_pool_destroy(sub);
        return rv;
    }
    (*seg)->path = apr_pstrdup(sub, path);
    return APR_SUCCESS;
}

/* Every region must be where the layout puts it and inside the file.
 * h->size equals the file's length (at most SHMCACHE_LIMIT_SIZE) when this
 * runs. Every region size is first held to h->size, so no sum below can
 * wrap around 2^64, and the lock region must lie inside the file before
 * its slot count is read. The epoch is held to 2^40 seconds so that the
 * clock minus it, and it plus any expiry in microseconds, fit 64 bits. */
static apr_status_t check_regions(const sc_segment_t *seg)
{
    const sc_header_sh_t *h = &seg->cfg;
    /* h->lock_off is held to SC_HEADER_SIZE below, before lock is read */
    const sc_lock_sh_t *lock = sc_segment_region(seg, SC_HEADER_SIZE);

    if (h->nslots < 8 || h->nslots > SHMCACHE_LIMIT_SLOTS
        || h->lock_off != SC_HEADER_SIZE
        || h->lock_size != ROUND_UP(sc_lock_region_size(h->nslots), SC_CACHE_LINE)
        || h->buckets_size > h->size || h->alloc_size > h->size
        || h->lock_off + h->lock_size > h->size
        || *(const volatile apr_uint32_t *)&lock->nslots != h->nslots
        || h->nbuckets < 64 || (h->nbuckets & (h->nbuckets - 1)) != 0
        || h->buckets_off != h->lock_off + h->lock_size
        || h->buckets_size < (apr_uint64_t)h->nbuckets * 4
        || h->ghost_size > h->size
        || h->ghost_off != h->buckets_off + h->buckets_size
        || h->ghost_size < (apr_uint64_t)h->nbuckets * 4
        || h->alloc_off != h->ghost_off + h->ghost_size
        || h->alloc_size < sizeof(sc_alloc_sh_t)
        || h->data_off < h->alloc_off + h->alloc_size
        || h->data_off % SC_PAGE != 0
        || h->data_off >= h->size || h->data_size != h->size - h->data_off)
        return SHMCACHE_ECORRUPT;
    if (h->max_key == 0 || h->max_key > SHMCACHE_LIMIT_MAX_KEY
        || h->max_value > h->data_size || h->default_ttl > SHMCACHE_TTL_MAX
        || h->epoch < 0 || h->epoch > ((apr_int64_t)1 << 40))
        return SHMCACHE_ECORRUPT;
    return APR_SUCCESS;
}

/* Take the copy of the mapped header (seg->cfg) and validate it against
 * the file's size. Only the copy is read: another process may change the
 * live header meanwhile. */
static apr_status_t validate(sc_segment_t *seg)
{
    const sc_header_sh_t *h = &seg->cfg;
    apr_uint64_t file_size = seg->size;

    memcpy(&seg->cfg, seg->hdr, sizeof seg->cfg);
    if (memcmp(h->magic, SC_MAGIC, sizeof h->magic) != 0)
        return SHMCACHE_ENOTCACHE;
    if (h->format != SC_FORMAT_VERSION)
        return SHMCACHE_EFORMAT;
    if (h->layout != layout_word())
        return SHMCACHE_ELAYOUT;
    if (atomic_load_explicit(&((sc_header_sh_t *)h)->state, memory_order_relaxed)
            != SC_STATE_READY
        || h->size != file_size)
        return SHMCACHE_ECORRUPT;
    return check_regions(seg);
}

/* Open path and map it whole (for reading only when read_only), after
 * checking it can hold a header. */
static apr_status_t open_and_map(sc_segment_t **seg, const char *path,
                                 int allow_foreign, int read_only,
                                 apr_pool_t *pool)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;

    rv = sc_os_file_open(&f, path, allow_foreign, read_only, pool);
    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv != APR_SUCCESS)
        return rv;
    if (fi.size < (apr_off_t)SC_HEADER_SIZE
        || (apr_uint64_t)fi.size > SHMCACHE_LIMIT_SIZE)
        return SHMCACHE_ENOTCACHE;
    return map(seg, f, (apr_uint64_t)fi.size, path, read_only, pool);
}

apr_status_t sc_segment_attach(sc_segment_t **seg, const char *path,
                               const shmcache_options_t *opts,
                               apr_pool_t *pool)
{
    apr_pool_t *sub;
    apr_status_t rv;

    rv = apr_pool_create(&sub, pool);
    if (rv != APR_SUCCESS)
        return rv;
    rv = open_and_map(seg, path, opts->allow_foreign_owner,
                      opts->read_only != 0, sub);
    if (rv == APR_SUCCESS)
        rv = validate(*seg);
    if (rv != APR_SUCCESS)
        apr_pool_destroy(sub);
    return rv;
}

apr_status_t sc_segment_probe(const char *path, apr_uint32_t *attached,
                              apr_pool_t *pool)
{
    sc_segment_t *seg;
    apr_pool_t *sub;
    apr_status_t rv;

    rv = apr_pool_create(&sub, pool);
    if (rv != APR_SUCCESS)
        return rv;
    if (attached != NULL)
        *attached = 0;
    /* it only looks: read-only, so it needs no trust in the owner and
     * can change nothing */
    rv = open_and_map(&seg, path, 1, 1, sub);
    if (rv == APR_SUCCESS)
        rv = validate(seg);
    if (rv == APR_SUCCESS && attached != NULL)
        *attached = sc_lock_count_attached(sc_segment_lock(seg),
                                           seg->cfg.nslots, NULL);
    apr_pool_destroy(sub);
    return rv;
}

apr_status_t sc_segment_remove(const char *path, apr_pool_t *pool)
{
    return sc_os_file_remove(path, pool);
}

void sc_segment_detach(sc_segment_t *seg)
{
    apr_pool_destroy(seg->pool);
}

apr_status_t sc_segment_perms_set(sc_segment_t *seg, apr_fileperms_t perms,
                                  apr_uid_t uid, apr_gid_t gid)
{
    apr_status_t rv = APR_SUCCESS;

    if (seg->file == NULL)
        return APR_EBADF;
    if (seg->read_only)
        return SHMCACHE_EREADONLY;
    if (perms != (apr_fileperms_t)-1)
        rv = sc_os_file_chmod(seg->file, perms);
    if (rv == APR_SUCCESS && (uid != (apr_uid_t)-1 || gid != (apr_gid_t)-1))
        rv = sc_os_file_chown(seg->file, uid, gid);
    return rv;
}

apr_status_t sc_segment_file_close(sc_segment_t *seg)
{
    apr_file_t *f = seg->file;

    if (f == NULL)
        return APR_SUCCESS;
    seg->file = NULL;
    return apr_file_close(f);
}
