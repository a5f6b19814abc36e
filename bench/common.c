/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.c - shared benchmark helpers (see common.h).
 */
#include "common.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#include <unistd.h>
#endif

uint64_t bench_now_ns(void)
{
#if defined(_WIN32)
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    return (uint64_t)((double)t.QuadPart * 1e9 / (double)freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

uint64_t bench_cpu_ns(void)
{
#if defined(_WIN32)
    FILETIME c, e, k, u;
    ULARGE_INTEGER kk, uu;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u))
        return 0;
    kk.LowPart = k.dwLowDateTime;
    kk.HighPart = k.dwHighDateTime;
    uu.LowPart = u.dwLowDateTime;
    uu.HighPart = u.dwHighDateTime;
    return (kk.QuadPart + uu.QuadPart) * 100u;
#else
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

double bench_timer_cost_ns(void)
{
    double v[7];
    int i, j;

    for (i = 0; i < 7; i++) {
        uint64_t t0 = bench_now_ns(), t1;
        volatile uint64_t sink = 0;
        for (j = 0; j < 20000; j++)
            sink += bench_now_ns();
        t1 = bench_now_ns();
        v[i] = (double)(t1 - t0) / 20000.0;
        (void)sink;
    }
    return bench_median(v, 7);
}

/* ------------------------------------------------------------------------
 * Random numbers
 * ---------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bench_rng_seed(bench_rng_t *r, uint64_t seed)
{
    int i;
    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t bench_rng_next(bench_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bench_rng_double(bench_rng_t *r)
{
    return (double)(bench_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t bench_rng_below(bench_rng_t *r, uint64_t n)
{
    /* multiply-shift on the top 32 bits (bias below 2^-32 * n) */
    if (n <= 0xFFFFFFFFull)
        return ((bench_rng_next(r) >> 32) * n) >> 32;
    return bench_rng_next(r) % n;
}

/* ------------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------- */

unsigned bench_key_min_size(uint64_t n)
{
    unsigned digits = 1;
    uint64_t top = n ? n - 1 : 0;

    while (top >= 10) {
        top /= 10;
        digits++;
    }
    return digits + 1;
}

int bench_key(char *buf, unsigned size, uint64_t id)
{
    unsigned i;

    if (size < bench_key_min_size(id + 1))
        return 0;
    buf[0] = 'k';
    for (i = size - 1; i >= 1; i--) {
        buf[i] = (char)('0' + id % 10);
        id /= 10;
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Parsing and small maths
 * ---------------------------------------------------------------------- */

int bench_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    double v, mult = 1;

    if (s == NULL || *s == '\0')
        return 0;
    v = strtod(s, &end);
    if (end == s || v < 0)
        return 0;
    if (*end) {
        int bin = strcmp(end + 1, "iB") == 0 || strcmp(end + 1, "B") == 0
                  || strcmp(end + 1, "i") == 0;
        double k = bin ? 1024.0 : 1000.0;
        switch (toupper((unsigned char)*end)) {
        case 'K': mult = k; break;
        case 'M': mult = k * k; break;
        case 'G': mult = k * k * k; break;
        default: return 0;
        }
        if (end[1] && !bin)
            return 0;
    }
    *out = (uint64_t)(v * mult + 0.5);
    return 1;
}

int bench_parse_u64_list(const char *s, uint64_t *out, int max, int *n)
{
    char buf[512], *tok, *save = NULL;

    *n = 0;
    if (strlen(s) >= sizeof buf)
        return 0;
    strcpy(buf, s);
    for (tok = apr_strtok(buf, ",", &save); tok;
         tok = apr_strtok(NULL, ",", &save)) {
        if (*n >= max || !bench_parse_u64(tok, &out[*n]))
            return 0;
        (*n)++;
    }
    return *n > 0;
}

int bench_parse_double_list(const char *s, double *out, int max, int *n)
{
    char buf[512], *tok, *save = NULL, *end;

    *n = 0;
    if (strlen(s) >= sizeof buf)
        return 0;
    strcpy(buf, s);
    for (tok = apr_strtok(buf, ",", &save); tok;
         tok = apr_strtok(NULL, ",", &save)) {
        if (*n >= max)
            return 0;
        out[*n] = strtod(tok, &end);
        if (end == tok || *end)
            return 0;
        (*n)++;
    }
    return *n > 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *v, int n)
{
    double tmp[64];
    int i;

    if (n <= 0)
        return 0;
    if (n > 64)
        n = 64;
    for (i = 0; i < n; i++)
        tmp[i] = v[i];
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

uint64_t bench_pow2_at_least(uint64_t n)
{
    uint64_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

void bench_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

const char *bench_strerror(apr_status_t rv)
{
    static char buf[256];
    return shmcache_strerror(rv, buf, sizeof buf);
}

/* ------------------------------------------------------------------------
 * Helper processes
 * ---------------------------------------------------------------------- */

const char *bench_self_exe(const char *argv0, apr_pool_t *pool)
{
#if defined(__linux__)
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        return apr_pstrdup(pool, buf);
    }
#endif
    return argv0;
}

apr_status_t bench_helper_start(bench_helper_t *h, const char *exe,
                                const char *const *argv, apr_pool_t *pool)
{
    apr_procattr_t *attr;
    apr_status_t rv;

    memset(h, 0, sizeof *h);
    rv = apr_procattr_create(&attr, pool);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_FULL_BLOCK,
                                 APR_NO_PIPE);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM_ENV);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_error_check_set(attr, 1);
    if (rv == APR_SUCCESS)
        rv = apr_proc_create(&h->proc, exe, argv, NULL, attr, pool);
    if (rv == APR_SUCCESS)
        h->alive = 1;
    return rv;
}

apr_status_t bench_helper_send(bench_helper_t *h, const char *line)
{
    apr_status_t rv = apr_file_puts(line, h->proc.in);
    if (rv == APR_SUCCESS)
        rv = apr_file_putc('\n', h->proc.in);
    if (rv == APR_SUCCESS)
        rv = apr_file_flush(h->proc.in);
    return rv;
}

apr_status_t bench_helper_read(bench_helper_t *h, char *buf, apr_size_t size)
{
    apr_status_t rv = apr_file_gets(buf, (int)size, h->proc.out);
    apr_size_t n;

    if (rv != APR_SUCCESS)
        return rv;
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return APR_SUCCESS;
}

int bench_helper_finish(bench_helper_t *h)
{
    int code = -1;
    apr_exit_why_e why;

    if (!h->alive)
        return -1;
    apr_file_close(h->proc.in);
    apr_file_close(h->proc.out);
    if (apr_proc_wait(&h->proc, &code, &why, APR_WAIT) != APR_CHILD_DONE)
        code = -1;
    else if (why != APR_PROC_EXIT)
        code = -1;
    h->alive = 0;
    return code;
}

/* ------------------------------------------------------------------------
 * Segments
 * ---------------------------------------------------------------------- */

const char *bench_tmp_path(const char *tag, apr_pool_t *pool)
{
#if defined(_WIN32)
    const char *dir = getenv("TEMP") ? getenv("TEMP") : ".";
    unsigned long pid = GetCurrentProcessId();
#else
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    unsigned long pid = (unsigned long)getpid();
#endif
    return apr_psprintf(pool, "%s/shmcache-bench-%s.%lu", dir, tag, pid);
}

apr_uint64_t bench_entry_footprint(apr_size_t key_len, apr_size_t value_len,
                                   apr_pool_t *pool)
{
    enum { N = 256 };
    const char *path = bench_tmp_path("footprint", pool);
    shmcache_options_t o;
    shmcache_stats_t before, after;
    shmcache_t *c;
    char *key = apr_pcalloc(pool, key_len + 1);
    char *val = apr_pcalloc(pool, value_len + 1);
    apr_uint64_t per = 0;
    unsigned i;

    shmcache_remove(path, pool);
    shmcache_options_init(&o);
    o.size = (apr_uint64_t)N * (key_len + value_len + 256) * 2 + (4u << 20);
    o.max_value = value_len > o.max_value ? (apr_uint32_t)value_len : o.max_value;
    o.max_key = key_len > o.max_key ? (apr_uint32_t)key_len : o.max_key;
    o.slots = 8;
    if (shmcache_create(&c, path, &o, pool) != APR_SUCCESS)
        return 0;
    memset(val, 'v', value_len);
    shmcache_stats(c, &before);
    for (i = 0; i < N; i++) {
        memset(key, 'f', key_len);
        bench_key(key, (unsigned)key_len, i);
        if (shmcache_set(c, key, key_len, val, value_len,
                         SHMCACHE_TTL_FOREVER, NULL) != APR_SUCCESS)
            break;
    }
    shmcache_stats(c, &after);
    /* Splitting an entry off the free space lowers bytes_free by the
     * entry's whole footprint: payload, block header and padding. */
    if (i == N && after.items == N && before.bytes_free > after.bytes_free)
        per = (before.bytes_free - after.bytes_free) / N;
    shmcache_close(c);
    shmcache_remove(path, pool);
    return per;
}

apr_status_t bench_cache_create_data(shmcache_t **c, const char *path,
                                     apr_uint64_t data_bytes,
                                     apr_uint32_t buckets,
                                     apr_uint32_t max_value,
                                     apr_pool_t *pool)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    apr_uint64_t size = data_bytes + (1u << 20);
    apr_status_t rv = APR_SUCCESS;
    int tries;

    shmcache_options_init(&o);
    o.slots = 8;
    o.buckets = buckets;
    if (max_value)
        o.max_value = max_value;
    for (tries = 0; tries < 4; tries++) {
        apr_int64_t diff;
        o.size = size < SHMCACHE_MIN_SIZE ? SHMCACHE_MIN_SIZE : size;
        if (o.max_value > o.size / 2)
            o.max_value = (apr_uint32_t)(o.size / 4);
        shmcache_remove(path, pool);
        rv = shmcache_create(c, path, &o, pool);
        if (rv != APR_SUCCESS)
            return rv;
        rv = shmcache_stats(*c, &st);
        if (rv != APR_SUCCESS)
            return rv;
        diff = (apr_int64_t)data_bytes - (apr_int64_t)st.data_size;
        if (diff > -4096 && diff < 4096)
            return APR_SUCCESS;
        if ((apr_int64_t)size + diff < (apr_int64_t)SHMCACHE_MIN_SIZE
            && o.size == SHMCACHE_MIN_SIZE)
            return APR_SUCCESS;    /* as small as a segment can be */
        if (tries == 3)
            return APR_SUCCESS;    /* close enough: the caller reads
                                      data_size from the stats anyway */
        shmcache_close(*c);
        size = (apr_uint64_t)((apr_int64_t)size + diff);
    }
    return rv;
}
