/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_sim.h - exact simulators of the published eviction policies, the
 * yardsticks bench_evict holds the real cache against.
 *
 * Every request is cache-aside: a hit, or a miss followed by an insert
 * (after evicting until the object fits). Capacity is either a number of
 * objects (every object costs 1) or a number of bytes (each object costs
 * its size, for traces that carry sizes); an object larger than the
 * capacity is not inserted. The behaviour follows libCacheSim (the
 * reference its test suite pins down with exact miss counts), so the two
 * can be compared figure for figure:
 *
 *   LRU     hash map + doubly linked list; a hit moves to the head.
 *   FIFO    insertion order, hits change nothing.
 *   CLOCK   FIFO with one reference bit: a hit sets it; the victim search
 *           at the tail clears a set bit and re-inserts at the head.
 *   SIEVE   (Zhang et al., NSDI'24) FIFO order with a visited bit and a
 *           hand that moves from the tail towards the head, clearing bits
 *           and evicting the first unvisited entry where it stands (no
 *           re-insertion); it resumes from there.
 *   S3FIFO  (Yang et al., SOSP'23) a small FIFO (10% of the capacity), a
 *           main FIFO (90%) and a ghost FIFO of evicted small-queue ids
 *           (90% of the capacity, ids only); 2-bit frequency (0..3) counted
 *           on hits. The small queue's tail moves to main when read at
 *           least twice (libCacheSim's test setting), else goes to the
 *           ghost; a miss found in the ghost is inserted into main; main's
 *           tail is re-inserted with freq-1 while freq > 0. Evicts from
 *           main when main is over its share or small is empty.
 *   ARC     (Megiddo & Modha, FAST'03) T1/T2 resident LRU lists, B1/B2
 *           ghost lists, adaptive target p, as libCacheSim implements it
 *           (with sizes, p moves in bytes).
 */
#ifndef BENCH_EVICT_SIM_H
#define BENCH_EVICT_SIM_H

#include <stdint.h>

#include "evict_traces.h"

typedef enum evict_policy_e {
    EVICT_LRU,
    EVICT_FIFO,
    EVICT_CLOCK,
    EVICT_SIEVE,
    EVICT_S3FIFO,
    EVICT_ARC,
    EVICT_NPOLICIES
} evict_policy_e;

/* Display name of p ("LRU", "S3-FIFO", ...). */
const char *evict_policy_name(evict_policy_e p);

/* Replay t into policy p of capacity budget: objects when bytes is 0,
 * bytes of t->sizes otherwise (t->sizes must then be set). Sets *hits.
 * Returns 0 when out of memory. */
int evict_sim_run(evict_policy_e p, const evict_trace_t *t, uint64_t budget,
                  int bytes, uint64_t *hits);

#endif /* BENCH_EVICT_SIM_H */
