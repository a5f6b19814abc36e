/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.c - the helpers every shmcache-cli command shares: error messages
 * with their fixes, attaching, argument conversion, and output (escaped
 * keys, JSON strings, base64, UTF-8 validation). See cli.h.
 */
#include "cli.h"
#include "units.h"

#include <apr_strings.h>
#include <stdarg.h>
#include <string.h>

#ifdef _WIN32
#  include <io.h>
#  define isatty _isatty
#else
#  include <unistd.h>
#endif

/* ---- failing ---------------------------------------------------------- */

int cli_say(cli_t *cli, int code, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(cli->pool, fmt, ap);
    va_end(ap);
    apr_file_printf(cli->err, "shmcache-cli: %s\n", msg);
    return code;
}

int cli_usage(cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    const cmd_t *c = cli->cmd;

    va_start(ap, fmt);
    msg = apr_pvsprintf(cli->pool, fmt, ap);
    va_end(ap);
    apr_file_printf(cli->err, "shmcache-cli: %s%s%s\n",
                    c != NULL ? c->name : "", c != NULL ? ": " : "", msg);
    if (c != NULL)
        apr_file_printf(cli->err, "usage: shmcache-cli [-f PATH] %s%s%s\n",
                        c->name, *c->usage ? " " : "", c->usage);
    return CLI_USAGE;
}

int cli_exit_code(apr_status_t status)
{
    switch (status) {
    case APR_SUCCESS:
        return CLI_OK;
    case SHMCACHE_NOTFOUND:
    case SHMCACHE_EXISTS:
    case SHMCACHE_EMISMATCH:
        return CLI_NOTFOUND;
    case SHMCACHE_EKEYLEN:
    case SHMCACHE_EVALLEN:
    case SHMCACHE_ETTL:
        return CLI_USAGE;
    default:
        return CLI_ERROR;
    }
}

/* The fix for SHMCACHE_EOWNER, which covers three cases the path tells
 * apart: a symlink, something that is not a regular file, another owner. */
static const char *owner_fix(cli_t *cli)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, cli->path, APR_FINFO_LINK | APR_FINFO_TYPE, cli->pool)
        == APR_SUCCESS) {
        if (fi.filetype == APR_LNK)
            return "it is a symbolic link, which is never followed: give the "
                   "path of the cache file itself";
        if (fi.filetype != APR_REG)
            return "it is not a regular file: check the path";
    }
    return "run as the file's owner, or pass --allow-foreign-owner if you "
           "trust that user";
}

/* What the user can do about status at cli->path, or NULL. */
static const char *fix_for(cli_t *cli, apr_status_t status)
{
    const char *p = cli->path;

    switch (status) {
    case SHMCACHE_ENOTCACHE:
        return "check the path";
    case SHMCACHE_EFORMAT:
    case SHMCACHE_ELAYOUT:
        return apr_psprintf(cli->pool, "another build of shmcache made it: use "
                            "that build's shmcache-cli, or `dump` with it and "
                            "`load` into a new cache (this is %s)",
                            SHMCACHE_VERSION_STRING);
    case SHMCACHE_EOWNER:
        return owner_fix(cli);
    case SHMCACHE_ECORRUPT:
        return apr_psprintf(cli->pool, "run `shmcache-cli -f %s check`; if it "
                            "fails, remove and recreate the cache", p);
    case SHMCACHE_ETIMEDOUT:
        return apr_psprintf(cli->pool, "a live process holds the cache "
                            "(stopped or in a debugger?): see the writer pid "
                            "in `shmcache-cli -f %s stats`", p);
    case SHMCACHE_ESLOTS:
        return "every process slot is held by a live process: close some, or "
               "recreate the cache with more --slots";
    case SHMCACHE_ERESERVE:
        return "give a smaller --size, or make the filesystem larger";
    case SHMCACHE_ESIZE:
    case SHMCACHE_EOVERFLOW:
        return apr_psprintf(cli->pool, "give a --size between %s and %s that "
                            "can hold the metadata and one largest item",
                            cli_human_bytes(SHMCACHE_MIN_SIZE, cli->pool),
                            cli_human_bytes(SHMCACHE_LIMIT_SIZE, cli->pool));
    case SHMCACHE_ENOMEM:
        return "the item cannot fit even in the empty cache";
    case SHMCACHE_ENOTNUM:
        return "incr needs a value of 1 to 20 decimal digits";
    case SHMCACHE_EREADONLY:
        return "--read-only was given: leave it out to change the cache";
    case SHMCACHE_EABANDONED:
        return apr_psprintf(cli->pool, "run `shmcache-cli -f %s repair` as "
                            "a user who can write the file", p);
    case SHMCACHE_EBUSY:            /* remove says its own words */
        return cli->read_only ? "writers kept changing the cache while it "
                                "was read: try again" : NULL;
    default:
        break;
    }
    if (APR_STATUS_IS_EACCES(status))
        return "run as the cache's owner, or as a user that its mode lets read "
               "and write";
    if (APR_STATUS_IS_EEXIST(status))
        return apr_psprintf(cli->pool, "use it, or remove it first with "
                            "`shmcache-cli -f %s remove`", p);
    return NULL;
}

int cli_fail(cli_t *cli, apr_status_t status, const char *what)
{
    char buf[256];
    const char *fix = fix_for(cli, status);

    shmcache_strerror(status, buf, sizeof buf);
    apr_file_printf(cli->err, "shmcache-cli: %s: %s%s%s%s%s\n", cli->path,
                    what != NULL ? what : "", what != NULL ? ": " : "", buf,
                    fix != NULL ? ": " : "", fix != NULL ? fix : "");
    return cli_exit_code(status);
}

/* ---- attaching --------------------------------------------------------- */

/* Said with every attach error when the path was not given: the user may
 * not know which file was tried. */
static const char *default_note(const cli_t *cli)
{
    return strcmp(cli->path_origin, "default") == 0
        ? " (no -f and no SHMCACHE_FILE: this is the default path)" : "";
}

/* Whether the command only reads the cache: it then attaches read-only by
 * itself when the file is not writable by the caller. */
static int reads_only(const cli_t *cli)
{
    static const char *const readers[] = {
        "stats", "info", "get", "ttl", "keys", "scan", "dump", "check", NULL
    };
    int i;

    for (i = 0; readers[i] != NULL; i++)
        if (strcmp(cli->cmd->name, readers[i]) == 0)
            return 1;
    return 0;
}

/* Whether a writable attach failed only because this user may not write
 * the file (permissions), or must not trust its owner for writing
 * (SHMCACHE_EOWNER): a read-only attach may still read it. */
static int write_refused(apr_status_t rv)
{
    return APR_STATUS_IS_EACCES(rv) || rv == SHMCACHE_EOWNER;
}

static apr_status_t open_cache(cli_t *cli, int read_only)
{
    shmcache_options_t o;

    shmcache_options_init(&o);
    o.allow_foreign_owner = cli->allow_foreign_owner;
    o.read_only = read_only;
    return shmcache_attach(&cli->cache, cli->path, &o, cli->pool);
}

/* Attach for writing, or for reading only with --read-only, or when a
 * command that only reads finds the file not writable by the caller (then
 * silently: the command works the same). */
int cli_attach(cli_t *cli)
{
    apr_status_t rv = open_cache(cli, cli->read_only);

    if (rv != APR_SUCCESS && !cli->read_only && reads_only(cli)
        && write_refused(rv) && open_cache(cli, 1) == APR_SUCCESS) {
        cli->read_only = 1;
        rv = APR_SUCCESS;
    }
    if (rv == APR_SUCCESS)
        return cli->l2_url != NULL ? cli_tier_open(cli) : CLI_OK;
    cli->cache = NULL;
    if (!cli->read_only && !reads_only(cli) && APR_STATUS_IS_EACCES(rv))
        return cli_say(cli, CLI_ERROR,
                       "%s: cannot open for writing: the file is not writable "
                       "by you (`%s` changes the cache; stats, info, get, "
                       "keys, scan, dump and check only read it and need "
                       "only read permission)", cli->path, cli->cmd->name);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return cli_say(cli, CLI_ERROR,
                       "no cache at %s: create it with `shmcache-cli -f %s "
                       "create --size 64M`%s", cli->path, cli->path,
                       default_note(cli));
    }
    return cli_fail(cli, rv, apr_pstrcat(cli->pool, "cannot attach",
                                         default_note(cli), NULL));
}

/* ---- arguments --------------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cli_unescape(const char *s, apr_size_t len, char **out, apr_size_t *out_len,
                 apr_pool_t *pool)
{
    char *d = apr_palloc(pool, len + 1);
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] != '\\') {
            d[n++] = s[i];
        } else if (i + 1 < len && s[i + 1] == '\\') {
            d[n++] = '\\';
            i++;
        } else if (i + 3 < len && s[i + 1] == 'x' && hex_value(s[i + 2]) >= 0
                   && hex_value(s[i + 3]) >= 0) {
            d[n++] = (char)(hex_value(s[i + 2]) * 16 + hex_value(s[i + 3]));
            i += 3;
        } else {
            return -1;
        }
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
    return 0;
}

int cli_key_arg(cli_t *cli, int i, const char **key, apr_size_t *key_len)
{
    const char *s = cli->args[i];
    char *k;
    apr_size_t n = strlen(s);

    if (cli->opt[OPT_ESCAPED] != NULL) {
        if (cli_unescape(s, n, &k, &n, cli->pool) != 0)
            return cli_usage(cli, "KEY '%s' has a bad escape (use \\xNN or "
                             "\\\\)", s);
        s = k;
    }
    if (n == 0)
        return cli_usage(cli, "KEY is empty");
    if (n > SHMCACHE_LIMIT_MAX_KEY)
        return cli_usage(cli, "KEY is %" APR_SIZE_T_FMT " bytes, longer than "
                         "any cache allows (%u)", n, SHMCACHE_LIMIT_MAX_KEY);
    *key = s;
    *key_len = n;
    return CLI_OK;
}

static int number_error(cli_t *cli, const char *what, const char *s,
                        sc_units_err_e err, const char *expect)
{
    return cli_usage(cli, "%s '%s' %s (expected %s)", what, s,
                     sc_units_strerror(err), expect);
}

int cli_ttl_arg(cli_t *cli, const char *s, const char *what, apr_uint32_t *ttl)
{
    apr_uint64_t n;
    sc_units_err_e err;

    if (strcmp(s, "forever") == 0 || strcmp(s, "never") == 0) {
        *ttl = SHMCACHE_TTL_FOREVER;
        return CLI_OK;
    }
    err = sc_units_duration(s, SHMCACHE_TTL_MAX, &n);
    if (err != SC_UNITS_OK)
        return number_error(cli, what, s, err, "a duration such as 30s, 5m, "
                            "2h, 1d up to 3660d, or `forever`");
    *ttl = (apr_uint32_t)n;
    return CLI_OK;
}

int cli_ttl_opt(cli_t *cli, apr_uint32_t *ttl)
{
    *ttl = SHMCACHE_TTL_DEFAULT;
    if (cli->opt[OPT_TTL] == NULL)
        return CLI_OK;
    return cli_ttl_arg(cli, cli->opt[OPT_TTL], "--ttl", ttl);
}

int cli_size_arg(cli_t *cli, const char *s, const char *what, apr_uint64_t max,
                 apr_uint64_t *out)
{
    sc_units_err_e err = sc_units_size(s, max, out);

    if (err != SC_UNITS_OK)
        return number_error(cli, what, s, err,
                            apr_psprintf(cli->pool, "a size such as 512K, 64M, "
                                         "1G, at most %s",
                                         cli_human_bytes(max, cli->pool)));
    return CLI_OK;
}

int cli_uint_arg(cli_t *cli, const char *s, const char *what, apr_uint64_t max,
                 apr_uint64_t *out)
{
    sc_units_err_e err = sc_units_uint(s, 10, max, out);

    if (err != SC_UNITS_OK)
        return number_error(cli, what, s, err,
                            apr_psprintf(cli->pool, "a whole number up to %"
                                         APR_UINT64_T_FMT, max));
    return CLI_OK;
}

int cli_duration_arg(cli_t *cli, const char *s, const char *what,
                     apr_uint64_t max, apr_uint64_t *out)
{
    sc_units_err_e err = sc_units_duration(s, max, out);

    if (err != SC_UNITS_OK)
        return number_error(cli, what, s, err,
                            apr_psprintf(cli->pool, "a duration such as 30s, "
                                         "5m, 2h, at most %" APR_UINT64_T_FMT
                                         " seconds", max));
    return CLI_OK;
}

/* ---- output ------------------------------------------------------------ */

void cli_write(cli_t *cli, const void *data, apr_size_t len)
{
    apr_size_t n;

    if (cli->out_rv != APR_SUCCESS || len == 0)
        return;
    cli->out_rv = apr_file_write_full(cli->out, data, len, &n);
}

void cli_printf(cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    char buf[512];
    apr_size_t n;

    va_start(ap, fmt);
    n = apr_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < sizeof buf - 1) {
        cli_write(cli, buf, n);
        return;
    }
    va_start(ap, fmt);
    {
        char *s = apr_pvsprintf(cli->pool, fmt, ap);
        cli_write(cli, s, strlen(s));
    }
    va_end(ap);
}

/* Escape key into buf (4 * len + 1 bytes at most); @return its length. */
static apr_size_t escape_key(char *buf, const void *key, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *k = key;
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (k[i] == '\\') {
            buf[n++] = '\\';
            buf[n++] = '\\';
        } else if (k[i] >= 0x20 && k[i] < 0x7f) {
            buf[n++] = (char)k[i];
        } else {
            buf[n++] = '\\';
            buf[n++] = 'x';
            buf[n++] = hex[k[i] >> 4];
            buf[n++] = hex[k[i] & 0xf];
        }
    }
    buf[n] = '\0';
    return n;
}

void cli_put_key(cli_t *cli, const void *key, apr_size_t len)
{
    char buf[4 * 256 + 1];
    const char *k = key;
    apr_size_t chunk;

    while (len > 0) {
        chunk = len < 256 ? len : 256;
        cli_write(cli, buf, escape_key(buf, k, chunk));
        k += chunk;
        len -= chunk;
    }
}

const char *cli_key_text(const void *key, apr_size_t len, apr_pool_t *pool)
{
    char *buf = apr_palloc(pool, 4 * len + 1);

    escape_key(buf, key, len);
    return buf;
}

int cli_utf8_valid(const void *data, apr_size_t len)
{
    const unsigned char *s = data;
    apr_size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        apr_size_t need, j;
        apr_uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;       /* continuation byte, overlong lead, or > 0xf4 */
        }
        if (len - i <= need)
            return 0;
        for (j = 1; j <= need; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)
            || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

void cli_put_json_string(cli_t *cli, const void *data, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = data;
    char buf[512];
    apr_size_t i, n = 0;

    buf[n++] = '"';
    for (i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (n > sizeof buf - 8) {
            cli_write(cli, buf, n);
            n = 0;
        }
        switch (c) {
        case '"':  buf[n++] = '\\'; buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; buf[n++] = '\\'; break;
        case '\n': buf[n++] = '\\'; buf[n++] = 'n'; break;
        case '\r': buf[n++] = '\\'; buf[n++] = 'r'; break;
        case '\t': buf[n++] = '\\'; buf[n++] = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(buf + n, "\\u00", 4);
                n += 4;
                buf[n++] = hex[c >> 4];
                buf[n++] = hex[c & 0xf];
            } else {
                buf[n++] = (char)c;
            }
        }
    }
    buf[n++] = '"';
    cli_write(cli, buf, n);
}

void cli_put_json_base64(cli_t *cli, const void *data, apr_size_t len)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = data;
    char buf[512];
    apr_size_t i, n = 0;

    buf[n++] = '"';
    for (i = 0; i < len; i += 3) {
        apr_uint32_t v = (apr_uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (apr_uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        if (n > sizeof buf - 6) {
            cli_write(cli, buf, n);
            n = 0;
        }
        buf[n++] = b64[(v >> 18) & 63];
        buf[n++] = b64[(v >> 12) & 63];
        buf[n++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        buf[n++] = i + 2 < len ? b64[v & 63] : '=';
    }
    buf[n++] = '"';
    cli_write(cli, buf, n);
}

int cli_finish_output(cli_t *cli)
{
    char buf[256];

    if (cli->out_rv == APR_SUCCESS)
        cli->out_rv = apr_file_flush(cli->out);
    if (cli->out_rv == APR_SUCCESS || APR_STATUS_IS_EPIPE(cli->out_rv))
        return CLI_OK;
    apr_file_printf(cli->err, "shmcache-cli: cannot write to stdout: %s\n",
                    shmcache_strerror(cli->out_rv, buf, sizeof buf));
    return CLI_ERROR;
}

const char *cli_human_bytes(apr_uint64_t n, apr_pool_t *pool)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    if (n < 1024)
        return apr_psprintf(pool, "%" APR_UINT64_T_FMT " B", n);
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    return apr_psprintf(pool, "%.1f %s", v, units[u]);
}

const char *cli_ttl_text(apr_uint32_t ttl, apr_pool_t *pool)
{
    if (ttl == SHMCACHE_TTL_FOREVER)
        return "forever";
    return apr_psprintf(pool, "%u", ttl);
}

const char *cli_time_text(apr_time_t t, apr_pool_t *pool)
{
    apr_time_exp_t x;

    if (apr_time_exp_gmt(&x, t) != APR_SUCCESS)
        return "?";
    return apr_psprintf(pool, "%04d-%02d-%02d %02d:%02d:%02d UTC",
                        x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour,
                        x.tm_min, x.tm_sec);
}

int cli_isatty(int fd)
{
    return isatty(fd) ? 1 : 0;
}
