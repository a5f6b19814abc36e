/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_perms_win32.c - who may use a segment, the Windows way: the file's
 * DACL. Its POSIX counterpart is sc_perms_unix.c; CMake compiles one of
 * the two (the contract is in sc_private.h).
 *
 * Under the WinNT MPM the parent and its one child run as the same account
 * (the service account, LocalSystem by default, or the user who started
 * httpd.exe in a console), so nothing is handed to another user. An
 * owner-only segment (a mode without group and other bits: the default
 * 0600) gets a protected DACL, no inherited entries, with two entries:
 *
 *   the account httpd runs as   full control (the parent creates and
 *                               repairs, the child attaches by name)
 *   BUILTIN\Administrators      full control (shmcache-cli from an
 *                               elevated prompt: monitoring, dump, check)
 *
 * and nobody else can open it. A mode with group or other bits keeps the
 * ACL the file inherits from its directory (choose the directory's ACL
 * then). user= and group= are refused at configuration time: Windows has
 * no owner hand-over here, access is the DACL above.
 *
 * The DACL is set on a handle opened without following a reparse point
 * (a symlink or junction at the path is refused, not followed), and only
 * on a regular file.
 */
#include "sc_private.h"

#include "apr_strings.h"
#include "apr_file_io.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
/* APR's NOUSER breaks the OLE headers aclapi.h would pull in */
#define COM_NO_WINDOWS_H
#include <aclapi.h>
#include <sddl.h>

APLOG_USE_MODULE(shmcache);

const char *sc_perms_dir_usable(const char *dir, const char *path, apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv;
    char *probe = apr_pstrcat(p, dir, "/.shmcache-probe-XXXXXX", NULL);

    /* The C runtime's access() cannot answer this: it rejects X_OK with
     * EINVAL and looks only at the read-only attribute, never at the ACL.
     * Creating (and at once deleting) a file is the question itself. */
    rv = apr_file_mktemp(&f, probe, APR_FOPEN_CREATE | APR_FOPEN_READ
                         | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                         | APR_FOPEN_DELONCLOSE, p);
    if (rv == APR_SUCCESS) {
        apr_file_close(f);
        return NULL;
    }
    return apr_psprintf(p, "directory %s does not let httpd's account create "
                        "files, the segment %s cannot be created there (%pm)",
                        dir, path, &rv);
}

const char *sc_perms_check_config(const sc_cache_t *c, apr_pool_t *p)
{
    if (c->user == NULL && c->group == NULL)
        return NULL;
    return apr_psprintf(p, "%s: user= and group= are not supported on "
                        "Windows: the segment's DACL gives access to the "
                        "account httpd runs as and to Administrators",
                        c->name);
}

void sc_perms_owner(const sc_cache_t *c, shmcache_options_t *o)
{
    (void)c;
    o->set_owner = 0;           /* the creating account keeps it */
}

/* The SID of the account this process runs as, in p; NULL on failure. */
static PSID process_user(apr_pool_t *p)
{
    HANDLE tok;
    DWORD n = 0;
    TOKEN_USER *tu;
    PSID sid = NULL;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return NULL;
    GetTokenInformation(tok, TokenUser, NULL, 0, &n);
    tu = n > 0 ? apr_palloc(p, n) : NULL;
    if (tu != NULL && GetTokenInformation(tok, TokenUser, tu, n, &n)) {
        DWORD len = GetLengthSid(tu->User.Sid);
        sid = apr_palloc(p, len);
        if (!CopySid(len, sid, tu->User.Sid))
            sid = NULL;
    }
    CloseHandle(tok);
    return sid;
}

/* Open path for changing its DACL, refusing a reparse point (symlink,
 * junction), a directory or a device. */
static apr_status_t open_for_dacl(const char *path, HANDLE *out, apr_pool_t *p)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, path, -1, NULL, 0);
    wchar_t *w = n > 0 ? apr_palloc(p, (apr_size_t)n * sizeof *w) : NULL;
    BY_HANDLE_FILE_INFORMATION bi;
    HANDLE h;

    if (w == NULL || MultiByteToWideChar(CP_UTF8, 0, path, -1, w, n) != n)
        return APR_EINVAL;
    h = CreateFileW(w, READ_CONTROL | WRITE_DAC,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return apr_get_os_error();
    if (GetFileType(h) != FILE_TYPE_DISK || !GetFileInformationByHandle(h, &bi)
        || (bi.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY
                                   | FILE_ATTRIBUTE_REPARSE_POINT))) {
        CloseHandle(h);
        return SHMCACHE_EOWNER;
    }
    *out = h;
    return APR_SUCCESS;
}

/* A protected DACL on h: full control for user and Administrators. */
static apr_status_t set_dacl(HANDLE h, PSID user)
{
    SID_IDENTIFIER_AUTHORITY nt = {SECURITY_NT_AUTHORITY};
    EXPLICIT_ACCESSW ea[2];
    PSID admins = NULL;
    PACL acl = NULL;
    DWORD err;

    if (!AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID,
                                  DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0,
                                  &admins))
        return apr_get_os_error();
    memset(ea, 0, sizeof ea);
    ea[0].grfAccessPermissions = FILE_ALL_ACCESS;
    ea[0].grfAccessMode = SET_ACCESS;
    ea[0].grfInheritance = NO_INHERITANCE;
    ea[0].Trustee.TrusteeForm = TRUSTEE_IS_SID;
    ea[0].Trustee.TrusteeType = TRUSTEE_IS_USER;
    ea[0].Trustee.ptstrName = (LPWSTR)user;
    ea[1] = ea[0];
    ea[1].Trustee.TrusteeType = TRUSTEE_IS_GROUP;
    ea[1].Trustee.ptstrName = (LPWSTR)admins;
    err = SetEntriesInAclW(2, ea, NULL, &acl);
    if (err == ERROR_SUCCESS)
        err = SetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION
                              | PROTECTED_DACL_SECURITY_INFORMATION,
                              NULL, NULL, acl, NULL);
    if (acl != NULL)
        LocalFree(acl);
    FreeSid(admins);
    return err == ERROR_SUCCESS ? APR_SUCCESS : APR_FROM_OS_ERROR(err);
}

apr_status_t sc_perms_restrict(const sc_cache_t *c, server_rec *s, apr_pool_t *p)
{
    HANDLE h = INVALID_HANDLE_VALUE;
    PSID user;
    apr_status_t rv;

    if (c->opts.mode & (APR_FPROT_GREAD | APR_FPROT_GWRITE
                        | APR_FPROT_WREAD | APR_FPROT_WWRITE)) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00901)
                     SC_FMT "mode %04o is not owner-only: the segment keeps "
                     "the ACL it inherits from its directory", SC_ARGS(c),
                     c->mode_octal);
        return APR_SUCCESS;
    }
    user = process_user(p);
    if (user == NULL) {
        rv = apr_get_os_error();
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, SCLOGNO(00902)
                     SC_FMT "cannot read the account httpd runs as", SC_ARGS(c));
        return rv;
    }
    rv = open_for_dacl(c->path, &h, p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, SCLOGNO(00903)
                     SC_FMT "cannot open the segment file to set its DACL "
                     "(a reparse point or not a regular file is refused)",
                     SC_ARGS(c));
        return rv;
    }
    rv = set_dacl(h, user);
    CloseHandle(h);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, SCLOGNO(00904)
                     SC_FMT "cannot give the segment its DACL (httpd's "
                     "account and Administrators only)", SC_ARGS(c));
    else
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00905)
                     SC_FMT "DACL set: httpd's account and Administrators",
                     SC_ARGS(c));
    return rv;
}

int sc_perms_is_self(apr_uid_t uid)
{
    /* sc_perms_owner never hands a segment to another account */
    (void)uid;
    return 1;
}

/* A SID as "S-1-5-...", "none" for a null one. */
static const char *sid_str(PSID sid, apr_pool_t *p)
{
    char *s = NULL;
    const char *out;

    if (sid == NULL || sid == (PSID)-1 || !IsValidSid(sid))
        return "none";
    if (!ConvertSidToStringSidA(sid, &s))
        return "?";
    out = apr_pstrdup(p, s);
    LocalFree(s);
    return out;
}

const char *sc_perms_uid_str(apr_uid_t uid, apr_pool_t *p)
{
    return sid_str((PSID)uid, p);
}

const char *sc_perms_gid_str(apr_gid_t gid, apr_pool_t *p)
{
    return sid_str((PSID)gid, p);
}
