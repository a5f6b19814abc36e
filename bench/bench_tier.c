/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_tier.c - what the second tier costs and saves, in one run.
 *
 * For memcached and for Redis (each started here on a free loopback port,
 * or given with --memcache URL / --redis URL), single-threaded:
 *   l1       shmcache_tier_get answered from L1 (the segment)
 *   l2       shmcache_tier_get that misses L1 and hits L2 (the L1 copy is
 *            dropped before each get, outside the timed part)
 *   direct   apr_memcache_getp / apr_redis_getp through the same APR-util
 *            client on its own connection pool: what mod_socache_memcache
 *            and mod_socache_redis pay for every lookup
 *   mix90    gets where 90% hit L1 and 10% go to L2 (drawn at random)
 * The four run interleaved, in ROUNDS rounds, so a noisy neighbour slows
 * them alike. Printed: ns per get over all rounds, and the ratio of the
 * mix90 rate to the direct rate as the median of the rounds' ratios (each
 * round pairs a mix90 block with the direct block beside it, so one
 * round's noise moves one ratio, not the figure; target: at least 5).
 *
 *   bench_tier [--ops N] [--l1-ops N] [--memcache URL|none] [--redis URL|none]
 *              [--json]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <apr_general.h>
#include <apr_memcache.h>
#include <apr_network_io.h>
#include <apr_redis.h>
#include <apr_strings.h>

#include "common.h"
#include "shmcache_tier.h"

#define NKEYS 1000
#define ROUNDS 20

typedef struct result_t {
    const char *kind;
    double l1_ns, l2_ns, direct_ns, mix_ns;
    double ratio;               /* median over rounds of direct / mix90 ns */
} result_t;

static int free_port(apr_pool_t *p)
{
    apr_socket_t *s;
    apr_sockaddr_t *sa;
    int port = 0;

    if (apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, p) == APR_SUCCESS
        && apr_socket_create(&s, APR_INET, SOCK_STREAM, APR_PROTO_TCP, p) == APR_SUCCESS) {
        if (apr_socket_bind(s, sa) == APR_SUCCESS
            && apr_socket_addr_get(&sa, APR_LOCAL, s) == APR_SUCCESS)
            port = sa->port;
        apr_socket_close(s);
    }
    return port;
}

static int answers(int port, apr_pool_t *p)
{
    apr_socket_t *s;
    apr_sockaddr_t *sa;
    apr_status_t rv = APR_EGENERAL;

    if (apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, (apr_port_t)port, 0, p) == APR_SUCCESS
        && apr_socket_create(&s, APR_INET, SOCK_STREAM, APR_PROTO_TCP, p) == APR_SUCCESS) {
        rv = apr_socket_connect(s, sa);
        apr_socket_close(s);
    }
    return rv == APR_SUCCESS;
}

/* Start memcached or redis-server on a free port; returns its pid. */
static pid_t start_server(int redis, int *port, apr_pool_t *p)
{
    char ps[16];
    pid_t pid;
    int i;

    *port = free_port(p);
    snprintf(ps, sizeof(ps), "%d", *port);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        if (redis)
            execl("/usr/bin/redis-server", "redis-server", "--port", ps, "--bind",
                  "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
        else
            execl("/usr/bin/memcached", "memcached", "-u", "root", "-l", "127.0.0.1",
                  "-p", ps, "-U", "0", "-t", "1", (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 250 && !answers(*port, p); i++)
        apr_sleep(20000);
    return pid;
}

static void key_of(char *buf, int i)
{
    snprintf(buf, 32, "bench:key:%06d", i);
}

/* A direct client of its own on the same server: what a provider that
 * goes to the network on every lookup pays. */
typedef struct direct_t {
    int redis;
    apr_memcache_t *mc;
    apr_redis_t *rc;
} direct_t;

static void direct_open(direct_t *d, int redis, const char *host, int port, apr_pool_t *p)
{
    apr_memcache_server_t *ms;
    apr_redis_server_t *rs;

    d->redis = redis;
    if (redis) {
        apr_redis_server_create(p, host, (apr_port_t)port, 0, 1, 1, 60000000, 1, &rs);
        apr_redis_create(p, 1, 0, &d->rc);
        apr_redis_add_server(d->rc, rs);
    } else {
        apr_memcache_server_create(p, host, (apr_port_t)port, 0, 1, 1, 60000000, &ms);
        apr_memcache_create(p, 1, 0, &d->mc);
        apr_memcache_add_server(d->mc, ms);
    }
}

/* ns spent in ops direct gets */
static uint64_t direct_block(direct_t *d, uint64_t ops, apr_pool_t *it)
{
    uint64_t i, t0, total = 0;
    char key[64], *v;
    apr_size_t len;
    apr_uint16_t flags;

    for (i = 0; i < ops; i++) {
        snprintf(key, sizeof(key), "bench:key:%06d", (int)(i % NKEYS));
        t0 = bench_now_ns();
        if (d->redis)
            apr_redis_getp(d->rc, it, key, &v, &len, &flags);
        else
            apr_memcache_getp(d->mc, it, key, &v, &len, &flags);
        total += bench_now_ns() - t0;
        apr_pool_clear(it);
    }
    return total;
}

/* ns spent in ops tier gets; each drops the key's L1 copy first (outside
 * the timing) with probability miss_pct/100 */
static uint64_t tier_block(shmcache_tier_t *t, shmcache_t *seg, uint64_t ops,
                           unsigned miss_pct, bench_rng_t *rng, apr_pool_t *it)
{
    uint64_t n, t0, total = 0;
    char key[32];
    void *v;
    apr_size_t len;

    for (n = 0; n < ops; n++) {
        key_of(key, (int)(n % NKEYS));
        if (miss_pct == 100 || (miss_pct && bench_rng_below(rng, 100) < miss_pct))
            shmcache_delete(seg, key, strlen(key));
        t0 = bench_now_ns();
        shmcache_tier_get(t, key, strlen(key), &v, &len, it);
        total += bench_now_ns() - t0;
        if (miss_pct || (n & 1023) == 0)
            apr_pool_clear(it);
    }
    return total;
}

static result_t run_kind(int redis, const char *url, uint64_t ops, uint64_t l1_ops,
                         apr_pool_t *p)
{
    result_t r = { redis ? "redis" : "memcache", 0, 0, 0, 0, 0 };
    double ratios[ROUNDS];
    uint64_t mix, direct;
    shmcache_options_t so;
    shmcache_tier_options_t to;
    shmcache_tier_t *t;
    shmcache_t *seg;
    apr_pool_t *it;
    bench_rng_t rng;
    char path[64], key[32], value[200];
    const char *host = "127.0.0.1";
    int port = 0, i, round;
    pid_t pid = 0;
    uint64_t l1_total = 0, l2_total = 0, mix_total = 0, direct_total = 0;
    direct_t d;

    if (url == NULL) {
        pid = start_server(redis, &port, p);
        url = apr_psprintf(p, "%s://127.0.0.1:%d", redis ? "redis" : "memcache", port);
    } else {
        const char *hp = strstr(url, "://") + 3;
        const char *colon = strrchr(hp, ':');
        host = apr_pstrndup(p, hp, (apr_size_t)(colon - hp));
        port = atoi(colon + 1);
    }
    snprintf(path, sizeof(path), "/dev/shm/bench_tier.%d", (int)getpid());
    shmcache_remove_ex(path, 1, NULL, p);
    shmcache_options_init(&so);
    so.size = 16 << 20;
    if (shmcache_create(&seg, path, &so, p) != APR_SUCCESS) {
        fprintf(stderr, "bench_tier: cannot create %s\n", path);
        exit(3);
    }
    shmcache_tier_options_init(&to);
    to.url = url;
    to.l1_ttl = 3600;
    to.timeout_ms = 1000;
    if (shmcache_tier_create(&t, seg, &to, p) != APR_SUCCESS) {
        fprintf(stderr, "bench_tier: no tier on %s\n", url);
        exit(3);
    }
    memset(value, 'v', sizeof(value));
    for (i = 0; i < NKEYS; i++) {
        key_of(key, i);
        shmcache_tier_set(t, key, strlen(key), value, sizeof(value), 3600);
    }
    apr_pool_create(&it, p);

    /* Rounds that interleave the four measurements, so that the noise of
     * a shared machine falls on all of them alike. */
    direct_open(&d, redis, host, port, p);
    bench_rng_seed(&rng, 42);
    for (round = 0; round < ROUNDS; round++) {
        l1_total += tier_block(t, seg, l1_ops / ROUNDS, 0, &rng, it);
        l2_total += tier_block(t, seg, ops / ROUNDS, 100, &rng, it);
        mix = tier_block(t, seg, ops * 5 / ROUNDS, 10, &rng, it);
        direct = direct_block(&d, ops / ROUNDS, it);
        mix_total += mix;
        direct_total += direct;
        ratios[round] = 5.0 * (double)direct / (double)(mix ? mix : 1);
    }
    r.ratio = bench_median(ratios, ROUNDS);
    r.l1_ns = (double)l1_total / (double)(l1_ops / ROUNDS * ROUNDS);
    r.l2_ns = (double)l2_total / (double)(ops / ROUNDS * ROUNDS);
    r.mix_ns = (double)mix_total / (double)(ops * 5 / ROUNDS * ROUNDS);
    r.direct_ns = (double)direct_total / (double)(ops / ROUNDS * ROUNDS);

    shmcache_close(seg);
    shmcache_remove_ex(path, 1, NULL, p);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return r;
}

static void print(const result_t *r, int json)
{
    double ratio = r->ratio;

    if (json) {
        printf("{\"l2\": \"%s\", \"l1_get_ns\": %.1f, \"l2_get_ns\": %.1f, "
               "\"direct_get_ns\": %.1f, \"mix90_get_ns\": %.1f, "
               "\"mix90_over_direct\": %.2f, \"l1_over_direct\": %.1f}\n",
               r->kind, r->l1_ns, r->l2_ns, r->direct_ns, r->mix_ns, ratio,
               r->direct_ns / r->l1_ns);
        return;
    }
    printf("%-9s %12s %12s %14s\n", r->kind, "ns/get", "gets/s", "vs direct");
    printf("  %-7s %12.1f %12.0f %13.1fx\n", "l1", r->l1_ns, 1e9 / r->l1_ns,
           r->direct_ns / r->l1_ns);
    printf("  %-7s %12.1f %12.0f %13.2fx\n", "l2", r->l2_ns, 1e9 / r->l2_ns,
           r->direct_ns / r->l2_ns);
    printf("  %-7s %12.1f %12.0f %13.2fx\n", "direct", r->direct_ns, 1e9 / r->direct_ns, 1.0);
    printf("  %-7s %12.1f %12.0f %13.2fx  (median of %d paired rounds; target >= 5x)\n",
           "mix90", r->mix_ns, 1e9 / r->mix_ns, ratio, ROUNDS);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    uint64_t ops = 20000, l1_ops = 1000000;
    const char *mc = NULL, *rd = NULL;
    int json = 0, i;
    result_t r;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            bench_parse_u64(argv[++i], &ops);
        else if (strcmp(argv[i], "--l1-ops") == 0 && i + 1 < argc)
            bench_parse_u64(argv[++i], &l1_ops);
        else if (strcmp(argv[i], "--memcache") == 0 && i + 1 < argc)
            mc = argv[++i];
        else if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
            rd = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else {
            fprintf(stderr, "usage: bench_tier [--ops N] [--l1-ops N] "
                    "[--memcache URL|none] [--redis URL|none] [--json]\n");
            return 2;
        }
    }
    if (ops == 0 || l1_ops == 0)
        return 2;
    if (!mc || strcmp(mc, "none") != 0) {
        r = run_kind(0, mc, ops, l1_ops, p);
        print(&r, json);
    }
    if (!rd || strcmp(rd, "none") != 0) {
        r = run_kind(1, rd, ops, l1_ops, p);
        print(&r, json);
    }
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
