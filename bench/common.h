/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.h - small pieces shared by the benchmark programs: a monotonic
 * nanosecond clock, a fast seeded random generator, fixed-width printable
 * keys, number and list parsing, medians, JSON string output, helper
 * processes started by re-executing the running binary, and segment sizing.
 *
 * None of this is timed: keys and random sequences are generated before a
 * measurement starts.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "shmcache.h"

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);
/* Cost of one bench_now_ns() call (median of a short calibration). */
double bench_timer_cost_ns(void);
/* CPU time this process has used, in nanoseconds (user + system). */
uint64_t bench_cpu_ns(void);

/* xoshiro256** seeded through splitmix64. */
typedef struct bench_rng_t {
    uint64_t s[4];
} bench_rng_t;
void bench_rng_seed(bench_rng_t *r, uint64_t seed);
uint64_t bench_rng_next(bench_rng_t *r);
double bench_rng_double(bench_rng_t *r);            /* [0, 1) */
uint64_t bench_rng_below(bench_rng_t *r, uint64_t n); /* [0, n) */

/* Write the printable key of id into buf: exactly size bytes, "k" then the
 * id in decimal, zero-padded. Returns 0 when size cannot hold the id. */
int bench_key(char *buf, unsigned size, uint64_t id);
/* Smallest key size that holds every id below n. */
unsigned bench_key_min_size(uint64_t n);

/* "100000", "100k", "1M", "64MiB", "1.5G": a count or byte size (k, M, G
 * are powers of 1000 for counts, 1024 when followed by "iB" or "B").
 * Returns 0 on a malformed number. */
int bench_parse_u64(const char *s, uint64_t *out);
/* Comma-separated list of unsigned numbers (bench_parse_u64 each). */
int bench_parse_u64_list(const char *s, uint64_t *out, int max, int *n);
/* Comma-separated list of doubles. */
int bench_parse_double_list(const char *s, double *out, int max, int *n);

double bench_median(const double *v, int n);
uint64_t bench_pow2_at_least(uint64_t n);

/* JSON string literal with escapes. */
void bench_json_str(FILE *f, const char *s);

/* Path of the running executable (for re-executing it as a helper). */
const char *bench_self_exe(const char *argv0, apr_pool_t *pool);

/* A helper process with pipes on its stdin and stdout. */
typedef struct bench_helper_t {
    apr_proc_t proc;
    int alive;
} bench_helper_t;
/* Start exe with argv (argv[0] included, NULL-terminated). stderr is
 * inherited. */
apr_status_t bench_helper_start(bench_helper_t *h, const char *exe,
                                const char *const *argv, apr_pool_t *pool);
/* Send one line (a newline is appended). */
apr_status_t bench_helper_send(bench_helper_t *h, const char *line);
/* Read one line into buf (newline stripped). APR_EOF at the end. */
apr_status_t bench_helper_read(bench_helper_t *h, char *buf, apr_size_t size);
/* Close the pipes and wait for the process; returns its exit code or -1. */
int bench_helper_finish(bench_helper_t *h);

/* Bytes one entry of a key_len-byte key and value_len-byte value occupies
 * in the data region, as measured on a fresh cache (bytes_used per item
 * plus the allocator's per-block header). 0 on failure. */
apr_uint64_t bench_entry_footprint(apr_size_t key_len, apr_size_t value_len,
                                   apr_pool_t *pool);

/* Create a cache at path whose data region is as close as the layout
 * allows to data_bytes (segment metadata is added on top). */
apr_status_t bench_cache_create_data(shmcache_t **c, const char *path,
                                     apr_uint64_t data_bytes,
                                     apr_uint32_t buckets,
                                     apr_uint32_t max_value,
                                     apr_pool_t *pool);

/* A per-process scratch path for a segment: dir/shmcache-bench-TAG.PID */
const char *bench_tmp_path(const char *tag, apr_pool_t *pool);

/* Describe a status. */
const char *bench_strerror(apr_status_t rv);

#endif /* BENCH_COMMON_H */
