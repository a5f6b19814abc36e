/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_traces.c - trace readers and generators for bench_evict (see
 * evict_traces.h): decompression through a pipe from gzip / xz / zstd,
 * one parser per stored format, dense renumbering of ids, and the
 * synthetic Zipf and scan traces.
 */
#include "evict_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

/* The traces of ../shared/traces (its README gives origin and licence).
 * orm-busy and w106 are cut to their first 2,000,000 requests, as that
 * README prescribes. */
static const evict_trace_file_t trace_files[] = {
    { "lirs_loop", "lirs_loop.trace.gz", EVICT_TEXT_GZ, 0 },
    { "lirs_multi2", "lirs_multi2.trace.gz", EVICT_TEXT_GZ, 0 },
    { "lirs_sprite", "lirs_sprite.trace.gz", EVICT_TEXT_GZ, 0 },
    { "lirs_2_pools", "lirs_2_pools.trace.gz", EVICT_TEXT_GZ, 0 },
    { "cache2k_web12", "cache2k_web12.trace.xz", EVICT_BE32_XZ, 0 },
    { "cache2k_orm-busy", "cache2k_orm-busy.trace.xz", EVICT_BE32_XZ,
      2000000 },
    { "cloud_physics_w106", "cloud_physics_w106.trace.xz", EVICT_BE32_XZ,
      2000000 },
    { "scarab_recs", "scarab_scarab-recs.trace.xz", EVICT_BE64_XZ, 0 },
    { "cloudPhysicsIO", "libcachesim_cloudPhysicsIO.oracleGeneral.bin.zst",
      EVICT_ORACLE_ZST, 0 },
};

const evict_trace_file_t *evict_trace_files(int *n)
{
    *n = (int)(sizeof trace_files / sizeof trace_files[0]);
    return trace_files;
}

const evict_trace_file_t *evict_trace_file_find(const char *name)
{
    int i, n;
    const evict_trace_file_t *f = evict_trace_files(&n);

    for (i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
    return NULL;
}

/* ------------------------------------------------------------------------
 * Dense renumbering: an open-addressing map from original id to dense id.
 * ---------------------------------------------------------------------- */

typedef struct idmap_t {
    uint64_t *keys;
    uint32_t *vals;     /* dense id + 1; 0 = empty slot */
    uint64_t mask, used;
} idmap_t;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Make an empty map with room for 2^bits slots. 0 when out of memory. */
static int idmap_init(idmap_t *m, unsigned bits)
{
    m->mask = (1ull << bits) - 1;
    m->used = 0;
    m->keys = malloc((m->mask + 1) * sizeof *m->keys);
    m->vals = calloc(m->mask + 1, sizeof *m->vals);
    return m->keys && m->vals;
}

static void idmap_free(idmap_t *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
}

/* Slot of key: where it is, or the empty slot where it would go. */
static uint64_t idmap_slot(const idmap_t *m, uint64_t key)
{
    uint64_t i = mix64(key) & m->mask;

    while (m->vals[i] != 0 && m->keys[i] != key)
        i = (i + 1) & m->mask;
    return i;
}

/* Double the table. 0 when out of memory (the map is unchanged). */
static int idmap_grow(idmap_t *m)
{
    idmap_t big;
    uint64_t i;

    big.mask = m->mask * 2 + 1;
    big.used = m->used;
    big.keys = malloc((big.mask + 1) * sizeof *big.keys);
    big.vals = calloc(big.mask + 1, sizeof *big.vals);
    if (!big.keys || !big.vals) {
        idmap_free(&big);
        return 0;
    }
    for (i = 0; i <= m->mask; i++)
        if (m->vals[i]) {
            uint64_t s = idmap_slot(&big, m->keys[i]);
            big.keys[s] = m->keys[i];
            big.vals[s] = m->vals[i];
        }
    idmap_free(m);
    *m = big;
    return 1;
}

/* Dense id of key, numbering it next when new (*fresh set). Returns 0 when
 * out of memory, else 1. */
static int idmap_get(idmap_t *m, uint64_t key, uint32_t *dense, int *fresh)
{
    uint64_t s;

    if ((m->used + 1) * 2 > m->mask + 1 && !idmap_grow(m))
        return 0;
    s = idmap_slot(m, key);
    *fresh = m->vals[s] == 0;
    if (*fresh) {
        m->keys[s] = key;
        m->vals[s] = (uint32_t)++m->used;
    }
    *dense = m->vals[s] - 1;
    return 1;
}

/* ------------------------------------------------------------------------
 * Building a trace request by request
 * ---------------------------------------------------------------------- */

typedef struct builder_t {
    evict_trace_t *t;
    idmap_t map;
    uint64_t cap, size_cap;
    int with_sizes;
} builder_t;

static int builder_init(builder_t *b, evict_trace_t *t, uint64_t expect,
                        int with_sizes)
{
    memset(t, 0, sizeof *t);
    memset(&b->map, 0, sizeof b->map);
    b->t = t;
    b->cap = expect > 16 ? expect : 16;
    b->size_cap = 0;
    b->with_sizes = with_sizes;
    t->ids = malloc(b->cap * sizeof *t->ids);
    return t->ids != NULL && idmap_init(&b->map, 16);
}

/* Append one request of key (size used only with_sizes). 0 when out of
 * memory. */
static int builder_add(builder_t *b, uint64_t key, uint32_t size)
{
    evict_trace_t *t = b->t;
    uint32_t d;
    int fresh;

    if (!idmap_get(&b->map, key, &d, &fresh))
        return 0;
    if (t->n == b->cap) {
        uint32_t *ids = realloc(t->ids, b->cap * 2 * sizeof *ids);
        if (ids == NULL)
            return 0;
        t->ids = ids;
        b->cap *= 2;
    }
    t->ids[t->n++] = d;
    if (fresh)
        t->nobj = d + 1;
    if (!b->with_sizes)
        return 1;
    if (fresh) {
        if (d >= b->size_cap) {
            uint64_t nc = b->size_cap ? b->size_cap * 2 : 1024;
            uint32_t *s = realloc(t->sizes, nc * sizeof *s);
            if (s == NULL)
                return 0;
            t->sizes = s;
            b->size_cap = nc;
        }
        t->sizes[d] = size;
    }
    else if (t->sizes[d] != size)
        t->size_changes++;
    return 1;
}

static void builder_done(builder_t *b)
{
    idmap_free(&b->map);
}

/* ------------------------------------------------------------------------
 * Decompression through a pipe
 * ---------------------------------------------------------------------- */

typedef struct blob_t {
    unsigned char *data;
    apr_size_t len, cap;
} blob_t;

/* Append n bytes to b. 0 when out of memory. */
static int blob_add(blob_t *b, const void *p, apr_size_t n)
{
    if (b->len + n > b->cap) {
        apr_size_t nc = b->cap ? b->cap : 1 << 20;
        unsigned char *d;
        while (nc < b->len + n)
            nc *= 2;
        d = realloc(b->data, nc);
        if (d == NULL)
            return 0;
        b->data = d;
        b->cap = nc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 1;
}

/* Run "tool -dc path" and collect its whole standard output in *out
 * (malloc'ed). Returns APR_SUCCESS, or the failure to start it, or
 * APR_EGENERAL when it exits with a non-zero status. */
static apr_status_t decompress(const char *tool, const char *path,
                               blob_t *out, apr_pool_t *pool)
{
    const char *argv[4];
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_exit_why_e why;
    char buf[1 << 16];
    int code = -1;
    apr_status_t rv, rrv = APR_SUCCESS;

    memset(out, 0, sizeof *out);
    argv[0] = tool;
    argv[1] = "-dc";
    argv[2] = path;
    argv[3] = NULL;
    rv = apr_procattr_create(&attr, pool);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK,
                                 APR_NO_PIPE);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_error_check_set(attr, 1);
    if (rv == APR_SUCCESS)
        rv = apr_proc_create(&proc, tool, argv, NULL, attr, pool);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "bench_evict: cannot run %s: %s\n", tool,
                bench_strerror(rv));
        return rv;
    }
    for (;;) {
        apr_size_t n = sizeof buf;
        rrv = apr_file_read(proc.out, buf, &n);
        if (n > 0 && !blob_add(out, buf, n)) {
            rrv = APR_ENOMEM;
            break;
        }
        if (rrv != APR_SUCCESS)
            break;
    }
    apr_file_close(proc.out);
    if (apr_proc_wait(&proc, &code, &why, APR_WAIT) != APR_CHILD_DONE
        || why != APR_PROC_EXIT || code != 0) {
        fprintf(stderr, "bench_evict: %s -dc %s failed (exit %d)\n", tool,
                path, code);
        rv = APR_EGENERAL;
    }
    else if (rrv != APR_EOF)
        rv = rrv;
    if (rv != APR_SUCCESS) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return rv;
}

/* ------------------------------------------------------------------------
 * Parsers, one per format. Each returns 0 when out of memory or malformed.
 * ---------------------------------------------------------------------- */

/* Decimal ids, one a line (CRLF or LF); lines "*" are checkpoints. */
static int parse_text(builder_t *b, const blob_t *in, uint64_t limit)
{
    const unsigned char *p = in->data, *end = in->data + in->len;

    while (p < end && (!limit || b->t->n < limit)) {
        uint64_t v = 0;
        int digits = 0;
        while (p < end && (*p == '\r' || *p == '\n' || *p == ' '))
            p++;
        if (p == end)
            break;
        if (*p == '*') {
            while (p < end && *p != '\n')
                p++;
            continue;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p++ - '0');
            digits++;
        }
        if (digits == 0 || (p < end && *p != '\r' && *p != '\n'
                            && *p != ' '))
            return 0;
        if (!builder_add(b, v, 1))
            return 0;
    }
    return 1;
}

/* Big-endian ids of width bytes (4 or 8). */
static int parse_be(builder_t *b, const blob_t *in, unsigned width,
                    uint64_t limit)
{
    apr_size_t i, n = in->len / width;

    if (in->len % width)
        return 0;
    if (limit && n > limit)
        n = limit;
    for (i = 0; i < n; i++) {
        const unsigned char *p = in->data + i * width;
        uint64_t v = 0;
        unsigned k;
        for (k = 0; k < width; k++)
            v = (v << 8) | p[k];
        if (!builder_add(b, v, 1))
            return 0;
    }
    return 1;
}

static uint64_t le(const unsigned char *p, unsigned width)
{
    uint64_t v = 0;
    while (width--)
        v = (v << 8) | p[width];
    return v;
}

/* libCacheSim oracleGeneral: <u32 time, u64 id, u32 size, i64 next>. */
static int parse_oracle(builder_t *b, const blob_t *in, uint64_t limit)
{
    apr_size_t i, n = in->len / 24;

    if (in->len % 24)
        return 0;
    if (limit && n > limit)
        n = limit;
    for (i = 0; i < n; i++) {
        const unsigned char *p = in->data + i * 24;
        if (!builder_add(b, le(p + 4, 8), (uint32_t)le(p + 12, 4)))
            return 0;
    }
    return 1;
}

apr_status_t evict_trace_load(evict_trace_t *t, const char *dir,
                              const evict_trace_file_t *f, apr_pool_t *pool)
{
    const char *path = apr_pstrcat(pool, dir, "/", f->file, NULL);
    const char *tool = f->format == EVICT_TEXT_GZ ? "gzip"
                       : f->format == EVICT_ORACLE_ZST ? "zstd" : "xz";
    apr_finfo_t fi;
    builder_t b;
    blob_t raw;
    int ok;
    apr_status_t rv;

    memset(t, 0, sizeof *t);
    if (apr_stat(&fi, path, APR_FINFO_TYPE, pool) != APR_SUCCESS)
        return APR_ENOENT;
    rv = decompress(tool, path, &raw, pool);
    if (rv != APR_SUCCESS)
        return rv;
    if (!builder_init(&b, t, raw.len / 4, f->format == EVICT_ORACLE_ZST)) {
        builder_done(&b);
        evict_trace_free(t);
        free(raw.data);
        return APR_ENOMEM;
    }
    switch (f->format) {
    case EVICT_TEXT_GZ: ok = parse_text(&b, &raw, f->limit); break;
    case EVICT_BE32_XZ: ok = parse_be(&b, &raw, 4, f->limit); break;
    case EVICT_BE64_XZ: ok = parse_be(&b, &raw, 8, f->limit); break;
    default: ok = parse_oracle(&b, &raw, f->limit); break;
    }
    builder_done(&b);
    free(raw.data);
    if (!ok || t->n == 0) {
        fprintf(stderr, "bench_evict: %s: malformed or empty, or out of "
                "memory\n", path);
        evict_trace_free(t);
        return APR_EGENERAL;
    }
    t->name = f->name;
    return APR_SUCCESS;
}

void evict_trace_free(evict_trace_t *t)
{
    free(t->ids);
    free(t->sizes);
    t->ids = NULL;
    t->sizes = NULL;
}

/* ------------------------------------------------------------------------
 * Synthetic traces
 * ---------------------------------------------------------------------- */

typedef struct zipf_t {
    double *cdf;
    uint32_t *perm;
    uint64_t n;
} zipf_t;

/* Cumulative Zipf(alpha) law over n ranks, ranks shuffled to ids. 0 when
 * out of memory. */
static int zipf_make(zipf_t *z, uint64_t n, double alpha, bench_rng_t *rng)
{
    double sum = 0;
    uint64_t i;

    z->n = n;
    z->cdf = malloc(n * sizeof *z->cdf);
    z->perm = malloc(n * sizeof *z->perm);
    if (!z->cdf || !z->perm)
        return 0;
    for (i = 0; i < n; i++) {
        sum += 1.0 / pow((double)(i + 1), alpha);
        z->cdf[i] = sum;
    }
    for (i = 0; i < n; i++) {
        z->cdf[i] /= sum;
        z->perm[i] = (uint32_t)i;
    }
    for (i = n - 1; i > 0; i--) {
        uint64_t j = bench_rng_below(rng, i + 1);
        uint32_t tmp = z->perm[i];
        z->perm[i] = z->perm[j];
        z->perm[j] = tmp;
    }
    return 1;
}

static uint32_t zipf_draw(const zipf_t *z, bench_rng_t *rng)
{
    double u = bench_rng_double(rng);
    uint64_t lo = 0, hi = z->n - 1;

    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return z->perm[lo];
}

static void zipf_free(zipf_t *z)
{
    free(z->cdf);
    free(z->perm);
}

int evict_trace_synthetic(evict_trace_t *t, uint64_t keys, uint64_t n,
                          double alpha, int scan, uint64_t scan_every,
                          uint64_t scan_len, uint64_t seed, apr_pool_t *pool)
{
    bench_rng_t rng;
    builder_t b;
    zipf_t z;
    uint64_t i = 0, next_scan = scan_every, fresh = keys;
    int ok = 1;

    memset(t, 0, sizeof *t);
    memset(&b, 0, sizeof b);
    bench_rng_seed(&rng, seed * 31 + (uint64_t)(alpha * 1000) + scan);
    if (!zipf_make(&z, keys, alpha, &rng) || !builder_init(&b, t, n, 0)) {
        zipf_free(&z);
        builder_done(&b);
        evict_trace_free(t);
        return 0;
    }
    while (ok && i < n) {
        if (scan && i >= next_scan) {
            uint64_t j;
            for (j = 0; ok && j < scan_len && i < n; j++, i++)
                ok = builder_add(&b, fresh++, 1);
            next_scan = i + scan_every;
            continue;
        }
        ok = builder_add(&b, zipf_draw(&z, &rng), 1);
        i++;
    }
    zipf_free(&z);
    builder_done(&b);
    if (!ok) {
        evict_trace_free(t);
        return 0;
    }
    t->name = scan ? apr_psprintf(pool, "scan(zipf %.2f)", alpha)
                   : apr_psprintf(pool, "zipf %.2f", alpha);
    return 1;
}
