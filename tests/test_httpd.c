/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_httpd.c - mod_shmcache's segments inside a real httpd (Debian's
 * apache2), for each MPM (prefork, worker, event) where the MPM matters:
 * one segment served by every child and every socache consumer, kept or
 * recreated across restarts and kill -9, safe from a less-trusted
 * children's user, and surviving a damaged segment or a dead writer. What
 * the module offers over HTTP (configuration check, status page, key API,
 * leases) is test_httpd_api.c; both start servers with the fixture in
 * httpd_fixture.c (a fresh ServerRoot per test, a guard that always
 * stops the server).
 *
 * Groups (Check TCases), each runnable alone with CK_RUN_CASE=NAME:
 *
 *   consumers  a PUT read by many children, the CLI and the optional
 *              functions; mod_cache_socache, mod_authn_socache and mod_ssl
 *              on shmcache (each MPM)
 *   restarts   graceful keeps values, a new size recreates; a killed
 *              server's segment is reused, a foreign file refused (each MPM)
 *   trust      a root-only segment served through the inherited mapping
 *              (each MPM); a symlink swapped in during a graceful restart;
 *              world-writable modes need an explicit opt-in
 *   crash      a truncated segment, hostile chains written by a child, a
 *              writer killed holding the lock
 *   l2         two servers sharing sessions and keys through memcached and
 *              Redis (only when both are installed)
 *
 *   CK_RUN_CASE=restarts build/tests/test_httpd
 *
 * Run as root (CI), httpd runs its children as nobody/nogroup and the
 * trust and crash cases play that user with setpriv; as another user
 * those cases say why they have nothing to show and pass.
 *
 * Unix only: httpd tests run where apache2 runs. Helper processes (this
 * binary re-executed) play a compromised child; the rest are httpd's.
 */
#include "httpd_fixture.h"
#include "lock.h"
#include "segment.h"
#include "table.h"

#include <apr_file_io.h>
#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * consumers: the key API, mod_cache_socache, mod_authn_socache and mod_ssl
 * on one segment, served by every child (each MPM)
 * ---------------------------------------------------------------------- */

/* A value PUT through one request is read by concurrent requests that
 * several children serve, by shmcache-cli from outside, and by a module
 * using the optional functions; the status page has its three forms and
 * mod_status shows the cache; the double-load guard creates it once. */
START_TEST(put_value_is_read_by_many_children_and_the_cli)
{
    httpd_t h;
    const char *key_url = "/kv/greeting%20%E2%9C%93";
    const char *value = "hello from one PUT";
    const char *why;
    resp_t r;

    httpd_init(&h, mpms[_i]);
    write_conf(&h, WITH_API, "size=4M ttl=600", NULL);
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));

    r = PUT(&h, key_url, "X-Shmcache-TTL: 300\r\n", value);
    CHECK(&h, r.status == 204, "PUT answered %d%s", r.status, log_tail(&h));

    why = get_from_several_children(&h, key_url, value);
    CHECK(&h, why == NULL, "%s", why);

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
    httpd_end(&h);
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
    httpd_end(&h);
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
    code = make_cert(h.dir, "localhost", &err);
    CHECK(&h, code == 0, "openssl req exited %d: %s", code, err);
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
    httpd_end(&h);
}
END_TEST

/* ------------------------------------------------------------------------
 * restarts: graceful restarts and kill -9 keep or recreate the segment
 * (each MPM)
 * ---------------------------------------------------------------------- */

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
    httpd_end(&h);
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
    httpd_end(&h);
}
END_TEST

/* ------------------------------------------------------------------------
 * trust: a segment only root can open, a less-trusted children's user,
 * world-writable modes
 * ---------------------------------------------------------------------- */

/* On Unix children use the mapping they inherit from the parent and never
 * open the segment file: a segment that stays root's, mode 0600 (user=root
 * group=root), serves PUT and GET through several children, and root's CLI
 * reads it without --allow-foreign-owner. */
START_TEST(a_root_only_segment_serves_every_child_through_the_inherited_mapping)
{
    httpd_t h;
    const char *path, *why;
    struct stat sb;
    resp_t r;

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
    why = get_from_several_children(&h, "/kv/root-only", "inherited");
    CHECK(&h, why == NULL, "%s", why);
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
    httpd_end(&h);
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

/* Stop the helper *pid (SIGKILL, reaped) when one runs; *pid becomes 0.
 * @return the pid it was. */
static pid_t stop_helper(pid_t *pid)
{
    pid_t was = *pid;
    int status;

    if (was > 0) {
        kill(was, SIGKILL);
        waitpid(was, &status, 0);
    }
    *pid = 0;
    return was;
}

/* Start helper_hold_write_lock on path as the children's user and wait
 * (at most 10 s) until it says in fault_file that it holds the lock.
 * @return its pid, or -1 when it could not start or take the lock. */
static pid_t start_lock_holder(const char *path, const char *fault_file)
{
    pid_t pid = spawn_as_child_user("hold_write_lock", path,
                                    "lock.wr.claimed", fault_file);

    if (pid > 0 && !wait_for_text(fault_file, "lock.wr.claimed", 10)) {
        stop_helper(&pid);
        return -1;
    }
    return pid;
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
    int before, code;
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
    CHECK(&h, helper > 0, "the helper did not take the write lock");

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
    stop_helper(&helper);
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
    stop_helper(&helper);
    httpd_end(&h);
}
END_TEST

/* A mode giving write to "other" is refused by `apache2 -t` with a message
 * naming the directive, the file and line, and why; the explicit
 * allow-world-writable lets it through. */
START_TEST(a_world_writable_mode_needs_the_explicit_opt_in)
{
    httpd_t h;
    char *out = NULL, *err = NULL;
    int code;

    httpd_init(&h, "event");
    write_conf(&h, WITH_API, "size=1M mode=0666", NULL);
    code = httpd_configtest(&h, 0, &out, &err);
    CHECK(&h, code != 0 && strstr(err, "ShmcacheCache main (")
          && strstr(err, "httpd.conf:")
          && strstr(err, "mode=0666 lets every local user write the cache (o+w)")
          && strstr(err, "allow-world-writable"),
          "mode=0666: apache2 -t exited %d:\n%s%s", code, err, out);
    write_conf(&h, WITH_API, "size=1M mode=0622", NULL);
    code = httpd_configtest(&h, 0, &out, &err);
    CHECK(&h, code != 0 && strstr(err, "mode=0622 lets every local user"),
          "mode=0622: apache2 -t exited %d:\n%s%s", code, err, out);
    write_conf(&h, WITH_API, "size=1M mode=0666 allow-world-writable", NULL);
    code = httpd_configtest(&h, 0, &out, &err);
    CHECK(&h, code == 0 && strstr(err, "Syntax OK"),
          "with allow-world-writable: apache2 -t exited %d:\n%s%s", code, err, out);
done:
    httpd_end(&h);
}
END_TEST

/* ------------------------------------------------------------------------
 * crash: a damaged segment or a dead writer under a running server
 * ---------------------------------------------------------------------- */

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
    httpd_end(&h);
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
 * parent: at the graceful restart the parent's own look at the cache
 * recovers the lock and repairs the chains in bounded time, logs the
 * repair, and the new generation serves. */
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
    httpd_end(&h);
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
    int i;
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
    CHECK(&h, helper > 0, "the helper did not take the write lock");
    dead = stop_helper(&helper);
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
    stop_helper(&helper);
    httpd_end(&h);
}
END_TEST

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

/* ------------------------------------------------------------------------
 * l2: two servers sharing a second tier (memcached or Redis)
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
    code = make_cert(a.dir, "shared.test", &err);
    CHECK(&a, code == 0, "openssl req exited %d: %s", code, err);
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
    httpd_stop(&b);
    httpd_done(&b);
    httpd_end(&a);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("httpd");
    TCase *consumers = httpd_group(s, "consumers");
    TCase *restarts = httpd_group(s, "restarts");
    TCase *trust = httpd_group(s, "trust");
    TCase *crash = httpd_group(s, "crash");

    tcase_add_loop_test(consumers, put_value_is_read_by_many_children_and_the_cli, 0, 3);
    tcase_add_loop_test(consumers, cache_socache_serves_the_second_request_from_shmcache, 0, 3);
    tcase_add_loop_test(consumers, ssl_session_is_resumed_through_shmcache, 0, 3);
    tcase_add_loop_test(restarts, graceful_restart_keeps_values_and_a_new_size_recreates, 0, 3);
    tcase_add_loop_test(restarts, killed_httpd_leaves_a_segment_that_the_next_start_reuses, 0, 3);
    tcase_add_loop_test(trust, a_root_only_segment_serves_every_child_through_the_inherited_mapping, 0, 3);
    tcase_add_test(trust, a_symlink_swapped_in_during_a_graceful_restart_is_not_followed);
    tcase_add_test(trust, a_world_writable_mode_needs_the_explicit_opt_in);
    tcase_add_test(crash, a_segment_truncated_under_httpd_does_not_kill_the_parent);
    tcase_add_test(crash, a_child_written_hostile_chain_does_not_hang_the_parent);
    tcase_add_test(crash, a_writer_killed_holding_the_lock_is_logged_as_a_recovery);
    if (access("/usr/bin/memcached", X_OK) == 0
        && access("/usr/bin/redis-server", X_OK) == 0) {
        TCase *l2 = httpd_group(s, "l2");
        tcase_add_loop_test(l2, two_servers_share_sessions_and_keys_through_l2, 0, 2);
    }
    return s;
}

const th_helper_t test_helpers[] = {
    {"hold_write_lock", helper_hold_write_lock},
    {"plant_hostile_chains", helper_plant_hostile_chains},
    {NULL, NULL}
};
