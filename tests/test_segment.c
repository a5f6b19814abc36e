/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_segment.c - creating, attaching, validating and removing segment
 * files: modes, symlinks, foreign and corrupted files, racing creators,
 * dead creators, a filesystem too small, permissions.
 */
#include "harness.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* Write len bytes at offset of the file at path. */
static void poke(const char *path, apr_off_t offset, const void *bytes,
                 apr_size_t len)
{
    apr_file_t *f;
    apr_size_t n = len;

    th_ok(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_READ, 0, th_pool));
    th_ok(apr_file_seek(f, APR_SET, &offset));
    th_ok(apr_file_write_full(f, bytes, len, &n));
    apr_file_close(f);
}

static void write_file(const char *path, const char *text)
{
    apr_file_t *f;

    th_ok(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                        APR_FPROT_UREAD | APR_FPROT_UWRITE, th_pool));
    apr_file_puts(text, f);
    apr_file_close(f);
}

/* Create a small segment at path and close it. */
static void make_segment(const char *path)
{
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    th_ok(shmcache_create(&c, path, &o, th_pool));
    th_ok(shmcache_close(c));
}

static apr_status_t try_attach(const char *path)
{
    shmcache_t *c;
    apr_status_t rv = shmcache_attach(&c, path, NULL, th_pool);

    if (rv == APR_SUCCESS)
        shmcache_close(c);
    return rv;
}

START_TEST(attaching_a_missing_path_is_enoent)
{
    th_status(try_attach(th_path("missing")), APR_ENOENT);
}
END_TEST

START_TEST(create_refuses_an_existing_path_and_leaves_it_alone)
{
    const char *p = th_path("exists");
    shmcache_t *c;
    apr_finfo_t fi;

    write_file(p, "precious");
    th_status(shmcache_create(&c, p, NULL, th_pool), APR_EEXIST);
    th_ok(apr_stat(&fi, p, APR_FINFO_SIZE, th_pool));
    ck_assert_int_eq((int)fi.size, 8);
}
END_TEST

START_TEST(a_text_file_is_not_a_cache)
{
    const char *p = th_path("text");
    char buf[8192];

    memset(buf, 'x', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    write_file(p, buf);
    th_status(try_attach(p), SHMCACHE_ENOTCACHE);
    th_status(shmcache_remove(p, th_pool), SHMCACHE_ENOTCACHE);
    write_file(p, "");
    th_status(try_attach(p), SHMCACHE_ENOTCACHE);
    write_file(p, "SHMCACHE");
    th_status(try_attach(p), SHMCACHE_ENOTCACHE);
}
END_TEST

START_TEST(another_format_version_is_refused)
{
    const char *p = th_path("format");
    apr_uint32_t v = 999;

    make_segment(p);
    poke(p, 8, &v, sizeof v);
    th_status(try_attach(p), SHMCACHE_EFORMAT);
}
END_TEST

START_TEST(another_struct_layout_is_refused)
{
    const char *p = th_path("layout");
    apr_uint32_t v = 0x12345678;

    make_segment(p);
    poke(p, 12, &v, sizeof v);
    th_status(try_attach(p), SHMCACHE_ELAYOUT);
}
END_TEST

START_TEST(a_header_with_bad_regions_is_corrupt)
{
    /* offsets of size (24), then region fields from 56 on (see segment.h) */
    static const apr_off_t fields[] = {24, 56, 64, 72, 80, 88, 96, 104, 112, 120};
    apr_uint64_t junk = 0x7FFFFFFFFFFFull;
    unsigned i;

    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *p = th_path("regions");
        make_segment(p);
        poke(p, fields[i], &junk, sizeof junk);
        th_status(try_attach(p), SHMCACHE_ECORRUPT);
    }
}
END_TEST

START_TEST(a_state_other_than_ready_is_refused)
{
    const char *p = th_path("state");
    apr_uint32_t init = 0x494E4954u;

    make_segment(p);
    poke(p, 16, &init, sizeof init);
    th_status(try_attach(p), SHMCACHE_ECORRUPT);
}
END_TEST

START_TEST(sizes_and_options_out_of_range_are_refused)
{
    shmcache_options_t o;
    shmcache_t *c;
    const char *p = th_path("opts");

    shmcache_options_init(&o);
    o.size = 1000;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_ESIZE);
    o.size = SHMCACHE_LIMIT_SIZE + 4096;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_EOVERFLOW);
    shmcache_options_init(&o);
    o.max_key = 0;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_EINVAL);
    o.max_key = 70000;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_EINVAL);
    shmcache_options_init(&o);
    o.slots = 1;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_EINVAL);
    shmcache_options_init(&o);
    o.default_ttl = SHMCACHE_TTL_MAX + 1;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_ETTL);
    shmcache_options_init(&o);
    o.size = SHMCACHE_MIN_SIZE;
    o.buckets = 1u << 29;        /* metadata would not leave room for data */
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_ESIZE);
    /* nothing was left behind by any of the failures */
    th_status(try_attach(p), APR_ENOENT);
}
END_TEST

START_TEST(the_value_limit_never_exceeds_what_fits)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = SHMCACHE_MIN_SIZE;      /* default max_value (1 MiB) cannot fit */
    th_ok(shmcache_create(&c, th_path("fit"), &o, th_pool));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_lt(st.max_value, st.data_size);
    ck_assert_uint_gt(st.max_value, 0);
    shmcache_close(c);
}
END_TEST

/* Helper: open the cache at argv[0] and store key argv[1]. */
static int open_and_mark(int argc, const char *const *argv)
{
    shmcache_t *c;
    shmcache_options_t o;
    int i;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    /* wait for the start signal so all helpers race at once */
    for (i = 0; i < 500; i++) {
        apr_finfo_t fi;
        if (apr_stat(&fi, argv[2], APR_FINFO_TYPE, th_pool) == APR_SUCCESS)
            break;
        apr_sleep(2000);
    }
    if (shmcache_open(&c, argv[0], &o, th_pool) != APR_SUCCESS)
        return 3;
    if (shmcache_set(c, argv[1], strlen(argv[1]), "1", 1, 0, NULL) != APR_SUCCESS)
        return 4;
    shmcache_close(c);
    return 0;
}

START_TEST(racing_creators_make_exactly_one_segment)
{
    enum { N = 6 };
    const char *p = th_path("race"), *go = th_path("go");
    apr_proc_t procs[N];
    shmcache_t *c;
    int i;

    for (i = 0; i < N; i++) {
        const char *args[] = {p, apr_psprintf(th_pool, "racer-%d", i), go, NULL};
        th_spawn(&procs[i], "open_and_mark", args);
    }
    write_file(go, "go");
    for (i = 0; i < N; i++)
        ck_assert_int_eq(th_wait(&procs[i]), 0);
    th_ok(shmcache_attach(&c, p, NULL, th_pool));
    for (i = 0; i < N; i++) {
        shmcache_meta_t m;
        char *k = apr_psprintf(th_pool, "racer-%d", i);
        th_ok(shmcache_get_meta(c, k, strlen(k), &m));
    }
    shmcache_close(c);
}
END_TEST

static int exit_at_once(int argc, const char *const *argv)
{
    return 0;
}

START_TEST(a_dead_creators_leftover_is_removed_by_the_next_create)
{
    const char *p = th_path("dead");
    apr_proc_t proc;
    const char *leftover;
    apr_finfo_t fi;
    shmcache_t *c;

    /* a pid that surely is dead: a helper that has exited */
    th_spawn(&proc, "exit_at_once", NULL);
    ck_assert_int_eq(th_wait(&proc), 0);
    leftover = apr_psprintf(th_pool, "%s.init.%d", p, (int)proc.pid);
    write_file(leftover, "half-built segment");
    th_ok(shmcache_create(&c, p, NULL, th_pool));
    th_status(apr_stat(&fi, leftover, APR_FINFO_TYPE, th_pool), APR_ENOENT);
    shmcache_close(c);
}
END_TEST

#ifndef _WIN32
START_TEST(the_file_is_owner_only_by_default_whatever_the_umask)
{
    const char *p = th_path("mode");
    struct stat st;
    mode_t old = umask(0);

    make_segment(p);
    umask(old);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(a_configured_mode_is_applied_exactly)
{
    const char *p = th_path("mode640");
    shmcache_options_t o;
    shmcache_t *c;
    struct stat st;
    mode_t old = umask(077);

    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.mode = APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_GWRITE;
    th_ok(shmcache_create(&c, p, &o, th_pool));
    umask(old);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0660);
    shmcache_close(c);
}
END_TEST

/* perms_set acts on the file the handle opened, never on whatever is at
 * the path now: a file swapped in at the path keeps its mode. Once the
 * handle's descriptor is closed, perms_set refuses and the cache works. */
START_TEST(perms_set_changes_the_opened_file_not_the_path)
{
    const char *p = th_path("perms"), *moved = th_path("perms-moved");
    shmcache_options_t o;
    shmcache_t *c;
    struct stat st;
    char buf[4];
    apr_size_t n;
    int fd;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    th_ok(shmcache_create(&c, p, &o, th_pool));
    ck_assert_int_eq(rename(p, moved), 0);
    fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    th_ok(shmcache_perms_set(c, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_GREAD, (apr_uid_t)-1,
                             (apr_gid_t)-1));
    ck_assert_int_eq(stat(moved, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0640);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);     /* the swapped-in file */
    th_ok(shmcache_file_close(c));
    th_ok(shmcache_file_close(c));
    th_status(shmcache_perms_set(c, APR_FPROT_UREAD, (apr_uid_t)-1,
                                 (apr_gid_t)-1), APR_EBADF);
    th_ok(shmcache_set(c, "k", 1, "v", 1, 0, NULL));
    th_ok(shmcache_get_buf(c, "k", 1, buf, sizeof buf, &n, NULL));
    shmcache_close(c);
    unlink(moved);
}
END_TEST

START_TEST(create_never_follows_a_symlink)
{
    const char *p = th_path("link"), *target = th_path("target");
    shmcache_t *c;
    struct stat st;

    ck_assert_int_eq(symlink(target, p), 0);
    th_status(shmcache_create(&c, p, NULL, th_pool), APR_EEXIST);
    ck_assert_int_ne(stat(target, &st), 0);   /* nothing created there */
}
END_TEST

START_TEST(attach_never_follows_a_symlink)
{
    const char *p = th_path("link2"), *real = th_path("real");

    make_segment(real);
    ck_assert_int_eq(symlink(real, p), 0);
    th_status(try_attach(p), SHMCACHE_EOWNER);
    th_ok(try_attach(real));
}
END_TEST

START_TEST(a_segment_of_another_user_is_refused_unless_allowed)
{
    const char *p = th_path("foreign");
    shmcache_options_t o;
    shmcache_t *c;

    if (geteuid() != 0) {
        fprintf(stderr, "skipped: needs root to chown a file to another user\n");
        return;
    }
    make_segment(p);
    ck_assert_int_eq(chown(p, 65534, 65534), 0);
    th_status(try_attach(p), SHMCACHE_EOWNER);
    shmcache_options_init(&o);
    o.allow_foreign_owner = 1;
    th_ok(shmcache_attach(&c, p, &o, th_pool));
    shmcache_close(c);
}
END_TEST

START_TEST(set_owner_gives_the_file_to_a_group)
{
    const char *p = th_path("group");
    shmcache_options_t o;
    shmcache_t *c;
    struct stat st;

    if (geteuid() != 0) {
        fprintf(stderr, "skipped: needs root to give a file away\n");
        return;
    }
    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.set_owner = 1;
    o.group = 65534;
    th_ok(shmcache_create(&c, p, &o, th_pool));
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq((int)st.st_gid, 65534);
    ck_assert_int_eq((int)st.st_uid, (int)geteuid());
    shmcache_close(c);
}
END_TEST

/* Helper: become nobody, then attach to argv[0] (read-only when argv[1]
 * is "ro"); exit code says what happened: 0 attached, 13 EACCES, 1
 * anything else. */
static int attach_as_nobody(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_t *c;
    apr_status_t rv;

    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 2;
    shmcache_options_init(&o);
    o.read_only = argc > 1 && strcmp(argv[1], "ro") == 0;
    rv = shmcache_attach(&c, argv[0], &o, th_pool);
    if (rv == APR_SUCCESS)
        return 0;
    return APR_STATUS_IS_EACCES(rv) ? 13 : 1;
}

START_TEST(another_user_without_permission_gets_eacces)
{
    const char *p = th_path("perm");
    const char *args[] = {p, NULL};
    apr_proc_t proc;

    if (geteuid() != 0) {
        fprintf(stderr, "skipped: needs root to run a helper as another user\n");
        return;
    }
    make_segment(p);
    th_spawn(&proc, "attach_as_nobody", args);
    ck_assert_int_eq(th_wait(&proc), 13);
}
END_TEST

/* Read permission is enough for a read-only attach, and trust in the
 * owner is not needed for one. */
START_TEST(a_read_only_attach_needs_only_read_permission_and_no_trusted_owner)
{
    const char *p = th_path("roperm");
    const char *rw[] = {p, "rw", NULL}, *ro[] = {p, "ro", NULL};
    shmcache_options_t o;
    shmcache_t *c;
    apr_proc_t proc;

    if (geteuid() != 0) {
        fprintf(stderr, "skipped: needs root to run a helper as another user\n");
        return;
    }
    make_segment(p);
    ck_assert_int_eq(chmod(p, 0644), 0);
    th_spawn(&proc, "attach_as_nobody", rw);
    ck_assert_int_eq(th_wait(&proc), 13);
    th_spawn(&proc, "attach_as_nobody", ro);
    ck_assert_int_eq(th_wait(&proc), 0);
    ck_assert_int_eq(chown(p, 65534, 65534), 0);
    th_status(try_attach(p), SHMCACHE_EOWNER);
    shmcache_options_init(&o);
    o.read_only = 1;
    th_ok(shmcache_attach(&c, p, &o, th_pool));
    th_status(shmcache_perms_set(c, APR_FPROT_UREAD, (apr_uid_t)-1,
                                 (apr_gid_t)-1), SHMCACHE_EREADONLY);
    th_ok(shmcache_close(c));
}
END_TEST

/* Helper: limit file size to 512 KiB, then create a 1 MiB segment:
 * exit 0 if it failed with ERESERVE and left nothing behind. */
static int create_over_fsize_limit(int argc, const char *const *argv)
{
    struct rlimit rl = {512 * 1024, 512 * 1024};
    shmcache_options_t o;
    shmcache_t *c;
    apr_status_t rv;
    apr_finfo_t fi;

    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 2;
    shmcache_options_init(&o);
    o.size = 1 << 20;
    rv = shmcache_create(&c, argv[0], &o, th_pool);
    if (rv != SHMCACHE_ERESERVE)
        return 3;
    return apr_stat(&fi, argv[0], APR_FINFO_TYPE, th_pool) == APR_ENOENT ? 0 : 4;
}

START_TEST(a_file_size_limit_fails_create_cleanly)
{
    const char *p = th_path("fsize");
    const char *args[] = {p, NULL};
    apr_proc_t proc;

    th_spawn(&proc, "create_over_fsize_limit", args);
    ck_assert_int_eq(th_wait(&proc), 0);
}
END_TEST

START_TEST(a_full_tmpfs_fails_create_with_ereserve_not_sigbus)
{
    char dir[] = "/tmp/shmcache-tmpfs-XXXXXX";
    const char *p;
    shmcache_options_t o;
    shmcache_t *c;
    apr_finfo_t fi;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
        fprintf(stderr, "skipped: cannot mount a small tmpfs here (not root, "
                "or no CAP_SYS_ADMIN); a_file_size_limit_fails_create_cleanly "
                "covers the same path\n");
        rmdir(dir);
        return;
    }
    p = apr_pstrcat(th_pool, dir, "/cache", NULL);
    shmcache_options_init(&o);
    o.size = 4 << 20;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_ERESERVE);
    th_status(apr_stat(&fi, p, APR_FINFO_TYPE, th_pool), APR_ENOENT);
    /* a segment that fits still works there */
    o.size = 512 << 10;
    th_ok(shmcache_create(&c, p, &o, th_pool));
    th_ok(shmcache_set(c, "k", 1, "v", 1, 0, NULL));
    shmcache_close(c);
    shmcache_remove(p, th_pool);
    umount(dir);
    rmdir(dir);
}
END_TEST
#endif

#ifdef __linux__
/* MemAvailable + SwapFree in bytes, 0 if unknown. */
static apr_uint64_t memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb, total = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1
            || sscanf(line, "SwapFree: %llu kB", &kb) == 1)
            total += kb;
    fclose(f);
    return (apr_uint64_t)total * 1024u;
}

START_TEST(a_segment_larger_than_free_memory_is_refused_not_oom_killed)
{
    apr_uint64_t avail = memory_available();
    shmcache_options_t o;
    shmcache_t *c;
    apr_time_t t0;
    const char *p = th_path("oom");
    apr_finfo_t fi;

    if (avail == 0 || avail + ((apr_uint64_t)1 << 30) > SHMCACHE_LIMIT_SIZE) {
        fprintf(stderr, "skipped: memory (%" APR_UINT64_T_FMT " bytes) unknown "
                "or above what one segment can address\n", avail);
        return;
    }
    shmcache_options_init(&o);
    o.size = avail + ((apr_uint64_t)1 << 30);
    t0 = apr_time_now();
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_ERESERVE);
    /* refused up front, not after touching gigabytes */
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_sec(2));
    th_status(apr_stat(&fi, p, APR_FINFO_TYPE, th_pool), APR_ENOENT);
}
END_TEST
#endif

Suite *test_suite(void)
{
    Suite *s = suite_create("segment");
    TCase *tc = tcase_create("segment");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, attaching_a_missing_path_is_enoent);
    tcase_add_test(tc, create_refuses_an_existing_path_and_leaves_it_alone);
    tcase_add_test(tc, a_text_file_is_not_a_cache);
    tcase_add_test(tc, another_format_version_is_refused);
    tcase_add_test(tc, another_struct_layout_is_refused);
    tcase_add_test(tc, a_header_with_bad_regions_is_corrupt);
    tcase_add_test(tc, a_state_other_than_ready_is_refused);
    tcase_add_test(tc, sizes_and_options_out_of_range_are_refused);
    tcase_add_test(tc, the_value_limit_never_exceeds_what_fits);
    tcase_add_test(tc, racing_creators_make_exactly_one_segment);
    tcase_add_test(tc, a_dead_creators_leftover_is_removed_by_the_next_create);
#ifndef _WIN32
    tcase_add_test(tc, the_file_is_owner_only_by_default_whatever_the_umask);
    tcase_add_test(tc, a_configured_mode_is_applied_exactly);
    tcase_add_test(tc, perms_set_changes_the_opened_file_not_the_path);
    tcase_add_test(tc, create_never_follows_a_symlink);
    tcase_add_test(tc, attach_never_follows_a_symlink);
    tcase_add_test(tc, a_segment_of_another_user_is_refused_unless_allowed);
    tcase_add_test(tc, set_owner_gives_the_file_to_a_group);
    tcase_add_test(tc, another_user_without_permission_gets_eacces);
    tcase_add_test(tc, a_read_only_attach_needs_only_read_permission_and_no_trusted_owner);
    tcase_add_test(tc, a_file_size_limit_fails_create_cleanly);
    tcase_add_test(tc, a_full_tmpfs_fails_create_with_ereserve_not_sigbus);
#endif
#ifdef __linux__
    tcase_add_test(tc, a_segment_larger_than_free_memory_is_refused_not_oom_killed);
#endif
    suite_add_tcase(s, tc);
    return s;
}

const th_helper_t test_helpers[] = {
    {"open_and_mark", open_and_mark},
    {"exit_at_once", exit_at_once},
#ifndef _WIN32
    {"attach_as_nobody", attach_as_nobody},
    {"create_over_fsize_limit", create_over_fsize_limit},
#endif
    {NULL, NULL}};
