/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_httpd_api.c - what mod_shmcache offers inside a real httpd
 * (Debian's apache2): how it checks its configuration, its status page,
 * its HTTP key API and the API's leases. The server's life (many
 * children, restarts, crashes, trust, the second tier) is test_httpd.c;
 * both start servers with the fixture in httpd_fixture.c.
 *
 * Groups (Check TCases), each runnable alone with CK_RUN_CASE=NAME:
 *
 *   config   `apache2 -t` names each bad directive and each undeclared
 *            cache name; a refused `apache2 -k graceful` keeps serving
 *   status   the status page: ?json has the keys of `shmcache-cli stats
 *            --json`, each cache and consumer named once, uptime and rates
 *   api      the key API: GET/PUT/DELETE/incr, TTLs, conditional stores,
 *            binary keys, body limit, read-only and access control
 *   leases   GET ?lease=1: one winner whose PUT reaches the waiters (each
 *            MPM); timeouts, failures, stale values, bad parameters
 *
 *   CK_RUN_CASE=leases build/tests/test_httpd_api
 *
 * Unix only: httpd tests run where apache2 runs.
 */
#include "httpd_fixture.h"

#include <apr_hash.h>
#include <apr_poll.h>
#include <apr_strings.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------
 * config: `apache2 -t` and `apache2 -k graceful` on bad directives
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
        write_conf(&h, 0, NULL, cases[i].line);
        code = httpd_configtest(&h, cases[i].as_user, &out, &err);
        CHECK(&h, code != 0 && strstr(err, cases[i].want) != NULL,
              "apache2 -t for '%s' exited %d; wanted '%s' in:\n%s%s",
              cases[i].line, code, cases[i].want, err, out);
    }
    /* and a good configuration passes */
    write_conf(&h, WITH_API, "size=1M ttl=1h max-key=100 max-value=100K "
               "buckets=1000 slots=64 mode=0640 user=" RUN_USER " group="
               RUN_GROUP " lock-timeout=500", NULL);
    code = httpd_configtest(&h, 0, &out, &err);
    CHECK(&h, code == 0 && strstr(err, "Syntax OK"), "good config: %d %s",
          code, err);
done:
    chmod(ro_dir, 0755);
    httpd_end(&h);
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
        code = httpd_configtest(&h, 0, &out, &err);
        CHECK(&h, code != 0 && strstr(err, forms[i][0]) && strstr(err, place)
              && strstr(err, "'nosuch'"),
              "apache2 -t for '%s' exited %d; wanted %s, %s and 'nosuch' in:\n%s%s",
              forms[i][1], code, forms[i][0], place, err, out);
    }
    /* the same configuration with the name declared passes */
    write_unknown_name_conf(&h, apr_psprintf(th_pool, "ShmcacheCache nosuch "
                                             "%s/nosuch.cache size=1M\n%s",
                                             h.seg, forms[0][1]));
    code = httpd_configtest(&h, 0, &out, &err);
    CHECK(&h, code == 0 && strstr(err, "Syntax OK"), "declared name: %d %s",
          code, err);

    /* graceful with a bad name: refused, the server keeps serving */
    write_unknown_name_conf(&h, "");
    CHECK(&h, httpd_start(&h), "httpd did not start%s", log_tail(&h));
    parent = h.pid;
    write_unknown_name_conf(&h, forms[0][1]);
    {
        const char *argv[] = {SC_HTTPD_BIN, "-k", "graceful", "-f", h.conf,
                              NULL};
        code = run_cmd(30, argv, &out, &err);
    }
    CHECK(&h, code != 0 && strstr(err, "'nosuch'"),
          "apache2 -k graceful exited %d:\n%s%s", code, err, out);
    apr_sleep(apr_time_from_sec(2));
    r = GET(&h, "/kv/anything");
    CHECK(&h, r.status == 404 && kill(parent, 0) == 0
          && count_in_file(h.errlog, "AH00020") == 0,
          "after the refused graceful the server answered %d%s", r.status,
          log_tail(&h));
done:
    httpd_end(&h);
}
END_TEST

/* ------------------------------------------------------------------------
 * status: the status page in its forms (HTML, ?auto, ?json, mod_status)
 * ---------------------------------------------------------------------- */

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
    httpd_end(&h);
}
END_TEST
#endif

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
    httpd_end(&h);
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
    httpd_end(&h);
}
END_TEST

/* ------------------------------------------------------------------------
 * api: the HTTP key API (SetHandler shmcache-api)
 * ---------------------------------------------------------------------- */

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
    httpd_end(&h);
}
END_TEST

/* ------------------------------------------------------------------------
 * leases: GET ?lease=1 and its outcomes through the key API
 * ---------------------------------------------------------------------- */

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
    httpd_end(&h);
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
    httpd_end(&h);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("httpd_api");
    TCase *config = httpd_group(s, "config");
    TCase *status = httpd_group(s, "status");
    TCase *api = httpd_group(s, "api");
    TCase *leases = httpd_group(s, "leases");

    tcase_add_test(config, configtest_rejects_each_bad_directive);
    tcase_add_test(config, an_unknown_cache_name_fails_the_config_test_and_graceful_keeps_serving);
#ifdef SC_CLI_PATH
    tcase_add_test(status, status_json_has_the_keys_of_cli_stats_json);
#endif
    tcase_add_test(status, status_page_names_each_cache_and_consumer_once);
    tcase_add_test(status, status_page_shows_uptime_and_rates_since_the_last_view);
    tcase_add_test(api, api_handler_speaks_http);
    tcase_add_loop_test(leases, concurrent_lease_gets_have_one_winner_whose_put_reaches_the_waiters, 0, 3);
    tcase_add_test(leases, lease_timeouts_failures_and_stale_values_over_http);
    return s;
}

/* No helper processes: the processes under test are httpd's. */
const th_helper_t test_helpers[] = {
    {NULL, NULL}
};
