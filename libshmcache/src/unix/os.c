/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unix/os.c - the OS contract (os.h) on POSIX systems, Linux first.
 *
 * Linux: futex on the shared word for sleeping; /proc/PID/stat field 22
 * (start time in clock ticks since boot) for process identity. Other
 * Unixes: a short nanosleep backoff, and kill(pid, 0) with no start time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "os.h"
#include "shmcache_status.h"

#include <apr_portable.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#endif

static _Atomic apr_uint32_t fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

/* Read the state letter (field 3) and start time (field 22, clock ticks
 * since boot) of pid from /proc. Returns 0 when they cannot be read (no
 * such process, no /proc). The comm field (2) may hold spaces and
 * parentheses, so parsing starts after the last ')'. */
static int proc_stat(apr_uint32_t pid, char *state, apr_uint64_t *start)
{
#ifdef __linux__
    char path[64], buf[1024];
    unsigned long long st = 0;
    FILE *f;
    size_t n;
    char *p;
    int field;

    snprintf(path, sizeof path, "/proc/%u/stat", (unsigned)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0')
        return 0;
    *state = p[2];
    /* the k-th space after ')' precedes field k + 2: field 3 is the state,
     * field 22 the start time, so it follows the 20th space */
    for (field = 3; field <= 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    if (p == NULL || sscanf(p + 1, "%llu", &st) != 1)
        return 0;
    *start = (apr_uint64_t)st;
    return 1;
#else
    (void)pid;
    (void)state;
    (void)start;
    return 0;
#endif
}

/* Start time of pid, 0 when unknown. */
static apr_uint64_t proc_start_time(apr_uint32_t pid)
{
    char state;
    apr_uint64_t start;

    return proc_stat(pid, &state, &start) ? start : 0;
}

void sc_os_proc_self(sc_proc_id_t *id)
{
    pthread_once(&atfork_once, register_atfork);
    id->pid = (apr_uint32_t)getpid();
    id->start = proc_start_time(id->pid);
}

int sc_os_proc_exists(const sc_proc_id_t *id)
{
    if (id->pid == 0 || id->pid > 0x7FFFFFFFu)   /* see sc_os_proc_alive */
        return 0;
    return kill((pid_t)id->pid, 0) == 0 || errno != ESRCH;
}

int sc_os_proc_alive(const sc_proc_id_t *id)
{
    apr_uint64_t start;
    char state;

    /* pids come from the segment: one above INT32_MAX is a negative pid_t,
     * which kill() takes as a process group (-1: every process), so it
     * names no single process and counts as dead */
    if (id->pid == 0 || id->pid > 0x7FFFFFFFu)
        return 0;
    if (kill((pid_t)id->pid, 0) != 0 && errno == ESRCH)
        return 0;
    if (!proc_stat(id->pid, &state, &start)) {
        /* unreadable /proc entry: the process vanished between the calls,
         * or /proc is hidden from us; only the first is death */
        return kill((pid_t)id->pid, 0) == 0 || errno != ESRCH;
    }
    /* a killed process that its parent has not reaped yet still answers
     * kill(); it holds nothing any more, and its pid cannot be reused
     * until it is reaped, so it is dead */
    if (state == 'Z' || state == 'X')
        return 0;
    return id->start == 0 || start == id->start;
}

void sc_os_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

apr_int64_t sc_os_clock_sec(void)
{
    /* time(), not gettimeofday (apr_time_now): on Linux it reads a kernel
     * variable through the vDSO, where gettimeofday reads the TSC with a
     * barrier that keeps lookups from overlapping their cache misses
     * (bench/ measured get at 0.17x the private table with it, 0.3x
     * without) */
    return (apr_int64_t)time(NULL);
}

apr_uint64_t sc_os_thread_self(void)
{
    /* an integer (Linux, Solaris) or a pointer (BSDs, macOS) everywhere
     * this file builds */
    return (apr_uint64_t)(uintptr_t)pthread_self();
}

apr_uint32_t sc_os_fork_generation(void)
{
    return atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

void sc_os_wait(_Atomic uint32_t *word, uint32_t expected,
                apr_uint32_t timeout_us)
{
    struct timespec ts;

    if (timeout_us == 0)
        return;
    ts.tv_sec = timeout_us / 1000000u;
    ts.tv_nsec = (long)(timeout_us % 1000000u) * 1000L;
#ifdef __linux__
    /* not FUTEX_PRIVATE: the word is shared between processes */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &ts, NULL, 0);
#else
    /* documented backoff: no cross-process wait primitive on a plain word,
     * so sleep a little (at most 1 ms) and let the caller re-check */
    if (atomic_load(word) == expected) {
        if (ts.tv_sec > 0 || ts.tv_nsec > 1000000L) {
            ts.tv_sec = 0;
            ts.tv_nsec = 1000000L;
        }
        nanosleep(&ts, NULL);
    }
#endif
}

void sc_os_wake(_Atomic uint32_t *word, int all)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, all ? INT32_MAX : 1,
            NULL, NULL, 0);
#else
    (void)word;
    (void)all;
#endif
}

/* Wrap an open descriptor in an apr_file_t owned by pool (closed with the
 * pool). */
static apr_status_t wrap_fd(apr_file_t **file, int fd, apr_int32_t flags,
                            apr_pool_t *pool)
{
    apr_os_file_t osf = fd;
    apr_status_t rv;

    rv = apr_os_file_put(file, &osf, flags, pool);
    if (rv != APR_SUCCESS) {
        close(fd);
        return rv;
    }
    /* apr_os_file_put does not register a cleanup: the descriptor must be
     * closed when the pool goes, like any file APR opened itself */
    apr_pool_cleanup_register(pool, *file, (apr_status_t (*)(void *))apr_file_close,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* APR permission bits to a mode_t (APR keeps its own converter private). */
static mode_t perms_to_mode(apr_fileperms_t p)
{
    static const struct { apr_fileperms_t apr; mode_t mode; } map[] = {
        {APR_FPROT_USETID, S_ISUID}, {APR_FPROT_GSETID, S_ISGID},
        {APR_FPROT_WSTICKY, S_ISVTX},
        {APR_FPROT_UREAD, S_IRUSR}, {APR_FPROT_UWRITE, S_IWUSR},
        {APR_FPROT_UEXECUTE, S_IXUSR}, {APR_FPROT_GREAD, S_IRGRP},
        {APR_FPROT_GWRITE, S_IWGRP}, {APR_FPROT_GEXECUTE, S_IXGRP},
        {APR_FPROT_WREAD, S_IROTH}, {APR_FPROT_WWRITE, S_IWOTH},
        {APR_FPROT_WEXECUTE, S_IXOTH},
    };
    mode_t m = 0;
    size_t i;

    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (p & map[i].apr)
            m |= map[i].mode;
    return m;
}

apr_status_t sc_os_file_create(apr_file_t **file, const char *path,
                               apr_fileperms_t perms, apr_pool_t *pool)
{
    mode_t mode = perms_to_mode(perms);
    int fd;

    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return APR_FROM_OS_ERROR(errno);
    /* exact mode, whatever the umask; on the descriptor, so no race */
    if (fchmod(fd, mode) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        close(fd);
        unlink(path);
        return rv;
    }
    return wrap_fd(file, fd, APR_FOPEN_READ | APR_FOPEN_WRITE, pool);
}

apr_status_t sc_os_file_open(apr_file_t **file, const char *path,
                             int allow_foreign_owner, int read_only,
                             apr_pool_t *pool)
{
    struct stat st;
    int fd;

    fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            return SHMCACHE_EOWNER;     /* a symlink: never followed */
        return APR_FROM_OS_ERROR(errno);
    }
    if (fstat(fd, &st) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        close(fd);
        return rv;
    }
    /* a reader that cannot write needs no trust in the owner: whatever
     * the owner puts in the file, the reader only reads it, checked */
    if (!S_ISREG(st.st_mode)
        || (!allow_foreign_owner && !read_only && st.st_uid != geteuid()
            && st.st_uid != 0)) {
        close(fd);
        return SHMCACHE_EOWNER;
    }
    return wrap_fd(file, fd,
                   read_only ? APR_FOPEN_READ : APR_FOPEN_READ | APR_FOPEN_WRITE,
                   pool);
}

/* Bytes of memory that new tmpfs pages could still use: MemAvailable plus
 * SwapFree from /proc/meminfo; 0 when unknown (not Linux, no /proc). */
static apr_uint64_t memory_available(void)
{
#ifdef __linux__
    char line[256];
    unsigned long long kb, total = 0;
    int found = 0;
    FILE *f = fopen("/proc/meminfo", "re");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1
            || sscanf(line, "SwapFree: %llu kB", &kb) == 1) {
            total += kb;
            found++;
        }
    }
    fclose(f);
    return found == 2 ? (apr_uint64_t)total * 1024u : 0;
#else
    return 0;
#endif
}

/* Whether fd is on a filesystem whose pages are memory (tmpfs, ramfs). */
static int on_memory_fs(int fd)
{
#ifdef __linux__
    struct statfs sf;
    return fstatfs(fd, &sf) == 0
           && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
#else
    (void)fd;
    return 0;
#endif
}

apr_status_t sc_os_file_reserve(apr_file_t *file, apr_uint64_t size)
{
    apr_os_file_t fd;
    apr_uint64_t avail;
    int err;

    apr_os_file_get(&fd, file);
    /* A tmpfs may be larger than the memory behind it (by default half of
     * RAM, but often set larger): reserving more than the machine can hold
     * would not fail, it would wake the OOM killer. Refuse instead. */
    if (on_memory_fs(fd) && (avail = memory_available()) != 0 && size > avail)
        return SHMCACHE_ERESERVE;
    err = posix_fallocate(fd, 0, (off_t)size);
    if (err == ENOSPC || err == EFBIG || err == EDQUOT)
        return SHMCACHE_ERESERVE;
    if (err == EOPNOTSUPP || err == EINVAL) {
        /* the filesystem cannot reserve: fall back to a sparse length */
        if (ftruncate(fd, (off_t)size) != 0)
            return APR_FROM_OS_ERROR(errno);
        return APR_SUCCESS;
    }
    return err == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(err);
}

apr_status_t sc_os_file_chown(apr_file_t *file, apr_uid_t uid, apr_gid_t gid)
{
    apr_os_file_t fd;

    apr_os_file_get(&fd, file);
    if (fchown(fd, uid, gid) != 0)
        return APR_FROM_OS_ERROR(errno);
    return APR_SUCCESS;
}

apr_status_t sc_os_file_chmod(apr_file_t *file, apr_fileperms_t perms)
{
    apr_os_file_t fd;

    apr_os_file_get(&fd, file);
    if (fchmod(fd, perms_to_mode(perms)) != 0)
        return APR_FROM_OS_ERROR(errno);
    return APR_SUCCESS;
}

apr_status_t sc_os_file_remove(const char *path, apr_pool_t *pool)
{
    return apr_file_remove(path, pool);
}

apr_status_t sc_os_file_publish(const char *tmp, const char *path)
{
    /* link(2) fails with EEXIST if anything, a symlink included, is at path */
    if (link(tmp, path) != 0)
        return APR_FROM_OS_ERROR(errno);
    unlink(tmp);
    return APR_SUCCESS;
}
