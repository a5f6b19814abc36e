/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.c - dump and load: a portable snapshot of a cache's entries,
 * for backups, warm restarts and moving a cache to another size.
 *
 * Snapshot format, version 1. Every integer is little-endian; the format
 * does not depend on the cache's size, buckets, hash seed or build.
 *
 *   size  field
 *   8     magic "SHMCSNAP" (53 48 4d 43 53 4e 41 50)
 *   4     format version: 1
 *   4     flags: 0 (a reader refuses flags it does not know)
 *   8     dump time, microseconds since 1970-01-01 UTC
 *   then one record per entry:
 *   4       key length K, 1..65535
 *   4       value length V
 *   8       milliseconds the entry had left at the dump time; 0 = never
 *           expires
 *   K       key bytes
 *   V       value bytes
 *   then the trailer:
 *   4     0 (a key length of 0 ends the records)
 *   8     number of records
 *   8     XXH64, seed 0, of every byte before this field
 *
 * Nothing follows the checksum. The count is in the trailer, not the
 * header, because a dump streams (possibly to a pipe) and knows it only at
 * the end.
 *
 * dump walks the table with shmcache_scan, SCAN_BATCH buckets per locked
 * stretch, and writes FILE under a temporary name (mode 0600) that is
 * synced to the disk and then renamed to FILE, only when complete; `-`
 * writes to stdout, and a reader that closes it early ends the dump
 * quietly.
 *
 * load reads the whole snapshot once to verify it (structure, count and
 * checksum) before storing anything, then reads it again and sets every
 * entry (replacing an existing key) with the time it has left: its
 * remaining TTL minus the time since the dump. Entries that have expired
 * since, and entries over the target cache's key or value limits, are
 * skipped and counted; the report adds the items the cache holds after
 * the load and the entries evicted to make room. `-` reads stdin, which
 * is first copied to a temporary file so it can be read twice.
 */
#include "cli.h"

#include <apr_strings.h>
#include <string.h>
#include <xxhash.h>

#define SNAP_MAGIC "SHMCSNAP"
#define SNAP_VERSION 1u
#define SNAP_HEADER 24
#define SNAP_RECORD 16
#define SCAN_BATCH 256

static void put_le32(unsigned char *p, apr_uint32_t v)
{
    int i;

    for (i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, apr_uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static apr_uint32_t get_le32(const unsigned char *p)
{
    return (apr_uint32_t)p[0] | (apr_uint32_t)p[1] << 8
           | (apr_uint32_t)p[2] << 16 | (apr_uint32_t)p[3] << 24;
}

static apr_uint64_t get_le64(const unsigned char *p)
{
    return (apr_uint64_t)get_le32(p) | (apr_uint64_t)get_le32(p + 4) << 32;
}

/* ---- dump -------------------------------------------------------------- */

typedef struct writer_t {
    apr_file_t *f;
    XXH64_state_t *hash;
    apr_status_t rv;            /* first write error */
    apr_uint64_t count;
    apr_time_t now;             /* the dump time */
} writer_t;

/* Write data unless an earlier write failed. */
static void put_raw(writer_t *w, const void *data, apr_size_t len)
{
    apr_size_t n;

    if (w->rv != APR_SUCCESS || len == 0)
        return;
    w->rv = apr_file_write_full(w->f, data, len, &n);
}

/* Write data and add it to the checksum. */
static void put(writer_t *w, const void *data, apr_size_t len)
{
    put_raw(w, data, len);
    XXH64_update(w->hash, data, len);
}

static int put_entry(void *baton, const void *key, apr_size_t key_len,
                     const void *value, apr_size_t value_len,
                     const shmcache_meta_t *meta)
{
    writer_t *w = baton;
    unsigned char rec[SNAP_RECORD];
    apr_uint64_t left_ms = 0;

    if (meta != NULL && meta->expires != 0) {
        if (meta->expires <= w->now)
            return 0;           /* expired while we walked */
        left_ms = (apr_uint64_t)(meta->expires - w->now + 999) / 1000;
    }
    put_le32(rec, (apr_uint32_t)key_len);
    put_le32(rec + 4, (apr_uint32_t)value_len);
    put_le64(rec + 8, left_ms);
    put(w, rec, sizeof rec);
    put(w, key, key_len);
    put(w, value, value_len);
    w->count++;
    return w->rv != APR_SUCCESS;
}

/* Say why writing the snapshot failed, except when w writes to stdout
 * and its reader closed it (`dump - | head`): that is kept in
 * cli->out_rv, and main ends quietly. @return CLI_ERROR. */
static int write_failed(cli_t *cli, const writer_t *w)
{
    if (w->f == cli->out && APR_STATUS_IS_EPIPE(w->rv)) {
        cli->out_rv = w->rv;
        return CLI_ERROR;
    }
    return cli_fail(cli, w->rv, "cannot write the snapshot");
}

static void put_header(writer_t *w)
{
    unsigned char head[SNAP_HEADER];

    memcpy(head, SNAP_MAGIC, 8);
    put_le32(head + 8, SNAP_VERSION);
    put_le32(head + 12, 0);
    put_le64(head + 16, (apr_uint64_t)w->now);
    put(w, head, sizeof head);
}

/* The end mark, the count and the checksum of everything before it. */
static void put_trailer(writer_t *w)
{
    unsigned char tail[12], sum[8];

    put_le32(tail, 0);
    put_le64(tail + 4, w->count);
    put(w, tail, sizeof tail);
    put_le64(sum, XXH64_digest(w->hash));
    put_raw(w, sum, sizeof sum);
}

/* Write the whole snapshot to w->f. @return an exit code. */
static int write_snapshot(cli_t *cli, writer_t *w)
{
    apr_uint32_t cursor = 0;
    apr_status_t rv;

    put_header(w);
    do {
        rv = shmcache_scan(cli->cache, &cursor, SCAN_BATCH, put_entry, w, 0);
        if (w->rv != APR_SUCCESS)
            return write_failed(cli, w);
        if (rv != APR_SUCCESS)
            return cli_fail(cli, rv, "cannot walk the table");
    } while (cursor != 0);
    put_trailer(w);
    if (w->rv == APR_SUCCESS)
        w->rv = apr_file_flush(w->f);
    if (w->rv != APR_SUCCESS)
        return write_failed(cli, w);
    return CLI_OK;
}

/* Create the temporary file beside target (mode 0600) into *f, its name
 * into *tmp. @return an exit code. */
static int open_temporary(cli_t *cli, const char *target, char **tmp,
                          apr_file_t **f)
{
    char why[256];
    apr_status_t rv;

    *tmp = apr_pstrcat(cli->pool, target, ".XXXXXX", NULL);
    rv = apr_file_mktemp(f, *tmp, APR_FOPEN_CREATE | APR_FOPEN_READ
                         | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                         | APR_FOPEN_BUFFERED | APR_FOPEN_BINARY, cli->pool);
    if (rv != APR_SUCCESS)
        return cli_say(cli, CLI_ERROR, "cannot create %s: %s", *tmp,
                       shmcache_strerror(rv, why, sizeof why));
    return CLI_OK;
}

/* Put the complete snapshot in tmp in place as target: on the disk first
 * (fsync), so a crash after the rename never leaves target empty or
 * partial, then renamed. @return an exit code. */
static int put_in_place(cli_t *cli, apr_file_t *f, const char *tmp,
                        const char *target)
{
    char why[256];
    apr_status_t rv = apr_file_sync(f), close_rv = apr_file_close(f);

    if (rv != APR_SUCCESS || (rv = close_rv) != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot write the snapshot");
    if ((rv = apr_file_rename(tmp, target, cli->pool)) != APR_SUCCESS)
        return cli_say(cli, CLI_ERROR, "cannot rename %s to %s: %s", tmp,
                       target, shmcache_strerror(rv, why, sizeof why));
    return CLI_OK;
}

/* The snapshot into the file target, all or nothing. @return an exit
 * code. */
static int dump_to_file(cli_t *cli, writer_t *w, const char *target)
{
    char *tmp;
    int rc;

    if ((rc = open_temporary(cli, target, &tmp, &w->f)) != CLI_OK)
        return rc;
    rc = write_snapshot(cli, w);
    if (rc == CLI_OK)
        rc = put_in_place(cli, w->f, tmp, target);
    else
        apr_file_close(w->f);
    if (rc != CLI_OK) {
        apr_file_remove(tmp, cli->pool);
        return rc;
    }
    cli_printf(cli, "dumped %" APR_UINT64_T_FMT " entries to %s\n", w->count,
               target);
    return CLI_OK;
}

int cmd_dump(cli_t *cli)
{
    const char *target = cli->args[0];
    writer_t w;
    int rc;

    if (*target == '\0')
        return cli_usage(cli, "FILE is empty");
    if ((rc = cli_attach(cli)) != CLI_OK)
        return rc;
    memset(&w, 0, sizeof w);
    w.now = apr_time_now();
    if ((w.hash = XXH64_createState()) == NULL)
        return cli_say(cli, CLI_ERROR, "out of memory");
    XXH64_reset(w.hash, 0);
    if (strcmp(target, "-") == 0) {
        w.f = cli->out;
        rc = write_snapshot(cli, &w);
    } else {
        rc = dump_to_file(cli, &w, target);
    }
    XXH64_freeState(w.hash);
    return rc;
}

/* ---- load -------------------------------------------------------------- */

typedef struct reader_t {
    cli_t *cli;
    apr_file_t *f;
    const char *name;           /* for messages */
    apr_time_t dumped;
    apr_uint64_t count;
    apr_uint32_t max_value_len; /* longest value in the file */
} reader_t;

/* Read exactly n bytes (hashing them when hash is non-NULL).
 * @return 0, or -1 at a short read. */
static int take(reader_t *r, void *buf, apr_size_t n, XXH64_state_t *hash)
{
    apr_size_t got = 0;

    if (n == 0)
        return 0;
    if (apr_file_read_full(r->f, buf, n, &got) != APR_SUCCESS || got != n)
        return -1;
    if (hash != NULL)
        XXH64_update(hash, buf, n);
    return 0;
}

/* Read and hash n bytes without keeping them. */
static int skip(reader_t *r, apr_uint64_t n, XXH64_state_t *hash)
{
    char buf[65536];
    apr_size_t chunk;

    while (n > 0) {
        chunk = n < sizeof buf ? (apr_size_t)n : sizeof buf;
        if (take(r, buf, chunk, hash) != 0)
            return -1;
        n -= chunk;
    }
    return 0;
}

static int bad_snapshot(reader_t *r, const char *why)
{
    return cli_say(r->cli, CLI_ERROR, "%s is not a valid shmcache snapshot: "
                   "%s; nothing was loaded", r->name, why);
}

/* Read the header: magic, version, flags, dump time. */
static int read_header(reader_t *r, XXH64_state_t *hash)
{
    unsigned char head[SNAP_HEADER];

    if (take(r, head, sizeof head, hash) != 0
        || memcmp(head, SNAP_MAGIC, 8) != 0)
        return bad_snapshot(r, "no snapshot header (wrong magic)");
    if (get_le32(head + 8) != SNAP_VERSION)
        return bad_snapshot(r, apr_psprintf(r->cli->pool, "format version %u "
                            "(this tool reads %u)", get_le32(head + 8),
                            SNAP_VERSION));
    if (get_le32(head + 12) != 0)
        return bad_snapshot(r, "unknown flags");
    r->dumped = (apr_time_t)get_le64(head + 16);
    return CLI_OK;
}

/* The records of the first pass, hashed: *n receives how many there are
 * (up to the end mark), r->max_value_len the longest value. @return an
 * exit code. */
static int verify_records(reader_t *r, XXH64_state_t *hash, apr_uint64_t *n)
{
    unsigned char rec[SNAP_RECORD];
    apr_uint32_t klen, vlen;

    for (*n = 0;; (*n)++) {
        if (take(r, rec, 4, hash) != 0)
            return bad_snapshot(r, "it ends inside a record (truncated?)");
        if ((klen = get_le32(rec)) == 0)
            return CLI_OK;
        if (klen > SHMCACHE_LIMIT_MAX_KEY || take(r, rec + 4, 12, hash) != 0
            || skip(r, klen, hash) != 0
            || skip(r, get_le32(rec + 4), hash) != 0)
            return bad_snapshot(r, apr_psprintf(r->cli->pool, "record %"
                                APR_UINT64_T_FMT " is damaged or truncated",
                                *n + 1));
        vlen = get_le32(rec + 4);
        if (vlen > r->max_value_len)
            r->max_value_len = vlen;
    }
}

/* The trailer after n records: their count, the checksum of everything
 * before it, then the end of the file. @return an exit code. */
static int verify_trailer(reader_t *r, XXH64_state_t *hash, apr_uint64_t n)
{
    unsigned char tail[8], sum[8];
    char extra;

    if (take(r, tail, 8, hash) != 0 || take(r, sum, 8, NULL) != 0)
        return bad_snapshot(r, "the trailer is missing (truncated?)");
    if (get_le64(tail) != n)
        return bad_snapshot(r, "the record count does not match");
    if (get_le64(sum) != XXH64_digest(hash))
        return bad_snapshot(r, "the checksum does not match");
    if (take(r, &extra, 1, NULL) == 0)
        return bad_snapshot(r, "data follows the checksum");
    return CLI_OK;
}

/* First pass: the structure, the count and the checksum, storing nothing.
 * Sets r->count. @return an exit code. */
static int verify(reader_t *r)
{
    XXH64_state_t *hash = XXH64_createState();
    apr_uint64_t n = 0;
    int rc;

    if (hash == NULL)
        return cli_say(r->cli, CLI_ERROR, "out of memory");
    XXH64_reset(hash, 0);
    if ((rc = read_header(r, hash)) == CLI_OK
        && (rc = verify_records(r, hash, &n)) == CLI_OK
        && (rc = verify_trailer(r, hash, n)) == CLI_OK)
        r->count = n;
    XXH64_freeState(hash);
    return rc;
}

/* The TTL to store an entry with, given the milliseconds it had left at
 * the dump; 0 when it has expired since. The whole seconds left are
 * rounded down (at least 1): the library counts expiry in whole seconds
 * and lets an entry live at least its TTL, so rounding up would move the
 * expiry later by a second on every dump and load. */
static apr_uint32_t ttl_now(const reader_t *r, apr_uint64_t left_ms,
                            apr_time_t now)
{
    /* the dump time comes from the file: subtract as unsigned, where a
     * difference of two int64 values always fits (signed could overflow) */
    apr_uint64_t since_ms = now > r->dumped
        ? ((apr_uint64_t)now - (apr_uint64_t)r->dumped) / 1000 : 0;
    apr_uint64_t secs;

    if (left_ms == 0)
        return SHMCACHE_TTL_FOREVER;
    if (left_ms <= since_ms)
        return 0;
    secs = (left_ms - since_ms) / 1000;
    if (secs == 0)
        secs = 1;
    return secs > SHMCACHE_TTL_MAX ? SHMCACHE_TTL_MAX : (apr_uint32_t)secs;
}

/* What the second pass did. */
typedef struct load_counts_t {
    apr_uint64_t loaded;        /* stored */
    apr_uint64_t expired;       /* expired since the dump */
    apr_uint64_t too_big;       /* over this cache's limits */
} load_counts_t;

/* One record of the second pass: key into key (SHMCACHE_LIMIT_MAX_KEY
 * bytes), the value into value when it is at most cap bytes (skipped
 * otherwise), and the TTL to store it with now (0: expired).
 * @return 0, or -1 when the file no longer reads as it did in the first
 * pass. */
static int next_record(reader_t *r, char *key, char *value, apr_size_t cap,
                       apr_uint32_t *klen, apr_uint32_t *vlen,
                       apr_uint32_t *ttl)
{
    unsigned char rec[SNAP_RECORD];

    if (take(r, rec, SNAP_RECORD, NULL) != 0)
        return -1;
    *klen = get_le32(rec);
    *vlen = get_le32(rec + 4);
    *ttl = ttl_now(r, get_le64(rec + 8), apr_time_now());
    /* checked in the first pass, but the file may have changed since */
    if (*klen == 0 || *klen > SHMCACHE_LIMIT_MAX_KEY
        || take(r, key, *klen, NULL) != 0)
        return -1;
    return (*vlen <= cap ? take(r, value, *vlen, NULL)
                         : skip(r, *vlen, NULL));
}

/* Second pass: store every entry, counting into n. @return an exit
 * code. */
static int store_all(reader_t *r, apr_uint32_t max_value, load_counts_t *n)
{
    cli_t *cli = r->cli;
    apr_size_t cap = r->max_value_len < max_value ? r->max_value_len : max_value;
    char *key = apr_palloc(cli->pool, SHMCACHE_LIMIT_MAX_KEY);
    char *value = apr_palloc(cli->pool, cap + 1);
    apr_uint32_t klen, vlen, ttl;
    apr_off_t off = SNAP_HEADER;
    apr_uint64_t i;
    apr_status_t rv;

    if (apr_file_seek(r->f, APR_SET, &off) != APR_SUCCESS)
        return cli_say(cli, CLI_ERROR, "cannot read %s again", r->name);
    for (i = 0; i < r->count; i++) {
        if (next_record(r, key, value, cap, &klen, &vlen, &ttl) != 0)
            return cli_say(cli, CLI_ERROR, "%s changed while loading", r->name);
        if (ttl == 0 || vlen > cap) {
            n->expired += ttl == 0;
            n->too_big += ttl != 0;
            continue;
        }
        rv = shmcache_set(cli->cache, key, klen, value, vlen, ttl, NULL);
        if (rv == SHMCACHE_EKEYLEN || rv == SHMCACHE_EVALLEN
            || rv == SHMCACHE_ENOMEM) {
            n->too_big++;
        } else if (rv != APR_SUCCESS) {
            cli_printf(cli, "loaded %" APR_UINT64_T_FMT " entries before the "
                       "error\n", n->loaded);
            return cli_fail(cli, rv, "cannot store");
        } else {
            n->loaded++;
        }
    }
    return CLI_OK;
}

/* Say what the load did: stored and skipped entries, and, from the
 * figures before and after, how many items the cache holds now and how
 * many entries were evicted to make room (a cache smaller than the
 * snapshot keeps only part of it). */
static int report_load(cli_t *cli, const load_counts_t *n,
                       const shmcache_stats_t *before)
{
    shmcache_stats_t after;
    apr_status_t rv;

    cli_printf(cli, "loaded %" APR_UINT64_T_FMT " entries, skipped %"
               APR_UINT64_T_FMT " (%" APR_UINT64_T_FMT " expired since the "
               "dump, %" APR_UINT64_T_FMT " over this cache's limits)",
               n->loaded, n->expired + n->too_big, n->expired, n->too_big);
    if ((rv = shmcache_stats(cli->cache, &after)) != APR_SUCCESS) {
        cli_printf(cli, "\n");
        return cli_fail(cli, rv, "loaded, but cannot read the figures");
    }
    cli_printf(cli, "; the cache now holds %" APR_UINT64_T_FMT " items, %"
               APR_UINT64_T_FMT " evicted to make room%s\n", after.items,
               after.evictions > before->evictions
               ? after.evictions - before->evictions : 0,
               after.evictions > before->evictions
               ? " (the cache is too small for the whole snapshot)" : "");
    return CLI_OK;
}

/* Copy stdin to a temporary file (deleted on close) so it can be read
 * twice. */
static int spool_stdin(cli_t *cli, apr_file_t **f)
{
    const char *dir = NULL;
    char *tmpl, buf[65536];
    apr_size_t n, w;
    apr_status_t rv;
    char why[256];

    if ((rv = apr_temp_dir_get(&dir, cli->pool)) != APR_SUCCESS)
        goto fail;
    tmpl = apr_pstrcat(cli->pool, dir, "/shmcache-load.XXXXXX", NULL);
    rv = apr_file_mktemp(f, tmpl, APR_FOPEN_CREATE | APR_FOPEN_READ
                         | APR_FOPEN_WRITE | APR_FOPEN_EXCL | APR_FOPEN_BUFFERED
                         | APR_FOPEN_BINARY | APR_FOPEN_DELONCLOSE, cli->pool);
    if (rv != APR_SUCCESS)
        goto fail;
    for (;;) {
        apr_status_t read_rv;
        n = sizeof buf;
        read_rv = apr_file_read(cli->in, buf, &n);
        /* keep what was read even when the read also reports an error */
        if (n > 0 && (rv = apr_file_write_full(*f, buf, n, &w)) != APR_SUCCESS)
            goto fail;
        if (APR_STATUS_IS_EOF(read_rv))
            break;
        if ((rv = read_rv) != APR_SUCCESS)
            goto fail;
    }
    {
        apr_off_t off = 0;
        if ((rv = apr_file_seek(*f, APR_SET, &off)) != APR_SUCCESS)
            goto fail;
    }
    return CLI_OK;
fail:
    return cli_say(cli, CLI_ERROR, "cannot keep stdin in a temporary file: %s",
                   shmcache_strerror(rv, why, sizeof why));
}

int cmd_load(cli_t *cli)
{
    reader_t r;
    load_counts_t counts;
    shmcache_stats_t st;
    apr_status_t rv;
    char why[256];
    int rc;

    memset(&r, 0, sizeof r);
    r.cli = cli;
    r.name = cli->args[0];
    if (*r.name == '\0')
        return cli_usage(cli, "FILE is empty");
    if (strcmp(r.name, "-") == 0) {
        r.name = "stdin";
        if (cli_isatty(0))
            return cli_usage(cli, "stdin is a terminal, not a snapshot");
        if ((rc = spool_stdin(cli, &r.f)) != CLI_OK)
            return rc;
    } else if ((rv = apr_file_open(&r.f, r.name, APR_FOPEN_READ
                                   | APR_FOPEN_BUFFERED | APR_FOPEN_BINARY,
                                   APR_FPROT_OS_DEFAULT, cli->pool))
               != APR_SUCCESS) {
        return cli_say(cli, CLI_ERROR, "cannot open %s: %s", r.name,
                       shmcache_strerror(rv, why, sizeof why));
    }
    if ((rc = verify(&r)) != CLI_OK || (rc = cli_attach(cli)) != CLI_OK)
        return rc;
    if ((rv = shmcache_stats(cli->cache, &st)) != APR_SUCCESS)
        return cli_fail(cli, rv, "cannot read the cache's limits");
    memset(&counts, 0, sizeof counts);
    if ((rc = store_all(&r, st.max_value, &counts)) != CLI_OK)
        return rc;
    return report_load(cli, &counts, &st);
}
