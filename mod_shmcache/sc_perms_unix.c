/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_perms_unix.c - who may use a segment, the POSIX way: file modes and
 * owners. Its Windows counterpart is sc_perms_win32.c; CMake compiles one
 * of the two (the contract is in sc_private.h).
 *
 * httpd's parent runs as root and its children as User/Group, so a
 * segment the root parent creates is handed to that User/Group (or to
 * user=/group=) at creation, with the configured mode; a reused segment
 * gets them again through its descriptor (sc_cache.c, fix_perms).
 */
#include "sc_private.h"

#include "unixd.h"
#include "apr_strings.h"

#include <errno.h>
#include <unistd.h>

const char *sc_perms_dir_usable(const char *dir, const char *path, apr_pool_t *p)
{
    apr_status_t rv;

    /* W_OK to create the file, X_OK to reach it */
    if (access(dir, W_OK | X_OK) == 0)
        return NULL;
    rv = APR_FROM_OS_ERROR(errno);
    return apr_psprintf(p, "directory %s is not writable, the segment %s "
                        "cannot be created there (%pm)", dir, path, &rv);
}

const char *sc_perms_check_config(const sc_cache_t *c, apr_pool_t *p)
{
    (void)c;
    (void)p;
    return NULL;
}

void sc_perms_owner(const sc_cache_t *c, shmcache_options_t *o)
{
    if (geteuid() == 0) {
        /* as httpd does with its own runtime files: hand the segment to the
         * User/Group the children run as, unless user=/group= say other */
        o->set_owner = 1;
        o->owner = c->uid_set ? c->uid : ap_unixd_config.user_id;
        o->group = c->gid_set ? c->gid : ap_unixd_config.group_id;
    }
    else if (c->uid_set || c->gid_set) {
        o->set_owner = 1;
        o->owner = c->uid_set ? c->uid : (apr_uid_t)-1;
        o->group = c->gid_set ? c->gid : (apr_gid_t)-1;
    }
}

apr_status_t sc_perms_restrict(const sc_cache_t *c, server_rec *s, apr_pool_t *p)
{
    /* the library gave the file its mode and owner when it created it, and
     * fix_perms gives a reused one its mode and owner on the descriptor */
    (void)c;
    (void)s;
    (void)p;
    return APR_SUCCESS;
}

int sc_perms_is_self(apr_uid_t uid)
{
    return uid == (apr_uid_t)geteuid();
}

const char *sc_perms_uid_str(apr_uid_t uid, apr_pool_t *p)
{
    return apr_psprintf(p, "%ld", (long)uid);
}

const char *sc_perms_gid_str(apr_gid_t gid, apr_pool_t *p)
{
    return apr_psprintf(p, "%ld", (long)gid);
}
