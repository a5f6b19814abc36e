/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_fetch.c - fetch: a memoize with a lock, across processes.
 *
 *     shmcache-cli fetch [--ttl T] [--stale T] [--lease-ttl T] [--wait T]
 *                        KEY -- COMMAND [ARGS...]
 *
 * Prints KEY's value when the cache has one (fresh, or stale while another
 * caller refreshes it). Otherwise the library's lease decides: exactly one
 * caller (this process, or another one anywhere on the machine) gets the
 * lease and runs COMMAND, the others wait for the value it stores. The
 * holder runs COMMAND with apr_proc_create (no shell), captures its
 * standard output through a pipe (its stderr and stdin are this process's
 * own), and on exit status 0 stores that output with shmcache_lease_set and
 * prints it. On any other outcome it stores nothing and releases the lease
 * as failed, so the callers waiting for it get SHMCACHE_ECOMPUTE at once.
 *
 * The lease is held by this process (pid + start time): if it is killed
 * while COMMAND runs, the next caller takes the lease over at once. A
 * COMMAND that hangs keeps it for --lease-ttl at most.
 *
 * Exit codes: 0 a value was printed; 2 usage; 3 COMMAND failed (holder:
 * its exit status or signal; waiters: the failed computation), its output
 * does not fit the cache, the wait ran out, or the cache failed.
 */
#include "cli.h"

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <string.h>

/* The default lease TTL (seconds) and the longest --wait accepted. */
#define FETCH_LEASE_TTL 30
#define FETCH_MAX_WAIT 86400

/* One fetch, as the arguments ask for it. */
typedef struct fetch_t {
    const char *key;
    apr_size_t key_len;
    apr_uint32_t ttl;               /* of the stored value */
    apr_uint32_t stale_ttl;         /* served stale for this long after */
    shmcache_lease_opts_t lease;    /* lease TTL, how long to wait */
    const char **argv;              /* COMMAND and its arguments, NULL-ended */
} fetch_t;

/* What a run of COMMAND gave. */
typedef struct output_t {
    char *data;                     /* its standard output, up to max + 1 */
    apr_size_t len;
    apr_size_t total;               /* bytes it wrote in all */
    int exitcode;
    apr_exit_why_e why;
} output_t;

/* ---- arguments --------------------------------------------------------- */

/* A duration option in seconds, def when absent, refusing above max.
 * @return CLI_OK or CLI_USAGE. */
static int seconds_opt(cli_t *cli, int opt, const char *name, apr_uint64_t def,
                       apr_uint64_t max, apr_uint64_t *out)
{
    *out = def;
    if (cli->opt[opt] == NULL)
        return CLI_OK;
    return cli_duration_arg(cli, cli->opt[opt], name, max, out);
}

/* KEY before `--`, COMMAND after it, and the options, into *f (argv in
 * cli->pool). @return CLI_OK or CLI_USAGE. */
static int fetch_args(cli_t *cli, fetch_t *f)
{
    apr_uint64_t stale, lease_ttl, wait;
    int rc, i;

    if (cli->tail == NULL || cli->ntail == 0)
        return cli_usage(cli, "COMMAND is missing: give it after `--`");
    if (cli->tail_at != 1)
        return cli_usage(cli, "give exactly one KEY before `--` (%d given)",
                         cli->tail_at);
    if ((rc = cli_key_arg(cli, 0, &f->key, &f->key_len)) != CLI_OK
        || (rc = cli_ttl_opt(cli, &f->ttl)) != CLI_OK
        || (rc = seconds_opt(cli, OPT_STALE, "--stale", 0, SHMCACHE_TTL_MAX,
                             &stale)) != CLI_OK
        || (rc = seconds_opt(cli, OPT_LEASE_TTL, "--lease-ttl", FETCH_LEASE_TTL,
                             SHMCACHE_TTL_MAX, &lease_ttl)) != CLI_OK
        || (rc = seconds_opt(cli, OPT_WAIT, "--wait", lease_ttl,
                             FETCH_MAX_WAIT, &wait)) != CLI_OK)
        return rc;
    if (lease_ttl == 0)
        return cli_usage(cli, "--lease-ttl must be at least 1s");
    if (stale > 0 && f->ttl == SHMCACHE_TTL_FOREVER)
        return cli_usage(cli, "--stale goes with a --ttl that ends");
    f->stale_ttl = (apr_uint32_t)stale;
    shmcache_lease_opts_init(&f->lease);
    f->lease.lease_ttl = (apr_uint32_t)lease_ttl;
    f->lease.wait_ms = (apr_uint32_t)(wait * 1000);
    f->argv = apr_pcalloc(cli->pool, sizeof(*f->argv) * (cli->ntail + 1));
    if (f->argv == NULL)
        return cli_say(cli, CLI_ERROR, "out of memory");
    for (i = 0; i < cli->ntail; i++)
        f->argv[i] = cli->tail[i];
    return CLI_OK;
}

/* ---- running COMMAND --------------------------------------------------- */

/* COMMAND's name (fetch_args has made argv hold at least COMMAND). */
static const char *command_name(const fetch_t *f)
{
    return f->argv != NULL && f->argv[0] != NULL ? f->argv[0] : "COMMAND";
}

/* apr_proc_create's report, in the child, of a COMMAND it could not start. */
static void child_failed(apr_pool_t *pool, apr_status_t err,
                         const char *description)
{
    apr_file_t *errf;
    char why[256];

    if (apr_file_open_stderr(&errf, pool) == APR_SUCCESS)
        apr_file_printf(errf, "shmcache-cli: fetch: %s: %s\n", description,
                        shmcache_strerror(err, why, sizeof why));
}

/* Read pipe to its end: the first max + 1 bytes into out->data, the rest
 * counted and dropped (so COMMAND never blocks on a full pipe). */
static apr_status_t read_all(apr_file_t *pipe, apr_size_t max, output_t *out,
                             apr_pool_t *pool)
{
    apr_size_t cap = 65536, n;
    char scratch[8192];
    apr_status_t rv;

    out->data = apr_palloc(pool, cap);
    for (;;) {
        if (out->len == cap && cap <= max) {
            char *bigger = apr_palloc(pool, cap * 2);
            memcpy(bigger, out->data, out->len);
            out->data = bigger;
            cap *= 2;
        }
        if (out->len < cap && out->len <= max) {
            n = cap - out->len;
            rv = apr_file_read(pipe, out->data + out->len, &n);
            out->len += n;
        } else {
            n = sizeof scratch;
            rv = apr_file_read(pipe, scratch, &n);
        }
        out->total += n;
        if (rv != APR_SUCCESS)
            return APR_STATUS_IS_EOF(rv) ? APR_SUCCESS : rv;
    }
}

/* Run f->argv with stdout into a pipe, read it (up to max + 1 bytes kept)
 * and wait for the end. @return APR_SUCCESS with *out filled (whatever
 * COMMAND's exit status), or why COMMAND could not be run or read. */
static apr_status_t run_command(cli_t *cli, const fetch_t *f, apr_size_t max,
                                output_t *out)
{
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_status_t rv, read_rv;

    memset(out, 0, sizeof *out);
    if ((rv = apr_procattr_create(&attr, cli->pool)) != APR_SUCCESS
        || (rv = apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK,
                                     APR_NO_PIPE)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH))
           != APR_SUCCESS
        || (rv = apr_procattr_child_errfn_set(attr, child_failed))
           != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS)
        return rv;
    /* the buffers this process has not written yet must not be written
     * twice (once by the child) */
    apr_file_flush(cli->out);
    rv = apr_proc_create(&proc, command_name(f), f->argv, NULL, attr, cli->pool);
    if (rv != APR_SUCCESS)
        return rv;
    read_rv = read_all(proc.out, max, out, cli->pool);
    apr_file_close(proc.out);
    rv = apr_proc_wait(&proc, &out->exitcode, &out->why, APR_WAIT);
    if (rv == APR_CHILD_DONE)
        rv = APR_SUCCESS;
    return rv != APR_SUCCESS ? rv : read_rv;
}

/* "exited with status N" or "was killed by signal N". */
static const char *how_it_ended(const output_t *out, apr_pool_t *pool)
{
    if (APR_PROC_CHECK_SIGNALED(out->why))
        return apr_psprintf(pool, "was killed by signal %d", out->exitcode);
    return apr_psprintf(pool, "exited with status %d", out->exitcode);
}

/* ---- the lease holder ---------------------------------------------------- */

/* Give the lease up as failed (the waiters get SHMCACHE_ECOMPUTE), say why
 * and @return CLI_ERROR. */
static int compute_failed(cli_t *cli, const fetch_t *f, apr_uint64_t token,
                          const char *why)
{
    shmcache_lease_release(cli->cache, f->key, f->key_len, token, 1);
    return cli_say(cli, CLI_ERROR, "%s: fetch %s: %s; nothing stored",
                   cli->path, cli_key_text(f->key, f->key_len, cli->pool),
                   why);
}

/* This process holds KEY's lease: run COMMAND, store and print its output
 * when it exits 0, else release the lease as failed.
 * @return CLI_OK, or CLI_ERROR after saying why. */
static int compute(cli_t *cli, const fetch_t *f, apr_uint64_t token)
{
    shmcache_stats_t st;
    output_t out;
    char why[256];
    apr_status_t rv;

    if ((rv = shmcache_stats(cli->cache, &st)) != APR_SUCCESS)
        return compute_failed(cli, f, token,
                              apr_pstrcat(cli->pool, "cannot read the cache's "
                                          "limits: ", shmcache_strerror(rv, why,
                                          sizeof why), NULL));
    rv = run_command(cli, f, st.max_value, &out);
    if (rv != APR_SUCCESS)
        return compute_failed(cli, f, token,
                              apr_psprintf(cli->pool, "cannot run %s: %s",
                                           command_name(f), shmcache_strerror(rv,
                                           why, sizeof why)));
    if (!APR_PROC_CHECK_EXIT(out.why) || out.exitcode != 0)
        return compute_failed(cli, f, token,
                              apr_psprintf(cli->pool, "COMMAND %s %s",
                                           command_name(f),
                                           how_it_ended(&out, cli->pool)));
    if (out.total > st.max_value)
        return compute_failed(cli, f, token,
                              apr_psprintf(cli->pool, "the output of %s is %"
                                           APR_SIZE_T_FMT " bytes; the cache "
                                           "takes values up to %u bytes",
                                           command_name(f), out.total,
                                           st.max_value));
    rv = shmcache_lease_set(cli->cache, f->key, f->key_len, token, out.data,
                            out.len, f->ttl, f->stale_ttl);
    if (rv != APR_SUCCESS)
        return compute_failed(cli, f, token,
                              apr_pstrcat(cli->pool, "cannot store the output: ",
                                          shmcache_strerror(rv, why,
                                          sizeof why), NULL));
    cli_write(cli, out.data, out.len);
    return CLI_OK;
}

/* ---- the command --------------------------------------------------------- */

int cmd_fetch(cli_t *cli)
{
    fetch_t f;
    void *value = NULL;
    apr_size_t len = 0;
    apr_uint64_t token = 0;
    apr_status_t rv;
    int rc;

    memset(&f, 0, sizeof f);
    if ((rc = fetch_args(cli, &f)) != CLI_OK)
        return rc;
    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    rv = shmcache_lease_get(cli->cache, f.key, f.key_len, &f.lease, &value,
                            &len, NULL, &token, cli->pool);
    switch (rv) {
    case APR_SUCCESS:
    case SHMCACHE_STALE:
        cli_write(cli, value, len);
        return CLI_OK;
    case SHMCACHE_LEASED:
        return compute(cli, &f, token);
    case SHMCACHE_EKEYLEN:
        return cli_usage(cli, "KEY is %" APR_SIZE_T_FMT " bytes: over the "
                         "cache's max_key", f.key_len);
    default:
        return cli_fail(cli, rv, apr_pstrcat(cli->pool, "fetch ",
                                             cli_key_text(f.key, f.key_len,
                                                          cli->pool), NULL));
    }
}
