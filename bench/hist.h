/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hist.h - a log-linear latency histogram in the style of HdrHistogram.
 *
 * Values (nanoseconds) below 256 are counted exactly; above, each power of
 * two is split into 128 equal sub-buckets, so every recorded value is kept
 * to within 1/128 (0.8%) of its true size, from 1 ns to hours, in a fixed
 * 58 KiB array. Recording is one count-leading-zeros and one increment.
 * Percentiles report the highest value equivalent to the bucket (as
 * HdrHistogram does), so they never understate a latency.
 *
 * Coordinated omission: the benchmarks here are closed-loop (each process
 * issues its next request only when the previous one returned), so a
 * stall delays the requests that would have been issued during it and the
 * histogram holds one long sample where an open-loop client would have
 * seen many. High percentiles are therefore a lower bound for a client
 * with a fixed arrival rate. hist_record_corrected() adds the synthetic
 * samples HdrHistogram's recordValueWithExpectedInterval would.
 *
 * Histograms travel between processes as text (hist_write / hist_read_line)
 * so helper processes can report to the parent over a pipe.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_EXACT_BITS 8u                       /* 256 exact values */
#define HIST_SUB_BITS   7u                       /* 128 per power of two */
#define HIST_BUCKETS    ((1u << HIST_EXACT_BITS) \
                         + (64u - HIST_EXACT_BITS) * (1u << HIST_SUB_BITS))

typedef struct hist_t {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t min, max;
    double sum;
} hist_t;

void hist_init(hist_t *h);
void hist_record(hist_t *h, uint64_t v);
/* Record v, plus synthetic samples v - k*interval while they exceed
 * interval (HdrHistogram's coordinated-omission correction). */
void hist_record_corrected(hist_t *h, uint64_t v, uint64_t interval);
void hist_merge(hist_t *dst, const hist_t *src);
/* Smallest recorded-bucket value v such that at least p percent (0..100)
 * of the samples are <= v; 0 when empty. */
uint64_t hist_percentile(const hist_t *h, double p);
double hist_mean(const hist_t *h);

/* Bucket bounds: the lowest and highest value counted in bucket i. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);
unsigned hist_index(uint64_t v);

/* Text form: "hist NAME total min max sum" then "b INDEX COUNT" for each
 * non-empty bucket, then "endhist". */
void hist_write(const hist_t *h, const char *name, FILE *out);
/* Feed one line of the text form: returns 1 when the line was consumed
 * (and *done is set on "endhist"), 0 when it is not a histogram line. */
int hist_read_line(hist_t *h, const char *line, int *done);

#endif /* BENCH_HIST_H */
