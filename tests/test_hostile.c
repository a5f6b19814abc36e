/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hostile.c - a segment in the hands of a process that does not play
 * by the rules, keys chosen to hurt, and the limits of every number.
 *
 * Corruption: a cache is filled, its file image kept, and for many seeds a
 * copy of it has random bytes or words of one region overwritten (header,
 * lock area, bucket array, allocator control block, data). A helper process
 * (this binary, re-executed) attaches to the copy and runs every operation
 * under a time limit; it must exit normally, every status must be one that
 * shmcache.h documents for the operation, a failing check must say why, and
 * a successful flush must leave a cache that passes check. The helper maps
 * the segment between inaccessible guard pages (tests/guard_pages.c:
 * Linux and Windows), so a read or write even one byte outside the file is
 * a crash, not luck. SHMCACHE_HOSTILE_SEEDS (seeds per region and mode,
 * default 64) and SHMCACHE_HOSTILE_FIRST (first seed) widen or replay a
 * run. One helper runs SHMCACHE_HOSTILE_BATCH damaged copies in turn
 * (default 16; a process start costs ~0.15 s under Wine, 640 of them were
 * most of this test's time there); a batch that fails is replayed one
 * copy per helper, so the failure still names its seed.
 *
 * Lock-owner pids are never used to signal. Read in lock.c and
 * unix/os.c: the only calls that take a pid read from the segment are
 * sc_os_proc_alive() (kill(pid, 0): signal 0 is the existence check, it
 * sends nothing, plus a read of /proc/PID/stat) and nothing else: no
 * kill() with a real signal, no waitpid, no ptrace exists in the library
 * (grep kill libshmcache/src: os.c's two kill(pid, 0) calls only). A pid
 * above INT32_MAX would be a negative pid_t, i.e. a process group (and -1
 * every process) even for kill(pid, 0); sc_os_proc_alive treats such a
 * value as dead without calling kill. The test below puts a live
 * process's pid into a slot that holds the lock and checks that it
 * receives no signal of any kind.
 */
#include "harness.h"

#include "alloc.h"
#include "lock.h"
#include "segment.h"
#include "table.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#endif
#ifndef SIGKILL
#define SIGKILL 9                  /* apr_proc_kill terminates on Windows */
#endif

/* Guard pages around the segment mapping: tests/guard_pages.c, linked
 * into this binary (tests/CMakeLists.txt). It says how many mappings are
 * guarded now, or -1 on a system where it cannot guard. */
int guard_pages_active(void);

/* ------------------------------------------------------------------------
 * Small tools
 * ---------------------------------------------------------------------- */

/* xorshift64*: a reproducible stream per seed. */
static apr_uint64_t rnd(apr_uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static apr_uint64_t below(apr_uint64_t *s, apr_uint64_t n)
{
    return n == 0 ? 0 : rnd(s) % n;
}

/* The whole file at path, in th_pool. */
static char *load(const char *path, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;

    th_ok(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, th_pool));
    th_ok(apr_file_info_get(&fi, APR_FINFO_SIZE, f));
    n = (apr_size_t)fi.size;
    buf = apr_palloc(th_pool, n);
    th_ok(apr_file_read_full(f, buf, n, &n));
    apr_file_close(f);
    *len = n;
    return buf;
}

/* Write a new file (owner-only) with len bytes of image. */
static void store_file(const char *path, const void *image, apr_size_t len)
{
    apr_file_t *f;
    apr_size_t n;

    th_ok(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                        | APR_FOPEN_EXCL | APR_FOPEN_BINARY,
                        APR_FPROT_UREAD | APR_FPROT_UWRITE, th_pool));
    th_ok(apr_file_write_full(f, image, len, &n));
    apr_file_close(f);
}

/* Overwrite len bytes at off of the file at path (a mapping of the file
 * sees the change at once: it is shared). */
static void poke(const char *path, apr_uint64_t off, const void *bytes,
                 apr_size_t len)
{
    apr_file_t *f;
    apr_off_t o = (apr_off_t)off;
    apr_size_t n;

    th_ok(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_READ
                        | APR_FOPEN_BINARY, 0, th_pool));
    th_ok(apr_file_seek(f, APR_SET, &o));
    th_ok(apr_file_write_full(f, bytes, len, &n));
    apr_file_close(f);
}

static void poke32(const char *path, apr_uint64_t off, apr_uint32_t v)
{
    poke(path, off, &v, sizeof v);
}

static void poke64(const char *path, apr_uint64_t off, apr_uint64_t v)
{
    poke(path, off, &v, sizeof v);
}

static const sc_header_sh_t *hdr_of(const char *image)
{
    return (const sc_header_sh_t *)image;
}

/* The allocator of a consistent image, bound to its data region. */
static sc_alloc_t alloc_of(char *image)
{
    const sc_header_sh_t *h = hdr_of(image);
    sc_alloc_t al;

    th_ok(sc_alloc_bind(&al, image, (sc_alloc_sh_t *)(image + h->alloc_off),
                        h->data_off, h->data_off + h->data_size));
    return al;
}

/* Payload offset of the entry holding key in a consistent image, or 0. */
static apr_uint64_t entry_of(char *image, const char *key)
{
    sc_alloc_t al = alloc_of(image);
    apr_uint64_t cursor = 0;
    sc_alloc_block_t blk;
    apr_size_t klen = strlen(key);

    do {
        const sc_entry_sh_t *e;
        th_ok(sc_alloc_walk_locked(&al, &cursor, &blk));
        e = (const sc_entry_sh_t *)(image + blk.payload);
        if (!blk.is_free && e->key_len == klen
            && memcmp(image + blk.payload + SC_ENTRY_HDR, key, klen) == 0)
            return blk.payload;
    } while (cursor != 0);
    return 0;
}

static shmcache_t *attach_quick(const char *path)
{
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.lock_timeout_ms = 20;
    th_ok(shmcache_attach(&c, path, &o, th_pool));
    return c;
}

/* Wait for proc at most seconds; kill it after that. Returns the exit
 * code, 128 + signal, or -1 on a timeout. */
static int wait_limited(apr_proc_t *proc, int seconds)
{
    apr_time_t end = apr_time_now() + apr_time_from_sec(seconds);
    apr_exit_why_e why;
    int code;

    for (;;) {
        if (apr_proc_wait(proc, &code, &why, APR_NOWAIT) == APR_CHILD_DONE)
            return APR_PROC_CHECK_SIGNALED(why) ? 128 + code : code;
        if (apr_time_now() > end) {
#ifdef SIGKILL
            apr_proc_kill(proc, SIGKILL);
#else
            apr_proc_kill(proc, 9);     /* Windows: TerminateProcess */
#endif
            th_wait(proc);
            return -1;
        }
        apr_sleep(2000);
    }
}

/* Run helper name with args under a time limit. Returns its exit code,
 * 128 + signal, or -1 when it did not finish within seconds. */
static int run_helper(const char *name, const char *const *args, int seconds,
                      const char *what)
{
    apr_proc_t proc;
    apr_time_t t0 = apr_time_now();
    int rc;

    th_spawn(&proc, name, args);
    rc = wait_limited(&proc, seconds);
    if (getenv("SHMCACHE_HOSTILE_VERBOSE") != NULL)
        fprintf(stderr, "hostile: %s: %d ms\n", what,
                (int)((apr_time_now() - t0) / 1000));
    return rc;
}

/* Run helper name with args under a time limit; fail the test unless it
 * exits with 0. what describes the case for the message. */
static void run_helper_ok(const char *name, const char *const *args,
                          int seconds, const char *what)
{
    int rc = run_helper(name, args, seconds, what);

    ck_assert_msg(rc != -1, "%s: helper %s did not finish within %d s (hang)",
                  what, name, seconds);
    ck_assert_msg(rc < 128, "%s: helper %s died of signal %d", what, name, rc - 128);
    ck_assert_msg(rc == 0, "%s: helper %s exited with %d (see its output)",
                  what, name, rc);
}

/* ------------------------------------------------------------------------
 * The filled cache every corruption starts from
 * ---------------------------------------------------------------------- */

#define FILL_KEYS 240u

static void key_name(char *buf, apr_size_t n, unsigned i)
{
    apr_snprintf(buf, n, "key-%u", i);
}

/* Create a 1 MiB cache at path with FILL_KEYS entries of varied sizes,
 * numbers, TTLs and some holes (free blocks between used ones), close it
 * and return its file image. */
static char *make_image(const char *path, apr_size_t *len)
{
    static char value[20000];
    shmcache_options_t o;
    shmcache_t *c;
    char key[32], num[32];
    unsigned i;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.slots = 16;
    th_ok(shmcache_create(&c, path, &o, th_pool));
    for (i = 0; i < sizeof value; i++)
        value[i] = (char)('a' + i % 26);
    for (i = 0; i < FILL_KEYS; i++) {
        apr_size_t vlen = (i * 37u) % 300u + (i % 41u == 0 ? 9000u : 0u);
        key_name(key, sizeof key, i);
        if (i % 5 == 0) {
            apr_snprintf(num, sizeof num, "%u", i * 1000u);
            th_ok(shmcache_set(c, key, strlen(key), num, strlen(num), 0, NULL));
        } else {
            th_ok(shmcache_set(c, key, strlen(key), value, vlen,
                               i % 7 == 0 ? 3600u : 0u, NULL));
        }
    }
    for (i = 3; i < FILL_KEYS; i += 11) {
        key_name(key, sizeof key, i);
        th_ok(shmcache_delete(c, key, strlen(key)));
    }
    th_ok(shmcache_check(c, NULL, 0));
    th_ok(shmcache_close(c));
    return load(path, len);
}

/* ------------------------------------------------------------------------
 * The operations helper: attach to argv[0] and run everything
 * ---------------------------------------------------------------------- */

typedef struct status_set_t {
    const char *op;
    apr_status_t ok[10];
    int n;
} status_set_t;

#define S(x) SHMCACHE_##x
static const status_set_t ST_GET = {"get", {APR_SUCCESS, S(NOTFOUND), S(EKEYLEN),
    S(ECORRUPT), S(ETIMEDOUT)}, 5};
static const status_set_t ST_GETBUF = {"get_buf", {APR_SUCCESS, S(NOTFOUND),
    S(EKEYLEN), S(ECORRUPT), S(ETIMEDOUT), S(EBUFSIZE)}, 6};
static const status_set_t ST_SET = {"set", {APR_SUCCESS, S(EKEYLEN), S(EVALLEN),
    S(ENOMEM), S(ECORRUPT), S(ETIMEDOUT)}, 6};
static const status_set_t ST_ADD = {"add", {APR_SUCCESS, S(EKEYLEN), S(EVALLEN),
    S(ENOMEM), S(ECORRUPT), S(ETIMEDOUT), S(EXISTS)}, 7};
static const status_set_t ST_REPLACE = {"replace", {APR_SUCCESS, S(EKEYLEN),
    S(EVALLEN), S(ENOMEM), S(ECORRUPT), S(ETIMEDOUT), S(NOTFOUND)}, 7};
static const status_set_t ST_CAS = {"cas", {APR_SUCCESS, S(EKEYLEN), S(EVALLEN),
    S(ENOMEM), S(ECORRUPT), S(ETIMEDOUT), S(NOTFOUND), S(EMISMATCH)}, 8};
static const status_set_t ST_DELETE = {"delete", {APR_SUCCESS, S(NOTFOUND),
    S(EKEYLEN), S(ECORRUPT), S(ETIMEDOUT)}, 5};
static const status_set_t ST_INCR = {"incr", {APR_SUCCESS, S(NOTFOUND), S(ENOTNUM),
    S(EKEYLEN), S(EVALLEN), S(ENOMEM), S(ECORRUPT), S(ETIMEDOUT)}, 8};
static const status_set_t ST_TOUCH = {"touch", {APR_SUCCESS, S(NOTFOUND),
    S(EKEYLEN), S(ECORRUPT), S(ETIMEDOUT)}, 5};
static const status_set_t ST_WALK = {"iterate/scan", {APR_SUCCESS, S(ECORRUPT),
    S(ETIMEDOUT)}, 3};
static const status_set_t ST_STATS = {"stats", {APR_SUCCESS, S(ETIMEDOUT)}, 2};
static const status_set_t ST_CHECK = {"check", {APR_SUCCESS, S(ECORRUPT),
    S(ETIMEDOUT)}, 3};
static const status_set_t ST_FLUSH = {"flush", {APR_SUCCESS, S(ETIMEDOUT)}, 2};
static const status_set_t ST_ATTACH = {"attach", {S(ENOTCACHE), S(EFORMAT),
    S(ELAYOUT), S(ECORRUPT), S(ESLOTS), S(ETIMEDOUT)}, 6};

static int bad_statuses;

static apr_status_t expect(const status_set_t *set, apr_status_t rv,
                           const char *key)
{
    char buf[256];
    int i;

    if (rv != APR_SUCCESS && getenv("SHMCACHE_HOSTILE_VERBOSE") != NULL)
        fprintf(stderr, "hostile: %s(%s): %s\n", set->op, key != NULL ? key : "-",
                shmcache_strerror(rv, buf, sizeof buf));
    for (i = 0; i < set->n; i++)
        if (rv == set->ok[i])
            return rv;
    fprintf(stderr, "hostile: %s(%s) returned %d (%s), not a documented status\n",
            set->op, key != NULL ? key : "-", (int)rv,
            shmcache_strerror(rv, buf, sizeof buf));
    bad_statuses++;
    return rv;
}

/* iterate callback: touch every byte handed over (so a wild length shows)
 * and count. */
static int walk_one(void *baton, const void *key, apr_size_t key_len,
                    const void *value, apr_size_t value_len,
                    const shmcache_meta_t *meta)
{
    apr_uint64_t *sum = baton;
    apr_size_t i;

    if (key_len == 0 || key_len > SHMCACHE_LIMIT_MAX_KEY) {
        fprintf(stderr, "hostile: iterate gave a key of %lu bytes\n",
                (unsigned long)key_len);
        bad_statuses++;
    }
    for (i = 0; i < key_len; i++)
        *sum += ((const unsigned char *)key)[i];
    for (i = 0; value != NULL && i < value_len; i++)
        *sum += ((const unsigned char *)value)[i];
    *sum += meta->version;
    return 0;
}

static void run_reads(shmcache_t *c)
{
    static const unsigned pick[] = {0, 1, 2, 3, 5, 8, 13, 14, 21, 34, 41, 55,
                                    82, 89, 144, 200, 233, 239, 5000};
    char key[32], small[16];
    apr_size_t n, i;
    shmcache_meta_t m;
    void *v;

    for (i = 0; i < sizeof pick / sizeof pick[0]; i++) {
        key_name(key, sizeof key, pick[i]);
        expect(&ST_GET, shmcache_get(c, key, strlen(key), &v, &n, &m, th_pool), key);
        expect(&ST_GETBUF, shmcache_get_buf(c, key, strlen(key), small,
                                            sizeof small, &n, NULL), key);
        expect(&ST_GET, shmcache_get_meta(c, key, strlen(key), &m), key);
    }
}

static void run_walks(shmcache_t *c)
{
    apr_uint64_t sum = 0;
    apr_uint32_t cursor = 0;
    int rounds = 0;
    apr_status_t rv;

    expect(&ST_WALK, shmcache_iterate(c, walk_one, &sum, 0), NULL);
    expect(&ST_WALK, shmcache_iterate(c, walk_one, &sum, SHMCACHE_ITER_KEYS_ONLY),
           NULL);
    do {
        rv = expect(&ST_WALK, shmcache_scan(c, &cursor, 97, walk_one, &sum, 0),
                    NULL);
    } while (rv == APR_SUCCESS && cursor != 0 && ++rounds < 100000);
    if (rounds >= 100000) {
        fprintf(stderr, "hostile: scan never came back to cursor 0\n");
        bad_statuses++;
    }
}

static void run_figures(shmcache_t *c)
{
    shmcache_stats_t st;
    char why[512];
    apr_status_t rv;

    expect(&ST_STATS, shmcache_stats(c, &st), NULL);
    why[0] = 'x';
    rv = expect(&ST_CHECK, shmcache_check(c, why, sizeof why), NULL);
    if (getenv("SHMCACHE_HOSTILE_VERBOSE") != NULL)
        fprintf(stderr, "hostile: check: %d %s\n", (int)rv,
                rv == APR_SUCCESS ? "" : why);
    if (rv == SHMCACHE_ECORRUPT && why[0] == '\0') {
        fprintf(stderr, "hostile: check found corruption but did not say where\n");
        bad_statuses++;
    }
}

static void run_writes(shmcache_t *c)
{
    static const char big[3000] = {0};
    apr_uint64_t ver = 0, init = 7, res;
    shmcache_meta_t m;
    char key[32];
    unsigned i;

    for (i = 0; i < 24; i++) {
        key_name(key, sizeof key, i * 10u + 1u);
        expect(&ST_SET, shmcache_set(c, key, strlen(key), big,
                                     (i * 131u) % sizeof big, 0, &ver), key);
    }
    key_name(key, sizeof key, 2);
    expect(&ST_ADD, shmcache_add(c, key, strlen(key), "a", 1, 60, NULL), key);
    expect(&ST_ADD, shmcache_add(c, "fresh", 5, "a", 1, 60, NULL), "fresh");
    expect(&ST_REPLACE, shmcache_replace(c, key, strlen(key), "r", 1, 0, NULL), key);
    expect(&ST_REPLACE, shmcache_replace(c, "nokey", 5, "r", 1, 0, NULL), "nokey");
    if (shmcache_get_meta(c, key, strlen(key), &m) == APR_SUCCESS)
        ver = m.version;
    expect(&ST_CAS, shmcache_cas(c, key, strlen(key), "c", 1, 0, ver, NULL), key);
    expect(&ST_CAS, shmcache_cas(c, key, strlen(key), "c", 1, 0, ver + 99, NULL), key);
    key_name(key, sizeof key, 10);      /* a number */
    expect(&ST_INCR, shmcache_incr(c, key, strlen(key), 5, NULL, 0, &res), key);
    expect(&ST_INCR, shmcache_incr(c, key, strlen(key), -3, NULL, 0, &res), key);
    key_name(key, sizeof key, 11);      /* not a number */
    expect(&ST_INCR, shmcache_incr(c, key, strlen(key), 1, NULL, 0, &res), key);
    expect(&ST_INCR, shmcache_incr(c, "ctr", 3, 1, &init, 30, &res), "ctr");
    key_name(key, sizeof key, 12);
    expect(&ST_TOUCH, shmcache_touch(c, key, strlen(key), 100), key);
    expect(&ST_TOUCH, shmcache_touch(c, "gone", 4, 100), "gone");
    for (i = 0; i < 12; i++) {
        key_name(key, sizeof key, i * 19u + 4u);
        expect(&ST_DELETE, shmcache_delete(c, key, strlen(key)), key);
    }
}

/* After a successful flush the table must be whole again. */
static void run_flush(shmcache_t *c)
{
    char why[512], buf[8];
    apr_size_t n;
    apr_status_t rv = expect(&ST_FLUSH, shmcache_flush(c), NULL);

    if (rv != APR_SUCCESS)
        return;
    rv = shmcache_check(c, why, sizeof why);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "hostile: check after a successful flush gave %d: %s\n",
                (int)rv, why);
        bad_statuses++;
        return;
    }
    /* a one-byte key and an empty value fit whatever limits the header
     * holds (max_key >= 1 is checked at attach; max_value may be 0) */
    if (shmcache_set(c, "a", 1, "", 0, 0, NULL) != APR_SUCCESS
        || shmcache_get_buf(c, "a", 1, buf, sizeof buf, &n, NULL) != APR_SUCCESS
        || n != 0) {
        fprintf(stderr, "hostile: set/get after a successful flush failed\n");
        bad_statuses++;
    }
}

/* Attach to path and run every operation; bad_statuses counts what was
 * not documented. */
static void ops_one(const char *path)
{
    shmcache_options_t o;
    shmcache_t *c;
    apr_status_t rv;

    shmcache_options_init(&o);
    o.lock_timeout_ms = 5;       /* a stuck lock costs 10 x this per call */
    rv = shmcache_attach(&c, path, &o, th_pool);
    if (getenv("SHMCACHE_HOSTILE_VERBOSE") != NULL)
        fprintf(stderr, "hostile: attach %s: %d\n", path, (int)rv);
    if (rv != APR_SUCCESS) {
        expect(&ST_ATTACH, rv, NULL);
        return;
    }
    run_reads(c);
    run_walks(c);
    run_figures(c);
    run_writes(c);
    run_reads(c);
    run_walks(c);
    run_figures(c);
    run_flush(c);
    if (shmcache_close(c) != APR_SUCCESS)
        bad_statuses++;
}

/* Helper: argv = one or more paths, each a damaged segment, run in turn
 * (a batch saves a process start per seed: about 0.15 s under Wine).
 * Exit 0 when every status was documented; a crash or a hang is the
 * parent's to see. */
static int ops_helper(int argc, const char *const *argv)
{
    int i, before;

    if (argc < 1)
        return 99;
    for (i = 0; i < argc; i++) {
        before = bad_statuses;
        ops_one(argv[i]);
        if (bad_statuses != before)
            fprintf(stderr, "hostile: undocumented statuses on %s\n", argv[i]);
    }
    return bad_statuses == 0 ? 0 : 3;
}

/* ------------------------------------------------------------------------
 * Corrupting a copy of the image
 * ---------------------------------------------------------------------- */

enum { R_HEADER, R_LOCK, R_BUCKETS, R_ALLOC, R_DATA };
static const char *const region_names[] = {"header", "lock", "buckets",
                                           "allocator", "data"};

/* A 32-bit value likely to get past a naive check: granules inside the
 * data region, small counts, edges, and neighbours of the old value. */
static apr_uint32_t nasty_word(apr_uint64_t *s, const sc_header_sh_t *h,
                               apr_uint32_t old)
{
    switch (below(s, 8)) {
    case 0: return (apr_uint32_t)rnd(s);
    case 1: return (apr_uint32_t)((h->data_off + below(s, h->data_size)) >> 3);
    case 2: return (apr_uint32_t)below(s, 64);
    case 3: return below(s, 2) ? 0xFFFFFFFFu : 0x80000000u;
    case 4: return old + (apr_uint32_t)below(s, 9) - 4u;
    case 5: return old ^ (1u << below(s, 32));
    case 6: return (apr_uint32_t)((h->data_off + h->data_size) >> 3)
                   - (apr_uint32_t)below(s, 4);
    default: return 0;
    }
}

/* Pick an offset in region r of the image (biased to where things live). */
static apr_uint64_t pick_offset(apr_uint64_t *s, char *image, int r)
{
    const sc_header_sh_t *h = hdr_of(image);
    const apr_uint32_t *b;
    apr_uint64_t i, start;

    switch (r) {
    case R_HEADER:
        return below(s, sizeof(sc_header_sh_t));
    case R_LOCK:
        /* the lock word line, or one of the first slots */
        return h->lock_off + below(s, sizeof(sc_lock_sh_t)
                                      + 4 * sizeof(sc_slot_sh_t));
    case R_BUCKETS:
        b = (const apr_uint32_t *)(image + h->buckets_off);
        start = below(s, h->nbuckets);
        if (below(s, 2)) {          /* prefer a non-empty bucket */
            for (i = 0; i < h->nbuckets; i++)
                if (b[(start + i) % h->nbuckets] != 0)
                    return h->buckets_off + 4 * ((start + i) % h->nbuckets);
        }
        return h->buckets_off + 4 * start;
    case R_ALLOC:
        return h->alloc_off + below(s, sizeof(sc_alloc_sh_t));
    default: {
        /* inside or just before a block of the first 64 KiB (where the
         * entries are): headers, links, entry fields, keys */
        sc_alloc_t al = alloc_of(image);
        apr_uint64_t cursor = 0, want = below(s, 300), k = 0;
        sc_alloc_block_t blk;
        do {
            if (sc_alloc_walk_locked(&al, &cursor, &blk) != APR_SUCCESS)
                break;
        } while (k++ < want && cursor != 0);
        return blk.payload - 8 + below(s, 8 + 48);
    }
    }
}

/* Damage a copy of pristine (len bytes) in region r with seed. mode 0:
 * aligned words set to nasty values; mode 1: random bytes. */
static void damage(char *copy, const char *pristine, apr_size_t len, int r,
                   int mode, apr_uint64_t seed)
{
    apr_uint64_t s = seed * 0x9E3779B97F4A7C15ull + (apr_uint64_t)r * 7919u + 1u;
    unsigned n, i;

    memcpy(copy, pristine, len);
    n = 1 + (unsigned)below(&s, mode == 0 ? 4 : 16);
    for (i = 0; i < n; i++) {
        apr_uint64_t off = pick_offset(&s, copy, r);
        if (off + 4 > len)
            continue;
        if (mode == 0) {
            apr_uint32_t old;
            off &= ~(apr_uint64_t)3;
            memcpy(&old, copy + off, 4);
            old = nasty_word(&s, hdr_of(pristine), old);
            memcpy(copy + off, &old, 4);
        } else {
            copy[off] = (char)rnd(&s);
        }
    }
}

/* Up to this many damaged copies per operations helper. */
#define HOSTILE_BATCH_MAX 32

typedef struct batch_t {
    const char *path[HOSTILE_BATCH_MAX + 1];    /* NULL-terminated */
    char what[HOSTILE_BATCH_MAX][96];
    int n;
} batch_t;

/* Run one helper over every copy in b. If it fails in any way, run each
 * copy again in a helper of its own, so that the failure names its seed
 * (and a batch that fails while every copy passes alone fails too: one
 * damaged segment must not change how the next is handled). Removes the
 * copies. */
static void run_batch(batch_t *b)
{
    int i, rc;

    b->path[b->n] = NULL;
    rc = run_helper("ops", b->path, 60 + 10 * b->n, b->what[0]);
    if (rc != 0 && b->n > 1) {
        for (i = 0; i < b->n; i++) {
            const char *one[2] = {b->path[i], NULL};
            run_helper_ok("ops", one, 60, b->what[i]);
        }
        ck_abort_msg("%s and the next %d seeds: a helper running them in turn "
                     "failed (%d) though each passes alone", b->what[0],
                     b->n - 1, rc);
    }
    ck_assert_msg(rc != -1, "%s: helper ops did not finish (hang)", b->what[0]);
    ck_assert_msg(rc < 128, "%s: helper ops died of signal %d", b->what[0], rc - 128);
    ck_assert_msg(rc == 0, "%s: helper ops exited with %d (see its output)",
                  b->what[0], rc);
    for (i = 0; i < b->n; i++)
        apr_file_remove(b->path[i], th_pool);
    b->n = 0;
}

/* For every seed, damage region r and run the operations helper on it.
 * Seeds go to the helpers in batches of SHMCACHE_HOSTILE_BATCH (default
 * 16; 1 gives each seed a process of its own, as before batching). */
static void hammer_region(int r)
{
    apr_size_t len;
    const char *base = th_path("pristine");
    char *pristine = make_image(base, &len);
    char *copy = apr_palloc(th_pool, len);
    long first = th_env_long("SHMCACHE_HOSTILE_FIRST", 1);
    long seeds = th_env_long("SHMCACHE_HOSTILE_SEEDS", 64);
    long per = th_env_long("SHMCACHE_HOSTILE_BATCH", 16);
    batch_t *b = apr_pcalloc(th_pool, sizeof *b);
    long seed;
    int mode;

    if (per < 1 || per > HOSTILE_BATCH_MAX)
        per = per < 1 ? 1 : HOSTILE_BATCH_MAX;
    for (mode = 0; mode < 2; mode++) {
        for (seed = first; seed < first + seeds; seed++) {
            const char *p = th_path("hostile");
            damage(copy, pristine, len, r, mode, (apr_uint64_t)seed);
            store_file(p, copy, len);
            b->path[b->n] = p;
            apr_snprintf(b->what[b->n], sizeof b->what[0],
                         "region %s, %s, seed %ld", region_names[r],
                         mode == 0 ? "words" : "bytes", seed);
            if (++b->n == per)
                run_batch(b);
        }
    }
    if (b->n > 0)
        run_batch(b);
}

/* The promise the corruption tests rest on: a segment mapping of this
 * binary has guard pages around it (Linux: mmap interposed; Windows:
 * MapViewOfFile hooked in APR's import table). */
START_TEST(segment_mappings_sit_between_guard_pages)
{
    shmcache_options_t o;
    shmcache_t *c;
    int before = guard_pages_active();

    if (before < 0) {
        fprintf(stderr, "hostile: no guard pages on this system\n");
        return;
    }
    shmcache_options_init(&o);
    o.size = 1 << 20;
    th_ok(shmcache_create(&c, th_path("guarded"), &o, th_pool));
    ck_assert_msg(guard_pages_active() > before,
                  "the segment was mapped without guard pages (%d guarded "
                  "before, %d after)", before, guard_pages_active());
    th_ok(shmcache_close(c));
    ck_assert_int_eq(guard_pages_active(), before);
}
END_TEST

START_TEST(a_damaged_header_never_crashes_hangs_or_overreads)
{
    hammer_region(R_HEADER);
}
END_TEST

START_TEST(a_damaged_lock_area_never_crashes_hangs_or_overreads)
{
    hammer_region(R_LOCK);
}
END_TEST

START_TEST(a_damaged_bucket_array_never_crashes_hangs_or_overreads)
{
    hammer_region(R_BUCKETS);
}
END_TEST

START_TEST(a_damaged_allocator_block_never_crashes_hangs_or_overreads)
{
    hammer_region(R_ALLOC);
}
END_TEST

START_TEST(damaged_entries_never_crash_hang_or_overread)
{
    hammer_region(R_DATA);
}
END_TEST

/* ------------------------------------------------------------------------
 * check says where the damage is
 * ---------------------------------------------------------------------- */

/* Fresh filled copy at a new path; its image in *image. */
/* Forget the pristine image with the pool that holds it: without fork
 * (Windows) the next test's pool may get the same address. */
static apr_status_t forget_owner(void *owner)
{
    *(apr_pool_t **)owner = NULL;
    return APR_SUCCESS;
}

static const char *filled_copy(char **image)
{
    static char *pristine;
    static apr_size_t plen;
    static apr_pool_t *owner;
    const char *p;

    if (owner != th_pool) {     /* once per test */
        pristine = make_image(th_path("pristine"), &plen);
        owner = th_pool;
        apr_pool_cleanup_register(th_pool, &owner, forget_owner,
                                  apr_pool_cleanup_null);
    }
    p = th_path("pinpoint");
    store_file(p, pristine, plen);
    *image = apr_pmemdup(th_pool, pristine, plen);
    return p;
}

/* Damage the file at p with fn, then check must fail naming want. */
static void assert_check_names(const char *p, const char *want, const char *what)
{
    shmcache_t *c = attach_quick(p);
    char why[512];

    why[0] = '\0';
    ck_assert_msg(shmcache_check(c, why, sizeof why) == SHMCACHE_ECORRUPT,
                  "%s: check found nothing wrong", what);
    ck_assert_msg(strstr(why, want) != NULL, "%s: check said \"%s\", wanted \"%s\"",
                  what, why, want);
    th_ok(shmcache_close(c));
}

START_TEST(check_pinpoints_each_kind_of_damage)
{
    char *img;
    const char *p;
    const sc_header_sh_t *h;
    apr_uint64_t e, b;

    /* a bucket that points outside the data region */
    p = filled_copy(&img);
    h = hdr_of(img);
    poke32(p, h->buckets_off + 4 * 7, 5);
    assert_check_names(p, "out of bounds", "bucket out of bounds");

    /* an entry whose key length is zero */
    p = filled_copy(&img);
    e = entry_of(img, "key-8");
    ck_assert(e != 0);
    poke(p, e + offsetof(sc_entry_sh_t, key_len), "\0\0", 2);
    assert_check_names(p, "bad lengths", "key length zero");

    /* an entry whose value runs past its block */
    p = filled_copy(&img);
    e = entry_of(img, "key-9");
    poke32(p, e + offsetof(sc_entry_sh_t, value_len), 200000);
    assert_check_names(p, "larger than its block", "value length");

    /* an entry linked to itself (a cycle) */
    p = filled_copy(&img);
    e = entry_of(img, "key-13");
    poke32(p, e + offsetof(sc_entry_sh_t, next), (apr_uint32_t)(e >> 3));
    assert_check_names(p, "linked twice", "cycle");

    /* an entry in a bucket its key does not hash to */
    p = filled_copy(&img);
    h = hdr_of(img);
    e = entry_of(img, "key-15");
    ck_assert(e != 0);
    for (b = 0; ((const apr_uint32_t *)(img + h->buckets_off))[b] != 0; b++)
        ;
    poke32(p, h->buckets_off + 4 * b, (apr_uint32_t)(e >> 3));
    assert_check_names(p, "bucket", "misplaced");

    /* an item count that does not match the chains */
    p = filled_copy(&img);
    poke64(p, offsetof(sc_header_sh_t, counters.items), 1);
    assert_check_names(p, "item count", "item count");

    /* the allocator's bitmaps disagree with its lists */
    p = filled_copy(&img);
    h = hdr_of(img);
    poke32(p, h->alloc_off + offsetof(sc_alloc_sh_t, fl_bitmap), 0xFFFFFFFFu);
    assert_check_names(p, "allocator", "bitmap");

    /* a block header with a size that runs past the region */
    p = filled_copy(&img);
    e = entry_of(img, "key-20");
    poke32(p, e - 8, 0x7FFFFFF0u);
    assert_check_names(p, "allocator", "block size");

    /* the eviction hand off any block */
    p = filled_copy(&img);
    poke64(p, offsetof(sc_header_sh_t, hand), hdr_of(img)->data_off + 4);
    assert_check_names(p, "eviction hand", "hand");
}
END_TEST

/* ------------------------------------------------------------------------
 * Regressions: each was a crash, a hang or undefined behaviour
 * ---------------------------------------------------------------------- */

/* Helper: attach to argv[0]; any documented attach failure is fine, and a
 * successful attach must survive stats, check and iterate. */
static int attach_helper(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    apr_uint64_t sum = 0;
    apr_status_t rv;

    if (argc < 1)
        return 99;
    shmcache_options_init(&o);
    o.lock_timeout_ms = 20;
    rv = shmcache_attach(&c, argv[0], &o, th_pool);
    if (rv != APR_SUCCESS) {
        expect(&ST_ATTACH, rv, NULL);
        if (argc > 1 && atoi(argv[1]) != (int)rv) {
            fprintf(stderr, "hostile: attach gave %d, wanted %s\n", (int)rv, argv[1]);
            return 4;
        }
        return bad_statuses == 0 ? 0 : 3;
    }
    if (argc > 1) {
        fprintf(stderr, "hostile: attach succeeded, wanted %s\n", argv[1]);
        return 4;
    }
    expect(&ST_STATS, shmcache_stats(c, &st), NULL);
    expect(&ST_CHECK, shmcache_check(c, NULL, 0), NULL);
    expect(&ST_WALK, shmcache_iterate(c, walk_one, &sum, 0), NULL);
    shmcache_close(c);
    return bad_statuses == 0 ? 0 : 3;
}

static void expect_attach_status(const char *p, apr_status_t want,
                                 const char *what)
{
    const char *args[3];

    args[0] = p;
    args[1] = apr_psprintf(th_pool, "%d", (int)want);
    args[2] = NULL;
    run_helper_ok("attach", args, 60, what);
}

START_TEST(a_file_holding_only_a_header_is_corrupt_not_a_crash)
{
    /* a valid header that claims the file is one header long: the lock
     * area it points at lies past the end of the file (segment.c read the
     * lock's slot count there before checking) */
    char *img;
    const char *p = filled_copy(&img);
    const char *q = th_path("header-only");
    sc_header_sh_t *h = (sc_header_sh_t *)img;

    (void)p;
    h->size = SC_HEADER_SIZE;
    store_file(q, img, SC_HEADER_SIZE);
    expect_attach_status(q, SHMCACHE_ECORRUPT, "header-only file");
}
END_TEST

START_TEST(region_sizes_that_wrap_around_are_corrupt)
{
    /* buckets_size chosen so that buckets_off + buckets_size wraps to an
     * allocator block placed in the header's spare room, and a bucket
     * count whose array would run 4 GiB past the file */
    char *img;
    const char *p = filled_copy(&img);
    const char *q = th_path("wrap");
    sc_header_sh_t *h = (sc_header_sh_t *)img;
    apr_size_t len = (apr_size_t)h->size;
    apr_uint64_t fake = 1024;

    (void)p;
    memcpy(img + fake, img + h->alloc_off, sizeof(sc_alloc_sh_t));
    h->nbuckets = 0x40000000u;
    h->buckets_size = fake - h->buckets_off;    /* wraps: ~2^64 */
    h->alloc_off = fake;
    store_file(q, img, len);
    expect_attach_status(q, SHMCACHE_ECORRUPT, "wrapping region size");
}
END_TEST

START_TEST(an_absurd_epoch_is_corrupt)
{
    /* the epoch is subtracted from the clock and added to every expiry
     * (then scaled to microseconds): INT64_MIN overflowed the first, 2^45
     * the second (undefined behaviour; found by fuzz_segment) */
    static const apr_int64_t epochs[] = {APR_INT64_MIN, -1, APR_INT64_MAX,
                                         (apr_int64_t)1 << 62,
                                         (apr_int64_t)1 << 45};
    unsigned i;

    for (i = 0; i < sizeof epochs / sizeof epochs[0]; i++) {
        char *img;
        const char *p = filled_copy(&img);
        poke64(p, offsetof(sc_header_sh_t, epoch), (apr_uint64_t)epochs[i]);
        expect_attach_status(p, SHMCACHE_ECORRUPT, "epoch");
    }
}
END_TEST

/* Helper: argv[0] = path with the allocator bounds already moved (see
 * below). Every operation must answer, and flush must mend it. */
static int moved_bounds_helper(int argc, const char *const *argv)
{
    shmcache_t *c;
    shmcache_stats_t st;
    char why[512];
    void *v;
    apr_size_t n;
    apr_uint64_t ctl, heads;
    shmcache_options_t o;
    apr_status_t rv;

    (void)argc;
    shmcache_options_init(&o);
    o.lock_timeout_ms = 20;
    if (shmcache_attach(&c, argv[0], &o, th_pool) != APR_SUCCESS)
        return 5;
    /* now (after attach validated it) move the region end to 32 GiB and
     * put a free block "at 1 GiB" on the list a small malloc takes */
    ctl = (apr_uint64_t)atoll(argv[1]);
    heads = ctl + offsetof(sc_alloc_sh_t, heads);
    poke32(argv[0], ctl + offsetof(sc_alloc_sh_t, end), 0xFFFFFFFFu);
    {
        apr_uint32_t bits[SC_ALLOC_FL_COUNT], hd[SC_ALLOC_FL_COUNT][SC_ALLOC_SL_COUNT];
        unsigned i, j;
        for (i = 0; i < SC_ALLOC_FL_COUNT; i++) {
            bits[i] = (1u << SC_ALLOC_SL_COUNT) - 1;
            for (j = 0; j < SC_ALLOC_SL_COUNT; j++)
                hd[i][j] = (1u << 30) >> 3;
        }
        poke32(argv[0], ctl + offsetof(sc_alloc_sh_t, fl_bitmap), 0xFFFFFFFFu);
        poke(argv[0], ctl + offsetof(sc_alloc_sh_t, sl_bitmap), bits, sizeof bits);
        poke(argv[0], heads, hd, sizeof hd);
    }
    if (shmcache_get(c, "key-1", 5, &v, &n, NULL, th_pool) != APR_SUCCESS)
        return 10;              /* reads do not need the allocator */
    if (shmcache_stats(c, &st) != APR_SUCCESS)
        return 11;
    why[0] = '\0';
    if (shmcache_check(c, why, sizeof why) != SHMCACHE_ECORRUPT
        || strstr(why, "allocator") == NULL) {
        fprintf(stderr, "hostile: check said \"%s\"\n", why);
        return 12;
    }
    /* the set meets the planted lists (never the moved bounds), fails, and
     * repairs: the allocator is rebuilt from its block sizes, every entry
     * kept */
    rv = shmcache_set(c, "new", 3, "v", 1, 0, NULL);
    if (rv != SHMCACHE_ECORRUPT)
        return 13;
    if (shmcache_check(c, NULL, 0) != APR_SUCCESS
        || shmcache_stats(c, &st) != APR_SUCCESS || st.repairs != 1
        || st.resets != 0)
        return 14;
    if (shmcache_get(c, "key-1", 5, &v, &n, NULL, th_pool) != APR_SUCCESS
        || shmcache_delete(c, "key-1", 5) != APR_SUCCESS)
        return 15;
    if (shmcache_set(c, "new", 3, "v", 1, 0, NULL) != APR_SUCCESS)
        return 16;
    shmcache_close(c);
    return 0;
}

START_TEST(allocator_bounds_moved_after_attach_are_not_followed)
{
    /* attach validates the allocator's region against the header, but the
     * control block lives in the segment and every allocator call read its
     * bounds again: moved after attach, they sent malloc 1 GiB past the
     * file */
    char *img;
    const char *p = filled_copy(&img);
    const char *args[3];

    args[0] = p;
    args[1] = apr_psprintf(th_pool, "%" APR_UINT64_T_FMT, hdr_of(img)->alloc_off);
    args[2] = NULL;
    run_helper_ok("moved-bounds", args, 60, "allocator bounds moved");
}
END_TEST

START_TEST(stats_on_cyclic_chains_takes_bounded_time)
{
    /* every bucket points at one entry that links to itself: stats walked
     * each sampled bucket up to a million steps (16384 x 10^6), and iterate
     * copied the loop out up to max_entries() times; stats, check and
     * iterate must all answer at once */
    shmcache_options_t o;
    shmcache_t *c;
    const char *p = th_path("cycles");
    const char *args[2];
    char *img;
    apr_size_t len, i;
    apr_uint64_t e;
    apr_uint32_t *buckets, g;
    const sc_header_sh_t *h;

    shmcache_options_init(&o);
    o.size = 4 << 20;
    o.buckets = 16384;
    th_ok(shmcache_create(&c, p, &o, th_pool));
    th_ok(shmcache_set(c, "loop", 4, "v", 1, 0, NULL));
    th_ok(shmcache_close(c));
    img = load(p, &len);
    h = hdr_of(img);
    e = entry_of(img, "loop");
    g = (apr_uint32_t)(e >> 3);
    buckets = (apr_uint32_t *)(img + h->buckets_off);
    for (i = 0; i < h->nbuckets; i++)
        buckets[i] = g;
    memcpy(img + e + offsetof(sc_entry_sh_t, next), &g, 4);
    apr_file_remove(p, th_pool);
    store_file(p, img, len);
    args[0] = p;
    args[1] = NULL;
    run_helper_ok("attach", args, 20, "cyclic chains");
}
END_TEST

/* ------------------------------------------------------------------------
 * Lock owners from the segment are never signalled
 * ---------------------------------------------------------------------- */

#ifndef _WIN32
static const char *sig_log;

static void on_signal(int sig)
{
    char msg[] = "got signal XX\n";
    int fd;

    msg[11] = (char)('0' + sig / 10);
    msg[12] = (char)('0' + sig % 10);
    fd = open(sig_log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd >= 0) {
        (void)!write(fd, msg, sizeof msg - 1);
        close(fd);
    }
}

/* Helper: log every catchable signal to argv[0]; write "ready" to argv[1];
 * live until argv[2] exists (at most 60 s). */
static int sigwatch_helper(int argc, const char *const *argv)
{
    apr_finfo_t fi;
    int sig, i;
    FILE *f;

    if (argc < 3)
        return 99;
    sig_log = argv[0];
    for (sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, on_signal);
    f = fopen(argv[1], "w");
    if (f != NULL) {
        fputs("ready\n", f);
        fclose(f);
    }
    for (i = 0; i < 6000; i++) {
        if (apr_stat(&fi, argv[2], APR_FINFO_TYPE, th_pool) == APR_SUCCESS)
            return 0;
        apr_sleep(10000);
    }
    return 0;
}
#endif

/* Make slot i of the segment at p look held: owner pid, ACTIVE, one read
 * hold, and (with writer) the writer word. */
static void fake_holder(const char *p, const char *img, apr_uint32_t i,
                        apr_uint32_t pid, int writer)
{
    const sc_header_sh_t *h = hdr_of(img);
    apr_uint64_t lock = h->lock_off;
    apr_uint64_t slot = lock + sizeof(sc_lock_sh_t) + i * sizeof(sc_slot_sh_t);

    poke32(p, slot + offsetof(sc_slot_sh_t, pid), pid);
    poke64(p, slot + offsetof(sc_slot_sh_t, start), 0);
    poke32(p, slot + offsetof(sc_slot_sh_t, state), SC_SLOT_ACTIVE);
    poke32(p, lock + offsetof(sc_lock_sh_t, hwm), i + 1);
    if (writer)
        poke32(p, lock + offsetof(sc_lock_sh_t, writer), i + 1);
    else
        poke32(p, slot + offsetof(sc_slot_sh_t, readers), 1);
}

START_TEST(a_live_pid_planted_in_the_lock_is_never_signalled)
{
#ifndef _WIN32
    char *img;
    const char *p = filled_copy(&img);
    const char *log = th_path("siglog"), *ready = th_path("ready");
    const char *stop = th_path("stop");
    const char *args[4];
    apr_proc_t proc;
    apr_finfo_t fi;
    shmcache_t *c;
    shmcache_stats_t st;
    apr_size_t n;
    char buf[8];
    int i, rc;

    args[0] = log;
    args[1] = ready;
    args[2] = stop;
    args[3] = NULL;
    th_spawn(&proc, "sigwatch", args);
    for (i = 0; i < 1000 && apr_stat(&fi, ready, APR_FINFO_TYPE, th_pool)
                                != APR_SUCCESS; i++)
        apr_sleep(10000);
    /* the live helper "holds" the write lock (slot 5) and a read lock
     * (slot 6): every wait ends in ETIMEDOUT, never in a signal */
    fake_holder(p, img, 5, (apr_uint32_t)proc.pid, 1);
    fake_holder(p, img, 6, (apr_uint32_t)proc.pid, 0);
    c = attach_quick(p);
    th_status(shmcache_set(c, "k", 1, "v", 1, 0, NULL), SHMCACHE_ETIMEDOUT);
    th_status(shmcache_get_buf(c, "key-1", 5, buf, sizeof buf, &n, NULL),
              SHMCACHE_ETIMEDOUT);
    th_status(shmcache_check(c, NULL, 0), SHMCACHE_ETIMEDOUT);
    th_status(shmcache_stats(c, &st), SHMCACHE_ETIMEDOUT);
    ck_assert_uint_eq(st.lock_recoveries, 0);
    th_ok(shmcache_close(c));
    ck_assert_msg(shmcache_remove_ex(p, 0, NULL, th_pool) == SHMCACHE_EBUSY,
                  "remove without force must see the planted live pid");
    store_file(stop, "x", 1);
    rc = wait_limited(&proc, 30);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(apr_stat(&fi, log, APR_FINFO_SIZE, th_pool) != APR_SUCCESS,
                  "the process whose pid was planted in the lock got a signal");
#endif
}
END_TEST

START_TEST(a_pid_that_is_a_process_group_counts_as_dead)
{
    /* pid 0xFFFFFFFF is -1 as a pid_t: kill(-1, 0) succeeds whenever the
     * caller may signal anything, so the holder looked alive forever and
     * the lock could never be recovered. Large pids name no process. */
    static const apr_uint32_t pids[] = {0xFFFFFFFFu, 0x80000000u, 0xFFFFFFFEu};
    unsigned i;

    for (i = 0; i < sizeof pids / sizeof pids[0]; i++) {
        char *img;
        const char *p = filled_copy(&img);
        shmcache_stats_t st;
        shmcache_t *c;

        fake_holder(p, img, 3, pids[i], 1);
        c = attach_quick(p);
        th_ok(shmcache_set(c, "k", 1, "v", 1, 0, NULL));
        th_ok(shmcache_stats(c, &st));
        ck_assert_uint_eq(st.lock_recoveries, 1);
        th_ok(shmcache_check(c, NULL, 0));
        th_ok(shmcache_close(c));
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Hash flooding
 * ---------------------------------------------------------------------- */

START_TEST(keys_that_collide_under_seed_zero_stay_spread_out)
{
    /* An attacker who does not know the segment's seed can only aim at a
     * guess, e.g. seed 0: craft keys that all land in bucket 0 under
     * XXH3-with-seed-0 for a 1024-bucket table, then store them in a real
     * segment. They must spread like any other keys. */
    enum { NB = 1024 };
    long want = th_env_long("SHMCACHE_HOSTILE_KEYS", 100000);
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    unsigned char key[12] = {'a', 't', 'k', '-'};
    apr_uint64_t ctr = 0;
    double mean;
    long found = 0;

    shmcache_options_init(&o);
    o.size = 16u << 20;
    o.buckets = NB;
    th_ok(shmcache_create(&c, th_path("flood"), &o, th_pool));
    while (found < want) {
        memcpy(key + 4, &ctr, 8);
        ctr++;
        if ((XXH3_64bits_withSeed(key, sizeof key, 0) & (NB - 1)) != 0)
            continue;
        th_ok(shmcache_set(c, key, sizeof key, "v", 1, 0, NULL));
        found++;
    }
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.buckets, NB);
    ck_assert_uint_eq(st.items, (apr_uint64_t)want);
    ck_assert_uint_eq(st.evictions, 0);
    mean = (double)want / NB;
    /* all in one chain under seed 0 (want); spread: near the mean */
    ck_assert_msg(st.longest_chain <= 2.5 * mean + 10,
                  "%ld keys crafted for bucket 0 under seed 0 built a chain of %u "
                  "(mean %.1f)", want, st.longest_chain, mean);
    th_ok(shmcache_check(c, NULL, 0));
    th_ok(shmcache_close(c));
}
END_TEST

START_TEST(stats_report_the_longest_chain)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    char key[32];
    unsigned i;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.buckets = 64;
    th_ok(shmcache_create(&c, th_path("chain"), &o, th_pool));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.longest_chain, 0);
    th_ok(shmcache_set(c, "one", 3, "v", 1, 0, NULL));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.longest_chain, 1);
    for (i = 0; i < 640; i++) {
        apr_snprintf(key, sizeof key, "k%u", i);
        th_ok(shmcache_set(c, key, strlen(key), "v", 1, 0, NULL));
    }
    th_ok(shmcache_stats(c, &st));
    /* 641 keys in 64 buckets: some chain holds at least the mean */
    ck_assert_uint_ge(st.longest_chain, 11);
    ck_assert_uint_le(st.longest_chain, 60);
    th_ok(shmcache_close(c));
}
END_TEST

/* ------------------------------------------------------------------------
 * Limits
 * ---------------------------------------------------------------------- */

static apr_status_t try_create(apr_uint64_t size, apr_uint32_t buckets,
                               apr_uint32_t slots, apr_uint32_t max_value)
{
    shmcache_options_t o;
    shmcache_t *c;
    apr_status_t rv;

    shmcache_options_init(&o);
    o.size = size;
    o.buckets = buckets;
    if (slots != 0)
        o.slots = slots;
    if (max_value != 0)
        o.max_value = max_value;
    rv = shmcache_create(&c, th_path("limits"), &o, th_pool);
    if (rv == APR_SUCCESS)
        shmcache_close(c);
    return rv;
}

START_TEST(sizes_that_overflow_arithmetic_are_refused)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;

    /* the segment size: past the format's 32 GiB, and past 2^63 / 2^64 */
    th_status(try_create(SHMCACHE_LIMIT_SIZE + 1, 0, 0, 0), SHMCACHE_EOVERFLOW);
    th_status(try_create((apr_uint64_t)1 << 63, 0, 0, 0), SHMCACHE_EOVERFLOW);
    th_status(try_create(~(apr_uint64_t)0, 0, 0, 0), SHMCACHE_EOVERFLOW);
    th_status(try_create(SHMCACHE_MIN_SIZE - 1, 0, 0, 0), SHMCACHE_ESIZE);
    /* buckets: above 2^30 (x 4 bytes would pass 2^32) is refused; 2^30
     * itself is valid but cannot fit in a small segment */
    th_status(try_create(1 << 20, 0x40000001u, 0, 0), SHMCACHE_EINVAL);
    th_status(try_create(1 << 20, 0xFFFFFFFFu, 0, 0), SHMCACHE_EINVAL);
    th_status(try_create(1 << 20, 0x40000000u, 0, 0), SHMCACHE_ESIZE);
    /* the most slots do not fit the smallest segment; the most keys do */
    th_status(try_create(SHMCACHE_MIN_SIZE, 0, SHMCACHE_LIMIT_SLOTS, 0),
              SHMCACHE_ESIZE);
    th_status(try_create(SHMCACHE_MIN_SIZE, 0, SHMCACHE_LIMIT_SLOTS + 1, 0),
              SHMCACHE_EINVAL);
    /* a 4 GiB max_value is cut down to what fits */
    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.max_value = 0xFFFFFFFFu;
    o.max_key = SHMCACHE_LIMIT_MAX_KEY;
    th_ok(shmcache_create(&c, th_path("clamp"), &o, th_pool));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_le((apr_uint64_t)st.max_value + st.max_key + 64, st.data_size / 2);
    th_ok(shmcache_close(c));
}
END_TEST

START_TEST(key_and_value_sizes_at_and_beyond_the_limits)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    char *big, buf[4];
    apr_size_t n, i;
    const apr_size_t wrap32 = (apr_size_t)((apr_uint64_t)1 << 32); /* 0 if 32-bit */

    shmcache_options_init(&o);
    o.size = 4 << 20;
    o.max_key = SHMCACHE_LIMIT_MAX_KEY;
    o.max_value = 1 << 20;
    th_ok(shmcache_create(&c, th_path("sizes"), &o, th_pool));
    th_ok(shmcache_stats(c, &st));
    big = apr_palloc(th_pool, (apr_size_t)st.max_value + 1);
    memset(big, 'k', (apr_size_t)st.max_value + 1);
    /* keys: 1 and 65535 bytes work; 0, 65536 and lengths that are small
     * modulo 2^16 or 2^32 are refused (no truncation) */
    th_ok(shmcache_set(c, big, SHMCACHE_LIMIT_MAX_KEY, "v", 1, 0, NULL));
    th_ok(shmcache_get_buf(c, big, SHMCACHE_LIMIT_MAX_KEY, buf, sizeof buf, &n, NULL));
    th_status(shmcache_set(c, big, 0, "v", 1, 0, NULL), SHMCACHE_EKEYLEN);
    th_status(shmcache_set(c, big, SHMCACHE_LIMIT_MAX_KEY + 1, "v", 1, 0, NULL),
              SHMCACHE_EKEYLEN);
    th_status(shmcache_set(c, "k", 65536 + 1, "v", 1, 0, NULL), SHMCACHE_EKEYLEN);
    if (sizeof(apr_size_t) > 4) {
        th_status(shmcache_set(c, "k", wrap32 + 1, "v", 1, 0, NULL), SHMCACHE_EKEYLEN);
        th_status(shmcache_get_buf(c, "k", wrap32 + 1, buf, sizeof buf, &n, NULL),
                  SHMCACHE_EKEYLEN);
        th_status(shmcache_set(c, "k", 1, "v", wrap32 + 1, 0, NULL), SHMCACHE_EVALLEN);
    }
    th_status(shmcache_set(c, "k", 1, "v", (apr_size_t)-1, 0, NULL), SHMCACHE_EVALLEN);
    th_status(shmcache_incr(c, big, (apr_size_t)-1, 1, NULL, 0, NULL), SHMCACHE_EKEYLEN);
    th_status(shmcache_touch(c, big, (apr_size_t)-1, 0), SHMCACHE_EKEYLEN);
    /* values: exactly max_value works, one more is refused */
    th_status(shmcache_set(c, "v", 1, big, (apr_size_t)st.max_value + 1, 0, NULL),
              SHMCACHE_EVALLEN);
    th_ok(shmcache_set(c, "v", 1, big, st.max_value, 0, NULL));
    /* the largest item (longest key + longest value) always fits, even in
     * a full cache */
    for (i = 0; i < 3000; i++) {
        char k[32];
        apr_snprintf(k, sizeof k, "fill%lu", (unsigned long)i);
        th_ok(shmcache_set(c, k, strlen(k), big, 3000, 0, NULL));
    }
    th_ok(shmcache_set(c, big, SHMCACHE_LIMIT_MAX_KEY, big, st.max_value, 0, NULL));
    th_ok(shmcache_check(c, NULL, 0));
    th_ok(shmcache_close(c));
}
END_TEST

START_TEST(an_empty_value_into_no_buffer_copies_nothing)
{
    /* get_buf allows buf == NULL with buf_size 0 (to learn the length);
     * with an empty value that used to be memcpy(NULL, value, 0), which C
     * leaves undefined (UBSan: null pointer passed as argument 1) */
    shmcache_options_t o;
    shmcache_t *c;
    apr_size_t n = 99;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    th_ok(shmcache_create(&c, th_path("nobuf"), &o, th_pool));
    th_ok(shmcache_set(c, "e", 1, NULL, 0, 0, NULL));
    th_ok(shmcache_get_buf(c, "e", 1, NULL, 0, &n, NULL));
    ck_assert_uint_eq(n, 0);
    th_ok(shmcache_set(c, "f", 1, "x", 1, 0, NULL));
    th_status(shmcache_get_buf(c, "f", 1, NULL, 0, &n, NULL), SHMCACHE_EBUFSIZE);
    ck_assert_uint_eq(n, 1);
    th_ok(shmcache_close(c));
}
END_TEST

START_TEST(ttls_at_and_beyond_the_range)
{
    shmcache_options_t o;
    shmcache_meta_t m;
    shmcache_t *c;
    apr_uint64_t init = 1;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    th_ok(shmcache_create(&c, th_path("ttl"), &o, th_pool));
    th_ok(shmcache_set(c, "max", 3, "v", 1, SHMCACHE_TTL_MAX, NULL));
    th_ok(shmcache_get_meta(c, "max", 3, &m));
    ck_assert_uint_le(m.ttl, SHMCACHE_TTL_MAX);
    ck_assert_uint_ge(m.ttl, SHMCACHE_TTL_MAX - 2);
    ck_assert(m.expires > apr_time_now());
    th_ok(shmcache_set(c, "forever", 7, "v", 1, SHMCACHE_TTL_FOREVER, NULL));
    th_ok(shmcache_get_meta(c, "forever", 7, &m));
    ck_assert_uint_eq(m.ttl, SHMCACHE_TTL_FOREVER);
    ck_assert(m.expires == 0);
    th_status(shmcache_set(c, "k", 1, "v", 1, SHMCACHE_TTL_MAX + 1, NULL), SHMCACHE_ETTL);
    th_status(shmcache_set(c, "k", 1, "v", 1, SHMCACHE_TTL_FOREVER - 1, NULL),
              SHMCACHE_ETTL);
    th_status(shmcache_add(c, "k", 1, "v", 1, SHMCACHE_TTL_MAX + 1, NULL), SHMCACHE_ETTL);
    th_status(shmcache_touch(c, "max", 3, SHMCACHE_TTL_MAX + 1), SHMCACHE_ETTL);
    th_status(shmcache_incr(c, "n", 1, 1, &init, SHMCACHE_TTL_MAX + 1, NULL),
              SHMCACHE_ETTL);
    th_ok(shmcache_touch(c, "max", 3, SHMCACHE_TTL_FOREVER));
    th_ok(shmcache_get_meta(c, "max", 3, &m));
    ck_assert_uint_eq(m.ttl, SHMCACHE_TTL_FOREVER);
    th_status(shmcache_get_meta(c, "k", 1, &m), SHMCACHE_NOTFOUND);
    th_ok(shmcache_close(c));
}
END_TEST

START_TEST(incr_arithmetic_at_the_edges)
{
    shmcache_options_t o;
    shmcache_t *c;
    apr_uint64_t r, top = APR_UINT64_MAX;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    th_ok(shmcache_create(&c, th_path("incr"), &o, th_pool));
    /* the largest initial value, then one more wraps to 0 */
    th_ok(shmcache_incr(c, "n", 1, 1, &top, 0, &r));
    ck_assert_uint_eq(r, APR_UINT64_MAX);
    th_ok(shmcache_incr(c, "n", 1, 1, NULL, 0, &r));
    ck_assert_uint_eq(r, 0);
    /* the most negative delta stops at 0, and from the top lands exactly */
    th_ok(shmcache_set(c, "n", 1, "5", 1, 0, NULL));
    th_ok(shmcache_incr(c, "n", 1, APR_INT64_MIN, NULL, 0, &r));
    ck_assert_uint_eq(r, 0);
    th_ok(shmcache_incr(c, "n", 1, 1, &top, 0, &r));
    th_ok(shmcache_set(c, "n", 1, "18446744073709551615", 20, 0, NULL));
    th_ok(shmcache_incr(c, "n", 1, APR_INT64_MIN, NULL, 0, &r));
    ck_assert_uint_eq(r, APR_UINT64_MAX - ((apr_uint64_t)1 << 63));
    th_ok(shmcache_incr(c, "n", 1, APR_INT64_MAX, NULL, 0, &r));
    ck_assert_uint_eq(r, APR_UINT64_MAX - 1);       /* (2^63-1) + (2^63-1) */
    /* not numbers: 2^64, 21 digits, empty, sign, space */
    th_ok(shmcache_set(c, "n", 1, "18446744073709551616", 20, 0, NULL));
    th_status(shmcache_incr(c, "n", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(shmcache_set(c, "n", 1, "000000000000000000001", 21, 0, NULL));
    th_status(shmcache_incr(c, "n", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(shmcache_set(c, "n", 1, "", 0, 0, NULL));
    th_status(shmcache_incr(c, "n", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(shmcache_set(c, "n", 1, "-1", 2, 0, NULL));
    th_status(shmcache_incr(c, "n", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(shmcache_set(c, "n", 1, " 1", 2, 0, NULL));
    th_status(shmcache_incr(c, "n", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(shmcache_close(c));
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *corrupt = tcase_create("corruption");
    TCase *pin = tcase_create("pinpoint");
    TCase *flood = tcase_create("flooding");
    TCase *limits = tcase_create("limits");

    tcase_add_checked_fixture(corrupt, th_setup, th_teardown);
    tcase_set_timeout(corrupt, 600);
    tcase_add_test(corrupt, segment_mappings_sit_between_guard_pages);
    tcase_add_test(corrupt, a_damaged_header_never_crashes_hangs_or_overreads);
    tcase_add_test(corrupt, a_damaged_lock_area_never_crashes_hangs_or_overreads);
    tcase_add_test(corrupt, a_damaged_bucket_array_never_crashes_hangs_or_overreads);
    tcase_add_test(corrupt, a_damaged_allocator_block_never_crashes_hangs_or_overreads);
    tcase_add_test(corrupt, damaged_entries_never_crash_hang_or_overread);
    suite_add_tcase(s, corrupt);

    tcase_add_checked_fixture(pin, th_setup, th_teardown);
    tcase_set_timeout(pin, 120);
    tcase_add_test(pin, check_pinpoints_each_kind_of_damage);
    tcase_add_test(pin, a_file_holding_only_a_header_is_corrupt_not_a_crash);
    tcase_add_test(pin, region_sizes_that_wrap_around_are_corrupt);
    tcase_add_test(pin, an_absurd_epoch_is_corrupt);
    tcase_add_test(pin, allocator_bounds_moved_after_attach_are_not_followed);
    tcase_add_test(pin, stats_on_cyclic_chains_takes_bounded_time);
    tcase_add_test(pin, a_live_pid_planted_in_the_lock_is_never_signalled);
    tcase_add_test(pin, a_pid_that_is_a_process_group_counts_as_dead);
    suite_add_tcase(s, pin);

    tcase_add_checked_fixture(flood, th_setup, th_teardown);
    tcase_set_timeout(flood, 300);
    tcase_add_test(flood, keys_that_collide_under_seed_zero_stay_spread_out);
    tcase_add_test(flood, stats_report_the_longest_chain);
    suite_add_tcase(s, flood);

    tcase_add_checked_fixture(limits, th_setup, th_teardown);
    tcase_set_timeout(limits, 120);
    tcase_add_test(limits, sizes_that_overflow_arithmetic_are_refused);
    tcase_add_test(limits, key_and_value_sizes_at_and_beyond_the_limits);
    tcase_add_test(limits, an_empty_value_into_no_buffer_copies_nothing);
    tcase_add_test(limits, ttls_at_and_beyond_the_range);
    tcase_add_test(limits, incr_arithmetic_at_the_edges);
    suite_add_tcase(s, limits);
    return s;
}

const th_helper_t test_helpers[] = {
    {"ops", ops_helper},
    {"attach", attach_helper},
    {"moved-bounds", moved_bounds_helper},
#ifndef _WIN32
    {"sigwatch", sigwatch_helper},
#endif
    {NULL, NULL}
};
