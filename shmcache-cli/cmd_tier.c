/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_tier.c - the global --l2 option: a tier (shmcache_tier.h) over the
 * attached cache, through which get, set, add, replace, del, incr, decr
 * and touch go, and the "l2" part of `stats`: each server asked whether it
 * answers (with the time it took) and the tier's counters for this run.
 */
#include "cli.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

int cli_tier_open(cli_t *cli)
{
    shmcache_tier_options_t o;
    const char *why = NULL;
    apr_status_t rv;
    char *end;
    unsigned long ms;

    shmcache_tier_options_init(&o);
    o.url = cli->l2_url;
    if (cli->l2_timeout != NULL) {
        ms = strtoul(cli->l2_timeout, &end, 10);
        if (*end || end == cli->l2_timeout || ms < 1 || ms > 60000)
            return cli_say(cli, CLI_USAGE, "--l2-timeout '%s': expected 1 to 60000 "
                           "(milliseconds)", cli->l2_timeout);
        o.timeout_ms = (apr_uint32_t)ms;
    }
    if (cli->l1_ttl != NULL) {
        ms = strtoul(cli->l1_ttl, &end, 10);
        if (*end || end == cli->l1_ttl || ms < 1 || ms > SHMCACHE_TTL_MAX)
            return cli_say(cli, CLI_USAGE, "--l1-ttl '%s': expected a number of "
                           "seconds, at least 1", cli->l1_ttl);
        o.l1_ttl = (apr_uint32_t)ms;
    }
    if (shmcache_tier_options_check(&o, &why, cli->pool) != APR_SUCCESS)
        return cli_say(cli, CLI_USAGE, "--l2: %s", why);
    rv = shmcache_tier_create(&cli->tier, cli->cache, &o, cli->pool);
    if (rv != APR_SUCCESS)
        return cli_fail(cli, rv, apr_psprintf(cli->pool, "cannot use L2 %s",
                                              cli->l2_url));
    return CLI_OK;
}

/* Ask every server; results in ok[] and rtt[] (pool memory). */
static void ping_all(cli_t *cli, int **ok, double **rtt_ms)
{
    apr_uint32_t i, n = shmcache_tier_servers(cli->tier);
    apr_interval_time_t rtt;

    *ok = apr_pcalloc(cli->pool, n * sizeof(**ok));
    *rtt_ms = apr_pcalloc(cli->pool, n * sizeof(**rtt_ms));
    for (i = 0; i < n; i++) {
        (*ok)[i] = shmcache_tier_ping(cli->tier, i, &rtt) == APR_SUCCESS;
        (*rtt_ms)[i] = (double)rtt / 1000.0;
    }
}

void cli_tier_put_human(cli_t *cli)
{
    shmcache_tier_stats_t st;
    shmcache_tier_server_stats_t ss;
    apr_uint32_t i, n = shmcache_tier_servers(cli->tier);
    double *rtt;
    int *ok;

    ping_all(cli, &ok, &rtt);
    shmcache_tier_stats(cli->tier, &st);
    cli_printf(cli, "\nl2 %s\n", shmcache_tier_url(cli->tier));
    for (i = 0; i < n; i++) {
        shmcache_tier_server_stats(cli->tier, i, &ss);
        cli_printf(cli, "  %s:%u%*s %s %8.2f ms%s\n", ss.host, (unsigned)ss.port, 2, "",
                   ok[i] ? "up  " : "DOWN", rtt[i],
                   ss.breaker_open ? "  breaker open" : "");
    }
    cli_printf(cli, "  %-20s %16" APR_UINT64_T_FMT "\n", "errors", st.l2_errors);
    cli_printf(cli, "  %-20s %16" APR_UINT64_T_FMT "\n", "timeouts", st.l2_timeouts);
    cli_printf(cli, "  %-20s %16" APR_UINT64_T_FMT "\n", "breaker trips", st.breaker_trips);
}

void cli_tier_put_json(cli_t *cli, const char *sep)
{
    shmcache_tier_stats_t st;
    shmcache_tier_server_stats_t ss;
    apr_uint32_t i, n = shmcache_tier_servers(cli->tier);
    const char *url = shmcache_tier_url(cli->tier);
    double *rtt;
    int *ok;

    ping_all(cli, &ok, &rtt);
    shmcache_tier_stats(cli->tier, &st);
    cli_printf(cli, ",%s\"l2\": {\"url\": ", sep);
    cli_put_json_string(cli, url, strlen(url));
    cli_printf(cli, ", \"servers\": [");
    for (i = 0; i < n; i++) {
        shmcache_tier_server_stats(cli->tier, i, &ss);
        cli_printf(cli, "%s{\"host\": ", i ? ", " : "");
        cli_put_json_string(cli, ss.host, strlen(ss.host));
        cli_printf(cli, ", \"port\": %u, \"up\": %s, \"rtt_ms\": %.3f, "
                   "\"breaker_open\": %s}", (unsigned)ss.port,
                   ok[i] ? "true" : "false", rtt[i],
                   ss.breaker_open ? "true" : "false");
    }
    cli_printf(cli, "], \"errors\": %" APR_UINT64_T_FMT ", \"timeouts\": %"
               APR_UINT64_T_FMT ", \"skipped\": %" APR_UINT64_T_FMT
               ", \"breaker_trips\": %" APR_UINT64_T_FMT "}",
               st.l2_errors, st.l2_timeouts, st.l2_skipped, st.breaker_trips);
}
