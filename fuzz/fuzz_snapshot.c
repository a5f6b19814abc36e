/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_snapshot.c - libFuzzer target (c): the snapshot reader of
 * `shmcache-cli load` (cmd_load in shmcache-cli/snapshot.c), end to end:
 * the input becomes a snapshot file, cmd_load verifies it and stores its
 * entries into a real 1 MiB cache.
 *
 * The snapshot ends with an XXH64 of everything before it, which a
 * mutator would almost never get right, so unless bit 0 of the first
 * input byte is set the target appends the correct checksum to the rest
 * of the input; with the bit set the rest is the file as it is (the
 * checksum path itself gets fuzzed too).
 *
 * Findings: crashes, sanitizer reports, hangs; a cache that fails check
 * after a load (whatever the load returned); an exit code other than
 * 0 (loaded) or 3 (refused).
 *
 * cmd_load is callable in isolation: it takes a cli_t (pool, files, path
 * of the cache, argument 0 = the snapshot path), so nothing needed
 * refactoring; the harness links snapshot.c, util.c and common/units.c.
 */
#include "fuzz_common.h"
#include "cli.h"
#include "shmcache.h"

#include <apr_file_io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *cache_path, *snap_path;
static shmcache_t *keeper;
static apr_file_t *devnull;
static apr_pool_t *iter_pool;
static const cmd_t load_cmd = {"load", cmd_load, 1, 1, NULL, "FILE", "", ""};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *g = fz_global_pool();
    shmcache_options_t o;

    (void)argc;
    (void)argv;
    cache_path = fz_path("cache");
    snap_path = fz_path("snapshot");
    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.max_key = 250;
    o.max_value = 64 << 10;
    if (shmcache_create(&keeper, cache_path, &o, g) != APR_SUCCESS
        || apr_file_open(&devnull, "/dev/null", APR_FOPEN_WRITE, APR_FPROT_OS_DEFAULT,
                         g) != APR_SUCCESS
        || apr_pool_create(&iter_pool, g) != APR_SUCCESS)
        fz_fail("set-up failed");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char *file;
    static size_t cap;
    size_t len;
    cli_t cli;
    char why[256];
    apr_status_t rv;
    int rc;

    if (size < 1 || size > (1u << 20))
        return 0;
    if (cap < size + 8) {
        free(file);
        cap = size + 8;
        file = malloc(cap);
        if (file == NULL)
            fz_fail("out of memory");
    }
    len = size - 1;
    memcpy(file, data + 1, len);
    if ((data[0] & 1) == 0) {
        XXH64_hash_t sum = XXH64(file, len, 0);
        int i;
        for (i = 0; i < 8; i++)
            file[len + (size_t)i] = (unsigned char)(sum >> (8 * i));
        len += 8;
    }
    fz_write_file(snap_path, file, len);

    apr_pool_clear(iter_pool);
    memset(&cli, 0, sizeof cli);
    cli.pool = iter_pool;
    cli.path = cache_path;
    cli.path_origin = "-f";
    cli.out = devnull;
    cli.err = devnull;
    cli.cmd = &load_cmd;
    cli.args[0] = snap_path;
    cli.nargs = 1;
    rc = cmd_load(&cli);
    if (cli.cache != NULL && shmcache_close(cli.cache) != APR_SUCCESS)
        fz_fail("close failed");
    if (rc != CLI_OK && rc != CLI_ERROR)
        fz_fail("cmd_load returned %d", rc);
    rv = shmcache_check(keeper, why, sizeof why);
    if (rv != APR_SUCCESS)
        fz_fail("the cache fails check after a load: %s", why);
    if (rc == CLI_OK && shmcache_flush(keeper) != APR_SUCCESS)
        fz_fail("flush failed");
    return 0;
}
