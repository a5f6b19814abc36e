/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_segment.c - libFuzzer target (a): attach to a mutated segment image
 * and run every operation on it.
 *
 * At start-up a small valid segment (256 KiB, 64 buckets, 8 slots) is
 * created, filled with entries of varied sizes, numbers, TTLs and holes,
 * closed, and its bytes kept as the template. Each input then becomes a
 * segment file, by the input's first byte:
 *
 *   mode 0  the rest of the input is the whole file;
 *   mode 1  the template, with the rest of the input (after a 3-byte
 *           little-endian offset) written over it at that offset;
 *   mode 2+ the template with a list of patches applied, each patch
 *           [3-byte LE offset][1 byte: length - 1, low 4 bits][bytes];
 *   0x80+   the same, after a 3-byte LE length the file is cut to (modulo
 *           the template's size + 1): files shorter than their header says,
 *           without spelling out a whole header (whose layout word changes
 *           with the build).
 *
 * The offset is taken modulo the template's size. The target attaches
 * (lock timeout 1 ms), runs get / get_buf / get_meta, set / add / replace
 * / cas / incr / touch / delete, iterate, scan, stats and check, then
 * flush, and aborts (a finding) when:
 *   - any call returns a status shmcache.h does not document for it;
 *   - check reports corruption without saying where;
 *   - after a successful flush, check fails or a set/get round trip does;
 *   - close fails.
 * Crashes, out-of-bounds accesses (the mapping sits between guard pages,
 * see fuzz_common.c), hangs (-timeout) and leaks are found by libFuzzer
 * and the sanitizers themselves.
 */
#include "fuzz_common.h"
#include "shmcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *template_image;
static size_t template_len;
static const char *seg_path;

/* ------------------------------------------------------------------------
 * The template
 * ---------------------------------------------------------------------- */

static void must(apr_status_t rv, const char *what)
{
    char buf[256];

    if (rv != APR_SUCCESS)
        fz_fail("setting up: %s: %s", what, shmcache_strerror(rv, buf, sizeof buf));
}

static void make_template(void)
{
    static char value[4000];
    apr_pool_t *pool;
    shmcache_options_t o;
    shmcache_t *c;
    const char *p = fz_path("template");
    char key[32], num[32];
    unsigned i;

    must(apr_pool_create(&pool, fz_global_pool()), "pool");
    shmcache_options_init(&o);
    o.size = SHMCACHE_MIN_SIZE;
    o.buckets = 64;
    o.slots = 8;
    o.max_key = 64;
    shmcache_remove(p, pool);
    must(shmcache_create(&c, p, &o, pool), "create");
    for (i = 0; i < sizeof value; i++)
        value[i] = (char)('a' + i % 26);
    for (i = 0; i < 48; i++) {
        snprintf(key, sizeof key, "k%u", i);
        if (i % 4 == 0) {
            snprintf(num, sizeof num, "%u", i * 7u);
            must(shmcache_set(c, key, strlen(key), num, strlen(num), 0, NULL), "set");
        } else {
            must(shmcache_set(c, key, strlen(key), value, (i * 53u) % 700u
                              + (i % 13 == 0 ? 3000u : 0u),
                              i % 3 == 0 ? 3600u : 0u, NULL), "set");
        }
    }
    for (i = 5; i < 48; i += 9) {
        snprintf(key, sizeof key, "k%u", i);
        must(shmcache_delete(c, key, strlen(key)), "delete");
    }
    must(shmcache_check(c, NULL, 0), "check");
    must(shmcache_close(c), "close");
    template_image = fz_read_file(p, &template_len);
    shmcache_remove(p, pool);
    apr_pool_destroy(pool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_global_pool();
    make_template();
    seg_path = fz_path("segment");
    /* for making mode-0 inputs by hand (fuzz/README.md) */
    if (getenv("SHMCACHE_FUZZ_DUMP_TEMPLATE") != NULL)
        fz_write_file(getenv("SHMCACHE_FUZZ_DUMP_TEMPLATE"), template_image,
                      template_len);
    return 0;
}

/* ------------------------------------------------------------------------
 * Statuses
 * ---------------------------------------------------------------------- */

#define S(x) SHMCACHE_##x

typedef struct allowed_t {
    const char *op;
    apr_status_t ok[10];
} allowed_t;

/* Each list ends with APR_SUCCESS repeated (0 terminates). */
static const allowed_t A_ATTACH = {"attach", {S(ENOTCACHE), S(EFORMAT), S(ELAYOUT),
    S(ECORRUPT), S(ESLOTS), S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_GET = {"get", {S(NOTFOUND), S(EKEYLEN), S(ECORRUPT),
    S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_GETBUF = {"get_buf", {S(NOTFOUND), S(EKEYLEN), S(ECORRUPT),
    S(ETIMEDOUT), S(EBUFSIZE), APR_SUCCESS}};
static const allowed_t A_SET = {"set", {S(EKEYLEN), S(EVALLEN), S(ENOMEM), S(ECORRUPT),
    S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_ADD = {"add", {S(EKEYLEN), S(EVALLEN), S(ENOMEM), S(ECORRUPT),
    S(ETIMEDOUT), S(EXISTS), APR_SUCCESS}};
static const allowed_t A_REPLACE = {"replace", {S(EKEYLEN), S(EVALLEN), S(ENOMEM),
    S(ECORRUPT), S(ETIMEDOUT), S(NOTFOUND), APR_SUCCESS}};
static const allowed_t A_CAS = {"cas", {S(EKEYLEN), S(EVALLEN), S(ENOMEM), S(ECORRUPT),
    S(ETIMEDOUT), S(NOTFOUND), S(EMISMATCH), APR_SUCCESS}};
static const allowed_t A_INCR = {"incr", {S(NOTFOUND), S(ENOTNUM), S(EKEYLEN),
    S(EVALLEN), S(ENOMEM), S(ECORRUPT), S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_TOUCH = {"touch", {S(NOTFOUND), S(EKEYLEN), S(ECORRUPT),
    S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_DELETE = {"delete", {S(NOTFOUND), S(EKEYLEN), S(ECORRUPT),
    S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_WALK = {"iterate", {S(ECORRUPT), S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_STATS = {"stats", {S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_CHECK = {"check", {S(ECORRUPT), S(ETIMEDOUT), APR_SUCCESS}};
static const allowed_t A_FLUSH = {"flush", {S(ETIMEDOUT), APR_SUCCESS}};

/* A lock that timed out once will time out again (a live holder, or
 * slots that cannot be reclaimed): later locking calls are skipped to keep
 * the run fast. */
static int stuck;

static apr_status_t expect(const allowed_t *a, apr_status_t rv)
{
    char buf[256];
    int i;

    for (i = 0; i < 10; i++) {
        if (rv == a->ok[i]) {
            if (rv == SHMCACHE_ETIMEDOUT)
                stuck = 1;
            return rv;
        }
        if (a->ok[i] == APR_SUCCESS)
            break;
    }
    fz_fail("%s returned %d (%s), not a status shmcache.h documents for it",
            a->op, (int)rv, shmcache_strerror(rv, buf, sizeof buf));
}

/* ------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------- */

static int walk_one(void *baton, const void *key, apr_size_t key_len,
                    const void *value, apr_size_t value_len,
                    const shmcache_meta_t *meta)
{
    unsigned *sum = baton;
    apr_size_t i;

    if (key_len == 0 || key_len > SHMCACHE_LIMIT_MAX_KEY || meta == NULL)
        fz_fail("iterate handed over a key of %zu bytes", (size_t)key_len);
    for (i = 0; i < key_len; i++)
        *sum += ((const unsigned char *)key)[i];
    for (i = 0; value != NULL && i < value_len; i++)
        *sum += ((const unsigned char *)value)[i];
    return 0;
}

static void reads(shmcache_t *c, apr_pool_t *pool)
{
    static const char *const keys[] = {"k0", "k1", "k2", "k4", "k5", "k13",
                                       "k26", "k47", "nope"};
    char small[8];
    apr_size_t n, i;
    shmcache_meta_t m;
    void *v;

    for (i = 0; i < sizeof keys / sizeof keys[0] && !stuck; i++) {
        const char *k = keys[i];
        expect(&A_GET, shmcache_get(c, k, strlen(k), &v, &n, &m, pool));
        expect(&A_GETBUF, shmcache_get_buf(c, k, strlen(k), small, sizeof small,
                                           &n, NULL));
        expect(&A_GET, shmcache_get_meta(c, k, strlen(k), &m));
    }
}

static void walks(shmcache_t *c)
{
    unsigned sum = 0;
    apr_uint32_t cursor = 0;
    int rounds = 0;
    apr_status_t rv;

    if (stuck)
        return;
    expect(&A_WALK, shmcache_iterate(c, walk_one, &sum, 0));
    do {
        rv = expect(&A_WALK, shmcache_scan(c, &cursor, 5, walk_one, &sum,
                                           SHMCACHE_ITER_KEYS_ONLY));
    } while (rv == APR_SUCCESS && cursor != 0 && ++rounds < 1000000);
    if (rounds >= 1000000)
        fz_fail("scan never came back to cursor 0");
}

static void figures(shmcache_t *c)
{
    shmcache_stats_t st;
    char why[256];
    apr_status_t rv;

    if (stuck)
        return;
    expect(&A_STATS, shmcache_stats(c, &st));
    if (stuck)
        return;
    why[0] = 'x';
    rv = expect(&A_CHECK, shmcache_check(c, why, sizeof why));
    if (rv == SHMCACHE_ECORRUPT && why[0] == '\0')
        fz_fail("check found corruption but did not say where");
}

static void writes(shmcache_t *c)
{
    static const char big[1500] = {0};
    apr_uint64_t ver = 0, init = 3, res;
    shmcache_meta_t m;
    char key[16];
    unsigned i;

    for (i = 0; i < 12 && !stuck; i++) {
        snprintf(key, sizeof key, "k%u", i * 4u + 1u);
        expect(&A_SET, shmcache_set(c, key, strlen(key), big, (i * 211u) % sizeof big,
                                    i % 2 ? 5u : 0u, NULL));
    }
    if (stuck)
        return;
    expect(&A_ADD, shmcache_add(c, "k2", 2, "a", 1, 0, NULL));
    expect(&A_REPLACE, shmcache_replace(c, "k3", 2, "r", 1, 0, NULL));
    if (shmcache_get_meta(c, "k3", 2, &m) == APR_SUCCESS)
        ver = m.version;
    expect(&A_CAS, shmcache_cas(c, "k3", 2, "c", 1, 0, ver, NULL));
    expect(&A_INCR, shmcache_incr(c, "k4", 2, 9, NULL, 0, &res));
    expect(&A_INCR, shmcache_incr(c, "k6", 2, -1, NULL, 0, &res));
    expect(&A_INCR, shmcache_incr(c, "n", 1, 1, &init, 10, &res));
    expect(&A_TOUCH, shmcache_touch(c, "k7", 2, 100));
    if (stuck)
        return;
    expect(&A_DELETE, shmcache_delete(c, "k8", 2));
    expect(&A_DELETE, shmcache_delete(c, "k9", 2));
}

static void flush_and_verify(shmcache_t *c)
{
    char why[256], buf[8];
    apr_size_t n;
    apr_status_t rv;

    if (stuck)
        return;
    if (expect(&A_FLUSH, shmcache_flush(c)) != APR_SUCCESS)
        return;
    rv = shmcache_check(c, why, sizeof why);
    if (rv != APR_SUCCESS)
        fz_fail("check after a successful flush returned %d: %s", (int)rv, why);
    /* a one-byte key and an empty value fit whatever limits the header
     * holds (max_key >= 1 is checked at attach; max_value may be 0) */
    if (shmcache_set(c, "a", 1, "", 0, 0, NULL) != APR_SUCCESS
        || shmcache_get_buf(c, "a", 1, buf, sizeof buf, &n, NULL) != APR_SUCCESS
        || n != 0)
        fz_fail("set/get after a successful flush failed");
}

/* ------------------------------------------------------------------------
 * Inputs
 * ---------------------------------------------------------------------- */

static size_t offset_of(const uint8_t *p)
{
    return ((size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16) % template_len;
}

/* Build the file for this input into img (template_len bytes, or the
 * input itself in mode 0). Returns the file length. */
static size_t build(const uint8_t *data, size_t size, unsigned char *img)
{
    size_t i = 1, len = template_len;

    if (size == 0 || data[0] == 0) {
        if (size > 1)
            memcpy(img, data + 1, size - 1);
        return size > 1 ? size - 1 : 0;
    }
    memcpy(img, template_image, template_len);
    if (data[0] == 1) {
        size_t off, n;
        if (size < 4)
            return template_len;
        off = offset_of(data + 1);
        n = size - 4;
        if (n > template_len - off)
            n = template_len - off;
        memcpy(img + off, data + 4, n);
        return template_len;
    }
    if (data[0] >= 0x80) {          /* cut: the length comes first */
        if (size < 4)
            return template_len;
        len = ((size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16)
              % (template_len + 1);
        i = 4;
    }
    while (i + 4 <= size) {
        size_t off = offset_of(data + i), n = (size_t)(data[i + 3] & 15) + 1;
        i += 4;
        if (n > size - i)
            n = size - i;
        if (n > template_len - off)
            n = template_len - off;
        memcpy(img + off, data + i, n);
        i += n;
    }
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char *img;
    static size_t img_cap;
    apr_pool_t *pool;
    shmcache_options_t o;
    shmcache_t *c;
    size_t len;
    apr_status_t rv;

    if (size > (1u << 20))
        return 0;
    if (img_cap < template_len + size) {
        free(img);
        img_cap = template_len + size;
        img = malloc(img_cap);
        if (img == NULL)
            fz_fail("out of memory");
    }
    len = build(data, size, img);
    fz_write_file(seg_path, img, len);
    if (apr_pool_create(&pool, fz_global_pool()) != APR_SUCCESS)
        fz_fail("apr_pool_create failed");
    shmcache_options_init(&o);
    o.lock_timeout_ms = 1;
    stuck = 0;
    rv = shmcache_attach(&c, seg_path, &o, pool);
    if (rv == APR_SUCCESS) {
        reads(c, pool);
        walks(c);
        figures(c);
        writes(c);
        reads(c, pool);
        walks(c);
        figures(c);
        flush_and_verify(c);
        if (shmcache_close(c) != APR_SUCCESS)
            fz_fail("close failed");
    } else {
        expect(&A_ATTACH, rv);
    }
    apr_pool_destroy(pool);
    return 0;
}
