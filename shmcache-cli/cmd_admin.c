/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_admin.c - the commands on the cache as a whole: create, info,
 * remove, check, flush.
 */
#include "cli.h"
#include "units.h"

#include <apr_strings.h>
#include <apr_user.h>
#include <stddef.h>
#include <string.h>

/* Octal Unix permission bits (0..0777) as APR permission bits: APR keeps
 * user, group and world in separate nibbles (0x0rwx_0rwx_0rwx). */
static apr_fileperms_t perms_from_octal(apr_uint64_t m)
{
    return (apr_fileperms_t)((((m >> 6) & 7) << 8) | (((m >> 3) & 7) << 4)
                             | (m & 7));
}

static unsigned octal_from_perms(apr_fileperms_t p)
{
    return (unsigned)((((p >> 8) & 7) << 6) | (((p >> 4) & 7) << 3) | (p & 7));
}

/* One option of create: check s and set its field of o.
 * @return CLI_OK or CLI_USAGE. */
typedef int (create_option_fn)(cli_t *cli, const char *s, shmcache_options_t *o);

static int size_option(cli_t *cli, const char *s, shmcache_options_t *o)
{
    apr_uint64_t v = 0;
    int rc = cli_size_arg(cli, s, "--size", SHMCACHE_LIMIT_SIZE, &v);

    if (rc != CLI_OK)
        return rc;
    if (v < SHMCACHE_MIN_SIZE)
        return cli_usage(cli, "--size '%s' is below the smallest cache (%s)",
                         s, cli_human_bytes(SHMCACHE_MIN_SIZE, cli->pool));
    o->size = v;
    return CLI_OK;
}

static int mode_option(cli_t *cli, const char *s, shmcache_options_t *o)
{
    apr_uint64_t v = 0;
    sc_units_err_e err = sc_units_uint(s, 8, 0777, &v);

    if (err != SC_UNITS_OK)
        return cli_usage(cli, "--mode '%s' %s (expected octal permissions "
                         "such as 0600 or 0640)", s, sc_units_strerror(err));
    o->mode = perms_from_octal(v);
    return CLI_OK;
}

static int max_value_option(cli_t *cli, const char *s, shmcache_options_t *o)
{
    apr_uint64_t v = 0;
    int rc = cli_size_arg(cli, s, "--max-value", 0xFFFFFFFFu, &v);

    o->max_value = (apr_uint32_t)v;
    return rc;
}

/* --default-ttl: a duration, or forever/never (0: entries stored with TTL
 * 0 never expire). */
static int default_ttl_option(cli_t *cli, const char *s, shmcache_options_t *o)
{
    apr_uint64_t v = 0;
    int rc = CLI_OK;

    if (strcmp(s, "forever") != 0 && strcmp(s, "never") != 0)
        rc = cli_duration_arg(cli, s, "--default-ttl", SHMCACHE_TTL_MAX, &v);
    o->default_ttl = (apr_uint32_t)v;
    return rc;
}

/* The whole-number options of create: each sets a 32-bit field of
 * shmcache_options_t, from min to max. */
static const struct count_option_t {
    int code;
    const char *name;
    apr_uint64_t min, max;
    apr_size_t off;
} count_options[] = {
    {OPT_BUCKETS, "--buckets", 0, APR_UINT64_C(1) << 31,
     offsetof(shmcache_options_t, buckets)},
    {OPT_MAX_KEY, "--max-key", 1, SHMCACHE_LIMIT_MAX_KEY,
     offsetof(shmcache_options_t, max_key)},
    {OPT_SLOTS, "--slots", 8, SHMCACHE_LIMIT_SLOTS,
     offsetof(shmcache_options_t, slots)}
};

/* Set the field of count option c in o from s. @return CLI_OK or
 * CLI_USAGE. */
static int count_option(cli_t *cli, const struct count_option_t *c,
                        const char *s, shmcache_options_t *o)
{
    apr_uint64_t v = 0;
    apr_uint32_t v32;
    int rc = cli_uint_arg(cli, s, c->name, c->max, &v);

    if (rc != CLI_OK)
        return rc;
    if (v < c->min)
        return cli_usage(cli, "%s must be %" APR_UINT64_T_FMT " to %"
                         APR_UINT64_T_FMT, c->name, c->min, c->max);
    v32 = (apr_uint32_t)v;
    memcpy((char *)o + c->off, &v32, sizeof v32);
    return CLI_OK;
}

/* Fill o from create's options, each checked by its own function or by
 * count_option. @return CLI_OK or CLI_USAGE. */
static int create_options(cli_t *cli, shmcache_options_t *o)
{
    static const struct {
        int code;
        create_option_fn *fn;
    } steps[] = {
        {OPT_SIZE, size_option}, {OPT_MODE, mode_option},
        {OPT_MAX_VALUE, max_value_option},
        {OPT_DEFAULT_TTL, default_ttl_option}
    };
    const char *const *opt = cli->opt;
    apr_size_t i;
    int rc;

    for (i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (opt[steps[i].code] != NULL
            && (rc = steps[i].fn(cli, opt[steps[i].code], o)) != CLI_OK)
            return rc;
    for (i = 0; i < sizeof count_options / sizeof count_options[0]; i++)
        if (opt[count_options[i].code] != NULL
            && (rc = count_option(cli, &count_options[i],
                                  opt[count_options[i].code], o)) != CLI_OK)
            return rc;
    return CLI_OK;
}

/* The directory part of path: "." when it has none. */
static const char *dir_of(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
#ifdef _WIN32
    const char *bslash = strrchr(path, '\\');

    if (bslash != NULL && (slash == NULL || bslash > slash))
        slash = bslash;
#endif
    if (slash == NULL)
        return ".";
    if (slash == path)
        return "/";
    return apr_pstrmemdup(p, path, (apr_size_t)(slash - path));
}

/* The name of the user running the tool, for messages. */
static const char *current_user(apr_pool_t *p)
{
    apr_uid_t uid;
    apr_gid_t gid;
    char *name = NULL;

    if (apr_uid_current(&uid, &gid, p) != APR_SUCCESS
        || apr_uid_name_get(&name, uid, p) != APR_SUCCESS)
        return "this user";
    return apr_pstrcat(p, "user ", name, NULL);
}

/* Say why create failed. A permission error here is the directory's (the
 * file does not exist yet, so no owner or mode of a cache is involved):
 * name the directory and the user, not the cache's owner. */
static int create_failed(cli_t *cli, apr_status_t rv)
{
    const char *dir;
    char why[256];

    if (!APR_STATUS_IS_EACCES(rv))
        return cli_fail(cli, rv, "cannot create");
    dir = dir_of(cli->path, cli->pool);
    return cli_say(cli, CLI_ERROR, "%s: cannot create: %s: %s may not create "
                   "files in the directory %s (it is not writable, or a "
                   "directory on the way is not searchable): choose a path "
                   "in a directory you can write, such as /dev/shm, or "
                   "create the cache as a user who can write to %s",
                   cli->path, shmcache_strerror(rv, why, sizeof why),
                   current_user(cli->pool), dir, dir);
}

int cmd_create(cli_t *cli)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    apr_status_t rv;
    int rc;

    shmcache_options_init(&o);
    if ((rc = create_options(cli, &o)) != CLI_OK)
        return rc;
    rv = shmcache_create(&cli->cache, cli->path, &o, cli->pool);
    if (rv != APR_SUCCESS) {
        cli->cache = NULL;
        return create_failed(cli, rv);
    }
    if ((rv = shmcache_stats(cli->cache, &st)) != APR_SUCCESS)
        return cli_fail(cli, rv, "created, but cannot read its figures");
    cli_printf(cli, "created %s: %s, %u buckets, %u slots, keys up to %u "
               "bytes, values up to %s\n", cli->path,
               cli_human_bytes(st.size, cli->pool), st.buckets, st.slots,
               st.max_key, cli_human_bytes(st.max_value, cli->pool));
    return CLI_OK;
}

/* "mode 0600, owner NAME (UID), group NAME (GID), SIZE" for the file. */
static const char *file_text(cli_t *cli)
{
    apr_finfo_t fi;
    char *user = NULL, *group = NULL;

    apr_status_t rv = apr_stat(&fi, cli->path, APR_FINFO_LINK | APR_FINFO_PROT
                               | APR_FINFO_OWNER | APR_FINFO_SIZE | APR_FINFO_TYPE,
                               cli->pool);

    if (rv != APR_SUCCESS && !(rv == APR_INCOMPLETE && (fi.valid & APR_FINFO_SIZE)))
        return "(cannot stat)";
    /* Windows: owner and mode are an ACL, which APR may not express */
    if ((fi.valid & (APR_FINFO_PROT | APR_FINFO_OWNER))
        != (APR_FINFO_PROT | APR_FINFO_OWNER))
        return apr_psprintf(cli->pool, "%" APR_OFF_T_FMT " bytes", fi.size);
    if (apr_uid_name_get(&user, fi.user, cli->pool) != APR_SUCCESS)
        user = "?";
    if (apr_gid_name_get(&group, fi.group, cli->pool) != APR_SUCCESS)
        group = "?";
    return apr_psprintf(cli->pool, "mode 0%03o, owner %s (%ld), group %s "
                        "(%ld), %" APR_OFF_T_FMT " bytes",
                        octal_from_perms(fi.protection), user, (long)fi.user,
                        group, (long)fi.group, fi.size);
}

int cmd_info(cli_t *cli)
{
    shmcache_stats_t st;
    apr_status_t rv;
    apr_pool_t *p = cli->pool;
    int rc;

    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    if ((rv = shmcache_stats(cli->cache, &st)) != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot read the cache");
    cli_printf(cli, "path           %s\n", cli->path);
    cli_printf(cli, "file           %s\n", file_text(cli));
    cli_printf(cli, "format         version %u, layout %08x (match this "
               "build, shmcache %s)\n", st.format, st.layout,
               SHMCACHE_VERSION_STRING);
    cli_printf(cli, "layout         header 0 | lock %" APR_UINT64_T_FMT
               " | buckets %" APR_UINT64_T_FMT " | allocator %" APR_UINT64_T_FMT
               " | data %" APR_UINT64_T_FMT " (byte offsets)\n", st.lock_offset,
               st.buckets_offset, st.alloc_offset, st.data_offset);
    cli_printf(cli, "created        %s\n", cli_time_text(st.created, p));
    cli_printf(cli, "size           %" APR_UINT64_T_FMT " bytes (%s)\n",
               st.size, cli_human_bytes(st.size, p));
    cli_printf(cli, "data region    %" APR_UINT64_T_FMT " bytes (%s)\n",
               st.data_size, cli_human_bytes(st.data_size, p));
    cli_printf(cli, "metadata       %" APR_UINT64_T_FMT " bytes (header, lock, "
               "process slots, buckets, allocator)\n", st.size - st.data_size);
    cli_printf(cli, "buckets        %u\n", st.buckets);
    cli_printf(cli, "process slots  %u (%u attached now, this one included)\n",
               st.slots, st.attached);
    cli_printf(cli, "max key        %u bytes\n", st.max_key);
    cli_printf(cli, "max value      %u bytes (%s)\n", st.max_value,
               cli_human_bytes(st.max_value, p));
    cli_printf(cli, "default ttl    %s\n", st.default_ttl == 0
               ? "none (entries never expire unless given a TTL)"
               : apr_psprintf(p, "%u seconds", st.default_ttl));
    cli_printf(cli, "hash seed      random per cache (not shown)\n");
    return CLI_OK;
}

int cmd_remove(cli_t *cli)
{
    apr_uint32_t attached = 0;
    apr_status_t rv;

    rv = shmcache_remove_ex(cli->path, cli->opt[OPT_FORCE] != NULL, &attached,
                            cli->pool);
    if (rv == APR_SUCCESS)
        return CLI_OK;
    if (rv == SHMCACHE_EBUSY)
        return cli_say(cli, CLI_ERROR, "%s: %u process%s still attached: stop "
                       "%s first, or remove anyway with `shmcache-cli -f %s "
                       "remove --force` (attached processes keep their "
                       "mapping until they close it)", cli->path, attached,
                       attached == 1 ? " is" : "es are",
                       attached == 1 ? "it" : "them", cli->path);
    if (APR_STATUS_IS_ENOENT(rv))
        return cli_say(cli, CLI_ERROR, "no cache at %s: nothing to remove",
                       cli->path);
    /* the probe could not count the attached processes because the
     * segment does not validate: never read that as "nobody attached" */
    if (rv == SHMCACHE_ECORRUPT && cli->opt[OPT_FORCE] == NULL)
        return cli_say(cli, CLI_ERROR, "%s: segment fails validation (corrupt "
                       "or tampered): not removed, since the processes "
                       "attached to it cannot be counted; remove it anyway "
                       "with `shmcache-cli -f %s remove --force`", cli->path,
                       cli->path);
    return cli_fail(cli, rv, "cannot remove");
}

int cmd_check(cli_t *cli)
{
    char why[512];
    shmcache_stats_t st;
    apr_status_t rv;
    int rc;

    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    why[0] = '\0';
    rv = shmcache_check(cli->cache, why, sizeof why);
    if (rv == SHMCACHE_ECORRUPT)
        return cli_say(cli, CLI_ERROR, "%s: check failed: %s; run "
                       "'shmcache-cli -f %s repair' to mend it (entries the "
                       "damage reaches are dropped)", cli->path,
                       why[0] != '\0' ? why : "the cache is inconsistent",
                       cli->path);
    if (rv != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot check");
    if (shmcache_stats(cli->cache, &st) == APR_SUCCESS)
        cli_printf(cli, "%s: ok (%" APR_UINT64_T_FMT " items)\n", cli->path,
                   st.items);
    else
        cli_printf(cli, "%s: ok\n", cli->path);
    return CLI_OK;
}

int cmd_flush(cli_t *cli)
{
    apr_status_t rv;
    int rc;

    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    if ((rv = shmcache_flush(cli->cache)) != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot flush");
    return CLI_OK;
}

/* repair: check, and mend what check finds under the write lock (the
 * repair a lock waiter runs after a writer died); say what was done. */
int cmd_repair(cli_t *cli)
{
    static const char *const done[] = {
        "nothing to repair", "repaired (entries the damage reached were dropped)",
        "the allocator was damaged beyond rebuilding: the cache was emptied"
    };
    shmcache_repair_outcome_e what = SHMCACHE_REPAIR_NONE;
    char why[512];
    apr_status_t rv;
    int rc;

    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    why[0] = '\0';
    rv = shmcache_repair(cli->cache, &what, why, sizeof why);
    if (what != SHMCACHE_REPAIR_NONE)
        cli_printf(cli, "%s: check found: %s\n", cli->path, why);
    if (rv == SHMCACHE_ECORRUPT)
        return cli_say(cli, CLI_ERROR, "%s: still inconsistent after the "
                       "repair: another process keeps damaging it", cli->path);
    if (rv != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot repair");
    cli_printf(cli, "%s: %s\n", cli->path, done[what]);
    return CLI_OK;
}
