/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_validate.h - the simulators of evict_sim.h checked against the
 * exact miss counts libCacheSim's test suite publishes
 * (test/test_evictionAlgo.c, snapshot aa0fc40914b2) for its
 * cloudPhysicsIO trace with object sizes, at byte budgets of 128, 256, ...
 * 1024 MiB.
 */
#ifndef BENCH_EVICT_VALIDATE_H
#define BENCH_EVICT_VALIDATE_H

#include <stdio.h>

#include "evict_traces.h"

#define EVICT_VALIDATE_SIZES 8

typedef struct evict_validation_t {
    int ran;
    uint64_t requests;                  /* 113,872 expected */
    uint64_t budget_mib[EVICT_VALIDATE_SIZES];
    uint64_t ours[6][EVICT_VALIDATE_SIZES];       /* by evict_policy_e */
    const uint64_t *published[6];                 /* NULL: none */
    int exact[6];                       /* 1 when all 8 counts match */
} evict_validation_t;

/* Run every policy in byte mode over t (the cloudPhysicsIO trace, which
 * carries sizes) at the 8 budgets and compare. Returns 0 when out of
 * memory or t has no sizes. */
int evict_validate(evict_validation_t *v, const evict_trace_t *t);

/* Print the comparison, one line per policy, with notes. */
void evict_validate_print(const evict_validation_t *v, FILE *out);

#endif /* BENCH_EVICT_VALIDATE_H */
