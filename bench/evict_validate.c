/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_validate.c - our simulators against libCacheSim's published miss
 * counts (see evict_validate.h). The figures below are the constants of
 * libCacheSim's test/test_evictionAlgo.c (GPL-3.0 repository; numbers, not
 * code): LRU, FIFO, Clock (1-bit), Sieve, S3FIFO
 * ("move-to-main-threshold=2"), ARC. (The file's LFU tests carry the same
 * numbers as its Sieve test; the Sieve simulator here reproduces them
 * exactly, so they are Sieve's.)
 */
#include "evict_validate.h"

#include <inttypes.h>
#include <string.h>

#include "evict_sim.h"

static const uint64_t pub_lru[EVICT_VALIDATE_SIZES] = {
    93374, 89783, 83572, 81722, 72494, 72104, 71972, 71704 };
static const uint64_t pub_fifo[EVICT_VALIDATE_SIZES] = {
    93403, 89386, 84387, 84025, 72498, 72228, 72182, 72140 };
static const uint64_t pub_clock[EVICT_VALIDATE_SIZES] = {
    93313, 89775, 83411, 81328, 74815, 72283, 71927, 64456 };
static const uint64_t pub_sieve[EVICT_VALIDATE_SIZES] = {
    91699, 86720, 78578, 76707, 69945, 66221, 64445, 64376 };
static const uint64_t pub_s3fifo[EVICT_VALIDATE_SIZES] = {
    89307, 82387, 77041, 76791, 71300, 70343, 70455, 70355 };
static const uint64_t pub_arc[EVICT_VALIDATE_SIZES] = {
    90252, 85861, 78168, 74297, 67381, 65685, 64439, 64772 };

int evict_validate(evict_validation_t *v, const evict_trace_t *t)
{
    int p, i;

    memset(v, 0, sizeof *v);
    if (t->sizes == NULL)
        return 0;
    v->requests = t->n;
    v->published[EVICT_LRU] = pub_lru;
    v->published[EVICT_FIFO] = pub_fifo;
    v->published[EVICT_CLOCK] = pub_clock;
    v->published[EVICT_SIEVE] = pub_sieve;
    v->published[EVICT_S3FIFO] = pub_s3fifo;
    v->published[EVICT_ARC] = pub_arc;
    for (p = 0; p < EVICT_NPOLICIES; p++) {
        v->exact[p] = v->published[p] != NULL;
        for (i = 0; i < EVICT_VALIDATE_SIZES; i++) {
            uint64_t hits;
            v->budget_mib[i] = 128u * (uint64_t)(i + 1);
            if (!evict_sim_run((evict_policy_e)p, t, v->budget_mib[i] << 20,
                               1, &hits))
                return 0;
            v->ours[p][i] = t->n - hits;
            if (v->published[p] && v->ours[p][i] != v->published[p][i])
                v->exact[p] = 0;
        }
    }
    v->ran = 1;
    return 1;
}

void evict_validate_print(const evict_validation_t *v, FILE *out)
{
    int p, i;

    fprintf(out, "simulators against libCacheSim's published miss counts "
            "(cloudPhysicsIO with object sizes, %" PRIu64 " requests; "
            "byte budgets in MiB; ours / published):\n", v->requests);
    fprintf(out, "%-8s", "policy");
    for (i = 0; i < EVICT_VALIDATE_SIZES; i++)
        fprintf(out, " %13" PRIu64, v->budget_mib[i]);
    fprintf(out, "  verdict\n");
    for (p = 0; p < EVICT_NPOLICIES; p++) {
        fprintf(out, "%-8s", evict_policy_name((evict_policy_e)p));
        for (i = 0; i < EVICT_VALIDATE_SIZES; i++) {
            if (v->published[p])
                fprintf(out, " %6" PRIu64 "/%-6" PRIu64, v->ours[p][i],
                        v->published[p][i]);
            else
                fprintf(out, " %6" PRIu64 "/%-6s", v->ours[p][i], "-");
        }
        fprintf(out, "  %s\n", v->published[p] == NULL ? "none published"
                : v->exact[p] ? "exact" : "DIFFERS");
    }
}
