/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc-winctl.c - the few Windows calls win32/test-httpd.sh needs and no
 * stock tool offers, as one small program (also useful by hand):
 *
 *   sc-winctl signal PID shutdown|restart   signal a console httpd.exe
 *                                           (its named events apPID_shutdown
 *                                           and apPID_restart; "httpd -k"
 *                                           only reaches an installed
 *                                           service)
 *   sc-winctl children PID                  the pids of PID's child
 *                                           processes, one a line
 *   sc-winctl alive PID                     exit 0 when PID runs
 *   sc-winctl dacl PATH                     the file's DACL as SDDL, and
 *                                           this account's SID (a line
 *                                           "self SID")
 *
 * Exit status: 0 done, 1 failed (the reason on stderr), 2 usage.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <tlhelp32.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int fail(const char *what, DWORD err)
{
    fprintf(stderr, "sc-winctl: %s: error %lu\n", what, (unsigned long)err);
    return 1;
}

/* Set the named event apPID_WHAT of a console httpd. */
static int cmd_signal(const char *pid, const char *what)
{
    char name[64];
    HANDLE ev;

    if (strcmp(what, "shutdown") != 0 && strcmp(what, "restart") != 0)
        return 2;
    snprintf(name, sizeof name, "ap%s_%s", pid, what);
    ev = OpenEventA(EVENT_MODIFY_STATE, FALSE, name);
    if (ev == NULL)
        return fail(name, GetLastError());
    if (!SetEvent(ev)) {
        DWORD e = GetLastError();
        CloseHandle(ev);
        return fail("SetEvent", e);
    }
    CloseHandle(ev);
    return 0;
}

/* Print the pids whose parent is pid. */
static int cmd_children(const char *pid)
{
    DWORD parent = (DWORD)strtoul(pid, NULL, 10);
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    PROCESSENTRY32 pe;

    if (snap == INVALID_HANDLE_VALUE)
        return fail("CreateToolhelp32Snapshot", GetLastError());
    pe.dwSize = sizeof pe;
    if (Process32First(snap, &pe)) {
        do {
            if (pe.th32ParentProcessID == parent && pe.th32ProcessID != parent)
                printf("%lu\n", (unsigned long)pe.th32ProcessID);
        } while (Process32Next(snap, &pe));
    }
    CloseHandle(snap);
    return 0;
}

static int cmd_alive(const char *pid)
{
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                           (DWORD)strtoul(pid, NULL, 10));
    DWORD code = 0;
    int alive;

    if (h == NULL)
        return 1;
    alive = GetExitCodeProcess(h, &code) && code == STILL_ACTIVE;
    CloseHandle(h);
    return alive ? 0 : 1;
}

/* This process's account SID as a string (LocalFree it), or NULL. */
static char *self_sid(void)
{
    HANDLE tok;
    char buf[256];
    DWORD n = sizeof buf;
    char *s = NULL;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return NULL;
    if (GetTokenInformation(tok, TokenUser, buf, n, &n))
        ConvertSidToStringSidA(((TOKEN_USER *)buf)->User.Sid, &s);
    CloseHandle(tok);
    return s;
}

static int cmd_dacl(const char *path)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    char *sddl = NULL, *me;
    DWORD err;

    err = GetNamedSecurityInfoA(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                                NULL, NULL, &dacl, NULL, &sd);
    if (err != ERROR_SUCCESS)
        return fail("GetNamedSecurityInfo", err);
    if (!ConvertSecurityDescriptorToStringSecurityDescriptorA(sd, SDDL_REVISION_1,
            DACL_SECURITY_INFORMATION, &sddl, NULL)) {
        err = GetLastError();
        LocalFree(sd);
        return fail("ConvertSecurityDescriptorToStringSecurityDescriptor", err);
    }
    printf("dacl %s\n", sddl);
    me = self_sid();
    printf("self %s\n", me != NULL ? me : "?");
    LocalFree(sddl);
    LocalFree(sd);
    if (me != NULL)
        LocalFree(me);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;

    if (argc == 4 && strcmp(argv[1], "signal") == 0)
        rc = cmd_signal(argv[2], argv[3]);
    else if (argc == 3 && strcmp(argv[1], "children") == 0)
        rc = cmd_children(argv[2]);
    else if (argc == 3 && strcmp(argv[1], "alive") == 0)
        rc = cmd_alive(argv[2]);
    else if (argc == 3 && strcmp(argv[1], "dacl") == 0)
        rc = cmd_dacl(argv[2]);
    if (rc == 2)
        fprintf(stderr, "usage: sc-winctl signal PID shutdown|restart | "
                "children PID | alive PID | dacl PATH\n");
    fflush(stdout);
    return rc;
}
