/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_shmcache.c - throughput and latency of get, set and a read/write
 * mix on shmcache, with the baselines measured in the same run:
 *
 *   shmcache   the library: N processes attached to one segment
 *   private    a chained hash table private to each process, malloc'ed
 *              entries, the same XXH3-64 hash, no lock, no shared memory:
 *              the limit a shared cache can approach
 *   rwlock     the same kind of table in a shared file mapping behind one
 *              process-shared pthread_rwlock_t (POSIX only): what a naive
 *              shared cache gets, and how its reads scale
 *   memcached  127.0.0.1 via APR-util's apr_memcache, one connection per
 *              process, no pipelining
 *   redis      127.0.0.1 via hiredis, one connection per process, no
 *              pipelining (when built with hiredis)
 *
 * Processes. The parent creates and fills each store, then starts helper
 * processes by re-executing this binary (--helper-id, no fork), talks to
 * them over their stdin/stdout and collects counts and histograms. One
 * "run" sends the same command to the first P helpers at once; each runs
 * the workload untimed for --duration seconds (throughput), then with a
 * clock read per operation for --lat-duration seconds (latency), and
 * reports. Runs of every backend are interleaved inside each repetition so
 * slow drifts of a shared machine hit them alike; the figure reported is
 * the median over repetitions, and the ratio to the private table is the
 * median of the per-repetition ratios.
 *
 * Keys are fixed-width printable strings ("k0000000000123"), generated
 * before the run; the sequence of key indices (and, for the mix, of get or
 * set) is a pre-generated random array per process, so key generation is
 * not measured. Latency is closed-loop: see hist.h on coordinated
 * omission.
 *
 * Output: a table on stdout; with --json FILE, the figures as JSON.
 */
#include "common.h"
#include "hist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_memcache.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <xxhash.h>

#if !defined(_WIN32)
#define HAVE_RWLOCK 1
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif
#ifdef HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

/* ------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------- */

enum { OP_GET, OP_SET, OP_MIX, OP_COUNT };
static const char *const op_names[OP_COUNT] = { "get", "set", "mix" };

enum { BE_SHMCACHE, BE_PRIVATE, BE_RWLOCK, BE_MEMCACHED, BE_REDIS, BE_COUNT };
static const char *const be_names[BE_COUNT] = {
    "shmcache", "private", "rwlock", "memcached", "redis"
};

#define MAX_PROCS 16
#define MAX_REPEAT 32
#define SET_BIT 0x80000000u

typedef struct config_t {
    unsigned backends;             /* bit per BE_* */
    int ops[OP_COUNT], nops;
    uint64_t procs[MAX_PROCS];
    int nprocs, max_procs;
    double read_ratio;
    uint64_t keys;
    unsigned key_size, value_size;
    double duration, lat_duration;
    int repeat;
    const char *path;              /* shmcache segment */
    const char *rw_path;           /* rwlock baseline file */
    uint64_t size;                 /* 0 = automatic */
    const char *mc_addr, *redis_addr;
    const char *json;
    uint64_t seed, hash_seed;
    int helper_id, helper_backend; /* -1 in the parent */
} config_t;

static void usage(FILE *f)
{
    fputs(
"usage: bench_shmcache [options]\n"
"  -b, --backends LIST   shmcache,private,rwlock,memcached,redis\n"
"                        (default shmcache,private)\n"
"  -o, --ops LIST        get,set,mix (default get,set,mix)\n"
"  -p, --procs LIST      process counts, e.g. 1,2 (default 1)\n"
"  -r, --read-ratio R    share of gets in the mix (default 0.9)\n"
"  -k, --keys N          distinct keys (default 100k)\n"
"  -K, --key-size N      key bytes (default 16)\n"
"  -V, --value-size N    value bytes (default 100)\n"
"  -d, --duration S      seconds of throughput per run (default 2)\n"
"  -l, --lat-duration S  seconds of per-op timing per run, 0 = none\n"
"                        (default duration/2)\n"
"  -n, --repeat N        repetitions; medians are reported (default 3)\n"
"  -f, --path PATH       segment path (default /dev/shm/shmcache-bench-*)\n"
"  -s, --size BYTES      segment size (default: fits every key)\n"
"      --memcached H:P   memcached address (default 127.0.0.1:11211)\n"
"      --redis H:P       redis address (default 127.0.0.1:6379)\n"
"  -j, --json FILE       write the results as JSON\n"
"      --seed N          random seed (default 1)\n"
"  -h, --help\n", f);
}

static int parse_backends(const char *s, unsigned *mask)
{
    char buf[256], *tok, *save = NULL;
    int i;

    *mask = 0;
    apr_cpystrn(buf, s, sizeof buf);
    for (tok = apr_strtok(buf, ",", &save); tok;
         tok = apr_strtok(NULL, ",", &save)) {
        for (i = 0; i < BE_COUNT; i++)
            if (strcmp(tok, be_names[i]) == 0)
                break;
        if (i == BE_COUNT)
            return 0;
        *mask |= 1u << i;
    }
    return *mask != 0;
}

static int parse_ops(const char *s, config_t *c)
{
    char buf[256], *tok, *save = NULL;
    int i;

    c->nops = 0;
    apr_cpystrn(buf, s, sizeof buf);
    for (tok = apr_strtok(buf, ",", &save); tok;
         tok = apr_strtok(NULL, ",", &save)) {
        for (i = 0; i < OP_COUNT; i++)
            if (strcmp(tok, op_names[i]) == 0)
                break;
        if (i == OP_COUNT || c->nops == OP_COUNT)
            return 0;
        c->ops[c->nops++] = i;
    }
    return c->nops > 0;
}

static int split_addr(const char *addr, char **host, apr_port_t *port,
                      apr_pool_t *pool)
{
    char *scope;
    return apr_parse_addr_port(host, &scope, port, addr, pool) == APR_SUCCESS
           && *host != NULL && *port != 0;
}

enum { OPT_MEMCACHED = 256, OPT_REDIS, OPT_SEED, OPT_HELPER_ID,
       OPT_HELPER_BACKEND, OPT_HASH_SEED, OPT_RW_PATH };

static const apr_getopt_option_t options[] = {
    { "backends", 'b', 1, "" }, { "ops", 'o', 1, "" },
    { "procs", 'p', 1, "" }, { "read-ratio", 'r', 1, "" },
    { "keys", 'k', 1, "" }, { "key-size", 'K', 1, "" },
    { "value-size", 'V', 1, "" }, { "duration", 'd', 1, "" },
    { "lat-duration", 'l', 1, "" }, { "repeat", 'n', 1, "" },
    { "path", 'f', 1, "" }, { "size", 's', 1, "" },
    { "memcached", OPT_MEMCACHED, 1, "" }, { "redis", OPT_REDIS, 1, "" },
    { "json", 'j', 1, "" }, { "seed", OPT_SEED, 1, "" },
    { "helper-id", OPT_HELPER_ID, 1, "" },
    { "helper-backend", OPT_HELPER_BACKEND, 1, "" },
    { "hash-seed", OPT_HASH_SEED, 1, "" }, { "rw-path", OPT_RW_PATH, 1, "" },
    { "help", 'h', 0, "" }, { NULL, 0, 0, NULL }
};

static int parse_args(config_t *c, int argc, const char *const *argv,
                      apr_pool_t *pool)
{
    apr_getopt_t *g;
    const char *arg;
    int ch, i;
    uint64_t u;
    apr_status_t rv;
    double lat = -1;

    memset(c, 0, sizeof *c);
    c->backends = (1u << BE_SHMCACHE) | (1u << BE_PRIVATE);
    parse_ops("get,set,mix", c);
    c->procs[0] = 1;
    c->nprocs = 1;
    c->read_ratio = 0.9;
    c->keys = 100000;
    c->key_size = 16;
    c->value_size = 100;
    c->duration = 2;
    c->repeat = 3;
    c->mc_addr = "127.0.0.1:11211";
    c->redis_addr = "127.0.0.1:6379";
    c->seed = 1;
    c->helper_id = -1;
    c->helper_backend = -1;

    apr_getopt_init(&g, pool, argc, argv);
    while ((rv = apr_getopt_long(g, options, &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'b':
            if (!parse_backends(arg, &c->backends))
                return 0;
            break;
        case 'o':
            if (!parse_ops(arg, c))
                return 0;
            break;
        case 'p':
            if (!bench_parse_u64_list(arg, c->procs, MAX_PROCS, &c->nprocs))
                return 0;
            break;
        case 'r': c->read_ratio = atof(arg); break;
        case 'k':
            if (!bench_parse_u64(arg, &c->keys) || c->keys == 0
                || c->keys >= SET_BIT)
                return 0;
            break;
        case 'K':
            if (!bench_parse_u64(arg, &u) || u == 0 || u > 65535)
                return 0;
            c->key_size = (unsigned)u;
            break;
        case 'V':
            if (!bench_parse_u64(arg, &u) || u > (1u << 30))
                return 0;
            c->value_size = (unsigned)u;
            break;
        case 'd': c->duration = atof(arg); break;
        case 'l': lat = atof(arg); break;
        case 'n': c->repeat = atoi(arg); break;
        case 'f': c->path = arg; break;
        case 's':
            if (!bench_parse_u64(arg, &c->size))
                return 0;
            break;
        case OPT_MEMCACHED: c->mc_addr = arg; break;
        case OPT_REDIS: c->redis_addr = arg; break;
        case 'j': c->json = arg; break;
        case OPT_SEED: c->seed = strtoull(arg, NULL, 10); break;
        case OPT_HELPER_ID: c->helper_id = atoi(arg); break;
        case OPT_HELPER_BACKEND: c->helper_backend = atoi(arg); break;
        case OPT_HASH_SEED: c->hash_seed = strtoull(arg, NULL, 10); break;
        case OPT_RW_PATH: c->rw_path = arg; break;
        case 'h': usage(stdout); exit(0);
        default: return 0;
        }
    }
    if (rv != APR_EOF || g->ind != argc)
        return 0;
    c->lat_duration = lat >= 0 ? lat : c->duration / 2;
    if (c->helper_backend < -1 || c->helper_backend >= BE_COUNT)
        return 0;
    if (c->repeat < 1 || c->repeat > MAX_REPEAT || c->duration <= 0
        || c->read_ratio < 0 || c->read_ratio > 1)
        return 0;
    c->max_procs = 0;
    for (i = 0; i < c->nprocs; i++) {
        if (c->procs[i] < 1 || c->procs[i] > MAX_PROCS)
            return 0;
        if ((int)c->procs[i] > c->max_procs)
            c->max_procs = (int)c->procs[i];
    }
    if (c->key_size < bench_key_min_size(c->keys)) {
        fprintf(stderr, "bench_shmcache: --key-size %u cannot number %"
                PRIu64 " keys (needs %u)\n", c->key_size, c->keys,
                bench_key_min_size(c->keys));
        return 0;
    }
    if (c->path == NULL)
        c->path = bench_tmp_path("seg", pool);
    if (c->rw_path == NULL)
        c->rw_path = apr_pstrcat(pool, c->path, ".rw", NULL);
    if (c->hash_seed == 0)
        c->hash_seed = 0x5EED0000u ^ c->seed;
    return 1;
}

/* ------------------------------------------------------------------------
 * Keys and values (parent and helpers build the same ones)
 * ---------------------------------------------------------------------- */

typedef struct keyset_t {
    char *keys;                    /* keys * stride bytes, NUL after each */
    unsigned stride;
    char *value;
} keyset_t;

static int keyset_make(keyset_t *ks, const config_t *c)
{
    uint64_t i;

    ks->stride = c->key_size + 1;
    ks->keys = malloc((size_t)c->keys * ks->stride);
    ks->value = malloc((size_t)c->value_size + 1);
    if (ks->keys == NULL || ks->value == NULL)
        return 0;
    for (i = 0; i < c->keys; i++) {
        char *k = ks->keys + i * ks->stride;
        bench_key(k, c->key_size, i);
        k[c->key_size] = '\0';
    }
    for (i = 0; i < c->value_size; i++)
        ks->value[i] = (char)('a' + i % 26);
    ks->value[c->value_size] = '\0';
    return 1;
}

static void keyset_free(keyset_t *ks)
{
    free(ks->keys);
    free(ks->value);
    ks->keys = ks->value = NULL;
}

static const char *key_of(const keyset_t *ks, uint64_t i)
{
    return ks->keys + i * ks->stride;
}

/* ------------------------------------------------------------------------
 * The private table: chained, malloc'ed entries, XXH3-64, no lock
 * ---------------------------------------------------------------------- */

typedef struct pentry_t {
    struct pentry_t *next;
    uint64_t hash;
    uint32_t key_len, value_len;
    char data[];                   /* key then value */
} pentry_t;

typedef struct ptable_t {
    pentry_t **buckets;
    uint64_t mask, seed;
} ptable_t;

static int pt_init(ptable_t *t, uint64_t nbuckets, uint64_t seed)
{
    t->buckets = calloc((size_t)nbuckets, sizeof *t->buckets);
    t->mask = nbuckets - 1;
    t->seed = seed;
    return t->buckets != NULL;
}

static void pt_free(ptable_t *t)
{
    uint64_t i;

    if (t->buckets == NULL)
        return;
    for (i = 0; i <= t->mask; i++) {
        pentry_t *e = t->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}

static int pt_get(ptable_t *t, const char *key, size_t klen, char *buf,
                  size_t size, size_t *vlen)
{
    uint64_t h = XXH3_64bits_withSeed(key, klen, t->seed);
    pentry_t *e;

    for (e = t->buckets[h & t->mask]; e; e = e->next) {
        if (e->hash == h && e->key_len == klen
            && memcmp(e->data, key, klen) == 0) {
            if (e->value_len > size)
                return -1;
            memcpy(buf, e->data + klen, e->value_len);
            *vlen = e->value_len;
            return 1;
        }
    }
    return 0;
}

static int pt_set(ptable_t *t, const char *key, size_t klen,
                  const char *val, size_t vlen)
{
    uint64_t h = XXH3_64bits_withSeed(key, klen, t->seed);
    pentry_t **link = &t->buckets[h & t->mask], *e, *n;

    n = malloc(sizeof *n + klen + vlen);
    if (n == NULL)
        return -1;
    n->hash = h;
    n->key_len = (uint32_t)klen;
    n->value_len = (uint32_t)vlen;
    memcpy(n->data, key, klen);
    memcpy(n->data + klen, val, vlen);
    for (e = *link; e; link = &e->next, e = e->next) {
        if (e->hash == h && e->key_len == klen
            && memcmp(e->data, key, klen) == 0) {
            n->next = e->next;
            *link = n;
            free(e);
            return 1;
        }
    }
    n->next = t->buckets[h & t->mask];
    t->buckets[h & t->mask] = n;
    return 1;
}

/* ------------------------------------------------------------------------
 * The rwlock baseline: the same kind of table in a shared file mapping,
 * fixed-size entry slots addressed by index, one process-shared rwlock.
 *
 *   [ rw_hdr_t | buckets (uint32 entry index + 1) | entries ]
 * ---------------------------------------------------------------------- */
#ifdef HAVE_RWLOCK
typedef struct rw_hdr_t {
    union {
        pthread_rwlock_t lock;
        char line[128];            /* the lock alone on its cache lines */
    } u;
    uint64_t nbuckets, nentries, entry_size, used, seed, bytes;
} rw_hdr_t;

typedef struct rw_entry_t {
    uint32_t next;                 /* entry index + 1, 0 = end */
    uint32_t key_len, value_len, pad;
    uint64_t hash;
    char data[];
} rw_entry_t;

typedef struct rwtab_t {
    rw_hdr_t *hdr;
    uint32_t *buckets;
    char *entries;
    uint64_t mask, entry_size;
    size_t map_len;
} rwtab_t;

static uint64_t rw_entry_size(const config_t *c)
{
    return (sizeof(rw_entry_t) + c->key_size + c->value_size + 7) & ~7ull;
}

static void rw_bind(rwtab_t *t, void *map, size_t len)
{
    t->hdr = map;
    t->buckets = (uint32_t *)((char *)map + sizeof(rw_hdr_t));
    t->entries = (char *)(t->buckets + t->hdr->nbuckets);
    t->mask = t->hdr->nbuckets - 1;
    t->entry_size = t->hdr->entry_size;
    t->map_len = len;
}

static rw_entry_t *rw_entry(const rwtab_t *t, uint32_t i)
{
    return (rw_entry_t *)(t->entries + (uint64_t)(i - 1) * t->entry_size);
}

static rw_entry_t *rw_find_locked(rwtab_t *t, const char *key, size_t klen,
                                  uint64_t h)
{
    uint32_t i;

    for (i = t->buckets[h & t->mask]; i; ) {
        rw_entry_t *e = rw_entry(t, i);
        if (e->hash == h && e->key_len == klen
            && memcmp(e->data, key, klen) == 0)
            return e;
        i = e->next;
    }
    return NULL;
}

static int rw_get(rwtab_t *t, const char *key, size_t klen, char *buf,
                  size_t size, size_t *vlen)
{
    uint64_t h = XXH3_64bits_withSeed(key, klen, t->hdr->seed);
    rw_entry_t *e;
    int r = 0;

    pthread_rwlock_rdlock(&t->hdr->u.lock);
    e = rw_find_locked(t, key, klen, h);
    if (e != NULL) {
        if (e->value_len <= size) {
            memcpy(buf, e->data + klen, e->value_len);
            *vlen = e->value_len;
            r = 1;
        }
        else
            r = -1;
    }
    pthread_rwlock_unlock(&t->hdr->u.lock);
    return r;
}

/* Store in place (every value has the configured size), or in the next
 * free slot. */
static int rw_set(rwtab_t *t, const char *key, size_t klen,
                  const char *val, size_t vlen)
{
    uint64_t h = XXH3_64bits_withSeed(key, klen, t->hdr->seed);
    rw_entry_t *e;
    int r = 1;

    pthread_rwlock_wrlock(&t->hdr->u.lock);
    e = rw_find_locked(t, key, klen, h);
    if (e == NULL) {
        if (t->hdr->used < t->hdr->nentries) {
            uint32_t i = (uint32_t)++t->hdr->used;
            e = rw_entry(t, i);
            e->hash = h;
            e->key_len = (uint32_t)klen;
            memcpy(e->data, key, klen);
            e->next = t->buckets[h & t->mask];
            t->buckets[h & t->mask] = i;
        }
        else
            r = -1;
    }
    if (e != NULL && sizeof(rw_entry_t) + klen + vlen <= t->entry_size) {
        memcpy(e->data + klen, val, vlen);
        e->value_len = (uint32_t)vlen;
    }
    else
        r = -1;
    pthread_rwlock_unlock(&t->hdr->u.lock);
    return r;
}

static int rw_create(rwtab_t *t, const config_t *c, uint64_t nbuckets)
{
    uint64_t esz = rw_entry_size(c);
    size_t len = sizeof(rw_hdr_t) + nbuckets * 4 + c->keys * esz;
    pthread_rwlockattr_t a;
    void *map;
    int fd;

    unlink(c->rw_path);
    fd = open(c->rw_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0)
        return 0;
    if (ftruncate(fd, (off_t)len) != 0 || posix_fallocate(fd, 0, (off_t)len)) {
        close(fd);
        unlink(c->rw_path);
        return 0;
    }
    map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        unlink(c->rw_path);
        return 0;
    }
    memset(map, 0, sizeof(rw_hdr_t));
    ((rw_hdr_t *)map)->nbuckets = nbuckets;
    ((rw_hdr_t *)map)->nentries = c->keys;
    ((rw_hdr_t *)map)->entry_size = esz;
    ((rw_hdr_t *)map)->seed = c->hash_seed;
    ((rw_hdr_t *)map)->bytes = len;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
#ifdef __GLIBC__
    /* writers not starved, as in shmcache's lock */
    pthread_rwlockattr_setkind_np(&a,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&((rw_hdr_t *)map)->u.lock, &a);
    pthread_rwlockattr_destroy(&a);
    rw_bind(t, map, len);
    return 1;
}

static int rw_attach(rwtab_t *t, const char *path)
{
    struct stat st;
    void *map;
    int fd = open(path, O_RDWR | O_NOFOLLOW);

    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(rw_hdr_t)) {
        close(fd);
        return 0;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return 0;
    rw_bind(t, map, (size_t)st.st_size);
    return 1;
}

static void rw_detach(rwtab_t *t)
{
    if (t->hdr)
        munmap(t->hdr, t->map_len);
    t->hdr = NULL;
}
#endif /* HAVE_RWLOCK */

/* ------------------------------------------------------------------------
 * memcached: a pipelined raw prefill (not measured) and apr_memcache
 * ---------------------------------------------------------------------- */

static apr_status_t mc_connect_raw(apr_socket_t **s, const char *addr,
                                   apr_pool_t *pool)
{
    char *host;
    apr_port_t port;
    apr_sockaddr_t *sa;
    apr_status_t rv;

    if (!split_addr(addr, &host, &port, pool))
        return APR_EINVAL;
    rv = apr_sockaddr_info_get(&sa, host, APR_INET, port, 0, pool);
    if (rv == APR_SUCCESS)
        rv = apr_socket_create(s, sa->family, SOCK_STREAM, APR_PROTO_TCP,
                               pool);
    if (rv == APR_SUCCESS)
        rv = apr_socket_timeout_set(*s, apr_time_from_sec(10));
    if (rv == APR_SUCCESS)
        rv = apr_socket_connect(*s, sa);
    return rv;
}

static apr_status_t send_all(apr_socket_t *s, const char *buf, apr_size_t len)
{
    while (len > 0) {
        apr_size_t n = len;
        apr_status_t rv = apr_socket_send(s, buf, &n);
        if (rv != APR_SUCCESS)
            return rv;
        buf += n;
        len -= n;
    }
    return APR_SUCCESS;
}

/* Store every key with "set ... noreply", then wait for "version" so the
 * server has processed them all. */
static apr_status_t mc_prefill(const config_t *c, const keyset_t *ks,
                               apr_pool_t *pool)
{
    apr_socket_t *s;
    apr_status_t rv = mc_connect_raw(&s, c->mc_addr, pool);
    size_t cap = 1u << 20, used = 0;
    char *buf = malloc(cap + c->value_size + c->key_size + 128), got[256];
    uint64_t i;

    if (buf == NULL)
        return APR_ENOMEM;
    for (i = 0; rv == APR_SUCCESS && i <= c->keys; i++) {
        if (i < c->keys)
            used += (size_t)sprintf(buf + used, "set %s 0 0 %u noreply\r\n",
                                    key_of(ks, i), c->value_size);
        if (i < c->keys) {
            memcpy(buf + used, ks->value, c->value_size);
            used += c->value_size;
            memcpy(buf + used, "\r\n", 2);
            used += 2;
        }
        else {
            memcpy(buf + used, "version\r\n", 9);
            used += 9;
        }
        if (used >= cap || i == c->keys) {
            rv = send_all(s, buf, used);
            used = 0;
        }
    }
    if (rv == APR_SUCCESS) {
        apr_size_t n = sizeof got - 1;
        rv = apr_socket_recv(s, got, &n);
        if (rv == APR_SUCCESS) {
            got[n] = '\0';
            if (strncmp(got, "VERSION", 7) != 0)
                rv = APR_EGENERAL;
        }
    }
    apr_socket_close(s);
    free(buf);
    return rv;
}

/* ------------------------------------------------------------------------
 * Workers (helper processes)
 * ---------------------------------------------------------------------- */

typedef struct worker_t {
    const config_t *cfg;
    apr_pool_t *pool;
    keyset_t ks;
    uint32_t *seq;                 /* key index | SET_BIT for mix sets */
    uint64_t seq_mask, pos;
    char *buf;
    apr_size_t buf_size;
    int backend;
    shmcache_t *cache;
    ptable_t pt;
#ifdef HAVE_RWLOCK
    rwtab_t rw;
#endif
    apr_memcache_t *mc;
    apr_pool_t *mc_pool;
    unsigned mc_ops;
#ifdef HAVE_HIREDIS
    redisContext *redis;
#endif
    uint64_t hits, misses, errors;
} worker_t;

static int do_get(worker_t *w, const char *key)
{
    const config_t *c = w->cfg;
    apr_size_t vlen = 0;

    switch (w->backend) {
    case BE_SHMCACHE: {
        apr_status_t rv = shmcache_get_buf(w->cache, key, c->key_size, w->buf,
                                           w->buf_size, &vlen, NULL);
        return rv == APR_SUCCESS ? 1 : rv == SHMCACHE_NOTFOUND ? 0 : -1;
    }
    case BE_PRIVATE:
        return pt_get(&w->pt, key, c->key_size, w->buf, w->buf_size, &vlen);
#ifdef HAVE_RWLOCK
    case BE_RWLOCK:
        return rw_get(&w->rw, key, c->key_size, w->buf, w->buf_size, &vlen);
#endif
    case BE_MEMCACHED: {
        char *v;
        apr_status_t rv;
        if (++w->mc_ops % 256 == 0)
            apr_pool_clear(w->mc_pool);
        rv = apr_memcache_getp(w->mc, w->mc_pool, key, &v, &vlen, NULL);
        if (rv == APR_SUCCESS && vlen <= w->buf_size) {
            memcpy(w->buf, v, vlen);
            return 1;
        }
        return APR_STATUS_IS_NOTFOUND(rv) ? 0 : -1;
    }
#ifdef HAVE_HIREDIS
    case BE_REDIS: {
        redisReply *r = redisCommand(w->redis, "GET %b", key,
                                     (size_t)c->key_size);
        int hit = -1;
        if (r != NULL) {
            if (r->type == REDIS_REPLY_STRING && r->len <= w->buf_size) {
                memcpy(w->buf, r->str, r->len);
                hit = 1;
            }
            else if (r->type == REDIS_REPLY_NIL)
                hit = 0;
            freeReplyObject(r);
        }
        return hit;
    }
#endif
    }
    return -1;
}

static int do_set(worker_t *w, const char *key)
{
    const config_t *c = w->cfg;

    switch (w->backend) {
    case BE_SHMCACHE:
        return shmcache_set(w->cache, key, c->key_size, w->ks.value,
                            c->value_size, SHMCACHE_TTL_FOREVER, NULL)
               == APR_SUCCESS ? 1 : -1;
    case BE_PRIVATE:
        return pt_set(&w->pt, key, c->key_size, w->ks.value, c->value_size);
#ifdef HAVE_RWLOCK
    case BE_RWLOCK:
        return rw_set(&w->rw, key, c->key_size, w->ks.value, c->value_size);
#endif
    case BE_MEMCACHED:
        return apr_memcache_set(w->mc, key, w->ks.value, c->value_size, 0, 0)
               == APR_SUCCESS ? 1 : -1;
#ifdef HAVE_HIREDIS
    case BE_REDIS: {
        redisReply *r = redisCommand(w->redis, "SET %b %b", key,
                                     (size_t)c->key_size, w->ks.value,
                                     (size_t)c->value_size);
        int ok = r != NULL && r->type == REDIS_REPLY_STATUS ? 1 : -1;
        if (r)
            freeReplyObject(r);
        return ok;
    }
#endif
    }
    return -1;
}

static void count(worker_t *w, int r)
{
    if (r > 0)
        w->hits++;
    else if (r == 0)
        w->misses++;
    else
        w->errors++;
}

/* One operation of the sequence; returns whether it was a set. */
static inline int one_op(worker_t *w, int op)
{
    uint32_t x = w->seq[w->pos++ & w->seq_mask];
    const char *key = key_of(&w->ks, x & ~SET_BIT);
    int is_set = op == OP_SET || (op == OP_MIX && (x & SET_BIT));

    count(w, is_set ? do_set(w, key) : do_get(w, key));
    return is_set;
}

/* Untimed: as many operations as fit in seconds. */
static uint64_t run_untimed(worker_t *w, int op, double seconds,
                            uint64_t *elapsed)
{
    uint64_t t0 = bench_now_ns(), t, end = t0 + (uint64_t)(seconds * 1e9);
    uint64_t n = 0;
    unsigned batch = w->backend == BE_MEMCACHED || w->backend == BE_REDIS
                     ? 4 : 256;
    unsigned j;

    do {
        for (j = 0; j < batch; j++)
            one_op(w, op);
        n += batch;
        t = bench_now_ns();
    } while (t < end);
    *elapsed = t - t0;
    return n;
}

/* Timed: one clock read per operation, each interval recorded into the
 * histogram of the operation it covered. */
static void run_timed(worker_t *w, int op, double seconds, hist_t *hg,
                      hist_t *hs)
{
    uint64_t prev = bench_now_ns(), end = prev + (uint64_t)(seconds * 1e9);
    unsigned j;

    do {
        for (j = 0; j < 16; j++) {
            int is_set = one_op(w, op);
            uint64_t t = bench_now_ns();
            hist_record(is_set ? hs : hg, t - prev);
            prev = t;
        }
    } while (prev < end);
}

/* Reads of every key before measuring. The first brings the mapping in:
 * a freshly attached process takes a page fault on the first touch of
 * each page of the shared mapping (10M keys: ~1.5 GiB, ~400k faults).
 * The others bring each entry's read frequency to its cap (3), after
 * which a get writes nothing; until then a get takes the read lock to
 * raise it. A running server has long paid both for its hot keys, and a
 * benchmark of the steady state must not count them. */
#define WARM_UP_READS 3

static void warm_up(worker_t *w)
{
    uint64_t i;
    int round, rounds = w->backend == BE_SHMCACHE ? WARM_UP_READS : 1;

    /* the other backends keep no read frequency: one pass brings them in
     * (three would triple the network baselines' warm-up for nothing) */
    for (round = 0; round < rounds; round++)
        for (i = 0; i < w->cfg->keys; i++)
            do_get(w, key_of(&w->ks, i));
}

static int worker_setup(worker_t *w, const config_t *c, apr_pool_t *pool,
                        char *err, size_t errlen)
{
    bench_rng_t rng;
    uint64_t len, i;
    apr_status_t rv;

    memset(w, 0, sizeof *w);
    w->cfg = c;
    w->pool = pool;
    w->backend = c->helper_backend;
    if (!keyset_make(&w->ks, c)) {
        snprintf(err, errlen, "out of memory for keys");
        return 0;
    }
    /* A random sequence of key indices; at least 2^20 long and up to 2^24
     * (64 MiB), so even 10M keys are drawn from a long stream. */
    len = bench_pow2_at_least(c->keys * 2);
    if (len < (1u << 20))
        len = 1u << 20;
    if (len > (1u << 24))
        len = 1u << 24;
    w->seq = malloc(len * sizeof *w->seq);
    if (w->seq == NULL) {
        snprintf(err, errlen, "out of memory for the key sequence");
        return 0;
    }
    w->seq_mask = len - 1;
    bench_rng_seed(&rng, c->seed * 7919 + (uint64_t)c->helper_id * 104729
                         + (uint64_t)c->helper_backend);
    for (i = 0; i < len; i++) {
        uint32_t x = (uint32_t)bench_rng_below(&rng, c->keys);
        if (bench_rng_double(&rng) >= c->read_ratio)
            x |= SET_BIT;
        w->seq[i] = x;
    }
    w->buf_size = c->value_size + 64;
    w->buf = malloc(w->buf_size);

    switch (w->backend) {
    case BE_SHMCACHE: {
        shmcache_options_t o;
        shmcache_options_init(&o);
        rv = shmcache_attach(&w->cache, c->path, &o, pool);
        if (rv != APR_SUCCESS) {
            snprintf(err, errlen, "attach %s: %s", c->path, bench_strerror(rv));
            return 0;
        }
        warm_up(w);
        return 1;
    }
    case BE_PRIVATE:
        if (!pt_init(&w->pt, bench_pow2_at_least(c->keys), c->hash_seed)) {
            snprintf(err, errlen, "out of memory for the private table");
            return 0;
        }
        for (i = 0; i < c->keys; i++)
            if (pt_set(&w->pt, key_of(&w->ks, i), c->key_size, w->ks.value,
                       c->value_size) < 0) {
                snprintf(err, errlen, "out of memory filling the table");
                return 0;
            }
        return 1;
#ifdef HAVE_RWLOCK
    case BE_RWLOCK:
        if (!rw_attach(&w->rw, c->rw_path)) {
            snprintf(err, errlen, "map %s: %s", c->rw_path, strerror(errno));
            return 0;
        }
        warm_up(w);
        return 1;
#endif
    case BE_MEMCACHED: {
        apr_memcache_server_t *ms;
        char *host;
        apr_port_t port;
        if (!split_addr(c->mc_addr, &host, &port, pool)) {
            snprintf(err, errlen, "bad memcached address %s", c->mc_addr);
            return 0;
        }
        apr_pool_create(&w->mc_pool, pool);
        rv = apr_memcache_create(pool, 1, 0, &w->mc);
        if (rv == APR_SUCCESS)
            rv = apr_memcache_server_create(pool, host, port, 1, 1, 1, 0, &ms);
        if (rv == APR_SUCCESS)
            rv = apr_memcache_add_server(w->mc, ms);
        if (rv != APR_SUCCESS) {
            snprintf(err, errlen, "memcached %s: %s", c->mc_addr,
                     bench_strerror(rv));
            return 0;
        }
        /* one probe so a dead server is reported now, not as errors */
        if (do_get(w, key_of(&w->ks, 0)) < 0) {
            snprintf(err, errlen, "memcached %s does not answer", c->mc_addr);
            return 0;
        }
        return 1;
    }
#ifdef HAVE_HIREDIS
    case BE_REDIS: {
        char *host;
        apr_port_t port;
        if (!split_addr(c->redis_addr, &host, &port, pool)) {
            snprintf(err, errlen, "bad redis address %s", c->redis_addr);
            return 0;
        }
        w->redis = redisConnect(host, port);
        if (w->redis == NULL || w->redis->err) {
            snprintf(err, errlen, "redis %s: %s", c->redis_addr,
                     w->redis ? w->redis->errstr : "cannot connect");
            return 0;
        }
        return 1;
    }
#endif
    }
    snprintf(err, errlen, "backend %s is not built in",
             w->backend >= 0 && w->backend < BE_COUNT ? be_names[w->backend]
                                                      : "?");
    return 0;
}

static void worker_close(worker_t *w)
{
    if (w->cache)
        shmcache_close(w->cache);
    pt_free(&w->pt);
    keyset_free(&w->ks);
    free(w->seq);
    free(w->buf);
#ifdef HAVE_RWLOCK
    rw_detach(&w->rw);
#endif
#ifdef HAVE_HIREDIS
    if (w->redis)
        redisFree(w->redis);
#endif
}

/* The helper side: set up, say "ready", then serve "run" commands:
 *   run OP DURATION LAT_DURATION  ->  "ops N ELAPSED_NS HITS MISSES ERRORS",
 *                                     two histograms, "done"
 *   quit                          ->  exit */
static int helper_main(const config_t *c, apr_pool_t *pool)
{
    worker_t w;
    char line[256], err[512];
    hist_t *hg = malloc(sizeof *hg), *hs = malloc(sizeof *hs);

    if (!worker_setup(&w, c, pool, err, sizeof err)) {
        printf("error %s\n", err);
        fflush(stdout);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        char opname[16];
        double dur, lat;
        int op;
        uint64_t n, elapsed, cpu;

        if (strncmp(line, "quit", 4) == 0)
            break;
        if (sscanf(line, "run %15s %lf %lf", opname, &dur, &lat) != 3)
            continue;
        for (op = 0; op < OP_COUNT; op++)
            if (strcmp(opname, op_names[op]) == 0)
                break;
        if (op == OP_COUNT)
            continue;
        w.hits = w.misses = w.errors = 0;
        cpu = bench_cpu_ns();
        n = run_untimed(&w, op, dur, &elapsed);
        cpu = bench_cpu_ns() - cpu;
        printf("ops %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
               " %" PRIu64 "\n", n, elapsed, w.hits, w.misses, w.errors, cpu);
        hist_init(hg);
        hist_init(hs);
        if (lat > 0)
            run_timed(&w, op, lat, hg, hs);
        hist_write(hg, "get", stdout);
        hist_write(hs, "set", stdout);
        printf("done\n");
        fflush(stdout);
    }
    worker_close(&w);
    free(hg);
    free(hs);
    return 0;
}

/* ------------------------------------------------------------------------
 * The parent: stores, helpers, runs, figures
 * ---------------------------------------------------------------------- */

typedef struct cell_t {             /* one backend x op x procs */
    int runs;
    double rate[MAX_REPEAT];        /* ops/s per repetition */
    double cpu_rate[MAX_REPEAT];    /* ops per CPU-second of the helpers */
    double overlap[MAX_REPEAT];     /* CPU seconds / (procs * wall seconds) */
    uint64_t hits, misses, errors;
    hist_t *hg, *hs;                /* merged over repetitions, processes */
} cell_t;

typedef struct bench_t {
    config_t *cfg;
    apr_pool_t *pool;
    const char *exe;
    keyset_t ks;
    unsigned active;                /* backends that run */
    const char *skipped[BE_COUNT];  /* why a backend was skipped */
    bench_helper_t helpers[BE_COUNT][MAX_PROCS];
    cell_t cells[BE_COUNT][OP_COUNT][MAX_PROCS];
    shmcache_t *cache;
    shmcache_stats_t cache_stats;
    uint64_t footprint;
    double timer_ns;
#ifdef HAVE_RWLOCK
    rwtab_t rw;
#endif
} bench_t;

static void skip(bench_t *b, int be, const char *why)
{
    b->active &= ~(1u << be);
    b->skipped[be] = apr_pstrdup(b->pool, why);
    fprintf(stderr, "bench_shmcache: skipping %s: %s\n", be_names[be], why);
}

static uint64_t cache_buckets(const config_t *c)
{
    return bench_pow2_at_least(c->keys);
}

static int setup_shmcache(bench_t *b)
{
    config_t *c = b->cfg;
    shmcache_options_t o;
    shmcache_stats_t st;
    apr_status_t rv;
    uint64_t i, t0;

    b->footprint = bench_entry_footprint(c->key_size, c->value_size, b->pool);
    shmcache_options_init(&o);
    o.buckets = (apr_uint32_t)cache_buckets(c);
    if (c->value_size > o.max_value)
        o.max_value = c->value_size;
    if (c->key_size > o.max_key)
        o.max_key = c->key_size;
    if (c->size)
        o.size = c->size;
    else {
        uint64_t per = b->footprint ? b->footprint
                       : ((28 + c->key_size + c->value_size + 7) & ~7u) + 8;
        o.size = c->keys * per + c->keys * per / 8 + (uint64_t)o.buckets * 4
                 + (4u << 20);
    }
    shmcache_remove(c->path, b->pool);
    rv = shmcache_create(&b->cache, c->path, &o, b->pool);
    if (rv != APR_SUCCESS) {
        skip(b, BE_SHMCACHE, apr_psprintf(b->pool, "create %s (%" PRIu64
             " bytes): %s", c->path, (uint64_t)o.size, bench_strerror(rv)));
        return 0;
    }
    t0 = bench_now_ns();
    for (i = 0; i < c->keys; i++) {
        rv = shmcache_set(b->cache, key_of(&b->ks, i), c->key_size,
                          b->ks.value, c->value_size, SHMCACHE_TTL_FOREVER,
                          NULL);
        if (rv != APR_SUCCESS) {
            skip(b, BE_SHMCACHE, apr_psprintf(b->pool, "prefill: %s",
                                              bench_strerror(rv)));
            return 0;
        }
    }
    shmcache_stats(b->cache, &st);
    printf("shmcache: %s, %" PRIu64 " MiB, %" PRIu64 " items filled in %.2f s"
           ", %" PRIu64 " B per entry in the data region\n", c->path,
           (uint64_t)(st.size >> 20), (uint64_t)st.items,
           (double)(bench_now_ns() - t0) / 1e9, b->footprint);
    if (st.items < c->keys)
        fprintf(stderr, "bench_shmcache: warning: only %" PRIu64 " of %"
                PRIu64 " keys fit (%" PRIu64 " evicted); gets will miss\n",
                (uint64_t)st.items, c->keys, (uint64_t)st.evictions);
    return 1;
}

static int setup_rwlock(bench_t *b)
{
#ifdef HAVE_RWLOCK
    config_t *c = b->cfg;
    uint64_t i;

    if (!rw_create(&b->rw, c, cache_buckets(c))) {
        skip(b, BE_RWLOCK, apr_psprintf(b->pool, "create %s: %s", c->rw_path,
                                        strerror(errno)));
        return 0;
    }
    for (i = 0; i < c->keys; i++)
        rw_set(&b->rw, key_of(&b->ks, i), c->key_size, b->ks.value,
               c->value_size);
    return 1;
#else
    skip(b, BE_RWLOCK, "pthread rwlock baseline is POSIX only");
    return 0;
#endif
}

static int setup_memcached(bench_t *b)
{
    apr_status_t rv = mc_prefill(b->cfg, &b->ks, b->pool);
    if (rv != APR_SUCCESS) {
        skip(b, BE_MEMCACHED, apr_psprintf(b->pool, "no memcached at %s (%s)",
                                           b->cfg->mc_addr,
                                           bench_strerror(rv)));
        return 0;
    }
    return 1;
}

static int setup_redis(bench_t *b)
{
#ifdef HAVE_HIREDIS
    config_t *c = b->cfg;
    char *host;
    apr_port_t port;
    redisContext *r;
    uint64_t i, sent = 0, got = 0;
    int ok = 1;

    if (!split_addr(c->redis_addr, &host, &port, b->pool)) {
        skip(b, BE_REDIS, "bad address");
        return 0;
    }
    r = redisConnect(host, port);
    if (r == NULL || r->err) {
        skip(b, BE_REDIS, apr_psprintf(b->pool, "no redis at %s (%s)",
                                       c->redis_addr,
                                       r ? r->errstr : "cannot connect"));
        if (r)
            redisFree(r);
        return 0;
    }
    /* pipelined prefill, 1000 commands in flight (not measured) */
    for (i = 0; ok && i < c->keys; i++) {
        redisAppendCommand(r, "SET %b %b", key_of(&b->ks, i),
                           (size_t)c->key_size, b->ks.value,
                           (size_t)c->value_size);
        sent++;
        while (ok && (sent - got >= 1000 || (i + 1 == c->keys && got < sent))) {
            void *reply;
            if (redisGetReply(r, &reply) != REDIS_OK)
                ok = 0;
            else
                freeReplyObject(reply);
            got++;
        }
    }
    if (!ok)
        skip(b, BE_REDIS, apr_psprintf(b->pool, "redis prefill: %s",
                                       r->errstr));
    redisFree(r);
    return ok;
#else
    skip(b, BE_REDIS, "bench_shmcache was built without hiredis "
                      "(install libhiredis-dev and reconfigure)");
    return 0;
#endif
}

/* argv for a helper: the parent's settings plus its id and backend. */
static const char **helper_argv(bench_t *b, int id, int be)
{
    config_t *c = b->cfg;
    apr_pool_t *p = b->pool;
    const char **v = apr_pcalloc(p, 40 * sizeof *v);
    int n = 0;

    v[n++] = b->exe;
    v[n++] = "--helper-id";     v[n++] = apr_itoa(p, id);
    v[n++] = "--helper-backend"; v[n++] = apr_itoa(p, be);
    v[n++] = "-k"; v[n++] = apr_psprintf(p, "%" PRIu64, c->keys);
    v[n++] = "-K"; v[n++] = apr_itoa(p, (int)c->key_size);
    v[n++] = "-V"; v[n++] = apr_itoa(p, (int)c->value_size);
    v[n++] = "-r"; v[n++] = apr_psprintf(p, "%.17g", c->read_ratio);
    v[n++] = "-f"; v[n++] = c->path;
    v[n++] = "--rw-path"; v[n++] = c->rw_path;
    v[n++] = "--memcached"; v[n++] = c->mc_addr;
    v[n++] = "--redis"; v[n++] = c->redis_addr;
    v[n++] = "--seed"; v[n++] = apr_psprintf(p, "%" PRIu64, c->seed);
    v[n++] = "--hash-seed"; v[n++] = apr_psprintf(p, "%" PRIu64, c->hash_seed);
    v[n] = NULL;
    return v;
}

static void stop_helpers(bench_t *b, int be)
{
    int i;

    for (i = 0; i < MAX_PROCS; i++) {
        bench_helper_t *h = &b->helpers[be][i];
        if (h->alive) {
            bench_helper_send(h, "quit");
            bench_helper_finish(h);
        }
    }
}

static int start_helpers(bench_t *b, int be)
{
    char line[1024];
    int i;

    for (i = 0; i < b->cfg->max_procs; i++) {
        apr_status_t rv = bench_helper_start(&b->helpers[be][i], b->exe,
                                             helper_argv(b, i, be), b->pool);
        if (rv != APR_SUCCESS) {
            skip(b, be, apr_psprintf(b->pool, "cannot start a helper: %s",
                                     bench_strerror(rv)));
            stop_helpers(b, be);
            return 0;
        }
    }
    for (i = 0; i < b->cfg->max_procs; i++) {
        apr_status_t rv = bench_helper_read(&b->helpers[be][i], line,
                                            sizeof line);
        if (rv != APR_SUCCESS || strcmp(line, "ready") != 0) {
            skip(b, be, rv != APR_SUCCESS ? "a helper died while starting"
                        : strncmp(line, "error ", 6) == 0 ? line + 6 : line);
            stop_helpers(b, be);
            return 0;
        }
    }
    return 1;
}

/* One run: procs helpers of backend be run op at once. */
static int run_once(bench_t *b, int be, int op, int pi)
{
    config_t *c = b->cfg;
    int procs = (int)c->procs[pi], i;
    cell_t *cell = &b->cells[be][op][pi];
    char cmd[128], line[256];
    double rate = 0;
    uint64_t all_ops = 0, all_cpu = 0, all_wall = 0;

    if (cell->hg == NULL) {
        cell->hg = apr_palloc(b->pool, sizeof(hist_t));
        cell->hs = apr_palloc(b->pool, sizeof(hist_t));
        hist_init(cell->hg);
        hist_init(cell->hs);
    }
    snprintf(cmd, sizeof cmd, "run %s %.6f %.6f", op_names[op], c->duration,
             c->lat_duration);
    for (i = 0; i < procs; i++)
        if (bench_helper_send(&b->helpers[be][i], cmd) != APR_SUCCESS)
            goto died;
    for (i = 0; i < procs; i++) {
        bench_helper_t *h = &b->helpers[be][i];
        uint64_t n, ns, hits, misses, errors, cpu;
        hist_t *cur = NULL;
        int done;

        if (bench_helper_read(h, line, sizeof line) != APR_SUCCESS
            || sscanf(line, "ops %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                      " %" SCNu64 " %" SCNu64, &n, &ns, &hits, &misses,
                      &errors, &cpu) != 6)
            goto died;
        rate += ns ? (double)n * 1e9 / (double)ns : 0;
        all_ops += n;
        all_cpu += cpu;
        all_wall += ns;
        cell->hits += hits;
        cell->misses += misses;
        cell->errors += errors;
        for (;;) {
            if (bench_helper_read(h, line, sizeof line) != APR_SUCCESS)
                goto died;
            if (strcmp(line, "done") == 0)
                break;
            if (strncmp(line, "hist get", 8) == 0)
                cur = cell->hg;
            else if (strncmp(line, "hist set", 8) == 0)
                cur = cell->hs;
            if (cur)
                hist_read_line(cur, line, &done);
        }
    }
    cell->cpu_rate[cell->runs] = all_cpu ? (double)all_ops * 1e9
                                           / (double)all_cpu : 0;
    cell->overlap[cell->runs] = all_wall ? (double)all_cpu / (double)all_wall
                                         : 0;
    cell->rate[cell->runs++] = rate;
    return 1;
died:
    skip(b, be, "a helper process died during a run");
    stop_helpers(b, be);
    return 0;
}

/* ------------------------------------------------------------------------
 * Figures
 * ---------------------------------------------------------------------- */

static double cell_rate(const cell_t *cell)
{
    return bench_median(cell->rate, cell->runs);
}

/* Median over repetitions of rate(a) / rate(b), pairing runs that ran
 * side by side. */
/* The per-repetition ratios of a's rate to bb's (runs paired by index);
 * returns how many. */
static int paired_ratios(const cell_t *a, const cell_t *bb, double *r)
{
    int i, n = a->runs < bb->runs ? a->runs : bb->runs;

    for (i = 0; i < n; i++)
        r[i] = bb->rate[i] > 0 ? a->rate[i] / bb->rate[i] : 0;
    return n;
}

/* Median of the paired ratios (0 without runs). */
static double paired_ratio(const cell_t *a, const cell_t *bb)
{
    double r[MAX_REPEAT];
    int n = paired_ratios(a, bb, r);

    return n ? bench_median(r, n) : 0;
}

/* Smallest and largest paired ratio: the spread a rerun should land in. */
static void paired_range(const cell_t *a, const cell_t *bb, double *lo,
                         double *hi)
{
    double r[MAX_REPEAT] = {0};
    int i, n = paired_ratios(a, bb, r);

    *lo = *hi = r[0];
    for (i = 1; i < n; i++) {
        *lo = r[i] < *lo ? r[i] : *lo;
        *hi = r[i] > *hi ? r[i] : *hi;
    }
}

static const hist_t *cell_hist(const cell_t *cell, int op)
{
    return op == OP_SET ? cell->hs : cell->hg;
}

static void print_ns(uint64_t ns)
{
    if (ns < 10000)
        printf(" %7" PRIu64, ns);
    else if (ns < 10000000)
        printf(" %6.1fu", (double)ns / 1e3);
    else
        printf(" %6.1fm", (double)ns / 1e6);
}

static void print_table(bench_t *b)
{
    config_t *c = b->cfg;
    int be, oi, pi;

    printf("\n%" PRIu64 " keys, %u-byte keys, %u-byte values, mix = %.0f%% "
           "gets; %d repetition(s) of %.2f s (+%.2f s timed); medians\n",
           c->keys, c->key_size, c->value_size, c->read_ratio * 100,
           c->repeat, c->duration, c->lat_duration);
    printf("latency: closed loop (coordinated omission not corrected), one "
           "clock read per op (~%.0f ns) included; ns unless marked\n"
           "cpu%%: CPU time of the helpers / their wall time (below 100: the "
           "machine did not give each process a core)\n", b->timer_ns);
    printf("%-10s %-4s %5s %13s %9s %8s %8s %8s %8s %6s %6s\n", "backend",
           "op", "procs", "ops/s", "vs priv", "p50", "p99", "p99.9", "max",
           "miss%", "cpu%");
    for (oi = 0; oi < c->nops; oi++) {
        int op = c->ops[oi];
        for (pi = 0; pi < c->nprocs; pi++) {
            for (be = 0; be < BE_COUNT; be++) {
                cell_t *cell = &b->cells[be][op][pi];
                const hist_t *h;
                double tot = (double)(cell->hits + cell->misses + cell->errors);
                if (cell->runs == 0)
                    continue;
                printf("%-10s %-4s %5d %13.0f", be_names[be], op_names[op],
                       (int)c->procs[pi], cell_rate(cell));
                if (be != BE_PRIVATE && b->cells[BE_PRIVATE][op][pi].runs)
                    printf(" %9.3f",
                           paired_ratio(cell, &b->cells[BE_PRIVATE][op][pi]));
                else
                    printf(" %9s", "");
                h = cell_hist(cell, op);
                print_ns(hist_percentile(h, 50));
                print_ns(hist_percentile(h, 99));
                print_ns(hist_percentile(h, 99.9));
                print_ns(h->max);
                printf(" %6.2f %6.1f", tot > 0 ? 100.0 * (double)cell->misses
                                                 / tot : 0.0,
                       100.0 * bench_median(cell->overlap, cell->runs));
                if (cell->errors)
                    printf("  %" PRIu64 " errors", cell->errors);
                if (op == OP_MIX && cell->hs->total)
                    printf("  (set p99 %" PRIu64 ")",
                           hist_percentile(cell->hs, 99));
                printf("\n");
            }
        }
    }
    for (be = 0; be < BE_COUNT; be++)
        if (b->skipped[be])
            printf("skipped %s: %s\n", be_names[be], b->skipped[be]);
}

static void json_hist(FILE *f, const hist_t *h)
{
    fprintf(f, "{\"count\": %" PRIu64 ", \"mean\": %.1f, \"p50\": %" PRIu64
            ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64
            ", \"max\": %" PRIu64 "}", h->total, hist_mean(h),
            hist_percentile(h, 50), hist_percentile(h, 90),
            hist_percentile(h, 99), hist_percentile(h, 99.9), h->max);
}

static void write_json(bench_t *b)
{
    config_t *c = b->cfg;
    FILE *f = fopen(c->json, "w");
    int be, op, pi, first = 1, i;

    if (f == NULL) {
        fprintf(stderr, "bench_shmcache: cannot write %s\n", c->json);
        return;
    }
    fprintf(f, "{\n  \"program\": \"bench_shmcache\",\n  \"config\": {"
            "\"keys\": %" PRIu64 ", \"key_size\": %u, \"value_size\": %u, "
            "\"read_ratio\": %.3f, \"duration\": %.3f, \"lat_duration\": %.3f, "
            "\"repeat\": %d, \"segment_size\": %" PRIu64 ", "
            "\"entry_footprint\": %" PRIu64 ", \"timer_ns\": %.1f, "
            "\"latency_note\": \"closed loop; coordinated omission not "
            "corrected\"},\n  \"results\": [",
            c->keys, c->key_size, c->value_size, c->read_ratio, c->duration,
            c->lat_duration, c->repeat, (uint64_t)b->cache_stats.size,
            b->footprint, b->timer_ns);
    for (be = 0; be < BE_COUNT; be++)
        for (op = 0; op < OP_COUNT; op++)
            for (pi = 0; pi < c->nprocs; pi++) {
                cell_t *cell = &b->cells[be][op][pi];
                cell_t *priv = &b->cells[BE_PRIVATE][op][pi];
                if (cell->runs == 0)
                    continue;
                fprintf(f, "%s\n    {\"backend\": \"%s\", \"op\": \"%s\", "
                        "\"procs\": %d, \"keys\": %" PRIu64 ", \"value_size\": "
                        "%u, \"ops_per_sec\": %.0f, \"runs\": [",
                        first ? "" : ",", be_names[be], op_names[op],
                        (int)c->procs[pi], c->keys, c->value_size,
                        cell_rate(cell));
                for (i = 0; i < cell->runs; i++)
                    fprintf(f, "%s%.0f", i ? ", " : "", cell->rate[i]);
                fprintf(f, "], \"cpu_shares\": [");
                for (i = 0; i < cell->runs; i++)
                    fprintf(f, "%s%.3f", i ? ", " : "", cell->overlap[i]);
                fprintf(f, "], \"ops_per_cpu_sec\": %.0f, \"cpu_share\": %.3f, ",
                        bench_median(cell->cpu_rate, cell->runs),
                        bench_median(cell->overlap, cell->runs));
                if (be != BE_PRIVATE && priv->runs) {
                    double lo, hi;
                    paired_range(cell, priv, &lo, &hi);
                    fprintf(f, "\"vs_private\": %.4f, \"vs_private_range\": "
                            "[%.4f, %.4f], ", paired_ratio(cell, priv), lo, hi);
                }
                fprintf(f, "\"hits\": %" PRIu64 ", \"misses\": %" PRIu64
                        ", \"errors\": %" PRIu64 ", \"latency_ns\": {\"get\": ",
                        cell->hits, cell->misses, cell->errors);
                json_hist(f, cell->hg);
                fprintf(f, ", \"set\": ");
                json_hist(f, cell->hs);
                fprintf(f, "}}");
                first = 0;
            }
    fprintf(f, "\n  ],\n  \"skipped\": {");
    first = 1;
    for (be = 0; be < BE_COUNT; be++)
        if (b->skipped[be]) {
            fprintf(f, "%s\"%s\": ", first ? "" : ", ", be_names[be]);
            bench_json_str(f, b->skipped[be]);
            first = 0;
        }
    fprintf(f, "},\n  \"shmcache_stats\": {\"items\": %" PRIu64 ", "
            "\"read_waits\": %" PRIu64 ", \"write_waits\": %" PRIu64 ", "
            "\"evictions\": %" PRIu64 ", \"longest_chain\": %u}\n}\n",
            (uint64_t)b->cache_stats.items, (uint64_t)b->cache_stats.read_waits,
            (uint64_t)b->cache_stats.write_waits,
            (uint64_t)b->cache_stats.evictions, b->cache_stats.longest_chain);
    fclose(f);
}

/* One run of op at the pi-th process count for every active backend, the
 * order rotated by the repetition rep: a backend that always ran first (or
 * right after another one warmed the caches, or while the host's turbo or
 * a neighbour's load changed) would carry that bias into every ratio. */
static void run_backends(bench_t *b, int rep, int op, int pi)
{
    int i;

    for (i = 0; i < BE_COUNT; i++) {
        int be = (i + rep) % BE_COUNT;
        if (b->active & (1u << be))
            run_once(b, be, op, pi);
    }
}

static int parent_main(config_t *c, const char *argv0, apr_pool_t *pool)
{
    bench_t *b = calloc(1, sizeof *b);
    int be, rep, oi, pi;

    b->cfg = c;
    b->pool = pool;
    b->exe = bench_self_exe(argv0, pool);
    b->active = c->backends;
    b->timer_ns = bench_timer_cost_ns();
    if (!keyset_make(&b->ks, c)) {
        fprintf(stderr, "bench_shmcache: out of memory for keys\n");
        return 3;
    }
    if (b->active & (1u << BE_SHMCACHE))
        setup_shmcache(b);
    if (b->active & (1u << BE_RWLOCK))
        setup_rwlock(b);
    if (b->active & (1u << BE_MEMCACHED))
        setup_memcached(b);
    if (b->active & (1u << BE_REDIS))
        setup_redis(b);
    for (be = 0; be < BE_COUNT; be++)
        if (b->active & (1u << be))
            start_helpers(b, be);

    for (rep = 0; rep < c->repeat; rep++)
        for (oi = 0; oi < c->nops; oi++)
            for (pi = 0; pi < c->nprocs; pi++)
                run_backends(b, rep, c->ops[oi], pi);

    for (be = 0; be < BE_COUNT; be++)
        stop_helpers(b, be);
    if (b->cache) {
        shmcache_stats(b->cache, &b->cache_stats);
        shmcache_close(b->cache);
        shmcache_remove(c->path, pool);
    }
#ifdef HAVE_RWLOCK
    if (b->rw.hdr) {
        rw_detach(&b->rw);
        unlink(c->rw_path);
    }
#endif
    print_table(b);
    if (b->cache_stats.size)
        printf("shmcache lock: %" PRIu64 " read waits, %" PRIu64
               " write waits; longest chain %u\n",
               (uint64_t)b->cache_stats.read_waits,
               (uint64_t)b->cache_stats.write_waits,
               b->cache_stats.longest_chain);
    if (c->json)
        write_json(b);
    keyset_free(&b->ks);
    free(b);
    return 0;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    config_t c;
    int rc;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&pool, NULL);
    if (!parse_args(&c, argc, argv, pool)) {
        usage(stderr);
        return 2;
    }
    rc = c.helper_id >= 0 ? helper_main(&c, pool)
                          : parent_main(&c, argv[0], pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
