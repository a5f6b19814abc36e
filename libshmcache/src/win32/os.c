/* SPDX-License-Identifier: Apache-2.0 */
/*
 * win32/os.c - the OS contract (os.h) on Windows (Vista and later; built
 * with MSVC or mingw-w64, tested under Wine by .ci/windows.sh).
 *
 * Process identity: pid plus the process creation time (a FILETIME, 100 ns
 * units since 1601) from GetProcessTimes. A process is alive while its
 * handle is not signalled and its creation time still matches, so a reused
 * pid is not mistaken for the old process.
 *
 * Sleeping: WaitOnAddress only works between threads of one process, and
 * the segment is shared between processes. Windows has no futex on a word
 * in a shared mapping, so sc_os_wait is a documented backoff and sc_os_wake
 * has nothing to do (every waiter re-checks its word after each short
 * sleep). A waiting episode on one word first yields its time slice
 * (SwitchToThread) a few times, for holders that finish in microseconds;
 * then it sleeps about 1 ms at a time, on a high-resolution waitable timer
 * (Windows 10 1803 and later) or else with Sleep(1), which lasts up to one
 * scheduler tick (15.6 ms by default; the library does not change the
 * system timer resolution). A named event per segment was considered: the
 * contract hands us only the word's address, not the segment, and a lost
 * wake-up would cost the same bounded latency anyway.
 *
 * Files: the segment file is created with CREATE_NEW (exclusive) and
 * FILE_FLAG_OPEN_REPARSE_POINT (a symlink or junction at the path is
 * opened as itself, never followed), with share modes that let any other
 * process open, map, rename and delete it: publishing renames the file
 * while its creator still has it open and mapped, and, as on Unix, the
 * path may be removed while others have it mapped (sc_os_file_remove
 * frees the name at once; Windows would otherwise keep it until the last
 * handle closes). Owner-only modes get an explicit, protected DACL granting
 * the creating user and BUILTIN\Administrators (Windows' root); wider modes
 * keep the directory's inherited ACL.
 * The handle is wrapped into an apr_file_t with apr_os_file_put, so APR's
 * mmap, lock and I/O functions work on it. There is no chown: ownership on
 * Windows is an ACL question, and sc_os_file_chown says APR_ENOTIMPL.
 * There is no fork either: the fork generation is the constant 0.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600
#endif
#include "os.h"
#include "shmcache_status.h"

#include <apr_portable.h>
#include <apr_strings.h>
#include <windows.h>
#include <string.h>

#ifndef ERROR_DISK_QUOTA_EXCEEDED
#define ERROR_DISK_QUOTA_EXCEEDED 1295L   /* not in every mingw-w64 */
#endif

/* Waits of one episode that only yield before sleeping; a thread that
 * has not waited on the word for EPISODE_GAP_US starts a new episode. */
#define SPIN_YIELDS 8
#define EPISODE_GAP_US 2000
/* One sleep of the backoff. */
#define NAP_US 1000

#ifndef CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
#define CREATE_WAITABLE_TIMER_HIGH_RESOLUTION 0x00000002
#endif

#ifdef _MSC_VER
#define SC_THREAD_LOCAL __declspec(thread)
#else
#define SC_THREAD_LOCAL _Thread_local
#endif

/* This thread's backoff state: the word of its current episode, the
 * waits in it so far, and when the last one ended (QueryPerformanceCounter
 * ticks). */
static SC_THREAD_LOCAL const void *wait_word;
static SC_THREAD_LOCAL unsigned wait_rounds;
static SC_THREAD_LOCAL LONGLONG wait_last;

/* 0 once a high-resolution timer could not be created: use Sleep(1). */
static volatile LONG hires_ok = 1;

/* Creation time of an open process handle as one number, 0 if unknown. */
static apr_uint64_t creation_time(HANDLE proc)
{
    FILETIME created, exited, kernel, user;

    if (!GetProcessTimes(proc, &created, &exited, &kernel, &user))
        return 0;
    return ((apr_uint64_t)created.dwHighDateTime << 32) | created.dwLowDateTime;
}

void sc_os_proc_self(sc_proc_id_t *id)
{
    id->pid = (apr_uint32_t)GetCurrentProcessId();
    id->start = creation_time(GetCurrentProcess());
}

int sc_os_proc_alive(const sc_proc_id_t *id)
{
    HANDLE h;
    DWORD code;
    int alive = 1;

    if (id->pid == 0)
        return 0;
    if (id->pid == GetCurrentProcessId())
        return id->start == 0 || id->start == creation_time(GetCurrentProcess());
    h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE,
                    (DWORD)id->pid);
    if (h == NULL && GetLastError() == ERROR_ACCESS_DENIED)
        h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)id->pid);
    if (h == NULL)
        /* no such pid: dead; anything else (a protected process, no
         * permission): cannot tell, so alive */
        return GetLastError() == ERROR_INVALID_PARAMETER ? 0 : 1;
    /* A process object outlives the process while handles to it remain (our
     * own parent may hold one): it has exited once it is signalled. The
     * exit code check covers handles opened without SYNCHRONIZE. */
    if (WaitForSingleObject(h, 0) == WAIT_OBJECT_0)
        alive = 0;
    else if (GetExitCodeProcess(h, &code) && code != STILL_ACTIVE)
        alive = 0;
    else if (id->start != 0) {
        apr_uint64_t start = creation_time(h);
        if (start != 0 && start != id->start)
            alive = 0;              /* the pid was reused */
    }
    CloseHandle(h);
    return alive;
}

void sc_os_cpu_relax(void)
{
    YieldProcessor();
}

apr_int64_t sc_os_clock_sec(void)
{
    /* the system time as a FILETIME (100 ns since 1601): a read of a
     * shared kernel page, the cheapest wall clock Windows has */
    FILETIME ft;
    ULARGE_INTEGER t;

    GetSystemTimeAsFileTime(&ft);
    t.LowPart = ft.dwLowDateTime;
    t.HighPart = ft.dwHighDateTime;
    return (apr_int64_t)(t.QuadPart / 10000000u) - 11644473600LL;
}

apr_uint64_t sc_os_thread_self(void)
{
    return GetCurrentThreadId();
}

apr_uint32_t sc_os_fork_generation(void)
{
    return 0;
}

/* QueryPerformanceCounter ticks per second (cannot fail on XP and later). */
static LONGLONG qpc_freq(void)
{
    static volatile LONGLONG freq;
    LARGE_INTEGER f;

    if (freq == 0) {
        QueryPerformanceFrequency(&f);
        freq = f.QuadPart > 0 ? f.QuadPart : 1;
    }
    return freq;
}

static LONGLONG qpc_now(void)
{
    LARGE_INTEGER t;

    QueryPerformanceCounter(&t);
    return t.QuadPart;
}

/* Sleep about us microseconds: a one-shot high-resolution timer where the
 * system has them, Sleep(1) otherwise. */
static void nap(apr_uint32_t us)
{
    LARGE_INTEGER due;
    HANDLE t;

    if (hires_ok) {
        t = CreateWaitableTimerExW(NULL, NULL, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION,
                                   TIMER_ALL_ACCESS);
        if (t != NULL) {
            due.QuadPart = -(LONGLONG)us * 10;      /* relative, 100 ns units */
            if (SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE))
                WaitForSingleObject(t, 1 + us / 1000 * 2);
            else
                Sleep(1);
            CloseHandle(t);
            return;
        }
        InterlockedExchange(&hires_ok, 0);
    }
    Sleep(1);
}

void sc_os_wait(_Atomic uint32_t *word, uint32_t expected,
                apr_uint32_t timeout_us)
{
    LONGLONG now;

    if (timeout_us == 0)
        return;
    if (atomic_load(word) != expected) {
        wait_word = NULL;
        return;
    }
    now = qpc_now();
    if (wait_word != (const void *)word
        || now - wait_last > qpc_freq() / (1000000 / EPISODE_GAP_US)) {
        wait_word = word;
        wait_rounds = 0;
    }
    if (wait_rounds < SPIN_YIELDS || timeout_us < NAP_US) {
        wait_rounds++;
        /* nothing else ready on this CPU: let another CPU's thread run */
        if (!SwitchToThread())
            Sleep(0);
    } else {
        nap(timeout_us < NAP_US ? timeout_us : NAP_US);
    }
    wait_last = qpc_now();
}

void sc_os_wake(_Atomic uint32_t *word, int all)
{
    /* waiters poll (see the top of this file) */
    (void)word;
    (void)all;
}

/* A Windows error as an apr_status_t, with the portable codes that callers
 * compare against (APR_EEXIST, APR_ENOENT, ...) for the common cases. */
static apr_status_t os_status(DWORD err)
{
    switch (err) {
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return APR_EEXIST;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return APR_ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
        return APR_EACCES;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return APR_ENOSPC;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return APR_ENOMEM;
    default:
        return APR_FROM_OS_ERROR(err);
    }
}

/* UTF-8 path (APR's convention on Windows) to a wide path in pool. Long
 * absolute paths get the \\?\ prefix, which also turns off the Win32
 * name munging (trailing dots and spaces) for them. */
static apr_status_t wide_path(WCHAR **out, const char *path, apr_pool_t *pool)
{
    static const WCHAR long_prefix[] = L"\\\\?\\";
    static const WCHAR unc_prefix[] = L"\\\\?\\UNC\\";
    size_t len = strlen(path);
    const WCHAR *prefix = L"";
    int skip = 0, n, plen, i;
    WCHAR *w;

    if (len == 0)
        return APR_ENOENT;
    if (len >= MAX_PATH - 12) {
        if (((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z'))
            && path[1] == ':' && (path[2] == '\\' || path[2] == '/'))
            prefix = long_prefix;
        else if ((path[0] == '\\' || path[0] == '/') && (path[1] == '\\' || path[1] == '/')
                 && path[2] != '?' && path[2] != '.') {
            prefix = unc_prefix;
            skip = 2;
        }
    }
    n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path + skip, -1, NULL, 0);
    if (n <= 0)
        return APR_EINVAL;
    plen = (int)wcslen(prefix);
    w = apr_palloc(pool, (apr_size_t)(plen + n) * sizeof(WCHAR));
    memcpy(w, prefix, (size_t)plen * sizeof(WCHAR));
    MultiByteToWideChar(CP_UTF8, 0, path + skip, -1, w + plen, n);
    if (plen > 0)
        for (i = plen; w[i] != 0; i++)
            if (w[i] == L'/')
                w[i] = L'\\';
    *out = w;
    return APR_SUCCESS;
}

/* The SID of the token's user or owner (TokenUser / TokenOwner) as a pool
 * copy, NULL on failure. */
static PSID token_sid(TOKEN_INFORMATION_CLASS what, apr_pool_t *pool)
{
    HANDLE tok;
    DWORD len = 0;
    void *buf;
    PSID sid, copy = NULL;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return NULL;
    GetTokenInformation(tok, what, NULL, 0, &len);
    if (len > 0 && (buf = apr_palloc(pool, len)) != NULL
        && GetTokenInformation(tok, what, buf, len, &len)) {
        sid = what == TokenUser ? ((TOKEN_USER *)buf)->User.Sid
                                : ((TOKEN_OWNER *)buf)->Owner;
        copy = apr_pmemdup(pool, sid, GetLengthSid(sid));
    }
    CloseHandle(tok);
    return copy;
}

/* A security descriptor (pool memory) whose protected DACL grants full
 * access to the current user and to BUILTIN\Administrators (the admin's
 * shmcache-cli, from an elevated prompt, must reach a service's segment),
 * or NULL when it cannot be built (the file then gets the directory's
 * inherited ACL). Built with the plain security API rather than SDDL or
 * aclapi.h, whose headers need the OLE types that apr.h's NOUSER leaves
 * out under mingw-w64. */
static PSECURITY_DESCRIPTOR owner_only_sd(apr_pool_t *pool)
{
    PSID user = token_sid(TokenUser, pool);
    BYTE admins[SECURITY_MAX_SID_SIZE];
    DWORD admins_len = sizeof admins;
    SECURITY_DESCRIPTOR *sd;
    DWORD acl_len;
    PACL acl;
    int with_admins;

    if (user == NULL)
        return NULL;
    /* without the Administrators SID (it cannot fail in practice), the
     * user alone: still owner-only, never the inherited ACL */
    with_admins = CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL,
                                     admins, &admins_len);
    acl_len = sizeof(ACL) + sizeof(ACCESS_ALLOWED_ACE) + GetLengthSid(user)
        + (with_admins ? sizeof(ACCESS_ALLOWED_ACE) + GetLengthSid(admins) : 0);
    sd = apr_pcalloc(pool, sizeof *sd);
    acl = apr_pcalloc(pool, acl_len);
    if (!InitializeAcl(acl, acl_len, ACL_REVISION)
        || !AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, user)
        || (with_admins
            && !AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, admins))
        || !InitializeSecurityDescriptor(sd, SECURITY_DESCRIPTOR_REVISION)
        || !SetSecurityDescriptorDacl(sd, TRUE, acl, FALSE)
        || !SetSecurityDescriptorControl(sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED))
        return NULL;
    return sd;
}

/* The owner SID of an open handle (pool memory); NULL when it cannot be
 * read (no READ_CONTROL, a file system without ACLs). */
static PSID handle_owner(HANDLE h, apr_pool_t *pool)
{
    DWORD len = 0;
    PSECURITY_DESCRIPTOR sd;
    PSID owner = NULL;
    BOOL defaulted;

    GetKernelObjectSecurity(h, OWNER_SECURITY_INFORMATION, NULL, 0, &len);
    if (len == 0)
        return NULL;
    sd = apr_palloc(pool, len);
    if (!GetKernelObjectSecurity(h, OWNER_SECURITY_INFORMATION, sd, len, &len)
        || !GetSecurityDescriptorOwner(sd, &owner, &defaulted))
        return NULL;
    return owner;
}

/* Wrap an open handle in an apr_file_t owned by pool (closed with the
 * pool, or earlier by apr_file_close). */
static apr_status_t wrap_handle(apr_file_t **file, HANDLE h, apr_int32_t flags,
                                apr_pool_t *pool)
{
    apr_os_file_t osf = h;
    apr_status_t rv;

    rv = apr_os_file_put(file, &osf, flags, pool);
    if (rv != APR_SUCCESS) {
        CloseHandle(h);
        return rv;
    }
    /* apr_os_file_put registers no cleanup; apr_file_close is safe to call
     * twice (it marks the handle closed) */
    apr_pool_cleanup_register(pool, *file, (apr_status_t (*)(void *))apr_file_close,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

apr_status_t sc_os_file_create(apr_file_t **file, const char *path,
                               apr_fileperms_t perms, apr_pool_t *pool)
{
    SECURITY_ATTRIBUTES sa, *psa = NULL;
    WCHAR *wpath;
    HANDLE h;
    DWORD err;
    apr_status_t rv;

    if ((rv = wide_path(&wpath, path, pool)) != APR_SUCCESS)
        return rv;
    if ((perms & (APR_GREAD | APR_GWRITE | APR_WREAD | APR_WWRITE)) == 0) {
        memset(&sa, 0, sizeof sa);
        sa.nLength = sizeof sa;
        sa.lpSecurityDescriptor = owner_only_sd(pool);
        if (sa.lpSecurityDescriptor != NULL)
            psa = &sa;
    }
    /* FILE_ATTRIBUTE_TEMPORARY: keep the pages in the cache rather than
     * writing them back eagerly; the segment is memory, not a document */
    h = CreateFileW(wpath, GENERIC_READ | GENERIC_WRITE, SHARE_ALL, psa,
                    CREATE_NEW,
                    FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_OPEN_REPARSE_POINT,
                    NULL);
    if (h == INVALID_HANDLE_VALUE) {
        err = GetLastError();
        /* a directory, or a file being deleted, is also "something at
         * path", which CreateFile reports as access denied */
        if ((err == ERROR_ACCESS_DENIED || err == ERROR_DELETE_PENDING)
            && GetFileAttributesW(wpath) != INVALID_FILE_ATTRIBUTES)
            return APR_EEXIST;
        if (err == ERROR_DELETE_PENDING)
            return APR_EEXIST;
        return os_status(err);
    }
    return wrap_handle(file, h, APR_FOPEN_READ | APR_FOPEN_WRITE, pool);
}

/* Whether sid may own a segment we attach to without allow_foreign_owner:
 * us (token user or default owner), SYSTEM, or the Administrators group
 * (what an elevated administrator's files belong to): Windows' "root". */
static int trusted_owner(PSID owner, apr_pool_t *pool)
{
    BYTE buf[SECURITY_MAX_SID_SIZE];
    DWORD len;
    PSID me;

    if ((me = token_sid(TokenUser, pool)) != NULL && EqualSid(owner, me))
        return 1;
    if ((me = token_sid(TokenOwner, pool)) != NULL && EqualSid(owner, me))
        return 1;
    len = sizeof buf;
    if (CreateWellKnownSid(WinLocalSystemSid, NULL, buf, &len) && EqualSid(owner, buf))
        return 1;
    len = sizeof buf;
    if (CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, buf, &len)
        && EqualSid(owner, buf))
        return 1;
    return 0;
}

apr_status_t sc_os_file_open(apr_file_t **file, const char *path,
                             int allow_foreign_owner, int read_only,
                             apr_pool_t *pool)
{
    BY_HANDLE_FILE_INFORMATION info;
    PSID owner;
    WCHAR *wpath;
    HANDLE h;
    apr_status_t rv;

    if ((rv = wide_path(&wpath, path, pool)) != APR_SUCCESS)
        return rv;
    h = CreateFileW(wpath, read_only ? GENERIC_READ
                                     : GENERIC_READ | GENERIC_WRITE,
                    SHARE_ALL, NULL, OPEN_EXISTING,
                    FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return os_status(GetLastError());
    /* a symlink or junction (opened as itself), a directory, or a device
     * (NUL, CON, a pipe) is not a segment */
    if (GetFileType(h) != FILE_TYPE_DISK || !GetFileInformationByHandle(h, &info)
        || (info.dwFileAttributes
            & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY))) {
        CloseHandle(h);
        return SHMCACHE_EOWNER;
    }
    /* when the owner cannot be read at all (a file system without ACLs),
     * there is nothing to compare: accept, as unix/os.c does when /proc
     * is hidden */
    /* a reader that cannot write needs no trust in the owner */
    if (!allow_foreign_owner && !read_only
        && (owner = handle_owner(h, pool)) != NULL
        && !trusted_owner(owner, pool)) {
        CloseHandle(h);
        return SHMCACHE_EOWNER;
    }
    return wrap_handle(file, h,
                       read_only ? APR_FOPEN_READ
                                 : APR_FOPEN_READ | APR_FOPEN_WRITE,
                       pool);
}

apr_status_t sc_os_file_publish(const char *tmp, const char *path)
{
    WCHAR *wtmp, *wpath;
    apr_pool_t *pool;
    apr_status_t rv;
    DWORD err;

    if ((rv = apr_pool_create(&pool, NULL)) != APR_SUCCESS)
        return rv;
    if ((rv = wide_path(&wtmp, tmp, pool)) == APR_SUCCESS
        && (rv = wide_path(&wpath, path, pool)) == APR_SUCCESS) {
        /* without MOVEFILE_REPLACE_EXISTING the move fails when anything,
         * a symlink or junction included, is at path; tmp may stay open
         * and mapped (every handle to it shares FILE_SHARE_DELETE) */
        if (!MoveFileExW(wtmp, wpath, 0)) {
            err = GetLastError();
            if (err == ERROR_ACCESS_DENIED
                && GetFileAttributesW(wpath) != INVALID_FILE_ATTRIBUTES)
                rv = APR_EEXIST;    /* a directory, or a file being deleted */
            else
                rv = os_status(err);
        }
    }
    apr_pool_destroy(pool);
    return rv;
}

/* Whether a failed SetFileInformationByHandle means "not supported here"
 * rather than a real failure. */
static int unsupported(DWORD err)
{
    return err == ERROR_CALL_NOT_IMPLEMENTED || err == ERROR_INVALID_FUNCTION
           || err == ERROR_NOT_SUPPORTED;
}

/* FileDispositionInfoEx (Windows 10 1709), spelled out for older SDKs. */
#define SC_FILE_DISPOSITION_INFO_EX 21
#define SC_DISPOSITION_DELETE 0x1
#define SC_DISPOSITION_POSIX_SEMANTICS 0x2
typedef struct sc_disposition_ex_t {
    DWORD flags;
} sc_disposition_ex_t;

/* Remove the name path now, even while other processes have the file open
 * and mapped (os.h: sc_os_file_remove; not declared there yet, see the
 * Windows notes in win32/README.md). Deleting a file that is in use only
 * marks it: its name stays until the last handle closes, so a new segment
 * could not be created at path meanwhile. So: a POSIX-semantics delete
 * where the file system has one (NTFS, Windows 10 1709 and later), which
 * takes the name away at once; otherwise rename the file to a unique name
 * beside it, then delete that (the storage goes with the last user). A
 * symlink or junction at path is removed itself, never followed. */
apr_status_t sc_os_file_remove(const char *path, apr_pool_t *pool)
{
    static volatile LONG counter;
    sc_disposition_ex_t disp;
    WCHAR *wpath, *wgone;
    const char *gone;
    apr_status_t rv;
    HANDLE h;
    BOOL done;

    if ((rv = wide_path(&wpath, path, pool)) != APR_SUCCESS)
        return rv;
    h = CreateFileW(wpath, DELETE, SHARE_ALL, NULL, OPEN_EXISTING,
                    FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return os_status(GetLastError());
    disp.flags = SC_DISPOSITION_DELETE | SC_DISPOSITION_POSIX_SEMANTICS;
    done = SetFileInformationByHandle(h, (FILE_INFO_BY_HANDLE_CLASS)SC_FILE_DISPOSITION_INFO_EX,
                                      &disp, sizeof disp);
    CloseHandle(h);
    if (done)
        return APR_SUCCESS;
    gone = apr_psprintf(pool, "%s.removed.%lu.%ld", path,
                        (unsigned long)GetCurrentProcessId(),
                        (long)InterlockedIncrement(&counter));
    if ((rv = wide_path(&wgone, gone, pool)) != APR_SUCCESS)
        return rv;
    if (!MoveFileExW(wpath, wgone, 0))
        wgone = wpath;      /* cannot rename: at least mark it for deletion */
    if (!DeleteFileW(wgone))
        return os_status(GetLastError());
    return APR_SUCCESS;
}

static int no_room(DWORD err)
{
    return err == ERROR_DISK_FULL || err == ERROR_HANDLE_DISK_FULL
           || err == ERROR_FILE_TOO_LARGE || err == ERROR_DISK_QUOTA_EXCEEDED;
}

apr_status_t sc_os_file_reserve(apr_file_t *file, apr_uint64_t size)
{
    FILE_ALLOCATION_INFO alloc;
    FILE_END_OF_FILE_INFO eof;
    apr_os_file_t h;
    DWORD err;

    apr_os_file_get(&h, file);
    if (size > (apr_uint64_t)INT64_MAX)
        return SHMCACHE_ERESERVE;
    /* Allocate the clusters first, so that a full disk fails here and not
     * later with an in-page error when a mapped page is first touched.
     * Where that is not supported (Wine), the length alone is set: NTFS
     * allocates when a file is extended, other file systems may be
     * sparse (as unix/os.c falls back to ftruncate). */
    alloc.AllocationSize.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(h, FileAllocationInfo, &alloc, sizeof alloc)) {
        err = GetLastError();
        if (no_room(err))
            return SHMCACHE_ERESERVE;
        if (!unsupported(err))
            return os_status(err);
    }
    eof.EndOfFile.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof)) {
        err = GetLastError();
        return no_room(err) ? SHMCACHE_ERESERVE : os_status(err);
    }
    return APR_SUCCESS;
}

apr_status_t sc_os_file_chown(apr_file_t *file, apr_uid_t uid, apr_gid_t gid)
{
    /* Windows ownership is an ACL matter; APR has no uid/gid to set */
    (void)file;
    (void)uid;
    (void)gid;
    return APR_ENOTIMPL;
}

apr_status_t sc_os_file_chmod(apr_file_t *file, apr_fileperms_t perms)
{
    /* Windows file access is an ACL matter, not permission bits */
    (void)file;
    (void)perms;
    return APR_ENOTIMPL;
}

int sc_os_proc_exists(const sc_proc_id_t *id)
{
    /* no cheaper test than opening the process: the full one */
    return sc_os_proc_alive(id);
}
