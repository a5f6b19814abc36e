/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpd_fixture.c - the shared httpd fixture of test_httpd and
 * test_httpd_api (httpd_fixture.h says what a test gets): soft checks,
 * files and commands, an HTTP/1.0 client, the configuration writer, the
 * server's start, stop, kill and graceful restart, the guard process that
 * cleans up after a test that dies, and shmcache-cli as the children's
 * user.
 *
 * Unix only: httpd tests run where apache2 runs.
 */
#include "httpd_fixture.h"

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const mpms[3] = {"prefork", "worker", "event"};

static void guard_start(httpd_t *h);
static void guard_tell(httpd_t *h, char tag, pid_t pid);

/* ------------------------------------------------------------------------
 * Soft checks
 * ---------------------------------------------------------------------- */

void fail_at(httpd_t *h, const char *file, int line, const char *fmt, ...)
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

/* ------------------------------------------------------------------------
 * Files and commands
 * ---------------------------------------------------------------------- */

char *slurp_file(const char *path)
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

void write_file(const char *path, const char *text, apr_fileperms_t perms)
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

int count_in(const char *s, const char *needle)
{
    int n = 0;

    for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
        n++;
    return n;
}

int count_in_file(const char *path, const char *needle)
{
    return count_in(slurp_file(path), needle);
}

int wait_for_text(const char *file, const char *needle, int seconds)
{
    int i;

    for (i = 0; i < seconds * 10; i++) {
        if (count_in_file(file, needle) > 0)
            return 1;
        usleep(100000);
    }
    return 0;
}

const char *log_tail(httpd_t *h)
{
    const char *s = slurp_file(h->errlog), *o = slurp_file(h->outlog);
    apr_size_t n = strlen(s);

    return apr_psprintf(th_pool, "\n--- error log tail ---\n%s\n--- stdout/err ---\n%s",
                        n > 1500 ? s + n - 1500 : s, o);
}

int run_cmd(int seconds, const char *const *args, char **out, char **err)
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

int is_root(void)
{
    return geteuid() == 0;
}

int free_port(void)
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

int make_cert(const char *dir, const char *cn, char **err)
{
    const char *args[] = {OPENSSL_BIN, "req", "-x509", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", apr_pstrcat(th_pool, dir, "/key.pem", NULL),
        "-out", apr_pstrcat(th_pool, dir, "/crt.pem", NULL),
        "-days", "2", "-subj", apr_pstrcat(th_pool, "/CN=", cn, NULL), NULL};
    char *out = NULL;

    return run_cmd(30, args, &out, err);
}

/* ------------------------------------------------------------------------
 * HTTP client (HTTP/1.0, one request per connection)
 * ---------------------------------------------------------------------- */

apr_socket_t *http_connect(int port)
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

int http_send(apr_socket_t *s, const char *method, const char *path,
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

void http_read(apr_socket_t *s, resp_t *r)
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

resp_t http(httpd_t *h, int port, const char *method, const char *path,
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

const char *hdr(const resp_t *r, const char *name)
{
    const char *v = apr_table_get(r->headers, name);
    return v ? v : "";
}

/* The value of key in the ?auto block of cache name, or -1. */
long status_value(const char *body, const char *name, const char *key)
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

const char *get_from_several_children(httpd_t *h, const char *url,
                                      const char *value)
{
    apr_hash_t *pids = apr_hash_make(th_pool);
    resp_t r;
    int round, i, ok = 0;

    for (round = 0; round < 5 && apr_hash_count(pids) < 2; round++) {
        apr_socket_t *socks[12];
        for (i = 0; i < 12; i++)
            socks[i] = http_connect(h->port);
        for (i = 0; i < 12; i++)
            if (socks[i] != NULL)
                http_send(socks[i], "GET", url, NULL, NULL, 0);
        for (i = 0; i < 12; i++) {
            if (socks[i] == NULL)
                continue;
            http_read(socks[i], &r);
            if (r.status != 200 || r.body_len != strlen(value)
                || memcmp(r.body, value, r.body_len) != 0)
                return apr_psprintf(th_pool, "concurrent GET %d answered %d "
                                    "'%s'%s", i, r.status, r.body, log_tail(h));
            if (*hdr(&r, "X-Shmcache-Pid") == '\0')
                return "no X-Shmcache-Pid";
            apr_hash_set(pids, apr_pstrdup(th_pool, hdr(&r, "X-Shmcache-Pid")),
                         APR_HASH_KEY_STRING, "");
            ok++;
        }
    }
    if (apr_hash_count(pids) < 2)
        return apr_psprintf(th_pool, "%d answers all came from %u process(es)",
                            ok, apr_hash_count(pids));
    return NULL;
}

/* ------------------------------------------------------------------------
 * The server
 * ---------------------------------------------------------------------- */

const char *load(const char *name, const char *file)
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
void write_conf(httpd_t *h, int what, const char *cache_opts,
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

void mkdir_0755(const char *path)
{
    ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
                  path, strerror(errno));
    chmod(path, 0755);
}

/* Fresh directories and ports for a server of mpm (nothing started). */
void httpd_init(httpd_t *h, const char *mpm)
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
void httpd_done(httpd_t *h)
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

int port_answers(int port)
{
    apr_socket_t *s = http_connect(port);

    if (s == NULL)
        return 0;
    apr_socket_close(s);
    return 1;
}

/* 1 when the server answers an HTTP request (any status) on its port. A
 * connection alone does not tell: httpd listens from its first reading of
 * the configuration, and reads it again (and may still fail, or still be
 * reading a file the test rewrites next) before a child serves. */
static int http_answers(httpd_t *h)
{
    return GET(h, "/httpd-fixture-probe").status != 0;
}

int httpd_start(httpd_t *h)
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
        if (port_answers(h->port) && http_answers(h))
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
void httpd_stop(httpd_t *h)
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
void httpd_kill9(httpd_t *h)
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
int httpd_graceful(httpd_t *h)
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

void httpd_end(httpd_t *h)
{
    httpd_stop(h);
    httpd_done(h);
    ck_assert_msg(h->fail == NULL, "%s", h->fail);
}

int httpd_configtest(httpd_t *h, int as_user, char **out, char **err)
{
    const char *argv[12];
    int k = 0;

    if (as_user && is_root()) {
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
    argv[k++] = h->conf;
    argv[k] = NULL;
    return run_cmd(30, argv, out, err);
}


TCase *httpd_group(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tc;
}

/* ------------------------------------------------------------------------
 * shmcache-cli, run as the children's user
 * ---------------------------------------------------------------------- */


#ifdef SC_CLI_PATH
/* shmcache-cli -f path args...; as root through setpriv as RUN_USER (what
 * an admin does), falling back to root with --allow-foreign-owner when the
 * build tree is not reachable by that user. */
int cli(const char *path, char **out, char **err, ...)
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
