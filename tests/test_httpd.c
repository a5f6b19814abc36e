/*
 * test_httpd.c - mod_shmcache inside a real httpd (Debian's apache2), for
 * each MPM: prefork, worker and event.
 *
 * Every test writes a configuration into its own temporary ServerRoot
 * (DefaultRuntimeDir, PidFile, ErrorLog there; Listen on 127.0.0.1 with a
 * free port; LoadModule with absolute paths), starts
 * `apache2 -f CONF -DFOREGROUND` in its own process group, waits until the
 * port answers, talks HTTP to it over APR sockets (HTTP/1.0, every read
 * bounded by a timeout), and stops it by pid (SIGTERM, then SIGKILL to the
 * whole group). Segments go in a directory under /dev/shm that the
 * children can reach.
 *
 * Run as root (CI), httpd runs its children as nobody/nogroup: the module
 * must hand the segments to that user (ShmcacheCache's owner handling), and
 * shmcache-cli is run as that user too (setpriv), as an admin would.
 *
 * httpd is always stopped: checks in a test record the first failure and
 * jump to the test's cleanup (CHECK ... goto done), and a guard process,
 * forked by each test in a session of its own, kills the running server's
 * process group and removes the test's directories as soon as the test
 * process goes away for any other reason (Check's timeout, a crash).
 * SHMCACHE_KEEP_HTTPD_DIRS=1 keeps the directories (configs, error logs)
 * for a post-mortem.
 *
 * Unix only: httpd tests run where apache2 runs. Helpers are not needed:
 * the processes under test are httpd's.
 */
#include "harness.h"
#include "lock.h"
#include "segment.h"
#include "table.h"

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SC_HTTPD_BIN
#  error "SC_HTTPD_BIN must name the apache2/httpd binary"
#endif
#ifndef SC_HTTPD_MODULES
#  error "SC_HTTPD_MODULES must name httpd's module directory"
#endif
#ifndef SC_MODULE_PATH
#  error "SC_MODULE_PATH must name the built mod_shmcache.so"
#endif

#define TIMEOUT_BIN "/usr/bin/timeout"
#define SETPRIV_BIN "/usr/bin/setpriv"
#define OPENSSL_BIN "/usr/bin/openssl"
#define RUN_USER "nobody"
#define RUN_GROUP "nogroup"

static const char *const mpms[] = {"prefork", "worker", "event"};

/* ------------------------------------------------------------------------
 * Soft checks: record the first failure, then `goto done`
 * ---------------------------------------------------------------------- */

typedef struct httpd_t {
    const char *mpm;
    const char *dir;            /* ServerRoot, 0755 */
    const char *seg;            /* segment directory, 0755, under /dev/shm */
    const char *conf;
    const char *errlog;
    const char *outlog;         /* httpd's stdout/stderr */
    int port;
    int tls_port;
    pid_t pid;                  /* httpd parent, leader of its group */
    pid_t guard;
    int guard_fd;
    char *fail;                 /* first failure, or NULL */
    const char *module;         /* copies of the built modules in dir, */
    const char *example_module; /* readable by an unprivileged user (a
                                   build tree under /root is not) */
} httpd_t;

static char *slurp_file(const char *path);
static void guard_start(httpd_t *h);

static void fail_at(httpd_t *h, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (h->fail != NULL)
        return;
    va_start(ap, fmt);
    msg = apr_pvsprintf(th_pool, fmt, ap);
    va_end(ap);
    h->fail = apr_psprintf(th_pool, "%s:%d: [%s] %s", file, line,
                           h->mpm ? h->mpm : "-", msg);
}

#define CHECK(h, cond, ...) do { \
        if (!(cond)) { fail_at((h), __FILE__, __LINE__, __VA_ARGS__); goto done; } \
    } while (0)

/* ------------------------------------------------------------------------
 * Files and commands
 * ---------------------------------------------------------------------- */

static char *slurp_file(const char *path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;

    if (apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, th_pool)
        != APR_SUCCESS)
        return apr_pstrdup(th_pool, "");
    apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    n = (apr_size_t)fi.size;
    buf = apr_palloc(th_pool, n + 1);
    apr_file_read_full(f, buf, n, &n);
    buf[n] = '\0';
    apr_file_close(f);
    return buf;
}

static void write_file(const char *path, const char *text, apr_fileperms_t perms)
{
    apr_file_t *f;
    apr_size_t n = strlen(text);

    ck_assert_int_eq(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                                   | APR_FOPEN_TRUNCATE, perms, th_pool),
                     APR_SUCCESS);
    apr_file_write_full(f, text, n, &n);
    apr_file_close(f);
    apr_file_perms_set(path, perms);
}

/* Count occurrences of needle in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
    const char *s = slurp_file(path);
    int n = 0;

    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }
    return n;
}

/* The last ~1500 bytes of the error log, for failure messages. */
static const char *log_tail(httpd_t *h)
{
    const char *s = slurp_file(h->errlog), *o = slurp_file(h->outlog);
    apr_size_t n = strlen(s);

    return apr_psprintf(th_pool, "\n--- error log tail ---\n%s\n--- stdout/err ---\n%s",
                        n > 1500 ? s + n - 1500 : s, o);
}

/* Run a program under `timeout`, capturing output. */
static int run_cmd(int seconds, const char *const *args, char **out, char **err)
{
    const char *argv[32];
    int n = 0;

    argv[n++] = TIMEOUT_BIN;
    argv[n++] = "-k";
    argv[n++] = "2";
    argv[n++] = apr_itoa(th_pool, seconds);
    while (*args != NULL && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    return th_run(argv, NULL, 0, out, NULL, err);
}

static int is_root(void)
{
    return geteuid() == 0;
}

static int free_port(void)
{
    apr_socket_t *s;
    apr_sockaddr_t *sa;
    int port = 0;

    if (apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, th_pool) != APR_SUCCESS
        || apr_socket_create(&s, APR_INET, SOCK_STREAM, APR_PROTO_TCP, th_pool)
           != APR_SUCCESS)
        return 0;
    if (apr_socket_bind(s, sa) == APR_SUCCESS
        && apr_socket_addr_get(&sa, APR_LOCAL, s) == APR_SUCCESS)
        port = sa->port;
    apr_socket_close(s);
    return port;
}

/* ------------------------------------------------------------------------
 * HTTP client (HTTP/1.0, one request per connection)
 * ---------------------------------------------------------------------- */

typedef struct resp_t {
    int status;                 /* 0: no answer */
    apr_table_t *headers;
    char *body;
    apr_size_t body_len;
} resp_t;

static apr_socket_t *http_connect(int port)
{
    apr_socket_t *s;
    apr_sockaddr_t *sa;

    if (apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, (apr_port_t)port, 0,
                              th_pool) != APR_SUCCESS
        || apr_socket_create(&s, APR_INET, SOCK_STREAM, APR_PROTO_TCP, th_pool)
           != APR_SUCCESS)
        return NULL;
    apr_socket_timeout_set(s, apr_time_from_sec(10));
    if (apr_socket_connect(s, sa) != APR_SUCCESS) {
        apr_socket_close(s);
        return NULL;
    }
    return s;
}

static int http_send(apr_socket_t *s, const char *method, const char *path,
                     const char *headers, const void *body, apr_size_t blen)
{
    const char *req = apr_psprintf(th_pool, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                   "%sContent-Length: %" APR_SIZE_T_FMT "\r\n\r\n",
                                   method, path, headers ? headers : "", blen);
    apr_size_t n = strlen(req);

    if (apr_socket_send(s, req, &n) != APR_SUCCESS)
        return 0;
    while (blen > 0) {
        n = blen;
        if (apr_socket_send(s, body, &n) != APR_SUCCESS)
            return 0;
        body = (const char *)body + n;
        blen -= n;
    }
    return 1;
}

static void http_read(apr_socket_t *s, resp_t *r)
{
    apr_size_t cap = 65536, len = 0;
    char *buf = malloc(cap), *p, *eoh, *line, *last;

    memset(r, 0, sizeof *r);
    r->headers = apr_table_make(th_pool, 8);
    for (;;) {
        apr_size_t n;
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        n = cap - len - 1;
        if (apr_socket_recv(s, buf + len, &n) != APR_SUCCESS || n == 0) {
            len += n;
            break;
        }
        len += n;
    }
    apr_socket_close(s);
    buf[len] = '\0';
    eoh = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/", 5) != 0 || eoh == NULL) {
        free(buf);
        return;
    }
    *eoh = '\0';
    p = strchr(buf, ' ');
    r->status = p ? atoi(p + 1) : 0;
    line = apr_strtok(buf, "\r\n", &last);
    for (line = apr_strtok(NULL, "\r\n", &last); line != NULL;
         line = apr_strtok(NULL, "\r\n", &last)) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon++ = '\0';
        while (*colon == ' ')
            colon++;
        apr_table_add(r->headers, line, colon);
    }
    r->body_len = len - (apr_size_t)(eoh + 4 - buf);
    r->body = apr_pmemdup(th_pool, eoh + 4, r->body_len + 1);
    free(buf);
}

static resp_t http(httpd_t *h, int port, const char *method, const char *path,
                   const char *headers, const void *body, apr_size_t blen)
{
    resp_t r;
    apr_socket_t *s = http_connect(port ? port : h->port);

    memset(&r, 0, sizeof r);
    r.headers = apr_table_make(th_pool, 1);
    r.body = "";
    if (s == NULL)
        return r;
    if (!http_send(s, method, path, headers, body, blen)) {
        apr_socket_close(s);
        return r;
    }
    http_read(s, &r);
    return r;
}

#define GET(h, path) http((h), 0, "GET", (path), NULL, NULL, 0)
#define PUT(h, path, hdrs, body) \
    http((h), 0, "PUT", (path), (hdrs), (body), strlen(body))

static const char *hdr(const resp_t *r, const char *name)
{
    const char *v = apr_table_get(r->headers, name);
    return v ? v : "";
}

/* The value of key in the ?auto block of cache name, or -1. */
static long status_value(const char *body, const char *name, const char *key)
{
    const char *b = strstr(body, apr_pstrcat(th_pool, "CacheName: ", name, "\n",
                                             NULL));
    const char *next, *k;

    if (b == NULL)
        return -1;
    next = strstr(b + 1, "CacheName: ");
    k = strstr(b, apr_pstrcat(th_pool, "\n", key, ": ", NULL));
    if (k == NULL || (next != NULL && k > next))
        return -1;
    return atol(k + strlen(key) + 3);
}

/* ------------------------------------------------------------------------
 * The server
 * ---------------------------------------------------------------------- */

/* What a configuration holds besides the basics. */
enum {
    WITH_API = 1,           /* ShmcacheCache main + /kv, /status, /example */
    WITH_CACHE = 2,         /* mod_cache_socache on shmcache, /cgi/ */
    WITH_TLS = 4,           /* mod_ssl with SSLSessionCache shmcache */
    WITH_API_EXTRAS = 8     /* /ro, /small, /denied locations */
};

static const char *load(const char *name, const char *file)
{
    return apr_psprintf(th_pool, "LoadModule %s_module %s/%s\n", name,
                        SC_HTTPD_MODULES, file);
}

/* The MPM section: small processes so that held connections spread over
 * several children. */
static const char *mpm_conf(const char *mpm)
{
    if (strcmp(mpm, "prefork") == 0)
        return apr_pstrcat(th_pool, load("mpm_prefork", "mod_mpm_prefork.so"),
                           "StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\n"
                           "ServerLimit 16\nMaxRequestWorkers 16\n", NULL);
    return apr_pstrcat(th_pool,
                       load(apr_pstrcat(th_pool, "mpm_", mpm, NULL),
                            apr_pstrcat(th_pool, "mod_mpm_", mpm, ".so", NULL)),
                       "StartServers 3\nServerLimit 4\nThreadsPerChild 4\n"
                       "ThreadLimit 4\nMaxRequestWorkers 16\nMinSpareThreads 4\n"
                       "MaxSpareThreads 16\n", NULL);
}

static const char *const slow_cgi =
    "#!/bin/sh\n"
    "sleep 0.2\n"
    "n=0\n"
    "case \"$QUERY_STRING\" in size=*) n=${QUERY_STRING#size=};; esac\n"
    "stamp=\"served by $$ at $(date +%s%N)\"\n"
    "pad=$(head -c \"$n\" /dev/zero | tr '\\0' x)\n"
    "len=$(( ${#stamp} + 1 + ${#pad} ))\n"
    "printf 'Content-Type: text/plain\\r\\nContent-Length: %d\\r\\n"
    "Cache-Control: max-age=60\\r\\n\\r\\n%s\\n%s' \"$len\" \"$stamp\" \"$pad\"\n";

/* Write the configuration; cache_opts go after ShmcacheCache main PATH. */
static void write_conf(httpd_t *h, int what, const char *cache_opts,
                       const char *extra)
{
    const char *c = apr_psprintf(th_pool,
        "ServerRoot %s\nDefaultRuntimeDir %s/run\nPidFile %s/run/httpd.pid\n"
        "ErrorLog %s\nLogLevel warn shmcache:debug\n"
        "Listen 127.0.0.1:%d\nServerName 127.0.0.1\nTimeout 20\n"
        "KeepAlive Off\nDocumentRoot %s/htdocs\n",
        h->dir, h->dir, h->dir, h->errlog, h->port, h->dir);

    if (is_root())
        c = apr_pstrcat(th_pool, c, "User " RUN_USER "\nGroup " RUN_GROUP "\n", NULL);
    c = apr_pstrcat(th_pool, c, mpm_conf(h->mpm),
                    load("authz_core", "mod_authz_core.so"),
                    load("authz_host", "mod_authz_host.so"),
                    "LoadModule shmcache_module ", h->module, "\n", NULL);
#ifdef SC_EXAMPLE_MODULE_PATH
    c = apr_pstrcat(th_pool, c, "LoadModule shmcache_example_module ",
                    h->example_module, "\n", NULL);
#endif
    if (what & WITH_API)
        c = apr_psprintf(th_pool,
            "%sShmcacheCache main %s/main.cache %s\n"
            "<Location /kv>\n  SetHandler shmcache-api\n  ShmcacheAPICache main\n"
            "  Require ip 127.0.0.1\n</Location>\n"
            "<Location /status>\n  SetHandler shmcache-status\n</Location>\n"
            "<Location /example>\n  SetHandler shmcache-example\n</Location>\n"
            "%s<Location /server-status>\n  SetHandler server-status\n"
            "</Location>\n",
            c, h->seg, cache_opts ? cache_opts : "size=4M",
            load("status", "mod_status.so"));
    if (what & WITH_API_EXTRAS)
        c = apr_pstrcat(th_pool, c,
            "<Location /ro>\n  SetHandler shmcache-api\n  ShmcacheAPIReadOnly On\n"
            "  ShmcacheAPICache main\n</Location>\n"
            "<Location /small>\n  SetHandler shmcache-api\n  ShmcacheAPIMaxBody 1K\n"
            "</Location>\n"
            "<Location /denied>\n  SetHandler shmcache-api\n  Require all denied\n"
            "</Location>\n", NULL);
    if (what & WITH_CACHE) {
        int prefork = strcmp(h->mpm, "prefork") == 0;
        c = apr_pstrcat(th_pool, c,
            load("alias", "mod_alias.so"), load("env", "mod_env.so"),
            prefork ? load("cgi", "mod_cgi.so") : load("cgid", "mod_cgid.so"),
            load("cache", "mod_cache.so"),
            load("cache_socache", "mod_cache_socache.so"),
            apr_psprintf(th_pool,
                "ScriptAlias /cgi/ %s/cgi/\nSetEnv ap_trust_cgilike_cl 1\n"
                "CacheEnable socache /cgi/\n"
                "CacheSocache shmcache:%s/http.cache(4M)\n"
                "CacheSocacheMaxSize 1000000\nCacheHeader on\n"
                "<Location /status>\n  SetHandler shmcache-status\n</Location>\n",
                h->dir, h->seg),
            /* mod_authn_socache caches the password checks of authn_file */
            load("auth_basic", "mod_auth_basic.so"),
            load("authn_core", "mod_authn_core.so"),
            load("authn_file", "mod_authn_file.so"),
            load("authn_socache", "mod_authn_socache.so"),
            load("authz_user", "mod_authz_user.so"),
            apr_psprintf(th_pool,
                "ShmcacheCache logins %s/logins.cache size=1M\n"
                "AuthnCacheSOCache shmcache:logins\n"
                "<Location /private>\n  AuthType Basic\n  AuthName shmcache\n"
                "  AuthBasicProvider socache file\n  AuthUserFile %s/htpasswd\n"
                "  AuthnCacheProvideFor file\n  Require valid-user\n"
                "  SetHandler shmcache-status\n</Location>\n", h->seg, h->dir),
            NULL);
    }
    if (what & WITH_TLS)
        c = apr_pstrcat(th_pool, c, load("ssl", "mod_ssl.so"),
            apr_psprintf(th_pool,
                "Listen 127.0.0.1:%d\n"
                "SSLSessionCache shmcache:%s/ssl.cache(1M)\n"
                "SSLSessionCacheTimeout 300\n"
                "<VirtualHost 127.0.0.1:%d>\n  SSLEngine on\n"
                "  SSLCertificateFile %s/crt.pem\n"
                "  SSLCertificateKeyFile %s/key.pem\n"
                "  SSLProtocol TLSv1.2\n  SSLSessionTickets off\n"
                "  <Location /status>\n    SetHandler shmcache-status\n"
                "  </Location>\n</VirtualHost>\n",
                h->tls_port, h->seg, h->tls_port, h->dir, h->dir), NULL);
    if (extra != NULL)
        c = apr_pstrcat(th_pool, c, extra, "\n", NULL);
    write_file(h->conf, c, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD
               | APR_FPROT_WREAD);
}

/* Copy a built module into h->dir, mode 0644, and return the copy's path:
 * the cases that run apache2 as an unprivileged user must be able to load
 * it, and a build tree under /root (0700) is out of that user's reach. */
static const char *copy_module(httpd_t *h, const char *from, const char *name)
{
    const char *to = apr_pstrcat(th_pool, h->dir, "/", name, NULL);
    apr_status_t rv = apr_file_copy(from, to, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                    | APR_FPROT_GREAD | APR_FPROT_WREAD, th_pool);

    ck_assert_msg(rv == APR_SUCCESS, "cannot copy %s to %s", from, to);
    return to;
}

static void mkdir_0755(const char *path)
{
    ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
                  path, strerror(errno));
    chmod(path, 0755);
}

/* Fresh directories and ports for a server of mpm (nothing started). */
static void httpd_init(httpd_t *h, const char *mpm)
{
    char tmpl[] = "/tmp/shmcache-httpd-XXXXXX";
    char stmpl[] = "/dev/shm/shmcache-httpd-XXXXXX";
    const char *d = mkdtemp(tmpl);
    const char *sd = access("/dev/shm", W_OK) == 0 ? mkdtemp(stmpl) : NULL;

    memset(h, 0, sizeof *h);
    h->mpm = mpm;
    ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
    h->dir = apr_pstrdup(th_pool, d);
    chmod(h->dir, 0755);
    if (sd == NULL) {
        h->seg = apr_pstrcat(th_pool, h->dir, "/seg", NULL);
        mkdir_0755(h->seg);
    }
    else {
        h->seg = apr_pstrdup(th_pool, sd);
        chmod(h->seg, 0755);
    }
    mkdir_0755(apr_pstrcat(th_pool, h->dir, "/run", NULL));
    mkdir_0755(apr_pstrcat(th_pool, h->dir, "/htdocs", NULL));
    mkdir_0755(apr_pstrcat(th_pool, h->dir, "/cgi", NULL));
    write_file(apr_pstrcat(th_pool, h->dir, "/cgi/slow.cgi", NULL), slow_cgi,
               APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE
               | APR_FPROT_GREAD | APR_FPROT_GEXECUTE | APR_FPROT_WREAD
               | APR_FPROT_WEXECUTE);
    h->module = copy_module(h, SC_MODULE_PATH, "mod_shmcache.so");
#ifdef SC_EXAMPLE_MODULE_PATH
    h->example_module = copy_module(h, SC_EXAMPLE_MODULE_PATH,
                                    "mod_shmcache_example.so");
#endif
    h->conf = apr_pstrcat(th_pool, h->dir, "/httpd.conf", NULL);
    h->errlog = apr_pstrcat(th_pool, h->dir, "/error.log", NULL);
    h->outlog = apr_pstrcat(th_pool, h->dir, "/stdout.log", NULL);
    h->port = free_port();
    h->tls_port = free_port();
    while (h->tls_port == h->port)
        h->tls_port = free_port();
    ck_assert_msg(h->port > 0 && h->tls_port > 0, "no free port");
    h->guard_fd = -1;
    guard_start(h);
}

/* ------------------------------------------------------------------------
 * The guard: one process per test, in its own session (Check kills the
 * test's process group on a timeout; the guard must outlive the test).
 * The test tells it which server runs ('P' + pid), that none runs ('S'),
 * or that the test ends normally ('Q'). When the test process dies instead
 * (timeout, crash), the pipe reaches EOF: the guard kills the running
 * server's process group and removes the test's directories.
 * ---------------------------------------------------------------------- */

typedef struct guard_msg_t {
    char tag;
    pid_t pid;
} guard_msg_t;

static void guard_main(int fd, const char *dir, const char *seg)
{
    guard_msg_t m;
    pid_t current = 0;
    apr_ssize_t n;
    int i;

    for (;;) {
        while ((n = read(fd, &m, sizeof m)) < 0 && errno == EINTR)
            ;
        if (n != (apr_ssize_t)sizeof m)
            break;              /* EOF: the test process is gone */
        if (m.tag == 'Q')
            _exit(0);
        current = m.tag == 'P' ? m.pid : 0;
    }
    if (current > 0) {
        kill(-current, SIGTERM);
        for (i = 0; i < 30 && kill(-current, 0) == 0; i++)
            usleep(100000);
        kill(-current, SIGKILL);
    }
    if (getenv("SHMCACHE_KEEP_HTTPD_DIRS") == NULL)
        execl("/bin/rm", "rm", "-rf", dir, seg, (char *)NULL);
    _exit(0);
}

static void guard_tell(httpd_t *h, char tag, pid_t pid)
{
    guard_msg_t m;

    memset(&m, 0, sizeof m);
    m.tag = tag;
    m.pid = pid;
    if (h->guard_fd >= 0 && write(h->guard_fd, &m, sizeof m) != (ssize_t)sizeof m)
        fprintf(stderr, "test_httpd: cannot talk to the guard: %s\n",
                strerror(errno));
}

static void guard_start(httpd_t *h)
{
    int pfd[2];
    pid_t pid;

    ck_assert_msg(pipe(pfd) == 0, "pipe: %s", strerror(errno));
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setsid();
        close(pfd[1]);
        guard_main(pfd[0], h->dir, h->seg);
    }
    close(pfd[0]);
    h->guard = pid;
    h->guard_fd = pfd[1];
}

/* End of a test: the server is stopped; release the guard, remove the
 * directories (unless SHMCACHE_KEEP_HTTPD_DIRS is set). */
static void httpd_done(httpd_t *h)
{
    const char *argv[] = {"/bin/rm", "-rf", h->dir, h->seg, NULL};
    int status;

    guard_tell(h, 'Q', 0);
    if (h->guard_fd >= 0)
        close(h->guard_fd);
    h->guard_fd = -1;
    if (h->guard > 0)
        waitpid(h->guard, &status, 0);
    h->guard = 0;
    if (getenv("SHMCACHE_KEEP_HTTPD_DIRS") == NULL)
        th_run(argv, NULL, 0, NULL, NULL, NULL);
}

static int port_answers(int port)
{
    apr_socket_t *s = http_connect(port);

    if (s == NULL)
        return 0;
    apr_socket_close(s);
    return 1;
}

/* Start httpd in its own process group; 1 when it answers on its port
 * within 20 s, 0 when it exited (h->pid is then 0) or did not answer
 * (httpd_stop stops it). */
static int httpd_start(httpd_t *h)
{
    int i, status;
    pid_t pid;

    pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        int fd = open(h->outlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
        setpgid(0, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(SC_HTTPD_BIN, SC_HTTPD_BIN, "-f", h->conf, "-DFOREGROUND", (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    h->pid = pid;
    guard_tell(h, 'P', pid);
    for (i = 0; i < 200; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            kill(-pid, SIGKILL);
            h->pid = 0;
            guard_tell(h, 'S', 0);
            return 0;
        }
        if (port_answers(h->port))
            return 1;
        usleep(100000);
    }
    return 0;
}

/* Wait (at most 5 s) until nothing answers on the server's port: killed
 * children close their listening sockets only when the kernel gets to
 * them, and a new server must not be mistaken for the old one. */
static void wait_port_closed(httpd_t *h)
{
    int i;

    for (i = 0; i < 50 && port_answers(h->port); i++)
        usleep(100000);
}

/* Stop httpd: SIGTERM to the parent, then SIGKILL to the group. */
static void httpd_stop(httpd_t *h)
{
    int i, status;

    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        for (i = 0; i < 100; i++) {
            if (waitpid(h->pid, &status, WNOHANG) == h->pid)
                break;
            usleep(100000);
        }
        kill(-h->pid, SIGKILL);
        if (i == 100)
            waitpid(h->pid, &status, 0);
        h->pid = 0;
        guard_tell(h, 'S', 0);
        wait_port_closed(h);
    }
}

/* Kill the whole server with SIGKILL, as a crash would. */
static void httpd_kill9(httpd_t *h)
{
    int status;

    if (h->pid > 0) {
        kill(-h->pid, SIGKILL);
        waitpid(h->pid, &status, 0);
        h->pid = 0;
        guard_tell(h, 'S', 0);
        wait_port_closed(h);
    }
}

/* Graceful restart (SIGUSR1); 1 once the new generation says it runs. */
static int httpd_graceful(httpd_t *h)
{
    const char *mark = "resuming normal operations";
    int before = count_in_file(h->errlog, mark), i;

    kill(h->pid, SIGUSR1);
    for (i = 0; i < 200; i++) {
        if (count_in_file(h->errlog, mark) > before && port_answers(h->port))
            return 1;
        usleep(100000);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * shmcache-cli, run as the children's user
 * ---------------------------------------------------------------------- */

#ifdef SC_CLI_PATH
/* shmcache-cli -f path args...; as root through setpriv as RUN_USER (what
 * an admin does), falling back to root with --allow-foreign-owner when the
 * build tree is not reachable by that user. */
static int cli(const char *path, char **out, char **err, ...)
{
    const char *argv[24], *a;
    va_list ap;
    int n = 0, code, base;

    if (is_root()) {
        argv[n++] = SETPRIV_BIN;
        argv[n++] = "--reuid=" RUN_USER;
        argv[n++] = "--regid=" RUN_GROUP;
        argv[n++] = "--clear-groups";
        argv[n++] = "--";
    }
    base = n;
    argv[n++] = SC_CLI_PATH;
    argv[n++] = "-f";
    argv[n++] = path;
    va_start(ap, err);
    while ((a = va_arg(ap, const char *)) != NULL && n < 23)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    code = run_cmd(20, argv, out, err);
    if (is_root() && (code == 126 || code == 127)) {
        /* the user cannot execute the binary: run it as root */
        int m = 0;
        const char *argv2[24];
        argv2[m++] = SC_CLI_PATH;
        argv2[m++] = "--allow-foreign-owner";
        for (n = base + 1; argv[n] != NULL; n++)
            argv2[m++] = argv[n];
        argv2[m] = NULL;
        code = run_cmd(20, argv2, out, err);
    }
    return code;
}
#endif

/* ------------------------------------------------------------------------
 * Tests, each for every MPM (loop index _i)
 * ---------------------------------------------------------------------- */

/* A value PUT through one request is read by concurrent requests that
 * several children serve, by shmcache-cli from outside, and by a module
 * using the optional functions; the status page has its three forms and
 * mod_status shows the cache; the double-load guard creates it once. */
START_TEST(put_value_is_read_by_many_children_and_the_cli)
{
    httpd_t h;
    apr_hash_t *pids = apr_hash_make(th_pool);
    const char *key_url = "/kv/greeting%20%E2%9C%93";
    const char *value = "hello from one PUT";
    resp_t r;
    int round, i, ok = 0;

    httpd_init(&h, mpms[_i]);
    write_conf(&h, WITH_API, "size=4M ttl=600", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));

    r = PUT(&h, key_url, "X-Shmcache-TTL: 300\r\n", value);
    CHECK(&h, r.status == 204, "PUT answered %d%s", r.status, log_tail(&h));

    /* hold 12 connections open at once (each ties up a process or a
     * thread), then ask on all of them: served by several children */
    for (round = 0; round < 5 && apr_hash_count(pids) < 2; round++) {
        apr_socket_t *socks[12];
        for (i = 0; i < 12; i++)
            socks[i] = http_connect(h.port);
        for (i = 0; i < 12; i++)
            if (socks[i] != NULL)
                http_send(socks[i], "GET", key_url, NULL, NULL, 0);
        for (i = 0; i < 12; i++) {
            if (socks[i] == NULL)
                continue;
            http_read(socks[i], &r);
            CHECK(&h, r.status == 200 && r.body_len == strlen(value)
                  && memcmp(r.body, value, r.body_len) == 0,
                  "concurrent GET %d answered %d '%s'%s", i, r.status, r.body,
                  log_tail(&h));
            CHECK(&h, *hdr(&r, "X-Shmcache-Pid") != '\0', "no X-Shmcache-Pid");
            apr_hash_set(pids, apr_pstrdup(th_pool, hdr(&r, "X-Shmcache-Pid")),
                         APR_HASH_KEY_STRING, "");
            ok++;
        }
    }
    CHECK(&h, apr_hash_count(pids) >= 2, "%d answers all came from %u process(es)",
          ok, apr_hash_count(pids));

#ifdef SC_CLI_PATH
    {
        const char *path = apr_pstrcat(th_pool, h.seg, "/main.cache", NULL);
        char *out = NULL, *err = NULL;
        int code = cli(path, &out, &err, "get", "greeting \xE2\x9C\x93", NULL);
        CHECK(&h, code == 0 && strncmp(out, value, strlen(value)) == 0,
              "shmcache-cli get exited %d, out '%s', err '%s'", code, out, err);
        /* and the other way: the CLI stores, httpd serves */
        code = cli(path, &out, &err, "set", "from-cli", "stored by the cli", NULL);
        CHECK(&h, code == 0, "shmcache-cli set exited %d: %s", code, err);
        r = GET(&h, "/kv/from-cli");
        CHECK(&h, r.status == 200 && strcmp(r.body, "stored by the cli") == 0,
              "GET of the CLI's key answered %d '%s'", r.status, r.body);
    }
#endif
#ifdef SC_EXAMPLE_MODULE_PATH
    r = GET(&h, "/example?cache=main");
    CHECK(&h, r.status == 200 && strstr(r.body, "cache=main hits=1 caches=main "
                                        "default_ttl=600") != NULL,
          "optional functions: /example answered %d '%s'%s", r.status, r.body,
          log_tail(&h));
#endif
    r = GET(&h, "/status?auto");
    CHECK(&h, r.status == 200 && strstr(r.body, "CacheName: main\n")
          && strstr(r.body, "CacheType: SHMCACHE\n")
          && strstr(r.body, "CacheSharedMemory: 4194304\n")
          && strstr(r.body, "CacheRetrieveHitCount: ")
          && strstr(r.body, "CacheStoreCount: "),
          "status?auto answered %d:\n%s", r.status, r.body);
    r = GET(&h, "/server-status?auto");
    CHECK(&h, r.status == 200 && strstr(r.body, "CacheName: main\n")
          && strstr(r.body, "CacheType: SHMCACHE\n"),
          "mod_status does not show the cache:\n%s", r.body);
    r = GET(&h, "/status?json");
    CHECK(&h, r.status == 200 && strstr(hdr(&r, "Content-Type"), "application/json")
          && strstr(r.body, "\"name\": \"main\"") && strstr(r.body, "\"hits\": "),
          "status?json answered %d:\n%s", r.status, r.body);
    r = GET(&h, "/status");
    CHECK(&h, r.status == 200 && strstr(r.body, "<h1>shmcache status</h1>")
          && strstr(r.body, "hit ratio"), "status answered %d", r.status);
    CHECK(&h, count_in_file(h.errlog, "SC00120") == 0,
          "a child could not attach%s", log_tail(&h));
    /* double-load guard: created once, not in the first startup pass */
    CHECK(&h, count_in_file(h.errlog, "SC00113") == 1
          && count_in_file(h.errlog, "SC00114") == 0,
          "the cache was created %d times%s", count_in_file(h.errlog, "SC00113"),
          log_tail(&h));
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* mod_cache_socache with CacheSocache shmcache:... answers the second
 * request of a slow CGI page from the cache, also for a response of
 * 300 KB (more than shmcb can hold in one object); mod_authn_socache with
 * AuthnCacheSOCache shmcache:NAME (a declared cache) answers the second
 * login from it. */
START_TEST(cache_socache_serves_the_second_request_from_shmcache)
{
    httpd_t h;
    resp_t r1, r2, st;
    const char *sizes[] = {"/cgi/slow.cgi", "/cgi/slow.cgi?size=300000"};
    int i;

    httpd_init(&h, mpms[_i]);
    {
        /* user "user", password "secret" */
        char *out = NULL, *err = NULL;
        const char *args[] = {OPENSSL_BIN, "passwd", "-apr1", "secret", NULL};
        int code = run_cmd(30, args, &out, &err);
        CHECK(&h, code == 0 && out[0] == '$', "openssl passwd: %d %s", code, err);
        write_file(apr_pstrcat(th_pool, h.dir, "/htpasswd", NULL),
                   apr_pstrcat(th_pool, "user:", out, NULL),
                   APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD
                   | APR_FPROT_WREAD);
    }
    write_conf(&h, WITH_CACHE, NULL, NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    for (i = 0; i < 2; i++) {
        r1 = GET(&h, sizes[i]);
        CHECK(&h, r1.status == 200 && strncmp(r1.body, "served by", 9) == 0,
              "%s answered %d '%.80s'%s", sizes[i], r1.status, r1.body, log_tail(&h));
        r2 = GET(&h, sizes[i]);
        CHECK(&h, r2.status == 200 && r2.body_len == r1.body_len
              && memcmp(r1.body, r2.body, r1.body_len) == 0,
              "%s: the second answer differs (the CGI ran again): '%.60s' vs "
              "'%.60s'", sizes[i], r1.body, r2.body);
        CHECK(&h, strncmp(hdr(&r2, "X-Cache"), "HIT", 3) == 0,
              "%s: second X-Cache is '%s' (first '%s')%s", sizes[i],
              hdr(&r2, "X-Cache"), hdr(&r1, "X-Cache"), log_tail(&h));
    }
    st = GET(&h, "/status?auto");
    CHECK(&h, status_value(st.body, "socache:cache-socache",
                           "CacheRetrieveHitCount") >= 2,
          "status does not show the cache's hits:\n%s", st.body);

    /* mod_authn_socache: the second login is answered from shmcache */
    for (i = 0; i < 2; i++) {
        resp_t a = http(&h, 0, "GET", "/private?auto",
                        "Authorization: Basic dXNlcjpzZWNyZXQ=\r\n", NULL, 0);
        CHECK(&h, a.status == 200, "login %d answered %d%s", i, a.status,
              log_tail(&h));
    }
    st = http(&h, 0, "GET", "/private?auto", "Authorization: Basic "
              "dXNlcjpub3BlCg==\r\n", NULL, 0);
    CHECK(&h, st.status == 401, "a wrong password answered %d", st.status);
    st = GET(&h, "/status?auto");
    CHECK(&h, status_value(st.body, "logins", "CacheStoreCount") >= 1
          && status_value(st.body, "logins", "CacheRetrieveHitCount") >= 1,
          "authn_socache did not use shmcache:logins:\n%s", st.body);
    st = GET(&h, "/status?json");
    CHECK(&h, strstr(st.body, "\"used_by\": [\"socache:authn-socache\"]") != NULL,
          "the status does not name the consumer of 'logins':\n%s", st.body);
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* mod_ssl with SSLSessionCache shmcache:... resumes TLS 1.2 sessions
 * (tickets off, so only the session cache can resume them). */
START_TEST(ssl_session_is_resumed_through_shmcache)
{
    httpd_t h;
    char *out = NULL, *err = NULL;
    int code;
    resp_t st;

    httpd_init(&h, mpms[_i]);
    {
        const char *args[] = {OPENSSL_BIN, "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", apr_pstrcat(th_pool, h.dir, "/key.pem", NULL),
            "-out", apr_pstrcat(th_pool, h.dir, "/crt.pem", NULL),
            "-days", "2", "-subj", "/CN=localhost", NULL};
        code = run_cmd(30, args, &out, &err);
        CHECK(&h, code == 0, "openssl req exited %d: %s", code, err);
    }
    write_conf(&h, WITH_API | WITH_TLS, NULL, NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    {
        const char *args[] = {OPENSSL_BIN, "s_client", "-connect",
            apr_psprintf(th_pool, "127.0.0.1:%d", h.tls_port), "-tls1_2",
            "-no_ticket", "-reconnect", NULL};
        code = run_cmd(30, args, &out, &err);
        CHECK(&h, strstr(out, "New, TLSv1.2") != NULL
              && strstr(out, "Reused, TLSv1.2") != NULL,
              "s_client exited %d and shows no reused session:\n%.2000s\n%s%s",
              code, out, err, log_tail(&h));
    }
    st = GET(&h, "/status?auto");
    CHECK(&h, status_value(st.body, "socache:mod_ssl-sess",
                           "CacheRetrieveHitCount") >= 1,
          "status does not show session cache hits:\n%s", st.body);
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* A graceful restart keeps the values; a graceful restart with another
 * size recreates the segment and says so in the error log. */
START_TEST(graceful_restart_keeps_values_and_a_new_size_recreates)
{
    httpd_t h;
    resp_t r;

    httpd_init(&h, mpms[_i]);
    write_conf(&h, WITH_API, "size=4M", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    r = PUT(&h, "/kv/kept", NULL, "survives graceful");
    CHECK(&h, r.status == 204, "PUT answered %d", r.status);

    CHECK(&h, httpd_graceful(&h), "graceful restart did not finish%s", log_tail(&h));
    r = GET(&h, "/kv/kept");
    CHECK(&h, r.status == 200 && strcmp(r.body, "survives graceful") == 0,
          "after graceful: %d '%s'%s", r.status, r.body, log_tail(&h));
    CHECK(&h, count_in_file(h.errlog, "SC00115") >= 1,
          "no 'reusing' line in the log%s", log_tail(&h));

    write_conf(&h, WITH_API, "size=8M", NULL);
    CHECK(&h, httpd_graceful(&h), "second graceful did not finish%s", log_tail(&h));
    r = GET(&h, "/kv/kept");
    CHECK(&h, r.status == 404, "after a size change the value is still there "
          "(%d)%s", r.status, log_tail(&h));
    CHECK(&h, count_in_file(h.errlog, "SC00114") == 1
          && count_in_file(h.errlog, "size 4194304 -> 8388608") == 1,
          "the recreation is not in the log%s", log_tail(&h));
    r = GET(&h, "/status?auto");
    CHECK(&h, strstr(r.body, "CacheSharedMemory: 8388608\n") != NULL,
          "status after resize:\n%s", r.body);
    r = PUT(&h, "/kv/after", NULL, "resized");
    CHECK(&h, r.status == 204, "PUT after resize answered %d", r.status);
    r = GET(&h, "/kv/after");
    CHECK(&h, r.status == 200, "GET after resize answered %d%s", r.status,
          log_tail(&h));
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* An httpd killed with SIGKILL leaves its segment; the next start reuses
 * it (values kept), recreates it when the size changed, and refuses (with
 * a clear message) a file that is not a segment, zero-filled ones too. */
START_TEST(killed_httpd_leaves_a_segment_that_the_next_start_reuses)
{
    httpd_t h;
    resp_t r;
    const char *stale, *extra, *foreign;

    httpd_init(&h, mpms[_i]);
    stale = apr_pstrcat(th_pool, h.seg, "/unfinished.cache", NULL);
    extra = apr_psprintf(th_pool, "ShmcacheCache unfinished %s size=1M", stale);
    write_conf(&h, WITH_API, "size=4M", extra);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    r = PUT(&h, "/kv/crash", NULL, "outlives kill -9");
    CHECK(&h, r.status == 204, "PUT answered %d", r.status);
    httpd_kill9(&h);

    CHECK(&h, httpd_start(&h), "httpd did not start again after kill -9%s",
          log_tail(&h));
    r = GET(&h, "/kv/crash");
    CHECK(&h, r.status == 200 && strcmp(r.body, "outlives kill -9") == 0,
          "after kill -9 and start: %d '%s'%s", r.status, r.body, log_tail(&h));

    /* killed again, then started with another size: recreated */
    httpd_kill9(&h);
    write_conf(&h, WITH_API, "size=2M", extra);
    CHECK(&h, httpd_start(&h), "httpd did not start with a new size%s",
          log_tail(&h));
    r = GET(&h, "/kv/crash");
    CHECK(&h, r.status == 404 && count_in_file(h.errlog, "SC00114") == 1
          && count_in_file(h.errlog, "size 4194304 -> 2097152") == 1,
          "a killed server's segment of another size was not recreated (%d)%s",
          r.status, log_tail(&h));
    httpd_stop(&h);

    /* a file that is not a segment: refuse, never overwrite */
    foreign = apr_pstrcat(th_pool, h.seg, "/notes.txt", NULL);
    write_file(foreign, "an admin's file, not a cache\n",
               APR_FPROT_UREAD | APR_FPROT_UWRITE);
    write_conf(&h, WITH_API, "size=4M",
               apr_psprintf(th_pool, "ShmcacheCache notes %s size=1M", foreign));
    CHECK(&h, !httpd_start(&h), "httpd started over a foreign file");
    CHECK(&h, count_in_file(h.errlog, "SC00107") == 1
          && strcmp(slurp_file(foreign), "an admin's file, not a cache\n") == 0,
          "foreign file not refused cleanly%s", log_tail(&h));

    /* a zero-filled file is not what a killed creator leaves (the library
     * publishes a segment at its path only once complete): refused too */
    apr_file_remove(stale, th_pool);
    write_file(stale, "", APR_FPROT_UREAD | APR_FPROT_UWRITE);
    CHECK(&h, truncate(stale, 65536) == 0, "truncate: %s", strerror(errno));
    write_conf(&h, WITH_API, "size=4M", extra);
    CHECK(&h, !httpd_start(&h), "httpd started over a zero-filled file");
    {
        struct stat sb;
        CHECK(&h, count_in_file(h.errlog, "SC00107") == 2
              && stat(stale, &sb) == 0 && sb.st_size == 65536,
              "zero-filled file not refused cleanly%s", log_tail(&h));
    }
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* On Unix children use the mapping they inherit from the parent and never
 * open the segment file: a segment that stays root's, mode 0600 (user=root
 * group=root), serves PUT and GET through several children, and root's CLI
 * reads it without --allow-foreign-owner. */
START_TEST(a_root_only_segment_serves_every_child_through_the_inherited_mapping)
{
    httpd_t h;
    apr_hash_t *pids = apr_hash_make(th_pool);
    const char *path;
    struct stat sb;
    resp_t r;
    int round, i;

    if (!is_root()) {
        fprintf(stderr, "not root: children run as this user, nothing to show\n");
        return;
    }
    httpd_init(&h, mpms[_i]);
    path = apr_pstrcat(th_pool, h.seg, "/main.cache", NULL);
    write_conf(&h, WITH_API, "size=1M user=root group=root", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    CHECK(&h, stat(path, &sb) == 0 && sb.st_uid == 0 && sb.st_gid == 0
          && (sb.st_mode & 07777) == 0600, "segment is uid %ld gid %ld mode %o",
          (long)sb.st_uid, (long)sb.st_gid, (unsigned)(sb.st_mode & 07777));
    r = PUT(&h, "/kv/root-only", NULL, "inherited");
    CHECK(&h, r.status == 204, "PUT answered %d%s", r.status, log_tail(&h));
    for (round = 0; round < 5 && apr_hash_count(pids) < 2; round++) {
        apr_socket_t *socks[12];
        for (i = 0; i < 12; i++)
            socks[i] = http_connect(h.port);
        for (i = 0; i < 12; i++)
            if (socks[i] != NULL)
                http_send(socks[i], "GET", "/kv/root-only", NULL, NULL, 0);
        for (i = 0; i < 12; i++) {
            if (socks[i] == NULL)
                continue;
            http_read(socks[i], &r);
            CHECK(&h, r.status == 200 && strcmp(r.body, "inherited") == 0,
                  "GET %d answered %d '%s'%s", i, r.status, r.body, log_tail(&h));
            apr_hash_set(pids, apr_pstrdup(th_pool, hdr(&r, "X-Shmcache-Pid")),
                         APR_HASH_KEY_STRING, "");
        }
    }
    CHECK(&h, apr_hash_count(pids) >= 2, "answers came from %u process(es)",
          apr_hash_count(pids));
#ifdef SC_CLI_PATH
    {
        const char *argv[] = {SC_CLI_PATH, "-f", path, "get", "root-only", NULL};
        char *out = NULL, *err = NULL;
        int code = run_cmd(20, argv, &out, &err);
        CHECK(&h, code == 0 && strcmp(out, "inherited") == 0,
              "root's shmcache-cli get exited %d, out '%s', err '%s'", code,
              out, err);
    }
#endif
    CHECK(&h, count_in_file(h.errlog, "SC00120") == 0,
          "a child tried to attach by path%s", log_tail(&h));
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* Helper, run as the children's user with SHMCACHE_FAULT=lock.wr.claimed:
 * make the segment differ from the configured mode, then take the write
 * lock and stay there (the fault point sleeps), as a compromised child
 * holding the writer word would. argv: PATH. */
static int helper_hold_write_lock(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_t *c;

    if (argc < 1 || chmod(argv[0], 0600) != 0)
        return 2;
    shmcache_options_init(&o);
    if (shmcache_attach(&c, argv[0], &o, th_pool) != APR_SUCCESS)
        return 3;
    shmcache_set(c, "held", 4, "x", 1, 0, NULL);    /* parks inside */
    return 4;
}

/* Wait (at most seconds) until file contains needle. */
static int wait_for_text(const char *file, const char *needle, int seconds)
{
    int i;

    for (i = 0; i < seconds * 10; i++) {
        if (count_in_file(file, needle) > 0)
            return 1;
        usleep(100000);
    }
    return 0;
}

/* Start this binary's helper name on path as the children's user, with
 * SHMCACHE_FAULT=fault (and its file) when fault is not NULL. @return its
 * pid, or -1. */
static pid_t spawn_as_child_user(const char *name, const char *path,
                                 const char *fault, const char *fault_file)
{
    pid_t pid = fork();

    if (pid == 0) {
        if (fault != NULL) {
            setenv("SHMCACHE_FAULT", fault, 1);
            setenv("SHMCACHE_FAULT_FILE", fault_file, 1);
        }
        execl(SETPRIV_BIN, SETPRIV_BIN, "--reuid=" RUN_USER, "--regid=" RUN_GROUP,
              "--clear-groups", "--", th_self, "--helper", name, path,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Start helper_hold_write_lock on path as the children's user; it says
 * in fault_file when it holds the lock. @return its pid, or -1. */
static pid_t start_lock_holder(const char *path, const char *fault_file)
{
    return spawn_as_child_user("hold_write_lock", path, "lock.wr.claimed",
                               fault_file);
}

/* The root parent acts only on the file it opened. A process of the
 * children's user makes the segment's mode differ from the configuration
 * and holds the write lock; a graceful restart makes the parent open the
 * segment and wait for the lock; meanwhile that user puts a symlink at the
 * segment path, pointing at a root-owned 0600 file, and lets the lock go
 * (it is killed). The parent then fixes the mode of what it opened: the
 * symlink's target keeps its mode and owner, and children keep serving
 * the segment they inherited although its path is now a symlink. */
START_TEST(a_symlink_swapped_in_during_a_graceful_restart_is_not_followed)
{
    httpd_t h;
    const char *path, *target, *fault_file;
    const char *mark = "resuming normal operations";
    struct stat sb;
    pid_t helper = 0;
    int before, status, code;
    char *out = NULL, *err = NULL;
    resp_t r;

    if (!is_root()) {
        fprintf(stderr, "not root: no less-trusted user to play\n");
        return;
    }
    httpd_init(&h, "prefork");
    chmod(h.seg, 0777);         /* the children's user may write the directory */
    path = apr_pstrcat(th_pool, h.seg, "/main.cache", NULL);
    target = apr_pstrcat(th_pool, h.dir, "/root-secret", NULL);
    fault_file = apr_pstrcat(th_pool, h.seg, "/fault", NULL);
    write_file(target, "root only\n", APR_FPROT_UREAD | APR_FPROT_UWRITE);
    write_conf(&h, WITH_API, "size=1M mode=0660 lock-timeout=1000", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    r = PUT(&h, "/kv/kept", NULL, "still served");
    CHECK(&h, r.status == 204, "PUT answered %d%s", r.status, log_tail(&h));

    helper = start_lock_holder(path, fault_file);
    CHECK(&h, helper > 0, "fork: %s", strerror(errno));
    CHECK(&h, wait_for_text(fault_file, "lock.wr.claimed", 10),
          "the helper did not take the write lock");

    before = count_in_file(h.errlog, mark);
    kill(h.pid, SIGUSR1);
    sleep(2);                   /* the parent has opened it and waits */
    {
        const char *argv[] = {SETPRIV_BIN, "--reuid=" RUN_USER,
                              "--regid=" RUN_GROUP, "--clear-groups", "--",
                              "/bin/ln", "-sfn", target, path, NULL};
        code = run_cmd(10, argv, &out, &err);
        CHECK(&h, code == 0, "ln -sfn as " RUN_USER " exited %d: %s", code, err);
    }
    kill(helper, SIGKILL);
    waitpid(helper, &status, 0);
    helper = 0;
    CHECK(&h, wait_for_text(h.errlog, "SC00115", 20)
          && count_in_file(h.errlog, mark) > before,
          "the graceful restart did not finish%s", log_tail(&h));
    CHECK(&h, stat(target, &sb) == 0 && sb.st_uid == 0
          && (sb.st_mode & 07777) == 0600,
          "the symlink's target became uid %ld mode %o", (long)sb.st_uid,
          (unsigned)(sb.st_mode & 07777));
    CHECK(&h, lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode),
          "the path is no longer the symlink");
    r = GET(&h, "/kv/kept");
    CHECK(&h, r.status == 200 && strcmp(r.body, "still served") == 0,
          "after the swap: %d '%s'%s", r.status, r.body, log_tail(&h));
done:
    if (helper > 0) {
        kill(helper, SIGKILL);
        waitpid(helper, &status, 0);
    }
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* A mode giving write to "other" is refused by `apache2 -t` with a message
 * naming the directive, the file and line, and why; the explicit
 * allow-world-writable lets it through. */
START_TEST(a_world_writable_mode_needs_the_explicit_opt_in)
{
    httpd_t h;
    const char *argv[] = {SC_HTTPD_BIN, "-t", "-f", NULL, NULL};
    char *out = NULL, *err = NULL;
    int code;

    httpd_init(&h, "event");
    argv[3] = h.conf;
    write_conf(&h, WITH_API, "size=1M mode=0666", NULL);
    code = run_cmd(30, argv, &out, &err);
    CHECK(&h, code != 0 && strstr(err, "ShmcacheCache main (")
          && strstr(err, "httpd.conf:")
          && strstr(err, "mode=0666 lets every local user write the cache (o+w)")
          && strstr(err, "allow-world-writable"),
          "mode=0666: apache2 -t exited %d:\n%s%s", code, err, out);
    write_conf(&h, WITH_API, "size=1M mode=0622", NULL);
    code = run_cmd(30, argv, &out, &err);
    CHECK(&h, code != 0 && strstr(err, "mode=0622 lets every local user"),
          "mode=0622: apache2 -t exited %d:\n%s%s", code, err, out);
    write_conf(&h, WITH_API, "size=1M mode=0666 allow-world-writable", NULL);
    code = run_cmd(30, argv, &out, &err);
    CHECK(&h, code == 0 && strstr(err, "Syntax OK"),
          "with allow-world-writable: apache2 -t exited %d:\n%s%s", code, err, out);
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* Whoever can write the segment file can truncate it under httpd. The
 * parent's own segment accesses are guarded: at the next graceful restart
 * it closes its handle on the truncated segment (SIGBUS caught and
 * logged), finds the file unusable and makes a new one; the parent never
 * dies, and the server serves again. */
START_TEST(a_segment_truncated_under_httpd_does_not_kill_the_parent)
{
    httpd_t h;
    const char *path;
    resp_t r;

    httpd_init(&h, "prefork");
    path = apr_pstrcat(th_pool, h.seg, "/main.cache", NULL);
    write_conf(&h, WITH_API, "size=1M", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    r = PUT(&h, "/kv/before", NULL, "lost with the truncation");
    CHECK(&h, r.status == 204, "PUT answered %d%s", r.status, log_tail(&h));
    CHECK(&h, truncate(path, 4096) == 0, "truncate: %s", strerror(errno));
    CHECK(&h, httpd_graceful(&h), "the graceful restart did not finish%s",
          log_tail(&h));
    CHECK(&h, kill(h.pid, 0) == 0, "the parent died%s", log_tail(&h));
    CHECK(&h, count_in_file(h.errlog, "SC00131") == 1
          && count_in_file(h.errlog, "SC00110") == 1,
          "the truncation was not caught and the segment not recreated%s",
          log_tail(&h));
    r = PUT(&h, "/kv/after", NULL, "a new segment");
    CHECK(&h, r.status == 204, "PUT after the restart answered %d%s", r.status,
          log_tail(&h));
    r = GET(&h, "/kv/after");
    CHECK(&h, r.status == 200 && strcmp(r.body, "a new segment") == 0,
          "GET after the restart: %d '%s'%s", r.status, r.body, log_tail(&h));
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* Run helper name on path as the children's user; its exit status. */
static int run_as_child_user(const char *name, const char *path)
{
    pid_t pid = spawn_as_child_user(name, path, NULL, NULL);
    int status;

    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* A child that writes hostile chains (a self-linked duplicate of a key,
 * self-linked entries) and plants a dead writer cannot hang the root
 * parent: at the graceful restart the
 * parent's own look at the cache recovers the lock and repairs the chains
 * in bounded time, logs the repair, and the new generation serves. */
START_TEST(a_child_written_hostile_chain_does_not_hang_the_parent)
{
    httpd_t h;
    const char *path;
    resp_t r;
    int i, code;

    if (!is_root()) {
        fprintf(stderr, "not root: no less-trusted user to play\n");
        return;
    }
    httpd_init(&h, "event");
    path = apr_pstrcat(th_pool, h.seg, "/main.cache", NULL);
    write_conf(&h, WITH_API, "size=1M lock-timeout=200", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    for (i = 0; i < 50; i++) {
        r = PUT(&h, apr_psprintf(th_pool, "/kv/k%d", i), NULL, "v");
        CHECK(&h, r.status == 204, "PUT answered %d%s", r.status, log_tail(&h));
    }
    code = run_as_child_user("plant_hostile_chains", path);
    CHECK(&h, code == 0, "the helper could not plant (exit %d)", code);
    CHECK(&h, httpd_graceful(&h), "the graceful restart did not finish: the "
          "parent hung on hostile chains%s", log_tail(&h));
    r = PUT(&h, "/kv/after", NULL, "v");
    CHECK(&h, r.status == 204, "PUT after the restart answered %d%s", r.status,
          log_tail(&h));
    r = GET(&h, "/kv/after");
    CHECK(&h, r.status == 200, "GET after the restart answered %d%s",
          r.status, log_tail(&h));
    CHECK(&h, count_in_file(h.errlog, "SC00503") >= 1,
          "the repair was not logged%s", log_tail(&h));
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* A writer that dies holding the lock is recovered by the next child that
 * locks, and the module logs it (SC00501, warn, naming the cache) at its
 * next periodic check, once. */
START_TEST(a_writer_killed_holding_the_lock_is_logged_as_a_recovery)
{
    httpd_t h;
    const char *path, *fault_file;
    pid_t helper = 0, dead = 0;
    int status, i;
    resp_t r;

    if (!is_root()) {
        fprintf(stderr, "not root: the helper cannot change user\n");
        return;
    }
    httpd_init(&h, "event");
    chmod(h.seg, 0777);         /* the helper writes its fault file there */
    path = apr_pstrcat(th_pool, h.seg, "/main.cache", NULL);
    fault_file = apr_pstrcat(th_pool, h.seg, "/fault", NULL);
    write_conf(&h, WITH_API, "size=1M mode=0600 lock-timeout=200", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    r = PUT(&h, "/kv/a", NULL, "1");
    CHECK(&h, r.status == 204, "PUT answered %d%s", r.status, log_tail(&h));
    helper = start_lock_holder(path, fault_file);
    CHECK(&h, helper > 0, "fork: %s", strerror(errno));
    CHECK(&h, wait_for_text(fault_file, "lock.wr.claimed", 10),
          "the helper did not take the write lock");
    kill(helper, SIGKILL);
    waitpid(helper, &status, 0);
    dead = helper;
    helper = 0;
    r = PUT(&h, "/kv/b", NULL, "2");    /* recovers the lock */
    CHECK(&h, r.status == 204, "PUT after the kill answered %d%s", r.status,
          log_tail(&h));
    for (i = 0; i < 150 && count_in_file(h.errlog, "SC00501") == 0; i++) {
        GET(&h, "/kv/a");
        usleep(100000);
    }
    CHECK(&h, count_in_file(h.errlog, "SC00501") == 1
          && count_in_file(h.errlog, "[shmcache:warn]") >= 1
          && count_in_file(h.errlog, "cache 'main' (") >= 1
          && count_in_file(h.errlog, "1 lock recovery(ies)") == 1
          && count_in_file(h.errlog, apr_psprintf(th_pool, "last dead pid %d)",
                                                  (int)dead)) == 1,
          "the recovery was not logged once, naming the dead pid%s",
          log_tail(&h));
done:
    if (helper > 0) {
        kill(helper, SIGKILL);
        waitpid(helper, &status, 0);
    }
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* ------------------------------------------------------------------------
 * Tests run once (event MPM)
 * ---------------------------------------------------------------------- */

/* `apache2 -t` rejects each bad directive with a message naming it. */
START_TEST(configtest_rejects_each_bad_directive)
{
    httpd_t h;
    const char *ro_dir;
    struct { const char *line; const char *want; int as_user; } cases[32];
    int n = 0, i, code;
    char *out = NULL, *err = NULL;

    httpd_init(&h, "event");
    ro_dir = apr_pstrcat(th_pool, h.dir, "/readonly", NULL);
    mkdir_0755(ro_dir);
    chmod(ro_dir, 0555);
#define CASE(l, w, u) do { cases[n].line = (l); cases[n].want = (w); \
                           cases[n].as_user = (u); n++; } while (0)
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache size=0", h.seg),
         "ShmcacheCache a: size=0: the size must be between", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache l2=http://x", h.seg),
         "ShmcacheCache a: L2 URL 'http://x' is not memcache://", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache l2=redis://h:1 "
                      "l2-pool=4,2,8", h.seg), "ShmcacheCache a: L2 pool 4,2,8", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache l1-ttl=5", h.seg),
         "need l2=memcache://", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache l2=memcache://h "
                      "l2-timeout=0", h.seg), "l2-timeout=0: milliseconds", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache size=10X", h.seg),
         "ShmcacheCache a: size=10X: bad unit 'X'", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/nodir/a.cache", h.seg),
         "does not exist", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache", ro_dir),
         "is not writable", 1);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache\n"
                      "ShmcacheCache b %s/a.cache", h.seg, h.seg),
         "ShmcacheCache b: path", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache\n"
                      "ShmcacheCache a %s/b.cache", h.seg, h.seg),
         "ShmcacheCache: a cache named 'a' is already declared", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache ttl=soon", h.seg),
         "ShmcacheCache a: ttl=soon", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache mode=0777", h.seg),
         "ShmcacheCache a: mode=0777", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache user=no-such-user-x",
                      h.seg), "ShmcacheCache a: user=no-such-user-x: no such user", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache size=1M max-value=1M",
                      h.seg), "do not fit in size", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a %s/a.cache colour=blue", h.seg),
         "ShmcacheCache a: unknown option 'colour'", 0);
    CASE(apr_psprintf(th_pool, "ShmcacheCache a"), "needs a name and a path", 0);
    /* consumers that create their socache at parse time (mod_ssl) */
    CASE(apr_psprintf(th_pool, "%sSSLSessionCache shmcache:%s/x.cache(12Q)",
                      load("ssl", "mod_ssl.so"), h.seg),
         "invalid size '12Q': bad unit 'Q'", 0);
    CASE(apr_psprintf(th_pool, "%sSSLSessionCache shmcache:%s/x.cache(0)",
                      load("ssl", "mod_ssl.so"), h.seg),
         "the size must be between", 0);
    CASE(apr_psprintf(th_pool, "%sSSLSessionCache shmcache:%s/nodir/x.cache(1M)",
                      load("ssl", "mod_ssl.so"), h.seg),
         "does not exist", 0);
#undef CASE
    for (i = 0; i < n; i++) {
        const char *argv[12];
        int k = 0;
        write_conf(&h, 0, NULL, cases[i].line);
        if (cases[i].as_user && is_root()) {
            /* root may write anywhere: check as the children's user */
            argv[k++] = SETPRIV_BIN;
            argv[k++] = "--reuid=" RUN_USER;
            argv[k++] = "--regid=" RUN_GROUP;
            argv[k++] = "--clear-groups";
            argv[k++] = "--";
        }
        argv[k++] = SC_HTTPD_BIN;
        argv[k++] = "-t";
        argv[k++] = "-f";
        argv[k++] = h.conf;
        argv[k] = NULL;
        code = run_cmd(30, argv, &out, &err);
        CHECK(&h, code != 0 && strstr(err, cases[i].want) != NULL,
              "apache2 -t for '%s' exited %d; wanted '%s' in:\n%s%s",
              cases[i].line, code, cases[i].want, err, out);
    }
    /* and a good configuration passes */
    write_conf(&h, WITH_API, "size=1M ttl=1h max-key=100 max-value=100K "
               "buckets=1000 slots=64 mode=0640 user=" RUN_USER " group="
               RUN_GROUP " lock-timeout=500", NULL);
    {
        const char *argv[] = {SC_HTTPD_BIN, "-t", "-f", h.conf, NULL};
        code = run_cmd(30, argv, &out, &err);
        CHECK(&h, code == 0 && strstr(err, "Syntax OK"), "good config: %d %s",
              code, err);
    }
done:
    chmod(ro_dir, 0755);
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* ---- cache names that no ShmcacheCache declares ------------------------ */

/* The configuration of the unknown-name cases: a declared cache "main",
 * the socache consumers' modules, and line (which names "nosuch"). */
static void write_unknown_name_conf(httpd_t *h, const char *line)
{
    write_conf(h, 0, NULL, apr_pstrcat(th_pool,
        load("cache", "mod_cache.so"),
        load("cache_socache", "mod_cache_socache.so"),
        load("ssl", "mod_ssl.so"),
        load("authn_socache", "mod_authn_socache.so"),
        apr_psprintf(th_pool, "ShmcacheCache main %s/main.cache size=1M\n"
                     "<Location /kv>\n  SetHandler shmcache-api\n"
                     "  ShmcacheAPICache main\n</Location>\n", h->seg),
        line, NULL));
}

/* "CONF:N" where N is the line of the configuration that starts with
 * directive (the last such line), or NULL. */
static const char *conf_place(httpd_t *h, const char *directive)
{
    char *text = slurp_file(h->conf), *line, *last;
    const char *found = NULL;
    int n = 0;

    for (line = apr_strtok(text, "\n", &last); line != NULL;
         line = apr_strtok(NULL, "\n", &last)) {
        n++;
        while (*line == ' ')
            line++;
        if (strncmp(line, directive, strlen(directive)) == 0
            && line[strlen(directive)] == ' ')
            found = apr_psprintf(th_pool, "%s:%d", h->conf, n);
    }
    return found;
}

/* `apache2 -t` refuses each form that names an undeclared cache, naming
 * the directive, its file:line and the name; a graceful restart asked for
 * with such a configuration (`apache2 -k graceful`) is refused by the
 * signalling process, and the running server keeps serving. */
START_TEST(an_unknown_cache_name_fails_the_config_test_and_graceful_keeps_serving)
{
    static const char *const forms[][2] = {
        {"CacheSocache", "CacheSocache shmcache:nosuch"},
        {"SSLSessionCache", "SSLSessionCache shmcache:nosuch"},
        {"AuthnCacheSOCache", "AuthnCacheSOCache shmcache:nosuch"},
        {"ShmcacheAPICache", "<Location /other>\n  SetHandler shmcache-api\n"
                             "  ShmcacheAPICache nosuch\n</Location>"},
        /* inside a container */
        {"CacheSocache", "<VirtualHost 127.0.0.1:80>\n"
                         "  CacheSocache shmcache:nosuch\n</VirtualHost>"},
    };
    const char *argv[8];
    char *out = NULL, *err = NULL;
    httpd_t h;
    resp_t r;
    pid_t parent;
    size_t i;
    int code;

    httpd_init(&h, "event");
    for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        const char *place;
        write_unknown_name_conf(&h, forms[i][1]);
        place = conf_place(&h, forms[i][0]);
        CHECK(&h, place != NULL, "no %s line in the configuration", forms[i][0]);
        argv[0] = SC_HTTPD_BIN; argv[1] = "-t"; argv[2] = "-f";
        argv[3] = h.conf; argv[4] = NULL;
        code = run_cmd(30, argv, &out, &err);
        CHECK(&h, code != 0 && strstr(err, forms[i][0]) && strstr(err, place)
              && strstr(err, "'nosuch'"),
              "apache2 -t for '%s' exited %d; wanted %s, %s and 'nosuch' in:\n%s%s",
              forms[i][1], code, forms[i][0], place, err, out);
    }
    /* the same configuration with the name declared passes */
    argv[0] = SC_HTTPD_BIN; argv[1] = "-t"; argv[2] = "-f";
    argv[3] = h.conf; argv[4] = NULL;
    write_unknown_name_conf(&h, apr_psprintf(th_pool, "ShmcacheCache nosuch "
                                             "%s/nosuch.cache size=1M\n%s",
                                             h.seg, forms[0][1]));
    code = run_cmd(30, argv, &out, &err);
    CHECK(&h, code == 0 && strstr(err, "Syntax OK"), "declared name: %d %s",
          code, err);

    /* graceful with a bad name: refused, the server keeps serving */
    write_unknown_name_conf(&h, "");
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    parent = h.pid;
    write_unknown_name_conf(&h, forms[0][1]);
    argv[0] = SC_HTTPD_BIN; argv[1] = "-k"; argv[2] = "graceful";
    argv[3] = "-f"; argv[4] = h.conf; argv[5] = NULL;
    code = run_cmd(30, argv, &out, &err);
    CHECK(&h, code != 0 && strstr(err, "'nosuch'"),
          "apache2 -k graceful exited %d:\n%s%s", code, err, out);
    apr_sleep(apr_time_from_sec(2));
    r = GET(&h, "/kv/anything");
    CHECK(&h, r.status == 404 && kill(parent, 0) == 0
          && count_in_file(h.errlog, "AH00020") == 0,
          "after the refused graceful the server answered %d%s", r.status,
          log_tail(&h));
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* ---- the status page --------------------------------------------------- */

/* The keys of the JSON objects at nesting depth `depth` of s (1: the
 * outer object's; 3: those of {"caches": [{...}]}), as a hash. A scanner
 * that knows strings, escapes and brackets: enough for the module's and
 * the CLI's output, both generated by the programs under test. */
static apr_hash_t *json_keys(const char *s, int depth)
{
    apr_hash_t *keys = apr_hash_make(th_pool);
    const char *p, *start, *q;
    int d = 0;

    for (p = s; *p != '\0'; p++) {
        if (*p == '{' || *p == '[')
            d++;
        else if (*p == '}' || *p == ']')
            d--;
        else if (*p == '"') {
            for (start = ++p; *p != '\0' && *p != '"'; p++)
                if (*p == '\\' && p[1] != '\0')
                    p++;
            if (*p == '\0')
                break;
            for (q = p + 1; *q == ' ' || *q == '\n'; q++)
                ;
            if (*q == ':' && d == depth)
                apr_hash_set(keys, apr_pstrndup(th_pool, start,
                                                (apr_size_t)(p - start)),
                             APR_HASH_KEY_STRING, "");
        }
    }
    return keys;
}

/* The keys of a that are not in b and not in the NULL-ended allowed
 * list, space-separated ("" when none). */
static const char *keys_missing(apr_hash_t *a, apr_hash_t *b,
                                const char *const *allowed)
{
    apr_hash_index_t *hi;
    const char *out = "";

    for (hi = apr_hash_first(th_pool, a); hi != NULL; hi = apr_hash_next(hi)) {
        const char *k = apr_hash_this_key(hi);
        const char *const *x;
        for (x = allowed; *x != NULL && strcmp(*x, k) != 0; x++)
            ;
        if (*x == NULL && apr_hash_get(b, k, APR_HASH_KEY_STRING) == NULL)
            out = apr_pstrcat(th_pool, out, " ", k, NULL);
    }
    return out;
}

#ifdef SC_CLI_PATH
/* The per-cache keys of ?json are the keys of `shmcache-cli stats --json`
 * on the same segment: both come from the library's list of figures.
 * Allowed extras, and only these: ?json's name, path, type, used_by (the
 * consumers), l2 (a second tier) and error; the CLI's path, version and
 * time (of the run). */
START_TEST(status_json_has_the_keys_of_cli_stats_json)
{
    static const char *const page_extras[] = {
        "name", "path", "type", "used_by", "l2", "error", NULL};
    static const char *const cli_extras[] = {"path", "version", "time", NULL};
    char *out = NULL, *err = NULL;
    apr_hash_t *page, *cli_keys;
    const char *only_page, *only_cli;
    httpd_t h;
    resp_t r;
    int code;

    httpd_init(&h, "event");
    write_conf(&h, WITH_API, "size=4M", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    r = GET(&h, "/status?json&cache=main");
    CHECK(&h, r.status == 200, "?json answered %d", r.status);
    code = cli(apr_pstrcat(th_pool, h.seg, "/main.cache", NULL), &out, &err,
               "stats", "--json", NULL);
    CHECK(&h, code == 0, "shmcache-cli stats --json exited %d: %s", code, err);
    page = json_keys(r.body, 3);
    cli_keys = json_keys(out, 1);
    only_page = keys_missing(page, cli_keys, page_extras);
    only_cli = keys_missing(cli_keys, page, cli_extras);
    CHECK(&h, apr_hash_count(page) > 40 && *only_page == '\0'
          && *only_cli == '\0',
          "%u keys in ?json, %u in the CLI's; only in ?json:%s; only in the "
          "CLI's:%s", apr_hash_count(page), apr_hash_count(cli_keys),
          only_page, only_cli);
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST
#endif

/* How many times needle is in s. */
static int count_in(const char *s, const char *needle)
{
    int n = 0;

    for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
        n++;
    return n;
}

/* Allow of a 405 names what the location allows. */
static int allows(const resp_t *r, const char *method)
{
    const char *allow = hdr(r, "Allow"), *p = strstr(allow, method);
    size_t n = strlen(method);

    return p != NULL && (p == allow || p[-1] == ',' || p[-1] == ' ')
        && (p[n] == '\0' || p[n] == ',');
}

/* A consumer with one socache instance per server (mod_cache_socache, a
 * virtual host besides the main server) on the declared cache "main". */
static const char *shared_cache_conf(httpd_t *h)
{
    return apr_pstrcat(th_pool, load("cache", "mod_cache.so"),
                       load("cache_socache", "mod_cache_socache.so"),
                       "CacheSocache shmcache:main\nCacheEnable socache /cgi/\n",
                       apr_psprintf(th_pool, "<VirtualHost 127.0.0.1:%d>\n"
                                    "  ServerName other\n</VirtualHost>",
                                    h->port), NULL);
}

/* The status page's small promises: ?cache= of an unknown name is 404;
 * the 405s carry an Allow header that lists the allowed methods; a
 * consumer with several instances is named once (used_by, a JSON array);
 * server-status?auto prints a cache's block once; a writer pid of 0
 * reads "none"; socache segments are prepared in one startup pass. */
START_TEST(status_page_names_each_cache_and_consumer_once)
{
    httpd_t h;
    resp_t r;

    httpd_init(&h, "event");
    write_conf(&h, WITH_API | WITH_API_EXTRAS, "size=4M", shared_cache_conf(&h));
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));

    r = GET(&h, "/status?cache=nope");
    CHECK(&h, r.status == 404, "?cache=nope answered %d", r.status);
    r = GET(&h, "/status?cache=main&auto");
    CHECK(&h, r.status == 200 && strstr(r.body, "CacheName: main\n"),
          "?cache=main answered %d", r.status);

    r = http(&h, 0, "PATCH", "/kv/k", NULL, "x", 1);
    CHECK(&h, r.status == 405 && allows(&r, "GET") && allows(&r, "PUT")
          && allows(&r, "DELETE") && allows(&r, "POST"),
          "PATCH /kv: %d, Allow '%s'", r.status, hdr(&r, "Allow"));
    r = PUT(&h, "/ro/k", NULL, "x");
    CHECK(&h, r.status == 405 && allows(&r, "GET") && !allows(&r, "PUT"),
          "PUT on a read-only location: %d, Allow '%s'", r.status,
          hdr(&r, "Allow"));
    r = http(&h, 0, "POST", "/status", NULL, "x", 1);
    CHECK(&h, r.status == 405 && allows(&r, "GET") && !allows(&r, "POST"),
          "POST /status: %d, Allow '%s'", r.status, hdr(&r, "Allow"));

    r = GET(&h, "/status?json");
    CHECK(&h, strstr(r.body, "\"used_by\": [\"socache:cache-socache\"]"),
          "used_by of main in ?json:\n%s", r.body);
    r = GET(&h, "/status");
    CHECK(&h, strstr(r.body, "used by socache:cache-socache</p>")
          && strstr(r.body, "data-k=\"writer_pid\" data-v=\"0\">none</span>"),
          "the page's consumers or writer pid:\n%.3000s", r.body);
    r = GET(&h, "/server-status?auto");
    CHECK(&h, count_in(r.body, "CacheName: main\n") == 1
          && strstr(r.body, "CacheSharedWith: main\n"),
          "server-status?auto shows main %d times:\n%s",
          count_in(r.body, "CacheName: main\n"), r.body);
    /* two servers, one instance each, prepared in the second pass only */
    CHECK(&h, count_in_file(h.errlog, "socache ready for cache-socache") == 2,
          "socache instances were prepared %d times%s",
          count_in_file(h.errlog, "socache ready for cache-socache"),
          log_tail(&h));
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* The page shows the cache's uptime, and once a process shows it a second
 * time, rates per second since its previous view: the gets made between
 * two views of one process show as a rate above zero. */
START_TEST(status_page_shows_uptime_and_rates_since_the_last_view)
{
    const char *tile = "class=\"t\">Rates</div><div class=\"big\">";
    const char *rate;
    httpd_t h;
    resp_t r;
    int i, j;

    httpd_init(&h, "event");
    write_conf(&h, WITH_API, "size=4M", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    r = GET(&h, "/status");
    CHECK(&h, strstr(r.body, ">Uptime<") && strstr(r.body, "since the segment "
                                                  "was created"),
          "no uptime on the page:\n%.2000s", r.body);
    /* views until one process shows the page again (several serve it) */
    for (i = 0, rate = NULL; i < 40 && rate == NULL; i++) {
        for (j = 0; j < 5; j++)
            GET(&h, "/kv/some-key");
        r = GET(&h, "/status");
        rate = strstr(r.body, "/s</div><div class=\"sub\">gets; ");
    }
    CHECK(&h, rate != NULL, "no rates after %d views:\n%.3000s", i, r.body);
    rate = strstr(r.body, tile);
    CHECK(&h, rate != NULL && atof(rate + strlen(tile)) > 0
          && strstr(r.body, "<td class=\"rate\">"),
          "the rates show no gets:\n%.4000s", r.body);
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* The HTTP key API: GET/PUT/DELETE/increment, TTL, conditional stores,
 * binary keys from percent-encoding, the body limit, read-only, access
 * control, and nothing served where SetHandler is not given. */
START_TEST(api_handler_speaks_http)
{
    httpd_t h;
    resp_t r;
    char big[2001];
    const char *etag;

    httpd_init(&h, "event");
    write_conf(&h, WITH_API | WITH_API_EXTRAS, "size=4M", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));

    r = GET(&h, "/kv/missing");
    CHECK(&h, r.status == 404 && *hdr(&r, "X-Shmcache-Pid"), "miss: %d", r.status);
    r = GET(&h, "/kv/");
    CHECK(&h, r.status == 400, "empty key: %d", r.status);

    /* binary-safe keys: %2B, %01, %FF decode; '+' is another key (httpd
     * itself refuses %00 and %2F in a path before any handler) */
    r = PUT(&h, "/kv/a%2Bb%01%FFc", NULL, "binary key");
    CHECK(&h, r.status == 204, "PUT a+b\\1\\377c: %d", r.status);
    r = GET(&h, "/kv/a%2Bb%01%FFc");
    CHECK(&h, r.status == 200 && strcmp(r.body, "binary key") == 0, "GET: %d",
          r.status);
    r = GET(&h, "/kv/a+b");
    CHECK(&h, r.status == 404, "GET a+b: %d", r.status);
    r = GET(&h, "/kv/bad%zz");
    CHECK(&h, r.status == 400, "bad escape: %d", r.status);

    /* TTL by header and by query */
    r = PUT(&h, "/kv/short", "X-Shmcache-TTL: 1\r\n", "gone soon");
    CHECK(&h, r.status == 204, "PUT ttl=1: %d", r.status);
    r = GET(&h, "/kv/short");
    CHECK(&h, r.status == 200 && atoi(hdr(&r, "X-Shmcache-TTL")) <= 1,
          "GET short: %d ttl '%s'", r.status, hdr(&r, "X-Shmcache-TTL"));
    r = PUT(&h, "/kv/forever?ttl=forever", NULL, "stays");
    CHECK(&h, r.status == 204, "PUT forever: %d", r.status);
    r = GET(&h, "/kv/forever");
    CHECK(&h, strcmp(hdr(&r, "X-Shmcache-TTL"), "forever") == 0, "forever ttl '%s'",
          hdr(&r, "X-Shmcache-TTL"));
    r = PUT(&h, "/kv/x?ttl=abc", NULL, "x");
    CHECK(&h, r.status == 400, "bad ttl: %d", r.status);
    apr_sleep(apr_time_from_msec(2300));
    r = GET(&h, "/kv/short");
    CHECK(&h, r.status == 404, "expired key answered %d", r.status);

    /* conditional stores */
    r = PUT(&h, "/kv/forever", "If-None-Match: *\r\n", "again");
    CHECK(&h, r.status == 412, "add over an existing key: %d", r.status);
    r = GET(&h, "/kv/forever");
    etag = apr_pstrdup(th_pool, hdr(&r, "ETag"));
    r = PUT(&h, "/kv/forever", "If-Match: \"999999\"\r\n", "wrong version");
    CHECK(&h, r.status == 412, "cas with a wrong version: %d", r.status);
    r = PUT(&h, "/kv/forever", apr_psprintf(th_pool, "If-Match: %s\r\n", etag),
            "right version");
    CHECK(&h, r.status == 204, "cas with %s: %d", etag, r.status);
    r = GET(&h, "/kv/forever");
    CHECK(&h, strcmp(r.body, "right version") == 0, "after cas '%s'", r.body);

    /* delete */
    r = http(&h, 0, "DELETE", "/kv/forever", NULL, NULL, 0);
    CHECK(&h, r.status == 204, "DELETE: %d", r.status);
    r = http(&h, 0, "DELETE", "/kv/forever", NULL, NULL, 0);
    CHECK(&h, r.status == 404, "second DELETE: %d", r.status);

    /* increment */
    r = http(&h, 0, "POST", "/kv/n?incr", NULL, NULL, 0);
    CHECK(&h, r.status == 404, "incr of a missing key: %d", r.status);
    r = http(&h, 0, "POST", "/kv/n?incr=5&initial=10", NULL, NULL, 0);
    CHECK(&h, r.status == 200 && strcmp(r.body, "10\n") == 0, "incr initial: %d '%s'",
          r.status, r.body);
    r = http(&h, 0, "POST", "/kv/n?incr=5", NULL, NULL, 0);
    CHECK(&h, r.status == 200 && strcmp(r.body, "15\n") == 0, "incr: '%s'", r.body);
    r = http(&h, 0, "POST", "/kv/n?decr=20", NULL, NULL, 0);
    CHECK(&h, r.status == 200 && strcmp(r.body, "0\n") == 0, "decr: '%s'", r.body);
    r = http(&h, 0, "POST", "/kv/a%2Bb%01%FFc?incr", NULL, NULL, 0);
    CHECK(&h, r.status == 409, "incr of text: %d", r.status);
    r = http(&h, 0, "POST", "/kv/n", NULL, NULL, 0);
    CHECK(&h, r.status == 400, "POST without incr: %d", r.status);

    /* body limit */
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    r = PUT(&h, "/small/big", NULL, big);
    CHECK(&h, r.status == 413, "2000 bytes over a 1K limit: %d", r.status);
    r = PUT(&h, "/small/fits", NULL, "tiny");
    CHECK(&h, r.status == 204, "small PUT: %d", r.status);

    /* read-only location, access control, methods */
    r = PUT(&h, "/ro/k", NULL, "no");
    CHECK(&h, r.status == 405, "PUT on a read-only location: %d", r.status);
    r = GET(&h, "/ro/fits");
    CHECK(&h, r.status == 200 && strcmp(r.body, "tiny") == 0, "GET on ro: %d", r.status);
    r = GET(&h, "/denied/fits");
    CHECK(&h, r.status == 403, "Require all denied: %d", r.status);
    r = http(&h, 0, "PATCH", "/kv/n", NULL, "x", 1);
    CHECK(&h, r.status == 405, "PATCH: %d", r.status);

    /* no SetHandler, no API */
    r = PUT(&h, "/elsewhere/k", NULL, "should not be stored");
    CHECK(&h, r.status != 204, "PUT outside the API location answered %d", r.status);
    r = GET(&h, "/kv/k");
    CHECK(&h, r.status == 404, "a PUT outside the API stored a key");
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* ---- leases through the key API ---------------------------------------- */

#define LEASE_GETS 8

/* Send GET path on n new connections at once. @return how many were sent
 * (a failed connection is NULL in socks). */
static int send_all(httpd_t *h, apr_socket_t **socks, int n, const char *path)
{
    int i, sent = 0;

    for (i = 0; i < n; i++) {
        socks[i] = http_connect(h->port);
        if (socks[i] != NULL && http_send(socks[i], "GET", path, NULL, NULL, 0))
            sent++;
    }
    return sent;
}

/* Which of socks have an answer to read within ms: readable[i] set.
 * @return their number. */
static int answered(apr_socket_t **socks, int n, int ms, int *readable)
{
    apr_pollfd_t pfd[LEASE_GETS];
    apr_int32_t got = 0;
    int i, count = 0;

    for (i = 0; i < n; i++) {
        memset(&pfd[i], 0, sizeof pfd[i]);
        pfd[i].p = th_pool;
        pfd[i].desc_type = APR_POLL_SOCKET;
        pfd[i].reqevents = APR_POLLIN;
        pfd[i].desc.s = socks[i];
        readable[i] = 0;
    }
    apr_poll(pfd, n, &got, apr_time_from_msec(ms));
    for (i = 0; i < n; i++)
        if (pfd[i].rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR)) {
            readable[i] = 1;
            count++;
        }
    return count;
}

/* Concurrent GET ?lease=1 of a missing key: exactly one answers at once,
 * 404 with X-Shmcache-Lease; the others wait; a PUT with that token
 * completes the lease and every waiter gets the value; the status page
 * counts it the same way in ?json, ?auto and HTML. */
START_TEST(concurrent_lease_gets_have_one_winner_whose_put_reaches_the_waiters)
{
    httpd_t h;
    apr_socket_t *socks[LEASE_GETS];
    int readable[LEASE_GETS], winner = -1, i, n;
    const char *value = "computed by the winner", *token;
    resp_t r;

    httpd_init(&h, mpms[_i]);
    write_conf(&h, WITH_API, "size=4M", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    n = send_all(&h, socks, LEASE_GETS, "/kv/popular?lease=1&wait=20000");
    CHECK(&h, n == LEASE_GETS, "only %d requests sent", n);
    /* the winner answers at once; give the others time to answer too if
     * they wrongly would */
    CHECK(&h, answered(socks, LEASE_GETS, 10000, readable) >= 1,
          "no GET ?lease=1 answered%s", log_tail(&h));
    apr_sleep(apr_time_from_msec(700));
    CHECK(&h, answered(socks, LEASE_GETS, 0, readable) == 1,
          "%d GETs answered before the PUT", answered(socks, LEASE_GETS, 0,
                                                      readable));
    for (i = 0; i < LEASE_GETS; i++)
        if (readable[i])
            winner = i;
    http_read(socks[winner], &r);
    token = apr_pstrdup(th_pool, hdr(&r, "X-Shmcache-Lease"));
    CHECK(&h, r.status == 404 && *token != '\0',
          "the winner got %d, lease '%s'", r.status, token);
    r = PUT(&h, apr_psprintf(th_pool, "/kv/popular?lease=%s&ttl=60", token),
            NULL, value);
    CHECK(&h, r.status == 204, "PUT ?lease=%s answered %d%s", token, r.status,
          log_tail(&h));
    for (i = 0; i < LEASE_GETS; i++) {
        if (i == winner)
            continue;
        http_read(socks[i], &r);
        CHECK(&h, r.status == 200 && strcmp(r.body, value) == 0
              && *hdr(&r, "X-Shmcache-Lease") == '\0',
              "waiter %d got %d '%s' lease '%s'", i, r.status, r.body,
              hdr(&r, "X-Shmcache-Lease"));
    }
    r = GET(&h, "/status?json");
    CHECK(&h, strstr(r.body, "\"leases_granted\": 1,") != NULL
          && strstr(r.body, "\"lease_timeouts\": 0,") != NULL
          && strstr(r.body, "\"lease_waits\": 0,") == NULL,
          "status?json counts: %s", r.body);
    r = GET(&h, "/status?auto");
    CHECK(&h, status_value(r.body, "main", "CacheLeasesGranted") == 1
          && status_value(r.body, "main", "CacheLeaseWaits") >= 1
          && status_value(r.body, "main", "CacheLeasesDead") == 0,
          "status?auto counts:\n%s", r.body);
    r = GET(&h, "/status");
    CHECK(&h, strstr(r.body, "data-k=\"leases_granted\" data-v=\"1\"") != NULL
          && strstr(r.body, "data-k=\"stale_answers\"") != NULL,
          "the status page has no lease row");
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* The other outcomes of a lease: a waiter's bound (504), a holder that
 * gives up (DELETE: the waiters get 502), a stale value served with
 * X-Shmcache-Stale while one caller refreshes it, bad tokens and
 * parameters, and read-only locations refusing the lease. */
START_TEST(lease_timeouts_failures_and_stale_values_over_http)
{
    httpd_t h;
    apr_socket_t *socks[2];
    const char *token;
    resp_t r, w;

    httpd_init(&h, "event");
    write_conf(&h, WITH_API | WITH_API_EXTRAS, "size=4M", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));

    r = GET(&h, "/kv/slow?lease=1");
    token = apr_pstrdup(th_pool, hdr(&r, "X-Shmcache-Lease"));
    CHECK(&h, r.status == 404 && *token, "first lease GET: %d", r.status);
    r = GET(&h, "/kv/slow?lease=1&wait=200");
    CHECK(&h, r.status == 504 && *hdr(&r, "X-Shmcache-Lease") == '\0',
          "a waiter past its bound got %d", r.status);
    /* the holder gives up: a waiting caller hears it at once */
    send_all(&h, socks, 1, "/kv/slow?lease=1&wait=20000");
    apr_sleep(apr_time_from_msec(300));
    r = http(&h, 0, "DELETE", apr_psprintf(th_pool, "/kv/slow?lease=%s", token),
             NULL, NULL, 0);
    CHECK(&h, r.status == 204, "DELETE ?lease answered %d", r.status);
    http_read(socks[0], &w);
    CHECK(&h, w.status == 502, "a waiter for a failed lease got %d", w.status);
    r = http(&h, 0, "DELETE", "/kv/slow?lease=999999", NULL, NULL, 0);
    CHECK(&h, r.status == 404, "DELETE with a token never granted: %d",
          r.status);

    /* stale-while-revalidate: fresh 2 s, then stale for 60 s */
    r = GET(&h, "/kv/page?lease=1");
    token = apr_pstrdup(th_pool, hdr(&r, "X-Shmcache-Lease"));
    r = PUT(&h, apr_psprintf(th_pool, "/kv/page?lease=%s&ttl=2&stale=60",
                             token), NULL, "v1");
    CHECK(&h, r.status == 204, "PUT ttl=2 stale=60: %d", r.status);
    r = GET(&h, "/kv/page?lease=1");
    CHECK(&h, r.status == 200 && strcmp(r.body, "v1") == 0
          && *hdr(&r, "X-Shmcache-Stale") == '\0', "fresh: %d", r.status);
    apr_sleep(apr_time_from_msec(3100));
    r = GET(&h, "/kv/page?lease=1");
    token = apr_pstrdup(th_pool, hdr(&r, "X-Shmcache-Lease"));
    CHECK(&h, r.status == 200 && strcmp(r.body, "v1") == 0 && *token
          && strcmp(hdr(&r, "X-Shmcache-Stale"), "1") == 0,
          "the refresher got %d '%s' lease '%s'", r.status, r.body, token);
    r = GET(&h, "/kv/page?lease=1");
    CHECK(&h, r.status == 200 && strcmp(r.body, "v1") == 0
          && strcmp(hdr(&r, "X-Shmcache-Stale"), "1") == 0
          && *hdr(&r, "X-Shmcache-Lease") == '\0',
          "another caller during the refresh got %d", r.status);
    r = PUT(&h, apr_psprintf(th_pool, "/kv/page?lease=%s&ttl=60", token),
            NULL, "v2");
    r = GET(&h, "/kv/page?lease=1");
    CHECK(&h, r.status == 200 && strcmp(r.body, "v2") == 0
          && *hdr(&r, "X-Shmcache-Stale") == '\0', "refreshed: '%s'", r.body);

    /* malformed, and read-only */
    r = GET(&h, "/kv/page?lease=2");
    CHECK(&h, r.status == 400, "lease=2: %d", r.status);
    r = GET(&h, "/kv/x?lease=1&wait=999999");
    CHECK(&h, r.status == 400, "wait over the ceiling: %d", r.status);
    r = PUT(&h, "/kv/page?lease=abc", NULL, "x");
    CHECK(&h, r.status == 400, "a bad token: %d", r.status);
    r = GET(&h, "/ro/fresh?lease=1");
    CHECK(&h, r.status == 403, "lease on a read-only location: %d", r.status);
done:
    httpd_stop(&h);
    httpd_done(&h);
    ck_assert_msg(h.fail == NULL, "%s", h.fail);
}
END_TEST

/* ------------------------------------------------------------------------
 * Two servers sharing a second tier (memcached or Redis)
 * ---------------------------------------------------------------------- */

/* Start memcached (kind 0) or redis-server (kind 1) on a free port, under
 * setpriv --pdeathsig so it dies with this test process. */
static pid_t l2_start(int kind, int *port)
{
    const char *p;
    pid_t pid;
    int i;

    *port = free_port();
    p = apr_itoa(th_pool, *port);
    pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 1);
        dup2(fd, 2);
        if (kind == 0)
            execl("/usr/bin/setpriv", "setpriv", "--pdeathsig", "KILL", "--",
                  "/usr/bin/memcached", "-u", "root", "-l", "127.0.0.1", "-p", p,
                  "-U", "0", "-t", "1", (char *)NULL);
        else
            execl("/usr/bin/setpriv", "setpriv", "--pdeathsig", "KILL", "--",
                  "/usr/bin/redis-server", "--port", p, "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--protected-mode", "no",
                  (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 250 && pid > 0 && !port_answers(*port); i++)
        apr_sleep(apr_time_from_msec(20));
    return pid;
}

/* The TLS part of a tiered server: the session cache is the declared
 * cache "main" (with its L2); both servers use one certificate and one
 * ServerName, as servers behind one balancer do. */
static const char *tier_tls_conf(httpd_t *h, const char *certdir)
{
    return apr_pstrcat(th_pool, load("ssl", "mod_ssl.so"),
        apr_psprintf(th_pool,
            "Listen 127.0.0.1:%d\n"
            "SSLSessionCache shmcache:main\n"
            "SSLSessionCacheTimeout 300\n"
            "<VirtualHost 127.0.0.1:%d>\n  ServerName shared.test:443\n"
            "  SSLEngine on\n"
            "  SSLCertificateFile %s/crt.pem\n"
            "  SSLCertificateKeyFile %s/key.pem\n"
            "  SSLProtocol TLSv1.2\n  SSLSessionTickets off\n"
            "</VirtualHost>\n", h->tls_port, h->tls_port, certdir, certdir), NULL);
}

/* Two httpd (own ports, own segments) over one L2: a TLS session made on
 * one is resumed on the other, and a key PUT on one is read on the other. */
START_TEST(two_servers_share_sessions_and_keys_through_l2)
{
    httpd_t a, b;
    const char *opts, *sess;
    char *out = NULL, *err = NULL;
    int code, l2_port = 0;
    pid_t l2 = 0;
    resp_t r;

    httpd_init(&a, "event");
    httpd_init(&b, "event");
    b.fail = NULL;
    l2 = l2_start(_i, &l2_port);
    CHECK(&a, l2 > 0 && port_answers(l2_port), "the L2 server did not start");
    {
        const char *args[] = {OPENSSL_BIN, "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", apr_pstrcat(th_pool, a.dir, "/key.pem", NULL),
            "-out", apr_pstrcat(th_pool, a.dir, "/crt.pem", NULL),
            "-days", "2", "-subj", "/CN=shared.test", NULL};
        code = run_cmd(30, args, &out, &err);
        CHECK(&a, code == 0, "openssl req exited %d: %s", code, err);
    }
    opts = apr_psprintf(th_pool, "size=4M l2=%s://127.0.0.1:%d l2-timeout=50 "
                        "l1-ttl=2 l2-pool=0,2,4,5000",
                        _i == 0 ? "memcache" : "redis", l2_port);
    write_conf(&a, WITH_API, opts, tier_tls_conf(&a, a.dir));
    write_conf(&b, WITH_API, opts, tier_tls_conf(&b, a.dir));
    CHECK(&a, httpd_start(&a), "httpd A did not start%s", log_tail(&a));
    CHECK(&a, httpd_start(&b), "httpd B did not start%s", log_tail(&b));

    /* TLS: handshake on A, resume on B */
    sess = apr_pstrcat(th_pool, a.dir, "/session.pem", NULL);
    {
        const char *args[] = {OPENSSL_BIN, "s_client", "-connect",
            apr_psprintf(th_pool, "127.0.0.1:%d", a.tls_port), "-tls1_2",
            "-no_ticket", "-servername", "shared.test", "-sess_out", sess, NULL};
        code = run_cmd(30, args, &out, &err);
        CHECK(&a, strstr(out, "New, TLSv1.2") != NULL,
              "s_client on A exited %d:\n%.1500s\n%s%s", code, out, err, log_tail(&a));
    }
    {
        const char *args[] = {OPENSSL_BIN, "s_client", "-connect",
            apr_psprintf(th_pool, "127.0.0.1:%d", b.tls_port), "-tls1_2",
            "-no_ticket", "-servername", "shared.test", "-sess_in", sess, NULL};
        code = run_cmd(30, args, &out, &err);
        CHECK(&a, strstr(out, "Reused, TLSv1.2") != NULL,
              "B did not resume A's session (s_client exited %d):\n%.600s\n%.300s%s",
              code, out, err, log_tail(&b));
    }

    /* the key API */
    r = PUT(&a, "/kv/shared", NULL, "written on A");
    CHECK(&a, r.status == 204, "PUT on A: %d", r.status);
    r = GET(&b, "/kv/shared");
    CHECK(&a, r.status == 200 && strcmp(r.body, "written on A") == 0,
          "GET on B: %d '%s'%s", r.status, r.body, log_tail(&b));
    r = http(&a, 0, "POST", "/kv/visits?incr=1&initial=0", NULL, NULL, 0);
    CHECK(&a, r.status == 200, "incr on A: %d", r.status);
    r = http(&b, 0, "POST", "/kv/visits?incr=5", NULL, NULL, 0);
    CHECK(&a, r.status == 200 && strcmp(r.body, "5\n") == 0, "incr on B: %d '%s'",
          r.status, r.body);
    r = GET(&b, "/status?json");
    CHECK(&a, strstr(r.body, "\"l2\": {") != NULL, "no l2 in ?json:\n%s", r.body);
    {
        const char *py[] = {"/usr/bin/python3", "-c",
            "import json,sys; d=json.load(sys.stdin); "
            "c=[x for x in d['caches'] if 'l2' in x][0]; "
            "sys.exit(0 if c['l2']['l2_hits'] + c['l2']['l1_hits'] >= 0 else 1)", NULL};
        code = th_run(py, r.body, strlen(r.body), NULL, NULL, &err);
        CHECK(&a, code == 0, "?json with l2 is not valid JSON (%s):\n%.1500s", err, r.body);
    }

    /* L2 gone: both still answer, from their own segment, at once */
    kill(l2, SIGKILL);
    waitpid(l2, &code, 0);
    l2 = 0;
    {
        apr_time_t start = apr_time_now();
        r = PUT(&a, "/kv/local", NULL, "only here");
        CHECK(&a, r.status == 204, "PUT with L2 down: %d", r.status);
        r = GET(&a, "/kv/local");
        CHECK(&a, r.status == 200, "GET with L2 down: %d", r.status);
        r = GET(&b, "/kv/never");
        CHECK(&a, r.status == 404, "GET of a missing key with L2 down: %d", r.status);
        CHECK(&a, apr_time_now() - start < apr_time_from_msec(1000),
              "three requests with L2 down took %" APR_TIME_T_FMT " ms",
              apr_time_as_msec(apr_time_now() - start));
    }
done:
    if (l2 > 0) {
        kill(l2, SIGKILL);
        waitpid(l2, &code, 0);
    }
    httpd_stop(&a);
    httpd_stop(&b);
    httpd_done(&a);
    httpd_done(&b);
    ck_assert_msg(a.fail == NULL, "%s", a.fail);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("httpd");
    TCase *each = tcase_create("each_mpm");
    TCase *once = tcase_create("once");
    TCase *config = tcase_create("config");     /* apache2 -t and -k */
    TCase *status = tcase_create("status");     /* the status page */

    tcase_add_checked_fixture(each, th_setup, th_teardown);
    tcase_add_checked_fixture(once, th_setup, th_teardown);
    tcase_add_checked_fixture(config, th_setup, th_teardown);
    tcase_add_checked_fixture(status, th_setup, th_teardown);
    tcase_set_timeout(config, 120);
    tcase_set_timeout(status, 120);
    tcase_set_timeout(each, 120);
    tcase_set_timeout(once, 120);
    tcase_add_loop_test(each, put_value_is_read_by_many_children_and_the_cli, 0, 3);
    tcase_add_loop_test(each, cache_socache_serves_the_second_request_from_shmcache, 0, 3);
    tcase_add_loop_test(each, ssl_session_is_resumed_through_shmcache, 0, 3);
    tcase_add_loop_test(each, graceful_restart_keeps_values_and_a_new_size_recreates, 0, 3);
    tcase_add_loop_test(each, killed_httpd_leaves_a_segment_that_the_next_start_reuses, 0, 3);
    tcase_add_loop_test(each, a_root_only_segment_serves_every_child_through_the_inherited_mapping, 0, 3);
    tcase_add_loop_test(each, concurrent_lease_gets_have_one_winner_whose_put_reaches_the_waiters, 0, 3);
    tcase_add_test(config, configtest_rejects_each_bad_directive);
    tcase_add_test(config, an_unknown_cache_name_fails_the_config_test_and_graceful_keeps_serving);
#ifdef SC_CLI_PATH
    tcase_add_test(status, status_json_has_the_keys_of_cli_stats_json);
#endif
    tcase_add_test(status, status_page_names_each_cache_and_consumer_once);
    tcase_add_test(status, status_page_shows_uptime_and_rates_since_the_last_view);
    tcase_add_test(once, api_handler_speaks_http);
    tcase_add_test(once, a_symlink_swapped_in_during_a_graceful_restart_is_not_followed);
    tcase_add_test(once, a_world_writable_mode_needs_the_explicit_opt_in);
    tcase_add_test(once, a_segment_truncated_under_httpd_does_not_kill_the_parent);
    tcase_add_test(once, a_writer_killed_holding_the_lock_is_logged_as_a_recovery);
    tcase_add_test(once, a_child_written_hostile_chain_does_not_hang_the_parent);
    tcase_add_test(once, lease_timeouts_failures_and_stale_values_over_http);
    /* a tcase of its own: CK_RUN_CASE=l2 runs it alone */
    if (access("/usr/bin/memcached", X_OK) == 0 && access("/usr/bin/redis-server", X_OK) == 0) {
        TCase *l2 = tcase_create("l2");
        tcase_add_checked_fixture(l2, th_setup, th_teardown);
        tcase_set_timeout(l2, 120);
        tcase_add_loop_test(l2, two_servers_share_sessions_and_keys_through_l2, 0, 2);
        suite_add_tcase(s, l2);
    }
    suite_add_tcase(s, each);
    suite_add_tcase(s, once);
    suite_add_tcase(s, config);
    suite_add_tcase(s, status);
    return s;
}

/* The first free allocator block of the data region at least bytes
 * long, marked used (as a compromised child can): its payload, or NULL.
 * Blocks are one header granule (bit 31 of the first word: free; bits
 * 0-30: payload granules) followed by the payload (alloc.c). */
static char *grab_free_block(char *base, const sc_header_sh_t *h,
                             apr_uint64_t bytes)
{
    apr_uint64_t g = h->data_off / 8, end = (h->data_off + h->data_size) / 8;

    while (g + 2 <= end) {
        apr_uint32_t *w = (apr_uint32_t *)(void *)(base + g * 8);
        apr_uint64_t size = w[0] & 0x7FFFFFFFu;
        if (size == 0)
            return NULL;
        if ((w[0] & 0x80000000u) && size * 8 >= bytes) {
            w[0] &= 0x7FFFFFFFu;
            return base + (g + 1) * 8;
        }
        g += 1 + size;
    }
    return NULL;
}

/* Helper (as the children's user): path. Maps the live segment file as
 * a compromised child could and plants what no writer makes: in the
 * first non-empty chain, a copy of its first entry (the same key, in a
 * block taken from the free space) linked after it and to itself; every
 * other non-empty chain's first entry linked to itself; and a dead writer
 * (the writer word naming a free slot, the sequence odd), so that the
 * next process to lock must recover the lock and repair those chains. */
static int helper_plant_hostile_chains(int argc, const char *const *argv)
{
    struct stat sb;
    sc_header_sh_t *h;
    sc_lock_sh_t *lk;
    sc_slot_sh_t *slots;
    apr_uint32_t *buckets, b, i;
    char *base;
    int fd, planted = 0;

    if (argc < 1 || (fd = open(argv[0], O_RDWR)) < 0 || fstat(fd, &sb) != 0)
        return 2;
    base = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                fd, 0);
    if (base == MAP_FAILED)
        return 3;
    h = (sc_header_sh_t *)(void *)base;
    buckets = (apr_uint32_t *)(void *)(base + h->buckets_off);
    for (b = 0; b < h->nbuckets; b++) {
        apr_uint32_t g = buckets[b];
        sc_entry_sh_t *e = (sc_entry_sh_t *)(void *)(base + ((apr_uint64_t)g << 3));
        apr_uint64_t len = SC_ENTRY_HDR + e->key_len + e->value_len;
        char *copy;
        if (g == 0)
            continue;
        if (planted++ > 0) {
            e->next = g;
            continue;
        }
        copy = grab_free_block(base, h, len);
        if (copy == NULL)
            return 5;
        memcpy(copy, e, len);
        ((sc_entry_sh_t *)(void *)copy)->next = (apr_uint32_t)((copy - base) >> 3);
        e->next = (apr_uint32_t)((copy - base) >> 3);
    }
    lk = (sc_lock_sh_t *)(void *)(base + h->lock_off);
    slots = (sc_slot_sh_t *)(void *)(lk + 1);
    for (i = 0; i < h->nslots; i++)
        if (atomic_load(&slots[i].state) == SC_SLOT_FREE)
            break;
    if (i == h->nslots || planted == 0)
        return 4;
    atomic_store(&lk->writer, i + 1);
    atomic_fetch_or(&lk->seq, 1);
    munmap(base, (size_t)sb.st_size);
    close(fd);
    printf("planted a self-linked duplicate, %d self-linked chains and a "
           "dead writer\n", planted - 1);
    return 0;
}

const th_helper_t test_helpers[] = {
    {"hold_write_lock", helper_hold_write_lock},
    {"plant_hostile_chains", helper_plant_hostile_chains},
    {NULL, NULL}
};
