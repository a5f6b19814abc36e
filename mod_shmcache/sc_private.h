/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_private.h - what the files of mod_shmcache share, and nothing else.
 * mod_shmcache/README.md ("Files") gives each file's concept and what it
 * depends on; the sections below follow the same order, bottom layer
 * first:
 *
 *   sc_registry.c        the caches of one configuration generation
 *   sc_parse.c           every word the module reads: directive options,
 *                        sizes and durations (with shmcache-cli, through
 *                        common/units.c), names, modes, PATH(SIZE), the
 *                        key API's URL path and numbers
 *   sc_guard.c           the parent's SIGBUS guard around segment access
 *   sc_perms_unix.c      who may use a segment: modes and owners (POSIX),
 *   sc_perms_win32.c     or the file's DACL (Windows); CMake builds one
 *   sc_configcheck.c     check_config: every cache name asked for is
 *                        declared (its own header, sc_configcheck.h)
 *   sc_watch.c           recoveries counted by the library, logged
 *   sc_cache.c           one cache as the module sees it: prepare in the
 *                        parent (create, reuse or recreate), attach in a
 *                        child, the per-process handle
 *   sc_tier.c            the second tier (L2): options, one tier per
 *                        child, the calls of socache and the key API
 *   sc_status.c          the shmcache-status handler and mod_status hook,
 *   sc_status_html.c     and its HTML page (sharing sc_status.h)
 *   sc_socache.c         the socache provider "shmcache"
 *   sc_api.c             the opt-in shmcache-api handler (HTTP key API)
 *   mod_shmcache.c       directives, lifecycle (pre_config, post_config,
 *                        child_init), optional functions, register_hooks,
 *                        the module record
 *
 * Every log line carries an id made by SCLOGNO() ("SC" + five digits, one
 * number per call site in the whole module) and names the cache and its
 * path, through SC_FMT / SC_ARGS.
 */
#ifndef SC_PRIVATE_H
#define SC_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_thread_mutex.h"
#include "apr_hash.h"
#include "apr_tables.h"
#include "apr_lib.h"

#include "shmcache.h"
#include "shmcache_tier.h"

#include <stdatomic.h>
#include <sys/types.h>
#ifdef WIN32
#include <process.h>            /* getpid */
#else
#include <unistd.h>             /* getpid */
#endif

/* APLOGNO-style ids of this module: "SC01234: ". */
#define SCLOGNO(n) "SC" #n ": "

/* "cache 'NAME' (PATH): " in front of every message about a cache. */
#define SC_FMT "cache '%s' (%s): "
#define SC_ARGS(c) (c)->name, ((c)->path != NULL ? (c)->path : "-")

/* Limits of this module (the library has its own in shmcache.h). */
#define SC_NAME_MAX            64              /* cache name length */
#define SC_SOCACHE_DEFAULT_SIZE (1024u * 1024u) /* shmcache: with no size */
#define SC_SOCACHE_MAX_KEY     1024u           /* ids of socache consumers */
#define SC_API_DEFAULT_MAX_BODY (1024 * 1024)  /* ShmcacheAPIMaxBody */

/* A handle on a cache: published as one pointer so a thread sees the
 * handle and its pool together. On Unix it is the parent's, made by
 * sc_cache_prepare and inherited by every child across fork (the library
 * gives a child its own lock slot at its first lock call); on Windows each
 * child attaches its own. */
typedef struct sc_attached_t {
    shmcache_t *handle;
    apr_pool_t *pool;           /* the handle's pool: its cleanup detaches */
    long pid;                   /* process that attached (getpid) */
} sc_attached_t;

typedef struct sc_watch_t sc_watch_t;

/* One cache: a ShmcacheCache declaration, or an socache instance made by
 * a consumer's `shmcache:ARG`. Configuration fields are set while the
 * configuration is read; `prepared` and `alias` in post_config (parent);
 * `att` in each process. */
typedef struct sc_cache_t {
    const char *name;           /* declared name; "socache:<cname>" */
    const char *path;           /* absolute path of the segment */
    const char *where;          /* "file:line" of the declaration */
    int is_socache;             /* made by the socache provider */
    const char *ref_name;       /* socache `shmcache:NAME` (resolved at init) */
    int size_given;             /* socache: `path(size)` gave a size */
    struct sc_cache_t *alias;   /* socache: the cache actually used */

    shmcache_options_t opts;    /* create and handle options */
    int slots_set;              /* slots= given (else sized from the MPM) */
    int max_value_set;          /* max-value= given (else 1M, or less if
                                   the library finds it does not fit) */
    const char *user;           /* user= as written, NULL = httpd's User */
    const char *group;          /* group= as written, NULL = httpd's Group */
    unsigned mode_octal;        /* mode= as a number, for messages */
    int world_writable_ok;      /* allow-world-writable given */
    apr_uid_t uid;              /* resolved owner (valid with owner_set) */
    apr_gid_t gid;
    int uid_set, gid_set;

    apr_uid_t file_owner;       /* owner the parent gave the file, or -1 */
    int prepared;               /* created/validated in this generation */
    apr_status_t prepare_status;
    _Atomic(sc_attached_t *) att;  /* this process's handle, or NULL */
    apr_status_t attach_status;    /* last attach failure, for messages */
    int attach_logged;             /* attach failure already logged */
    apr_time_t attach_tried;       /* last lazy attach attempt */
    struct sc_watch_slot_t *watch; /* its last logged recoveries, or NULL */
    shmcache_tier_options_t *tier_opts; /* l2=... given, else NULL */
    _Atomic(shmcache_tier_t *) tier;    /* this child's tier, or NULL */
    apr_time_t tier_log_time;           /* last L2 report (this process) */
    shmcache_tier_stats_t tier_logged;  /* counters at that report */
} sc_cache_t;

/* Everything the module knows in one configuration generation. Lives in
 * pconf; rebuilt by pre_config on every (re)start. */
typedef struct sc_registry_t {
    apr_pool_t *pool;               /* pconf */
    apr_array_header_t *caches;     /* sc_cache_t *: declared caches */
    apr_array_header_t *instances;  /* sc_cache_t *: socache instances */
    apr_hash_t *by_name;            /* declared caches by name */
    apr_hash_t *by_path;            /* declared caches by path */
    apr_thread_mutex_t *mutex;      /* guards lazy attach in a child */
    apr_pool_t *proc_pool;          /* pool for handles: pconf, then pchild */
    server_rec *server;             /* main server, once known */
    sc_watch_t *watch;              /* shared block of sc_watch.c, or NULL */
} sc_registry_t;

/* Per-directory configuration (the handlers). */
typedef struct sc_dir_conf_t {
    const char *dir;            /* path of the enclosing container: the
                                   shmcache-api key is the URL path after it */
    const char *cache_name;     /* ShmcacheAPICache */
    apr_off_t max_body;         /* ShmcacheAPIMaxBody, -1 = unset */
    int read_only;              /* ShmcacheAPIReadOnly, -1 = unset */
} sc_dir_conf_t;

/* The only symbol of the module the build does not hide (with the
 * library's shmcache_* API). */
#if defined(__GNUC__)
extern __attribute__((visibility("default")))
    module AP_MODULE_DECLARE_DATA shmcache_module;
#else
extern module AP_MODULE_DECLARE_DATA shmcache_module;
#endif

/* sc_registry.c --------------------------------------------------------- */

/* The registry of the current generation (NULL before pre_config). */
sc_registry_t *sc_registry(void);

/* pre_config: a fresh, empty registry in pconf, which becomes the current
 * one until pconf is destroyed. */
sc_registry_t *sc_registry_open(apr_pool_t *pconf);

/* The declared cache of that name, or of that (absolute) path; NULL when
 * none is declared or there is no registry. */
sc_cache_t *sc_registry_find(const char *name);
sc_cache_t *sc_registry_find_path(const char *path);

/* A directive declared c (name and path checked unique by the caller). */
void sc_registry_add(sc_cache_t *c);

/* The cache that holds the data (c itself or what it aliases). */
sc_cache_t *sc_cache_target(sc_cache_t *c);

/* sc_parse.c ------------------------------------------------------------ */

/* Every function here reads only its arguments (and, for user= and
 * group=, the system's account database through APR): no httpd call, no
 * registry, so tests/test_parse.c and fuzz/fuzz_module.c link this file
 * alone. Messages are allocated from p. */

/* A cache name: 1..SC_NAME_MAX of A-Z a-z 0-9 _ -. @return 1 or 0. */
int sc_parse_name(const char *s);

/* Decimal digits only (no sign, no space) within [lo, hi]: 1 and *out,
 * else 0. sc_parse_u64 is the whole unsigned range (the key API's
 * numbers), sc_parse_u32 a 32-bit field. */
int sc_parse_uint(const char *s, apr_uint64_t lo, apr_uint64_t hi,
                  apr_uint64_t *out);
int sc_parse_u64(const char *s, apr_uint64_t *out);
int sc_parse_u32(const char *s, apr_uint32_t lo, apr_uint32_t hi,
                 apr_uint32_t *out);

/* A size: "123", "64K", "16M", "2G", "1T", powers of 1024, an optional
 * trailing B (common/units.h, the CLI's grammar). Returns NULL, or what is
 * wrong ("bad unit 'X' ...") for the caller to put after the directive and
 * the argument. */
const char *sc_parse_size(const char *arg, apr_uint64_t *out, apr_pool_t *p);

/* A default TTL: seconds with an optional s, m, h or d, at most
 * SHMCACHE_TTL_MAX (common/units.h). @return 1 and *out, or 0. */
int sc_parse_ttl(const char *s, apr_uint32_t *out);

/* A file mode "0640": 3 or 4 octal digits, owner read and write, no
 * execute, setid or sticky bits. @return 1, *out as APR_FPROT_* bits and
 * *octal as written; or 0. */
int sc_parse_mode(const char *s, apr_fileperms_t *out, unsigned *octal);

/* The socache argument "PATH" or "PATH(SIZE)": *path gets PATH (as
 * written, in p); with a size within the library's limits, *size and
 * *size_given = 1 (else both untouched). Returns NULL or the message. */
const char *sc_parse_path_size(const char *arg, const char **path,
                               apr_uint64_t *size, int *size_given,
                               apr_pool_t *p);

/* The key API's TTL word (?ttl= or X-Shmcache-TTL): "forever", or seconds
 * 0..SHMCACHE_TTL_MAX (0: the cache's default). @return 1 and *ttl, or 0. */
int sc_parse_api_ttl(const char *v, apr_uint32_t *ttl);

/* The version of an If-Match value ("123", W/"123"; what follows the
 * digits is not looked at). @return 1 and *out, or 0 when it names none
 * (or one above 2^64-1). */
int sc_parse_etag_version(const char *im, apr_uint64_t *out);

/* Where the key is in a request line's URI: after the scheme and
 * authority of an absolute URI, the container's path prefix (trailing
 * slashes ignored) and one '/', up to '?' or '#'. On SC_KEY_OK, *key and
 * *len give the still percent-encoded key inside uri. */
typedef enum {
    SC_KEY_OK = 0,
    SC_KEY_NO_PATH,             /* no path in the URI */
    SC_KEY_OUTSIDE,             /* the path is not under the prefix */
    SC_KEY_EMPTY                /* nothing after the prefix */
} sc_key_path_e;
sc_key_path_e sc_parse_key_path(const char *uri, const char *prefix,
                                const char **key, apr_size_t *len);

/* Fill c->opts with this module's defaults for a new cache. */
void sc_cache_defaults(sc_cache_t *c);

/* One word of ShmcacheCache after NAME PATH (d is the directive's name,
 * for messages): "allow-world-writable" is recorded in c and gives *key =
 * NULL; "key=value" gives *key (in p) and *val for the caller to route (the
 * L2 options are sc_tier.c's). Returns NULL or the message. */
const char *sc_parse_cache_word(const char *d, sc_cache_t *c, const char *word,
                                const char **key, const char **val,
                                apr_pool_t *p);

/* One key=value option of ShmcacheCache (size, ttl, max-key, max-value,
 * buckets, slots, mode, user, group, lock-timeout) into c. Returns NULL or
 * the message, which names the directive, the cache and the option (an
 * unknown key lists the known ones). */
const char *sc_parse_cache_option(const char *d, sc_cache_t *c, const char *key,
                                  const char *val, apr_pool_t *p);

/* The checks of a whole ShmcacheCache line once every option is read:
 * o+w needs allow-world-writable; max-value and max-key must fit half of
 * the size. Returns NULL or the message. */
const char *sc_parse_cache_check(const char *d, const sc_cache_t *c,
                                 apr_pool_t *p);

/* sc_guard.c ------------------------------------------------------------ */

typedef void (sc_guard_fn)(void *baton);

/* Parent only (single-threaded): run fn(baton) with SIGBUS caught.
 * @return 0 when fn returned; 1 when a SIGBUS (a segment file truncated
 * under its mapping) cut it short: whatever handle fn was using must then
 * be abandoned, neither used nor closed. A call inside another runs
 * under the outer guard. */
int sc_guard_run(sc_guard_fn *fn, void *baton);

/* sc_perms_unix.c or sc_perms_win32.c (chosen by CMake) ----------------- */

/* Check that this process can create the segment path in its directory
 * dir. Returns NULL or an error message from p. */
const char *sc_perms_dir_usable(const char *dir, const char *path, apr_pool_t *p);

/* Configuration time: NULL, or why c's ownership options cannot be met on
 * this system (Windows: user= and group=). */
const char *sc_perms_check_config(const sc_cache_t *c, apr_pool_t *p);

/* Parent, before creating c: set o's set_owner/owner/group. POSIX: a root
 * parent hands the segment to User/Group or user=/group=. Windows: the
 * creating account keeps it. */
void sc_perms_owner(const sc_cache_t *c, shmcache_options_t *o);

/* Parent, after creating or reusing c's segment: restrict who may open
 * it, beyond what the library did. POSIX: nothing (mode and owner are
 * set by the library and fix_perms). Windows: an owner-only mode gets a
 * protected DACL, httpd's account and Administrators. Logs its failures. */
apr_status_t sc_perms_restrict(const sc_cache_t *c, server_rec *s, apr_pool_t *p);

/* True when uid is the account this process runs as. */
int sc_perms_is_self(apr_uid_t uid);

/* uid or gid for a log line, in p: the number on POSIX ("-1" for none),
 * the SID string on Windows. */
const char *sc_perms_uid_str(apr_uid_t uid, apr_pool_t *p);
const char *sc_perms_gid_str(apr_gid_t gid, apr_pool_t *p);

/* sc_watch.c ------------------------------------------------------------ */

/* The shared block that remembers the last logged recovery counts (made
 * once per httpd run in the parent, before any child), or NULL. */
sc_watch_t *sc_watch_get(server_rec *s);

/* Parent, sc_cache_prepare: give c its slot; log what grew since the last
 * observation (fresh = a segment just created: remember st, or zeros when
 * st is NULL). */
void sc_watch_bind(sc_cache_t *c, const shmcache_stats_t *st, int fresh,
                   server_rec *s);

/* Any process that took stats of c anyway: log what grew, at most once
 * per interval (shared by all processes). */
void sc_watch_observe(sc_cache_t *c, const shmcache_stats_t *st, server_rec *s);

/* Child, end of a request: whether this caller takes the periodic check,
 * which comes once per interval among all processes together. */
int sc_watch_due(void);

/* The periodic check of c through this process's handle h (NULL: none):
 * take its stats and log what grew. Aliases and caches without a slot are
 * skipped. */
void sc_watch_check(sc_cache_t *c, shmcache_t *h, server_rec *s);

/* sc_cache.c ------------------------------------------------------------ */

/* Check that the directory of path exists and lets this process create
 * files. Returns NULL or an error message from p. */
const char *sc_check_dir(const char *path, apr_pool_t *p);

/* Parent, post_config: make the segment at c->path usable with c's
 * configuration: create it, reuse a compatible one (graceful restart, or
 * left by a killed httpd), recreate an incompatible one (logged), refuse a
 * file that is not a segment. The parent keeps the handle for the
 * generation (closed by a pconf cleanup); children inherit it. Runs under
 * the SIGBUS guard. Idempotent within a generation. */
apr_status_t sc_cache_prepare(sc_cache_t *c, server_rec *s, apr_pool_t *ptemp);

#ifndef WIN32
/* Child, child_init (Unix): use the handle inherited from the parent and
 * close it when pchild goes. The child never opens the segment file. */
void sc_cache_adopt(sc_cache_t *c, apr_pool_t *pchild);
#else
/* Child (Windows): attach this process to c by name; logs failures once. */
apr_status_t sc_cache_attach(sc_cache_t *c, server_rec *s, apr_pool_t *pool);
#endif

/* This process's handle on c (following socache aliases), or NULL. Unix:
 * the parent's, inherited. Windows: attaches lazily if needed (failures
 * logged once). Thread-safe. */
shmcache_t *sc_cache_handle(sc_cache_t *c, server_rec *s);

/* sc_tier.c ------------------------------------------------------------- */

/* ShmcacheCache's L2 options: is key one of them; parse one (NULL or the
 * message); check them together once the line is read (NULL or message). */
int sc_tier_is_option(const char *key);
const char *sc_tier_option(cmd_parms *cmd, sc_cache_t *c, const char *key,
                           const char *val);
const char *sc_tier_check(cmd_parms *cmd, sc_cache_t *c);

/* child_init: a tier for every declared cache with l2=, in pchild. */
void sc_tier_child_init(apr_array_header_t *caches, server_rec *s,
                        apr_pool_t *pchild);

/* This process's tier of c (following aliases), or NULL. */
shmcache_tier_t *sc_tier_of(sc_cache_t *c);

/* End of a request: log L2 trouble, at most once per 10 s per process. */
void sc_tier_tick(server_rec *s);

/* The socache provider's and the key API's calls: through the tier when c
 * has one in this process, else on the segment h. Same statuses as the
 * shmcache_* calls; sc_kv_cas gives APR_ENOTIMPL on a tiered cache. */
typedef enum { SC_KV_SET, SC_KV_ADD, SC_KV_REPLACE } sc_kv_op_e;
apr_status_t sc_kv_get(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen,
                       void **v, apr_size_t *vlen, shmcache_meta_t *meta,
                       apr_pool_t *p);
apr_status_t sc_kv_get_buf(sc_cache_t *c, shmcache_t *h, const void *key,
                           apr_size_t klen, void *buf, apr_size_t size,
                           apr_size_t *len, apr_pool_t *p);
apr_status_t sc_kv_store(sc_cache_t *c, shmcache_t *h, sc_kv_op_e op,
                         const void *key, apr_size_t klen, const void *v,
                         apr_size_t vlen, apr_uint32_t ttl, apr_uint64_t *version);
apr_status_t sc_kv_cas(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen,
                       const void *v, apr_size_t vlen, apr_uint32_t ttl,
                       apr_uint64_t expected, apr_uint64_t *version);
apr_status_t sc_kv_delete(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen);
apr_status_t sc_kv_incr(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen,
                        apr_int64_t delta, const apr_uint64_t *initial,
                        apr_uint32_t ttl, apr_uint64_t *result);

/* Status page parts (the counters of the answering child). */
void sc_tier_status_short(request_rec *r, sc_cache_t *c);
void sc_tier_status_json(request_rec *r, sc_cache_t *c);
void sc_tier_status_html(request_rec *r, sc_cache_t *c);

/* sc_status.c ----------------------------------------------------------- */
/* Render one cache: HTML fragment, or shmcb-compatible "Key: value" lines
 * when flags has AP_STATUS_SHORT. */
void sc_status_render(request_rec *r, sc_cache_t *c, int flags);
int sc_status_handler(request_rec *r);
int sc_status_hook(request_rec *r, int flags);

/* sc_socache.c ---------------------------------------------------------- */
void sc_socache_register(apr_pool_t *p);

/* sc_api.c -------------------------------------------------------------- */
int sc_api_handler(request_rec *r);

#endif /* SC_PRIVATE_H */
