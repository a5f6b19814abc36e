/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_sim.c - the simulated policies of evict_sim.h over dense ids.
 *
 * All policies share one representation: per object, links to the newer
 * and the older neighbour in whichever queue holds it, the queue it is in
 * (or none), and a small counter (reference bit, visited bit or
 * frequency). A queue is a doubly linked list, head = newest, tail =
 * oldest, with the bytes (or objects) it holds. Ghost queues hold ids
 * only: their objects count against the ghost's own budget, never the
 * cache's.
 */
#include "evict_sim.h"

#include <stdlib.h>
#include <string.h>

#define NIL 0xFFFFFFFFu
#define NQUEUES 4

typedef struct queue_t {
    uint32_t head, tail;        /* newest, oldest; NIL when empty */
    uint64_t bytes;             /* sum of the sizes of its objects */
} queue_t;

typedef struct sim_t {
    uint32_t *newer, *older;    /* links inside the object's queue */
    uint8_t *where;             /* queue index + 1, 0 = not held */
    uint8_t *cnt;               /* bit or frequency */
    const uint32_t *sizes;      /* NULL: every object costs 1 */
    uint64_t budget;
    queue_t q[NQUEUES];
    uint32_t hand;              /* SIEVE: next object to examine, NIL =
                                   start at the tail */
    double p;                   /* ARC: target size of T1 */
    uint64_t small_cap, main_cap, ghost_cap;  /* S3-FIFO */
} sim_t;

static const char *const names[EVICT_NPOLICIES] = {
    "LRU", "FIFO", "CLOCK", "SIEVE", "S3-FIFO", "ARC"
};

const char *evict_policy_name(evict_policy_e p)
{
    return p < EVICT_NPOLICIES ? names[p] : "?";
}

/* ------------------------------------------------------------------------
 * Queues
 * ---------------------------------------------------------------------- */

static uint64_t size_of(const sim_t *s, uint32_t id)
{
    return s->sizes ? s->sizes[id] : 1;
}

/* Put id, held by no queue, at the head of queue qi. */
static void push(sim_t *s, int qi, uint32_t id)
{
    queue_t *q = &s->q[qi];

    s->newer[id] = NIL;
    s->older[id] = q->head;
    if (q->head != NIL)
        s->newer[q->head] = id;
    q->head = id;
    if (q->tail == NIL)
        q->tail = id;
    q->bytes += size_of(s, id);
    s->where[id] = (uint8_t)(qi + 1);
}

/* Take id out of the queue holding it; it is then held by none. */
static void unlink_id(sim_t *s, uint32_t id)
{
    queue_t *q = &s->q[s->where[id] - 1];

    if (s->newer[id] != NIL)
        s->older[s->newer[id]] = s->older[id];
    else
        q->head = s->older[id];
    if (s->older[id] != NIL)
        s->newer[s->older[id]] = s->newer[id];
    else
        q->tail = s->newer[id];
    q->bytes -= size_of(s, id);
    s->where[id] = 0;
}

/* Move id to the head of queue qi (from wherever it is). */
static void move_head(sim_t *s, int qi, uint32_t id)
{
    unlink_id(s, id);
    push(s, qi, id);
}

static int in(const sim_t *s, uint32_t id, int qi)
{
    return s->where[id] == qi + 1;
}

/* ------------------------------------------------------------------------
 * LRU, FIFO, CLOCK, SIEVE: one queue (0)
 * ---------------------------------------------------------------------- */

/* CLOCK's victim: the first tail object with a clear bit; set bits met on
 * the way are cleared and their objects re-inserted at the head. */
static uint32_t clock_victim(sim_t *s)
{
    uint32_t v = s->q[0].tail;

    while (s->cnt[v]) {
        s->cnt[v] = 0;
        move_head(s, 0, v);
        v = s->q[0].tail;
    }
    return v;
}

/* SIEVE's victim: from the hand towards the head (wrapping to the tail),
 * clearing visited bits, the first unvisited object; the hand then rests
 * on its newer neighbour. */
static uint32_t sieve_victim(sim_t *s)
{
    uint32_t v = s->hand != NIL ? s->hand : s->q[0].tail;

    while (s->cnt[v]) {
        s->cnt[v] = 0;
        v = s->newer[v] != NIL ? s->newer[v] : s->q[0].tail;
    }
    s->hand = s->newer[v];
    return v;
}

/* One request to a single-queue policy. Returns 1 on a hit. */
static int access_single(sim_t *s, evict_policy_e p, uint32_t id)
{
    uint64_t sz = size_of(s, id);

    if (s->where[id]) {
        if (p == EVICT_LRU)
            move_head(s, 0, id);
        else if (p != EVICT_FIFO)
            s->cnt[id] = 1;
        return 1;
    }
    if (sz > s->budget)
        return 0;
    while (s->q[0].bytes + sz > s->budget) {
        uint32_t v = p == EVICT_CLOCK ? clock_victim(s)
                     : p == EVICT_SIEVE ? sieve_victim(s) : s->q[0].tail;
        unlink_id(s, v);
    }
    push(s, 0, id);
    s->cnt[id] = 0;
    return 0;
}

/* ------------------------------------------------------------------------
 * S3-FIFO: small (0), main (1), ghost (2)
 * ---------------------------------------------------------------------- */

enum { S3_SMALL, S3_MAIN, S3_GHOST };

/* Remember id (just evicted from small) in the ghost FIFO. */
static void s3_ghost_add(sim_t *s, uint32_t id)
{
    uint64_t sz = size_of(s, id);

    if (sz > s->ghost_cap)
        return;
    while (s->q[S3_GHOST].bytes + sz > s->ghost_cap)
        unlink_id(s, s->q[S3_GHOST].tail);
    push(s, S3_GHOST, id);
}

/* Small queue's tail: to main when read twice or more (frequency starts
 * again at 0 there), else out to the ghost. Repeats until one object has
 * left the cache or small is empty. */
static void s3_evict_small(sim_t *s)
{
    while (s->q[S3_SMALL].bytes > 0) {
        uint32_t v = s->q[S3_SMALL].tail;
        unlink_id(s, v);
        if (s->cnt[v] >= 2) {
            push(s, S3_MAIN, v);
            s->cnt[v] = 0;
        }
        else {
            s3_ghost_add(s, v);
            return;
        }
    }
}

/* Main queue's tail: re-inserted with one less frequency while it has
 * any, else evicted. */
static void s3_evict_main(sim_t *s)
{
    while (s->q[S3_MAIN].bytes > 0) {
        uint32_t v = s->q[S3_MAIN].tail;
        if (s->cnt[v] >= 1) {
            s->cnt[v] = (uint8_t)((s->cnt[v] < 3 ? s->cnt[v] : 3) - 1);
            move_head(s, S3_MAIN, v);
        }
        else {
            unlink_id(s, v);
            return;
        }
    }
}

static int access_s3fifo(sim_t *s, uint32_t id)
{
    uint64_t sz = size_of(s, id);
    int ghost_hit = 0;

    if (in(s, id, S3_SMALL) || in(s, id, S3_MAIN)) {
        if (s->cnt[id] < 3)
            s->cnt[id]++;
        return 1;
    }
    if (in(s, id, S3_GHOST)) {
        unlink_id(s, id);
        ghost_hit = 1;
    }
    if (sz > s->small_cap)
        return 0;
    while (s->q[S3_SMALL].bytes + s->q[S3_MAIN].bytes + sz > s->budget) {
        if (s->q[S3_MAIN].bytes > s->main_cap || s->q[S3_SMALL].bytes == 0)
            s3_evict_main(s);
        else
            s3_evict_small(s);
    }
    /* libCacheSim refuses an object as large as the small queue itself (a
     * guard for byte budgets); with unit sizes that would keep a 1-object
     * small queue (capacities 10..19) empty, so there it only has to fit */
    if (ghost_hit)
        push(s, S3_MAIN, id);
    else if (sz < s->small_cap || (!s->sizes && sz == s->small_cap))
        push(s, S3_SMALL, id);
    s->cnt[id] = 0;
    return 0;
}

/* ------------------------------------------------------------------------
 * ARC: T1 (0), T2 (1), B1 (2), B2 (3)
 * ---------------------------------------------------------------------- */

enum { ARC_T1, ARC_T2, ARC_B1, ARC_B2 };

/* REPLACE: T1's LRU object to B1 when T1 exceeds the target p (or equals
 * it and the request was found in B2), or T2 is empty; else T2's to B2. */
static void arc_replace(sim_t *s, int in_b2)
{
    double t1 = (double)s->q[ARC_T1].bytes;

    if ((s->q[ARC_T1].bytes > 0 && (t1 > s->p || (t1 == s->p && in_b2)))
        || s->q[ARC_T2].bytes == 0)
        move_head(s, ARC_B1, s->q[ARC_T1].tail);
    else
        move_head(s, ARC_B2, s->q[ARC_T2].tail);
}

/* Make room for a request found nowhere (case IV of the paper). */
static void arc_evict_miss(sim_t *s, uint64_t sz)
{
    queue_t *q = s->q;

    if (q[ARC_T1].bytes + q[ARC_B1].bytes + sz > s->budget) {
        if (q[ARC_B1].bytes > 0) {
            unlink_id(s, q[ARC_B1].tail);
            arc_replace(s, 0);
        }
        else
            unlink_id(s, q[ARC_T1].tail);
        return;
    }
    if (q[ARC_T1].bytes + q[ARC_B1].bytes + q[ARC_T2].bytes
        + q[ARC_B2].bytes >= s->budget * 2 && q[ARC_B2].bytes > 0)
        unlink_id(s, q[ARC_B2].tail);
    arc_replace(s, 0);
}

static double dmax(double a, double b) { return a > b ? a : b; }
static double dmin(double a, double b) { return a < b ? a : b; }

static int access_arc(sim_t *s, uint32_t id)
{
    uint64_t sz = size_of(s, id);
    queue_t *q = s->q;
    int ghost = 0, in_b2 = 0;

    if (in(s, id, ARC_T1) || in(s, id, ARC_T2)) {
        move_head(s, ARC_T2, id);
        return 1;
    }
    if (in(s, id, ARC_B1)) {
        s->p = dmin(s->p + dmax((double)q[ARC_B2].bytes
                                / (double)q[ARC_B1].bytes, 1),
                    (double)s->budget);
        ghost = 1;
    }
    else if (in(s, id, ARC_B2)) {
        s->p = dmax(s->p - dmax((double)q[ARC_B1].bytes
                                / (double)q[ARC_B2].bytes, 1), 0);
        ghost = in_b2 = 1;
    }
    if (ghost)
        unlink_id(s, id);
    if (sz > s->budget)
        return 0;
    while (q[ARC_T1].bytes + q[ARC_T2].bytes + sz > s->budget) {
        if (ghost)
            arc_replace(s, in_b2);
        else
            arc_evict_miss(s, sz);
    }
    push(s, ghost ? ARC_T2 : ARC_T1, id);
    return 0;
}

/* ------------------------------------------------------------------------
 * Driver
 * ---------------------------------------------------------------------- */

static int sim_init(sim_t *s, const evict_trace_t *t, uint64_t budget,
                    int bytes)
{
    int i;

    memset(s, 0, sizeof *s);
    s->newer = malloc((size_t)t->nobj * sizeof *s->newer);
    s->older = malloc((size_t)t->nobj * sizeof *s->older);
    s->where = calloc(t->nobj, 1);
    s->cnt = calloc(t->nobj, 1);
    s->sizes = bytes ? t->sizes : NULL;
    s->budget = budget;
    for (i = 0; i < NQUEUES; i++)
        s->q[i].head = s->q[i].tail = NIL;
    s->hand = NIL;
    /* S3-FIFO's shares, truncated as libCacheSim computes them */
    s->small_cap = (uint64_t)((double)budget * 0.1);
    s->main_cap = budget - s->small_cap;
    s->ghost_cap = (uint64_t)((double)budget * 0.9);
    return s->newer && s->older && s->where && s->cnt;
}

static void sim_free(sim_t *s)
{
    free(s->newer);
    free(s->older);
    free(s->where);
    free(s->cnt);
}

int evict_sim_run(evict_policy_e p, const evict_trace_t *t, uint64_t budget,
                  int bytes, uint64_t *hits)
{
    sim_t s;
    uint64_t i, h = 0;

    *hits = 0;
    memset(&s, 0, sizeof s);
    if ((bytes && t->sizes == NULL) || !sim_init(&s, t, budget, bytes)) {
        sim_free(&s);
        return 0;
    }
    for (i = 0; i < t->n; i++) {
        uint32_t id = t->ids[i];
        switch (p) {
        case EVICT_S3FIFO: h += (uint64_t)access_s3fifo(&s, id); break;
        case EVICT_ARC: h += (uint64_t)access_arc(&s, id); break;
        default: h += (uint64_t)access_single(&s, p, id); break;
        }
    }
    sim_free(&s);
    *hits = h;
    return 1;
}
