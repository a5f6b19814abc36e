/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hist.c - the log-linear latency histogram (see hist.h).
 */
#include "hist.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define EXACT (1u << HIST_EXACT_BITS)
#define SUB   (1u << HIST_SUB_BITS)

static unsigned top_bit(uint64_t v)
{
#if defined(__GNUC__)
    return 63u - (unsigned)__builtin_clzll(v);
#else
    unsigned b = 0;
    while (v >>= 1)
        b++;
    return b;
#endif
}

unsigned hist_index(uint64_t v)
{
    unsigned m, shift;

    if (v < EXACT)
        return (unsigned)v;
    m = top_bit(v);                         /* >= HIST_EXACT_BITS */
    shift = m - (HIST_SUB_BITS);            /* keeps SUB..2*SUB-1 on top */
    return EXACT + (m - HIST_EXACT_BITS) * SUB
           + (unsigned)((v >> shift) - SUB);
}

uint64_t hist_bucket_low(unsigned i)
{
    unsigned j, m;

    if (i < EXACT)
        return i;
    j = i - EXACT;
    m = j / SUB + HIST_EXACT_BITS;
    return (uint64_t)(j % SUB + SUB) << (m - HIST_SUB_BITS);
}

uint64_t hist_bucket_high(unsigned i)
{
    unsigned m;

    if (i < EXACT)
        return i;
    m = (i - EXACT) / SUB + HIST_EXACT_BITS;
    return hist_bucket_low(i) + ((uint64_t)1 << (m - HIST_SUB_BITS)) - 1;
}

void hist_init(hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_record(hist_t *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_record_corrected(hist_t *h, uint64_t v, uint64_t interval)
{
    hist_record(h, v);
    if (interval == 0)
        return;
    while (v > interval) {
        v -= interval;
        if (v < interval)
            break;
        hist_record(h, v);
    }
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    unsigned i;

    for (i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const hist_t *h, double p)
{
    uint64_t want, seen = 0;
    unsigned i;

    if (h->total == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    want = (uint64_t)((p / 100.0) * (double)h->total + 0.5);
    if (want == 0)
        want = 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t hi = hist_bucket_high(i);
            return hi < h->max ? hi : h->max;
        }
    }
    return h->max;
}

double hist_mean(const hist_t *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

void hist_write(const hist_t *h, const char *name, FILE *out)
{
    unsigned i;

    fprintf(out, "hist %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %.0f\n", name,
            h->total, h->total ? h->min : 0, h->max, h->sum);
    for (i = 0; i < HIST_BUCKETS; i++)
        if (h->counts[i])
            fprintf(out, "b %u %" PRIu64 "\n", i, h->counts[i]);
    fputs("endhist\n", out);
}

int hist_read_line(hist_t *h, const char *line, int *done)
{
    unsigned i;
    uint64_t n;

    *done = 0;
    if (strncmp(line, "b ", 2) == 0) {
        if (sscanf(line + 2, "%u %" SCNu64, &i, &n) == 2 && i < HIST_BUCKETS)
            h->counts[i] += n;
        return 1;
    }
    if (strncmp(line, "endhist", 7) == 0) {
        *done = 1;
        return 1;
    }
    if (strncmp(line, "hist ", 5) == 0) {
        char name[32];
        uint64_t total, mn, mx;
        double sum;
        if (sscanf(line + 5, "%31s %" SCNu64 " %" SCNu64 " %" SCNu64 " %lf",
                   name, &total, &mn, &mx, &sum) == 5) {
            h->total += total;
            h->sum += sum;
            if (total && mn < h->min)
                h->min = mn;
            if (mx > h->max)
                h->max = mx;
        }
        return 1;
    }
    return 0;
}
