/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_cache.c - one cache as mod_shmcache sees it: its segment made usable
 * by the parent, and each process's handle on it.
 *
 * Lifecycle (decided here, called from mod_shmcache.c and sc_socache.c):
 *
 *   parent, post_config  sc_cache_prepare(): attach to what is at the path
 *                        and compare its figures with the configuration.
 *                        Compatible: reuse it (graceful restart, or a
 *                        segment left by a killed httpd) and give it the
 *                        configured mode and owner through the opened
 *                        descriptor. Incompatible, or a segment of another
 *                        format/build, or corrupted: remove and create it
 *                        again, with a notice naming what changed. Nothing
 *                        there: create it. A file that is not a segment:
 *                        refuse (never delete an admin's file). The parent
 *                        keeps the handle for the generation, under the
 *                        SIGBUS guard (sc_guard.c) whenever it touches it.
 *   child, child_init    Unix: sc_cache_adopt() keeps the handle inherited
 *                        across fork (the library gives the child a lock
 *                        slot of its own at its first lock call), so no
 *                        child opens the segment file and the file may stay
 *                        the parent's alone. Windows, where nothing is
 *                        inherited: sc_cache_attach() by name, one handle
 *                        per process in a subpool of pchild.
 *   any, request time    sc_cache_handle(): the handle of this process.
 *
 * Under the WinNT MPM the one child re-reads the configuration, so
 * post_config, and with it sc_cache_prepare (reuse, never a second create
 * of a compatible segment) and the DACL of sc_perms_win32.c, runs in the
 * child as well as in the parent; "parent" below means "the process that
 * runs post_config" there.
 *
 * Nothing the parent does follows a path that someone else could change:
 * the library opens without following symlinks and refuses anything but a
 * regular file, mode and owner are set on the descriptor, and removal
 * unlinks a name without following it.
 *
 * The segment outlives httpd on purpose: a stop and start, a graceful
 * restart or a crash keeps the contents unless the configuration changed.
 */
#include "sc_private.h"

#include "http_main.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_file_info.h"

APLOG_USE_MODULE(shmcache);

/* ------------------------------------------------------------------------
 * Configuration helpers
 * ---------------------------------------------------------------------- */

const char *sc_check_dir(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    const char *dir;
    apr_finfo_t fi;
    apr_status_t rv;

    if (slash == NULL || slash[1] == '\0')
        return apr_psprintf(p, "'%s' is not a file path", path);
    dir = slash == path ? "/" : apr_pstrndup(p, path, (apr_size_t)(slash - path));
    rv = apr_stat(&fi, dir, APR_FINFO_TYPE, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "directory %s of %s does not exist or cannot "
                            "be read (%pm)", dir, path, &rv);
    if (fi.filetype != APR_DIR)
        return apr_psprintf(p, "%s (in %s) is not a directory", dir, path);
    return sc_perms_dir_usable(dir, path, p);
}

/* ------------------------------------------------------------------------
 * Parent: prepare the segment
 * ---------------------------------------------------------------------- */

static apr_uint32_t pow2_at_least(apr_uint64_t v)
{
    apr_uint64_t p = 1;

    while (p < v && p < 0x80000000u)
        p <<= 1;
    return (apr_uint32_t)p;
}

/* Process slots when slots= is not given: every process of two
 * generations at once (a graceful restart overlaps them), plus room for
 * the CLI and other tools, within the library's limits. */
static apr_uint32_t auto_slots(void)
{
    int daemons = 0;
    apr_uint64_t n;

    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons) != APR_SUCCESS
        || daemons <= 0)
        daemons = 256;
    n = 2 * (apr_uint64_t)daemons + 32;
    if (n < SHMCACHE_DEFAULT_SLOTS)
        n = SHMCACHE_DEFAULT_SLOTS;
    if (n > SHMCACHE_LIMIT_SLOTS)
        n = SHMCACHE_LIMIT_SLOTS;
    return (apr_uint32_t)n;
}

/* Options to create c with, owner resolved. */
static void create_options(sc_cache_t *c, shmcache_options_t *o)
{
    *o = c->opts;
    if (!c->slots_set)
        o->slots = auto_slots();
    sc_perms_owner(c, o);
    c->file_owner = o->set_owner ? o->owner : (apr_uid_t)-1;
}

/* NULL when the segment described by st can serve the configuration o,
 * else what differs ("size 1048576 -> 2097152, ..."). The library rounds
 * the size down to a page, rounds buckets up to a power of two and clamps
 * max_value to what fits; those are not differences. */
static const char *incompatible(const shmcache_stats_t *st,
                                const shmcache_options_t *o, apr_pool_t *p)
{
    const char *why = NULL;
    apr_uint64_t want = o->size & ~(apr_uint64_t)4095;

    if (st->size > o->size || o->size - st->size >= 65536)
        why = apr_psprintf(p, "size %" APR_UINT64_T_FMT " -> %" APR_UINT64_T_FMT,
                           st->size, want);
    if (st->max_key != o->max_key)
        why = apr_psprintf(p, "%s%smax-key %u -> %u", why ? why : "",
                           why ? ", " : "", st->max_key, o->max_key);
    if (st->max_value != o->max_value
        && !(st->max_value < o->max_value
             && (apr_uint64_t)st->max_value + st->max_key + 64 + 4096
                >= st->data_size / 2))
        why = apr_psprintf(p, "%s%smax-value %u -> %u", why ? why : "",
                           why ? ", " : "", st->max_value, o->max_value);
    if (o->buckets != 0 && st->buckets != pow2_at_least(o->buckets))
        why = apr_psprintf(p, "%s%sbuckets %u -> %u", why ? why : "",
                           why ? ", " : "", st->buckets, pow2_at_least(o->buckets));
    if (st->default_ttl != (o->default_ttl == SHMCACHE_TTL_FOREVER ? 0 : o->default_ttl))
        why = apr_psprintf(p, "%s%sttl %u -> %u", why ? why : "",
                           why ? ", " : "", st->default_ttl, o->default_ttl);
    if (st->slots < o->slots)
        why = apr_psprintf(p, "%s%sslots %u -> %u", why ? why : "",
                           why ? ", " : "", st->slots, o->slots);
    return why;
}

/* APR permission bits (one nibble per class) as the octal number. */
static unsigned octal_mode(apr_fileperms_t p)
{
    return (unsigned)((((p >> 8) & 7) << 6) | (((p >> 4) & 7) << 3) | (p & 7));
}

/* Give a reused segment the configured mode and owner, through the
 * descriptor its handle opened (shmcache_perms_set: fchmod, fchown), never
 * by path: a user who can write the directory may have put a symlink or
 * another file at the path since the segment was opened. */
static void fix_perms(sc_cache_t *c, shmcache_t *h, const shmcache_options_t *o,
                      server_rec *s, apr_pool_t *tmp)
{
    apr_uid_t uid = o->set_owner ? o->owner : (apr_uid_t)-1;
    apr_gid_t gid = o->set_owner ? o->group : (apr_gid_t)-1;
    apr_status_t rv = shmcache_perms_set(h, o->mode, uid, gid);

    if (rv == APR_ENOTIMPL)         /* Windows: access is a DACL */
        return;
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, SCLOGNO(00101)
                     SC_FMT "cannot give the segment its configured mode "
                     "%04o and owner (uid %s gid %s)", SC_ARGS(c),
                     octal_mode(o->mode), sc_perms_uid_str(uid, tmp),
                     sc_perms_gid_str(gid, tmp));
    else
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00103)
                     SC_FMT "mode %04o, uid %s gid %s set on the opened "
                     "segment", SC_ARGS(c), octal_mode(o->mode),
                     sc_perms_uid_str(uid, tmp), sc_perms_gid_str(gid, tmp));
}

/* Remove what is at c->path and create a new segment there; *kept gets
 * its handle (in hp). plain_unlink: the file was already judged (foreign,
 * broken), so it is unlinked without the library's probe, which would
 * refuse it. Unlinking removes the name only, whatever it is (a symlink
 * is not followed). */
static apr_status_t recreate(sc_cache_t *c, const shmcache_options_t *o,
                             int plain_unlink, server_rec *s, apr_pool_t *sub,
                             apr_pool_t *hp, shmcache_t **kept)
{
    shmcache_t *h;
    apr_status_t rv;

    rv = plain_unlink ? apr_file_remove(c->path, sub)
                    : shmcache_remove_ex(c->path, 1, NULL, sub);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, SCLOGNO(00104)
                     SC_FMT "cannot remove the old segment", SC_ARGS(c));
        return rv;
    }
    rv = shmcache_create(&h, c->path, o, hp);
    if (rv != APR_SUCCESS) {
        char buf[256];
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00105)
                     SC_FMT "cannot create the segment: %s", SC_ARGS(c),
                     shmcache_strerror(rv, buf, sizeof buf));
        return rv;
    }
    sc_watch_bind(c, NULL, 1, s);
    *kept = h;
    return APR_SUCCESS;
}

static void log_open_failure(sc_cache_t *c, apr_status_t rv, server_rec *s,
                             int logno_create)
{
    char buf[256];

    shmcache_strerror(rv, buf, sizeof buf);
    if (rv == SHMCACHE_EOWNER)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00106)
                     SC_FMT "the file belongs to another user or is not a "
                     "regular file (a symlink?): refusing to use it (%s)",
                     SC_ARGS(c), buf);
    else if (rv == SHMCACHE_ENOTCACHE)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00107)
                     SC_FMT "a file that is not a shmcache segment is in the "
                     "way; refusing to overwrite it: remove it or choose "
                     "another path", SC_ARGS(c));
    else if (logno_create)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00108)
                     SC_FMT "cannot create or attach to the segment: %s",
                     SC_ARGS(c), buf);
    else
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00109)
                     SC_FMT "cannot attach to the segment: %s", SC_ARGS(c), buf);
}

/* What sc_cache_prepare hands to prepare() through the SIGBUS guard. */
typedef struct prep_t {
    sc_cache_t *c;
    server_rec *s;
    apr_pool_t *tmp;            /* scratch, destroyed after */
    apr_pool_t *hp;             /* handles (unmanaged: see sc_cache_prepare) */
    shmcache_t *kept;           /* the handle the parent keeps, or NULL */
    apr_status_t rv;
} prep_t;

/* What is at c->path, not following a symlink: fi->filetype is APR_NOFILE
 * when nothing is there. Refuses (SHMCACHE_EOWNER) anything but a regular
 * file. */
static apr_status_t look_at_path(prep_t *p, apr_finfo_t *fi)
{
    apr_status_t rv = apr_stat(fi, p->c->path, APR_FINFO_LINK | APR_FINFO_TYPE
                               | APR_FINFO_OWNER | APR_FINFO_PROT, p->tmp);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_INCOMPLETE(rv)) {
        fi->filetype = APR_NOFILE;
        fi->valid = 0;
        return APR_SUCCESS;
    }
    if (fi->filetype == APR_REG)
        return APR_SUCCESS;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, p->s, SCLOGNO(00116)
                 SC_FMT "the path is %s, not a regular file: refusing to use "
                 "it", SC_ARGS(p->c),
                 fi->filetype == APR_LNK ? "a symbolic link" : "a special file");
    return SHMCACHE_EOWNER;
}

/* Open the segment at the path (creating it when there is none) into *h.
 * The parent (root) may attach to a file it gave to another user, and
 * only to that one; the library opens without following a symlink and
 * refuses anything but a regular file, so what it opens is judged on its
 * own descriptor whatever the path became since look_at_path. */
static apr_status_t open_segment(prep_t *p, const shmcache_options_t *o,
                                 const apr_finfo_t *fi, shmcache_t **h)
{
    shmcache_options_t ho = *o;

    ho.allow_foreign_owner = fi->filetype == APR_REG && o->set_owner
                             && (fi->valid & APR_FINFO_USER) && fi->user == o->owner;
    return shmcache_open(h, p->c->path, &ho, p->hp);
}

/* A file of an unexpected owner (User or user= changed) at the path:
 * attach to it knowingly to learn what it is. APR_SUCCESS: a segment,
 * whose contents are never used (the caller makes a new one); else the
 * attach's status, judged as the open's would be. */
static apr_status_t probe_foreign(prep_t *p, const shmcache_options_t *o,
                                  const apr_finfo_t *fi)
{
    shmcache_options_t ho = *o;
    shmcache_t *h;
    apr_status_t rv;

    ho.allow_foreign_owner = 1;
    if ((rv = shmcache_attach(&h, p->c->path, &ho, p->hp)) != APR_SUCCESS)
        return rv;
    shmcache_close(h);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, p->s, SCLOGNO(00117)
                 SC_FMT "the segment belongs to uid %s, not to the configured "
                 "owner: recreating it", SC_ARGS(p->c),
                 sc_perms_uid_str(fi->user, p->tmp));
    return APR_SUCCESS;
}

/* A segment the library refused as broken or of another build. */
static int is_unusable(prep_t *p, apr_status_t rv)
{
    char buf[256];

    if (rv != SHMCACHE_EFORMAT && rv != SHMCACHE_ELAYOUT && rv != SHMCACHE_ECORRUPT)
        return 0;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, p->s, SCLOGNO(00110)
                 SC_FMT "existing segment is unusable (%s): recreating it, its "
                 "contents are lost", SC_ARGS(p->c),
                 shmcache_strerror(rv, buf, sizeof buf));
    return 1;
}

/* Keep h, a segment that the open just created (st: its figures). */
static apr_status_t keep_created(prep_t *p, shmcache_t *h,
                                 const shmcache_stats_t *st)
{
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, p->s, SCLOGNO(00113)
                 SC_FMT "created: %" APR_UINT64_T_FMT " bytes, %u buckets, keys "
                 "up to %u bytes, values up to %u bytes, %u slots",
                 SC_ARGS(p->c), st->size, st->buckets, st->max_key,
                 st->max_value, st->slots);
    sc_watch_bind(p->c, st, 1, p->s);
    p->kept = h;
    return APR_SUCCESS;
}

/* Keep h, an older segment that can serve o, and give it the configured
 * mode and owner. */
static apr_status_t keep_reused(prep_t *p, const shmcache_options_t *o,
                                shmcache_t *h, const shmcache_stats_t *st)
{
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, p->s, SCLOGNO(00115)
                 SC_FMT "reusing the existing segment (%" APR_UINT64_T_FMT
                 " entries, %u processes attached)", SC_ARGS(p->c), st->items,
                 st->attached);
    fix_perms(p->c, h, o, p->s, p->tmp);
    p->kept = h;
    return APR_SUCCESS;
}

/* The segment h opened at t0: keep it when it was just created or when
 * it can serve the configuration o; recreate it when the configuration
 * changed. */
static apr_status_t use_opened(prep_t *p, const shmcache_options_t *o,
                               shmcache_t *h, apr_time_t t0)
{
    shmcache_stats_t st;
    apr_status_t rv = shmcache_stats(h, &st);
    const char *why;
    char buf[256];

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, p->s, SCLOGNO(00112)
                     SC_FMT "cannot read the segment's figures: %s",
                     SC_ARGS(p->c), shmcache_strerror(rv, buf, sizeof buf));
        shmcache_close(h);
        return rv;
    }
    if (st.created >= t0)
        return keep_created(p, h, &st);
    /* what the old segment went through since it was last observed */
    sc_watch_bind(p->c, &st, 0, p->s);
    if ((why = incompatible(&st, o, p->tmp)) == NULL)
        return keep_reused(p, o, h, &st);
    shmcache_close(h);
    /* notice: always logged whatever the LogLevel */
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, p->s, SCLOGNO(00114)
                 SC_FMT "configuration changed (%s): recreating the segment, %"
                 APR_UINT64_T_FMT " entries dropped", SC_ARGS(p->c), why,
                 st.items);
    return recreate(p->c, o, 0, p->s, p->tmp, p->hp, &p->kept);
}

/* The body of sc_cache_prepare. Every handle is made in p->hp; the one
 * that serves the generation is left in p->kept, the others are closed. */
static apr_status_t prepare(prep_t *p)
{
    shmcache_options_t o;
    shmcache_t *h = NULL;
    apr_finfo_t fi;
    apr_time_t t0;
    apr_status_t rv;

    create_options(p->c, &o);
    if ((rv = look_at_path(p, &fi)) != APR_SUCCESS)
        return rv;
    t0 = apr_time_now();
    rv = open_segment(p, &o, &fi, &h);
    if ((rv == SHMCACHE_EOWNER && fi.filetype == APR_REG
         && (rv = probe_foreign(p, &o, &fi)) == APR_SUCCESS)
        || is_unusable(p, rv))
        return recreate(p->c, &o, 1, p->s, p->tmp, p->hp, &p->kept);
    if (rv != APR_SUCCESS) {
        /* SHMCACHE_ENOTCACHE included: the library publishes a segment at
         * the path only once it is complete, so a file there that is not
         * a segment is someone else's and is never removed */
        log_open_failure(p->c, rv, p->s, fi.filetype == APR_NOFILE);
        return rv;
    }
    return use_opened(p, &o, h, t0);
}

/* prepare(), then restrict who may open the segment (sc_perms_*.c): a
 * segment that cannot be restricted is not used. */
static void prepare_guarded(void *baton)
{
    prep_t *p = baton;

    p->rv = prepare(p);
    if (p->rv == APR_SUCCESS && p->kept != NULL) {
        p->rv = sc_perms_restrict(p->c, p->s, p->tmp);
        if (p->rv != APR_SUCCESS) {
            shmcache_close(p->kept);
            p->kept = NULL;
        }
    }
}

static void destroy_guarded(void *baton)
{
    apr_pool_destroy(baton);
}

/* pconf cleanup (end of the generation, in the parent): close the
 * parent's handle under the guard. A SIGBUS there leaves the handle's
 * pool abandoned: a few kilobytes and a mapping, once. */
static apr_status_t release_parent_handle(void *data)
{
    sc_cache_t *c = data;
    sc_attached_t *a = atomic_exchange(&c->att, NULL);

    if (a != NULL && sc_guard_run(destroy_guarded, a->pool))
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, NULL, SCLOGNO(00131)
                     SC_FMT "the segment file was truncated under the parent "
                     "(SIGBUS caught while closing it): its handle is "
                     "abandoned; the next start recreates the segment",
                     SC_ARGS(c));
    return APR_SUCCESS;
}

apr_status_t sc_cache_prepare(sc_cache_t *c, server_rec *s, apr_pool_t *ptemp)
{
    sc_registry_t *reg = sc_registry();
    prep_t p;
    sc_attached_t *a;

    if (c->prepared)
        return c->prepare_status;
    c->prepared = 1;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.s = s;
    apr_pool_create(&p.tmp, ptemp);
    /* Handles live in an unmanaged pool, so that no other pool's
     * destruction runs their cleanups, which touch the mapping: that pool
     * is destroyed under the guard, or abandoned after a SIGBUS. */
    apr_pool_create_unmanaged_ex(&p.hp, NULL, NULL);
    apr_pool_tag(p.hp, "shmcache_handle");
    if (sc_guard_run(prepare_guarded, &p)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00130)
                     SC_FMT "the segment file was truncated while the parent "
                     "was using it (SIGBUS caught): this cache cannot be used; "
                     "remove the file or find who truncates it", SC_ARGS(c));
        p.rv = APR_EGENERAL;    /* p.hp abandoned: see above */
    }
    else if (p.kept == NULL)
        sc_guard_run(destroy_guarded, p.hp);
    else {
        a = apr_palloc(p.hp, sizeof *a);
        a->handle = p.kept;
        a->pool = p.hp;
        a->pid = getpid();
        atomic_store_explicit(&c->att, a, memory_order_release);
        apr_pool_cleanup_register(reg != NULL ? reg->pool : ptemp, c,
                                  release_parent_handle, apr_pool_cleanup_null);
    }
    apr_pool_destroy(p.tmp);
    c->prepare_status = p.rv;
    return p.rv;
}

/* ------------------------------------------------------------------------
 * Children: the inherited handle (Unix), or one of their own (Windows)
 * ---------------------------------------------------------------------- */

#ifndef WIN32
/* pchild cleanup: close the inherited handle in this child, which frees
 * the lock slot the child took and unmaps its copy of the mapping. */
static apr_status_t release_child_handle(void *data)
{
    sc_cache_t *c = data;
    sc_attached_t *a = atomic_exchange(&c->att, NULL);

    if (a != NULL)
        shmcache_close(a->handle);
    return APR_SUCCESS;
}

/* Keep the inherited handle for this child, and close the child's copy
 * of the parent's descriptor of the segment file: a child must not be
 * able to truncate or re-mode the file through it (the mapping stays). */
void sc_cache_adopt(sc_cache_t *c, apr_pool_t *pchild)
{
    sc_attached_t *a = atomic_load_explicit(&c->att, memory_order_acquire);

    if (a == NULL)
        return;
    shmcache_file_close(a->handle);
    apr_pool_cleanup_register(pchild, c, release_child_handle,
                              apr_pool_cleanup_null);
}

shmcache_t *sc_cache_handle(sc_cache_t *c, server_rec *s)
{
    sc_attached_t *a;

    (void)s;
    c = sc_cache_target(c);
    a = atomic_load_explicit(&c->att, memory_order_acquire);
    return a != NULL ? a->handle : NULL;
}

#else /* WIN32: children do not inherit mappings; each attaches by name */

/* True when the file at path (not following a symlink) belongs to uid. */
static int owned_by(const char *path, apr_uid_t uid, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, path, APR_FINFO_LINK | APR_FINFO_USER, p);

    return (rv == APR_SUCCESS || APR_STATUS_IS_INCOMPLETE(rv))
           && (fi.valid & APR_FINFO_USER) && fi.user == uid;
}

apr_status_t sc_cache_attach(sc_cache_t *c, server_rec *s, apr_pool_t *pool)
{
    sc_attached_t *a = atomic_load_explicit(&c->att, memory_order_acquire);
    shmcache_options_t o = c->opts;
    apr_pool_t *sub;
    shmcache_t *h;
    apr_status_t rv;
    char buf[256];

    if (a != NULL && a->pid == getpid())
        return APR_SUCCESS;
    /* a file the parent gave to another user (the children's User, or
     * user=) is attached knowingly: the parent checked it when it prepared
     * it, and only that owner is accepted */
    o.allow_foreign_owner = c->file_owner != (apr_uid_t)-1
                            && !sc_perms_is_self(c->file_owner)
                            && owned_by(c->path, c->file_owner, pool);
    apr_pool_create(&sub, pool);
    apr_pool_tag(sub, "shmcache_handle");
    rv = shmcache_attach(&h, c->path, &o, sub);
    if (rv != APR_SUCCESS) {
        c->attach_status = rv;
        if (!c->attach_logged) {
            c->attach_logged = 1;
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00120)
                         SC_FMT "process %ld cannot attach: %s", SC_ARGS(c),
                         (long)getpid(), shmcache_strerror(rv, buf, sizeof buf));
        }
        apr_pool_destroy(sub);
        return rv;
    }
    a = apr_palloc(sub, sizeof *a);
    a->handle = h;
    a->pool = sub;
    a->pid = getpid();
    atomic_store_explicit(&c->att, a, memory_order_release);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00121)
                 SC_FMT "process %ld attached", SC_ARGS(c), (long)a->pid);
    return APR_SUCCESS;
}

shmcache_t *sc_cache_handle(sc_cache_t *c, server_rec *s)
{
    sc_registry_t *reg;
    sc_attached_t *a;
    apr_status_t rv = APR_EGENERAL;
    apr_time_t now;

    c = sc_cache_target(c);
    a = atomic_load_explicit(&c->att, memory_order_acquire);
    if (a != NULL && a->pid == getpid())
        return a->handle;
    reg = sc_registry();
    if (reg == NULL || !c->prepared || c->prepare_status != APR_SUCCESS)
        return NULL;
    /* not attached in child_init (it failed then, or we are the parent):
     * attach now under the registry mutex, at most once a second */
    if (reg->mutex != NULL)
        apr_thread_mutex_lock(reg->mutex);
    now = apr_time_now();
    a = atomic_load_explicit(&c->att, memory_order_acquire);
    if (a != NULL && a->pid == getpid())
        rv = APR_SUCCESS;
    else if (c->attach_tried == 0 || now - c->attach_tried >= apr_time_from_sec(1)
             || now < c->attach_tried) {
        c->attach_tried = now;
        rv = sc_cache_attach(c, s != NULL ? s : reg->server, reg->proc_pool);
    }
    if (reg->mutex != NULL)
        apr_thread_mutex_unlock(reg->mutex);
    if (rv != APR_SUCCESS)
        return NULL;
    a = atomic_load_explicit(&c->att, memory_order_acquire);
    return a != NULL ? a->handle : NULL;
}
#endif /* WIN32 */
