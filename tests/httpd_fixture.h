/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpd_fixture.h - a real httpd (Debian's apache2) with mod_shmcache, for
 * the tests that drive the module: test_httpd.c (the server and its
 * segments) and test_httpd_api.c (directives, status page, key API).
 *
 * A test gets a fresh server with httpd_init (its own ServerRoot and
 * segment directory, two free ports on 127.0.0.1, a guard process),
 * writes a configuration with write_conf, starts `apache2 -f CONF
 * -DFOREGROUND` in its own process group with httpd_start, talks
 * HTTP/1.0 to it (every read bounded by a timeout), and ends with
 * httpd_end, which stops the server by pid (SIGTERM, then SIGKILL to the
 * group), removes the directories and fails the test on the first failed
 * CHECK.
 *
 * httpd is always stopped: CHECK records the first failure and jumps to
 * the test's `done:` label, which calls httpd_end; and the guard process,
 * forked by httpd_init in a session of its own, kills the running
 * server's process group and removes the test's directories as soon as
 * the test process goes away for any other reason (Check's timeout, a
 * crash). SHMCACHE_KEEP_HTTPD_DIRS=1 keeps the directories (configs,
 * error logs) for a post-mortem.
 *
 * Run as root (CI), httpd runs its children as RUN_USER/RUN_GROUP: the
 * module must hand the segments to that user, and shmcache-cli is run as
 * that user too (setpriv), as an admin would.
 *
 * The including target defines SC_HTTPD_BIN, SC_HTTPD_MODULES,
 * SC_MODULE_PATH, and optionally SC_EXAMPLE_MODULE_PATH and SC_CLI_PATH
 * (tests/httpd.cmake).
 */
#ifndef SC_TEST_HTTPD_FIXTURE_H
#define SC_TEST_HTTPD_FIXTURE_H

#include "harness.h"

#include <apr_network_io.h>
#include <apr_tables.h>

#include <sys/types.h>

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

/* The MPMs a loop test runs under, by its loop index _i. */
extern const char *const mpms[3];

/* ------------------------------------------------------------------------
 * One server under test, and soft checks
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

/* Record the first failure of h ("file:line: [mpm] message"). */
void fail_at(httpd_t *h, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* When cond is false: record the failure and jump to the test's `done:`. */
#define CHECK(h, cond, ...) do { \
        if (!(cond)) { fail_at((h), __FILE__, __LINE__, __VA_ARGS__); goto done; } \
    } while (0)

/* ------------------------------------------------------------------------
 * Files and commands
 * ---------------------------------------------------------------------- */

/* The whole file at path ("" when it cannot be read), in th_pool. */
char *slurp_file(const char *path);
/* Write text to path with perms (asserts that it can be opened). */
void write_file(const char *path, const char *text, apr_fileperms_t perms);
/* How many times needle is in s; in the file at path. */
int count_in(const char *s, const char *needle);
int count_in_file(const char *path, const char *needle);
/* Wait (at most seconds) until file contains needle; 1 when it does. */
int wait_for_text(const char *file, const char *needle, int seconds);
/* The last ~1500 bytes of the error log and httpd's output, for messages. */
const char *log_tail(httpd_t *h);
/* Run the NULL-ended args under `timeout seconds`, capturing output;
 * the exit code. */
int run_cmd(int seconds, const char *const *args, char **out, char **err);
int is_root(void);
/* A port of 127.0.0.1 that nothing listens on, or 0. */
int free_port(void);
/* mkdir path (fine when it exists), mode 0755. */
void mkdir_0755(const char *path);
/* A self-signed EC certificate for cn as dir/crt.pem and dir/key.pem;
 * openssl's exit code (its stderr in *err). */
int make_cert(const char *dir, const char *cn, char **err);

/* ------------------------------------------------------------------------
 * HTTP client (HTTP/1.0, one request per connection)
 * ---------------------------------------------------------------------- */

typedef struct resp_t {
    int status;                 /* 0: no answer */
    apr_table_t *headers;
    char *body;
    apr_size_t body_len;
} resp_t;

/* A connection to 127.0.0.1:port (10 s timeout), or NULL. */
apr_socket_t *http_connect(int port);
/* Send one request; 1 when all of it went out. */
int http_send(apr_socket_t *s, const char *method, const char *path,
              const char *headers, const void *body, apr_size_t blen);
/* Read the whole answer and close s; r->status 0 when there was none. */
void http_read(apr_socket_t *s, resp_t *r);
/* One request to port (0: the server's); status 0 when unanswered. */
resp_t http(httpd_t *h, int port, const char *method, const char *path,
            const char *headers, const void *body, apr_size_t blen);

#define GET(h, path) http((h), 0, "GET", (path), NULL, NULL, 0)
#define PUT(h, path, hdrs, body) \
    http((h), 0, "PUT", (path), (hdrs), (body), strlen(body))

/* A header of r, "" when absent. */
const char *hdr(const resp_t *r, const char *name);
/* The value of key in the ?auto block of cache name, or -1. */
long status_value(const char *body, const char *name, const char *key);
/* Hold 12 connections open at once (each ties up a process or a thread),
 * GET url on all of them, for up to 5 rounds until at least two processes
 * (X-Shmcache-Pid) answered. NULL when every answer was 200 with value
 * and two processes answered, else what went wrong. */
const char *get_from_several_children(httpd_t *h, const char *url,
                                      const char *value);

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

/* "LoadModule NAME_module MODULES/FILE\n" for one of httpd's modules. */
const char *load(const char *name, const char *file);
/* Write h's configuration: the basics and the MPM, the WITH_* parts in
 * what, cache_opts after `ShmcacheCache main PATH` (NULL: size=4M), and
 * extra lines at the end (NULL: none). */
void write_conf(httpd_t *h, int what, const char *cache_opts,
                const char *extra);

/* Fresh directories, module copies, ports and a guard for a server of
 * mpm (nothing started). */
void httpd_init(httpd_t *h, const char *mpm);
/* Start httpd in its own process group; 1 when it answers an HTTP
 * request on its port within 20 s, 0 when it exited (h->pid is then 0) or did not answer
 * (httpd_stop stops it). */
int httpd_start(httpd_t *h);
/* Stop httpd: SIGTERM to the parent, then SIGKILL to the group. */
void httpd_stop(httpd_t *h);
/* Kill the whole server with SIGKILL, as a crash would. */
void httpd_kill9(httpd_t *h);
/* Graceful restart (SIGUSR1); 1 once the new generation says it runs. */
int httpd_graceful(httpd_t *h);
/* 1 when something accepts connections on 127.0.0.1:port. */
int port_answers(int port);
/* The server's end: released and removed; no server left running. */
void httpd_done(httpd_t *h);
/* The end of a test with one server: stop it, httpd_done, and fail the
 * test with h's first failure if there was one. */
void httpd_end(httpd_t *h);
/* `apache2 -t -f CONF` on h's configuration, as RUN_USER when as_user is
 * set and this process is root; its exit code (messages in *err). */
int httpd_configtest(httpd_t *h, int as_user, char **out, char **err);

/* A TCase name added to s, with the harness's fixture and a 120 s bound
 * per test (a test starts and stops one or two servers). */
TCase *httpd_group(Suite *s, const char *name);

#ifdef SC_CLI_PATH
/* shmcache-cli -f path args... (NULL-ended); as root through setpriv as
 * RUN_USER (what an admin does), falling back to root with
 * --allow-foreign-owner when the build tree is not reachable by that
 * user. Its exit code. */
int cli(const char *path, char **out, char **err, ...);
#endif

#endif
