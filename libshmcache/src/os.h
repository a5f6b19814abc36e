/* SPDX-License-Identifier: Apache-2.0 */
/*
 * os.h - the small OS contract that APR does not cover.
 *
 * Everything platform-specific that the library needs beyond APR sits
 * behind these functions: one implementation per OS (unix/os.c,
 * win32/os.c), chosen by CMakeLists.txt. Shared code never uses #ifdef for
 * the platform. segment.c (files, creators' liveness) and lock.c
 * (waiting, liveness, fork and thread identity) call into this file, and
 * table.c reads the clock through it; fault.c (test builds' fault
 * injection) asks for the process's own id.
 *
 * Why not APR: APR has no futex-style wait on a word in shared memory, no
 * way to tell whether a process (by pid and start time) is alive, no
 * O_NOFOLLOW / exact-mode exclusive create, no fchown, and no space
 * reservation (posix_fallocate) on a file.
 */
#ifndef SC_OS_H
#define SC_OS_H

#include <stdatomic.h>
#include <stdint.h>
#include <apr_file_io.h>
#include <apr_pools.h>

/* Identity of a process: its pid plus its start time, so a pid reused by
 * a new process is not mistaken for the old one. start is in OS-defined
 * units (clock ticks since boot on Linux, FILETIME on Windows); 0 means
 * unknown, and then only the pid is compared. */
typedef struct sc_proc_id_t {
    apr_uint32_t pid;
    apr_uint64_t start;
} sc_proc_id_t;

/* Fill *id with the calling process's identity. Cannot fail. */
void sc_os_proc_self(sc_proc_id_t *id);

/* Whether the process *id names is still running: 1 alive, 0 dead (no such
 * pid, or the pid now belongs to a process with another start time). When
 * the OS cannot tell (no permission to look), answers 1: never declare a
 * live process dead. Sends no signal. id usually comes from the segment and
 * may be anything: a value that cannot name exactly one process (0, or on
 * POSIX a pid above INT32_MAX, which kill() takes as a process group) is
 * dead. */
int sc_os_proc_alive(const sc_proc_id_t *id);

/* Whether a process with this pid exists at all (it may be another process
 * that reused the pid, or a zombie): the cheap half of sc_os_proc_alive,
 * for a hot path that can afford no more than one system call. Windows
 * makes the full check. */
int sc_os_proc_exists(const sc_proc_id_t *id);

/* A counter that goes up in the child after every fork(), so a handle can
 * notice it was inherited by a child. Constant on systems without fork. */
apr_uint32_t sc_os_fork_generation(void);

/* The wall clock in whole seconds since 1970-01-01 UTC, from the
 * cheapest source the OS has: every get reads it (expiry), so it must
 * cost nanoseconds, not a system call. Cannot fail. */
apr_int64_t sc_os_clock_sec(void);

/* This thread's identity: two live threads never share it (an ended
 * thread's may be reused). Used on the hot path of every get, where
 * apr_os_thread_current + apr_os_thread_equal cost two calls into libapr
 * (and a third into libc) for the same answer. */
apr_uint64_t sc_os_thread_self(void);

/* For the few helpers of a get's hot path: inlined even where the
 * compiler would not (it keeps a helper out of line when it has several
 * callers); a call and its register saves cost as much as the helper's
 * work, and a get's instruction count bounds how many gets the CPU
 * overlaps (bench/README.md). */
#if defined(__GNUC__) || defined(__clang__)
#define SC_HOT_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define SC_HOT_INLINE static __forceinline
#else
#define SC_HOT_INLINE static inline
#endif

/* Thread-local storage class (C11 _Thread_local; MSVC before C11 mode
 * spells it __declspec(thread)). */
#if defined(_MSC_VER) && !defined(__clang__)
#define SC_THREAD_LOCAL __declspec(thread)
#else
#define SC_THREAD_LOCAL _Thread_local
#endif

/* Tell the CPU this thread is spinning on a word (x86 PAUSE, ARM
 * YIELD): the sibling hyperthread gets the core, and leaving the loop
 * does not flush the pipeline. */
void sc_os_cpu_relax(void);

/* Sleep while *word == expected, for at most timeout_us microseconds
 * (0 = do not sleep). Works across processes on a shared mapping. May
 * return early (spuriously); callers re-check their condition. */
void sc_os_wait(_Atomic uint32_t *word, uint32_t expected,
                apr_uint32_t timeout_us);

/* Wake sleepers in sc_os_wait on word: one, or all when all != 0. */
void sc_os_wake(_Atomic uint32_t *word, int all);

/* Create path exclusively for reading and writing, never following a
 * symlink, with exactly perms (not filtered by the umask).
 * Returns APR_EEXIST when anything exists at path, or an OS status. */
apr_status_t sc_os_file_create(apr_file_t **file, const char *path,
                               apr_fileperms_t perms, apr_pool_t *pool);

/* Open an existing path for reading and writing, or for reading only when
 * read_only (the apr_file_t then carries APR_FOPEN_READ alone), never
 * following a symlink. Refuses with SHMCACHE_EOWNER a path that is not a
 * regular file; and, for reading and writing only, one that belongs to
 * another user (root's files excepted) unless allow_foreign_owner: a
 * reader that cannot write trusts nothing it reads. */
apr_status_t sc_os_file_open(apr_file_t **file, const char *path,
                             int allow_foreign_owner, int read_only,
                             apr_pool_t *pool);

/* Make the fully initialised file at tmp appear at path atomically, never
 * replacing anything there (link + unlink on Unix, MoveFileEx without
 * MOVEFILE_REPLACE_EXISTING on Windows). Returns APR_EEXIST when something
 * already exists at path (tmp is left in place for the caller to remove). */
apr_status_t sc_os_file_publish(const char *tmp, const char *path);

/* Remove the name path now, even while processes still have the file open
 * and mapped (they keep their mapping; the storage goes with the last
 * one), so that a new segment can be created at path at once. Never
 * follows a symlink (removes the link). Unix: unlink. Windows: a POSIX-
 * semantics delete, or else a rename to a unique name beside it and a
 * delete of that (a file in use keeps its name until its last handle
 * closes). Returns APR_SUCCESS or an OS status (ENOENT: nothing there). */
apr_status_t sc_os_file_remove(const char *path, apr_pool_t *pool);

/* Give the file size bytes of reserved storage (its length becomes size).
 * Returns SHMCACHE_ERESERVE when the filesystem has no room, or when the
 * file is on a memory filesystem (tmpfs) and size exceeds the memory and
 * swap still available (a tmpfs can be larger than the RAM behind it). */
apr_status_t sc_os_file_reserve(apr_file_t *file, apr_uint64_t size);

/* Change the file's owner and/or group; (apr_uid_t)-1 / (apr_gid_t)-1
 * keep the current one. */
apr_status_t sc_os_file_chown(apr_file_t *file, apr_uid_t uid, apr_gid_t gid);

/* Set the open file's permission bits to exactly perms (fchmod on the
 * descriptor: never by path, so nothing swapped in at the path since it
 * was opened is touched). Windows: APR_ENOTIMPL (access is an ACL). */
apr_status_t sc_os_file_chmod(apr_file_t *file, apr_fileperms_t perms);

#endif /* SC_OS_H */
