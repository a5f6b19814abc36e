/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_traces.h - request traces for the eviction benchmark: the real
 * traces kept beside the repository (../shared/traces, see its README) and
 * the synthetic Zipf and scan traces, all turned into one form.
 *
 * A trace is a sequence of object ids renumbered densely in order of first
 * request (0, 1, 2, ...): the simulators index arrays by id, and the real
 * cache uses the dense id as its key (a one-to-one renaming, so hit ratios
 * are those of the original ids). Traces that carry object sizes keep one
 * size per object.
 *
 * Compressed files are read by running the distribution's own tool
 * (gzip -dc, xz -dc, zstd -dc) through an APR pipe: no compression library
 * becomes a build dependency of the benchmarks (libzstd-dev, for one, is
 * not otherwise needed), the tools are on every Debian system (scripts/
 * deps.sh lists xz-utils and zstd), and decompression is not timed.
 */
#ifndef BENCH_EVICT_TRACES_H
#define BENCH_EVICT_TRACES_H

#include <stdint.h>

#include <apr_pools.h>

#include "common.h"

typedef struct evict_trace_t {
    const char *name;
    uint32_t *ids;      /* n requests, dense ids below nobj (malloc'ed) */
    uint32_t *sizes;    /* nobj object sizes in bytes, NULL if none */
    uint64_t n;         /* requests */
    uint32_t nobj;      /* distinct objects */
    uint64_t size_changes; /* requests whose size differed from the first
                              one of their object (the first is kept) */
} evict_trace_t;

/* How a trace file is stored. */
typedef enum evict_format_e {
    EVICT_TEXT_GZ,      /* gzip text, one decimal id a line, "*" skipped */
    EVICT_BE32_XZ,      /* xz, big-endian 32-bit ids */
    EVICT_BE64_XZ,      /* xz, big-endian 64-bit ids */
    EVICT_ORACLE_ZST    /* zstd, libCacheSim oracleGeneral 24-byte records */
} evict_format_e;

typedef struct evict_trace_file_t {
    const char *name;   /* short name, e.g. "lirs_multi2" */
    const char *file;   /* file name inside the traces directory */
    evict_format_e format;
    uint64_t limit;     /* use only the first limit requests, 0 = all */
} evict_trace_file_t;

/* The real traces, in the order of the table. Sets *n. */
const evict_trace_file_t *evict_trace_files(int *n);

/* Find the real trace called name; NULL when there is none. */
const evict_trace_file_t *evict_trace_file_find(const char *name);

/* Read f from dir into t. Returns APR_SUCCESS; APR_ENOENT when the file is
 * missing; APR_EGENERAL (with a message on stderr) when the decompressor
 * fails or the content is malformed; APR_ENOMEM. t is freed on failure. */
apr_status_t evict_trace_load(evict_trace_t *t, const char *dir,
                              const evict_trace_file_t *f, apr_pool_t *pool);

/* Synthetic trace of n requests: Zipf(alpha) over keys ids (rank -> id
 * through a seeded random permutation); with scan, every scan_every
 * requests a run of scan_len ids never requested again. Returns 0 when out
 * of memory. */
int evict_trace_synthetic(evict_trace_t *t, uint64_t keys, uint64_t n,
                          double alpha, int scan, uint64_t scan_every,
                          uint64_t scan_len, uint64_t seed, apr_pool_t *pool);

/* Free what the trace holds (safe on a zeroed or freed trace). */
void evict_trace_free(evict_trace_t *t);

#endif /* BENCH_EVICT_TRACES_H */
