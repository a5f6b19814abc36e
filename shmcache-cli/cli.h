/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - what the files of shmcache-cli share: the per-run context, the
 * command table entry, option codes, exit codes, and the helpers that
 * every command uses to attach, parse its arguments, print and fail.
 *
 * main.c owns the command table and the option parsing; each cmd_*.c file
 * holds one function per command (cmd_<name>), which gets a cli_t whose
 * positional arguments and options are already parsed and counted against
 * the table, and returns the process exit code.
 */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <apr_file_io.h>
#include <apr_getopt.h>
#include <apr_pools.h>

#include "shmcache.h"
#include "shmcache_tier.h"

/* Exit codes (documented in --help and the man page). */
#define CLI_OK       0  /* done */
#define CLI_NOTFOUND 1  /* miss, cas mismatch, add on an existing key */
#define CLI_USAGE    2  /* bad invocation: unknown command, bad number, ... */
#define CLI_ERROR    3  /* the cache could not do it: see the message */

/* The cache used without -f and without SHMCACHE_FILE. */
#define CLI_DEFAULT_PATH "/dev/shm/shmcache.default"

/* Option codes: short options use their letter, long-only ones 256+. */
enum {
    OPT_FILE = 'f',
    OPT_HELP = 'h',
    OPT_ESCAPED = 'x',
    OPT_JSON = 256,
    OPT_TTL,
    OPT_INIT,
    OPT_PREFIX,
    OPT_LIMIT,
    OPT_CURSOR,
    OPT_COUNT,
    OPT_SIZE,
    OPT_BUCKETS,
    OPT_MODE,
    OPT_MAX_KEY,
    OPT_MAX_VALUE,
    OPT_DEFAULT_TTL,
    OPT_SLOTS,
    OPT_FORCE,
    OPT_WATCH,
    OPT_FULL,
    OPT_FOREIGN,
    OPT_VERSION,
    OPT_STALE,
    OPT_LEASE_TTL,
    OPT_WAIT,
    OPT_L2,
    OPT_L2_TIMEOUT,
    OPT_L1_TTL,
    OPT_READ_ONLY,
    OPT_END             /* size of cli_t.opt */
};

#define CLI_MAX_ARGS 8

/* max_args of a command that takes any number of arguments after `--`
 * (they are all in cli_t.tail; cli_t.args keeps the first CLI_MAX_ARGS). */
#define CLI_ANY_ARGS 0x10000

#if defined(__GNUC__)
#  define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define CLI_PRINTF(f, a)
#endif

typedef struct cli_t cli_t;
typedef int (cmd_fn)(cli_t *cli);

/* One row of the command table (main.c). */
typedef struct cmd_t {
    const char *name;
    cmd_fn *fn;
    int min_args, max_args;     /* positional arguments after the name */
    const int *opts;            /* option codes it accepts, 0-terminated */
    const char *usage;          /* arguments, as in "KEY [VALUE]" */
    const char *summary;        /* one line for the command list */
    const char *help;           /* the rest of `COMMAND --help` */
} cmd_t;

/* Everything one run of the tool knows. */
struct cli_t {
    apr_pool_t *pool;
    const char *path;           /* the cache */
    const char *path_origin;    /* "-f", "SHMCACHE_FILE" or "default" */
    int allow_foreign_owner;
    int read_only;              /* global --read-only (cli_attach) */
    apr_file_t *in, *out, *err;
    apr_status_t out_rv;        /* first failed write to out, sticky */
    const cmd_t *cmd;
    const char *args[CLI_MAX_ARGS];
    int nargs;
    const char *opt[OPT_END];   /* option values; "" for flags; NULL unset */
    const char *const *tail;    /* the arguments after `--` (not copied,
                                   not NUL-terminated), NULL without `--` */
    int ntail;                  /* how many */
    int tail_at;                /* positional arguments before `--` */
    shmcache_t *cache;          /* set by cli_attach, closed by main */
    const char *l2_url;         /* global --l2: commands go through a tier */
    const char *l2_timeout;     /* global --l2-timeout MS */
    const char *l1_ttl;         /* global --l1-ttl SECS */
    shmcache_tier_t *tier;      /* set by cli_attach with --l2 */
};

/* ---- failing ---------------------------------------------------------- */

/* Print "shmcache-cli: COMMAND: message" and the command's usage line to
 * stderr. @return CLI_USAGE. */
int cli_usage(cli_t *cli, const char *fmt, ...)
    CLI_PRINTF(2, 3);

/* Print "shmcache-cli: PATH: what: reason" (reason from shmcache_strerror,
 * what may be NULL) plus a fix when one is known for status.
 * @return the exit code status maps to (cli_exit_code). */
int cli_fail(cli_t *cli, apr_status_t status, const char *what);

/* Print "shmcache-cli: message" to stderr. @return code. */
int cli_say(cli_t *cli, int code, const char *fmt, ...)
    CLI_PRINTF(3, 4);

/* Exit code for a library status: 0, 1 (miss, exists, mismatch), 2 (key
 * or value length, TTL: the caller's arguments) or 3. */
int cli_exit_code(apr_status_t status);

/* ---- attaching --------------------------------------------------------- */

/* Attach cli->cache to cli->path. On failure print why with the fix.
 * @return CLI_OK or the exit code to return. */
int cli_attach(cli_t *cli);

/* ---- the second tier (cmd_tier.c) -------------------------------------- */

/* With --l2: make cli->tier over the attached cache. @return CLI_OK or the
 * exit code to return (a bad URL is a usage error). */
int cli_tier_open(cli_t *cli);

/* With --l2, the "l2" part of `stats`: human lines, or JSON members that
 * continue an object (each preceded by ",sep"). */
void cli_tier_put_human(cli_t *cli);
void cli_tier_put_json(cli_t *cli, const char *sep);

/* ---- arguments --------------------------------------------------------- */

/* Argument i as a key: unescaped when -x was given (cli_unescape), length
 * checked against the format's limits. @return CLI_OK or CLI_USAGE. */
int cli_key_arg(cli_t *cli, int i, const char **key, apr_size_t *key_len);

/* A TTL: a duration ("30s", "5m", ...) up to SHMCACHE_TTL_MAX, or
 * "forever"/"never" for SHMCACHE_TTL_FOREVER; 0 means the cache's default.
 * what names the argument in the message. @return CLI_OK or CLI_USAGE. */
int cli_ttl_arg(cli_t *cli, const char *s, const char *what, apr_uint32_t *ttl);

/* The --ttl option, SHMCACHE_TTL_DEFAULT when absent. */
int cli_ttl_opt(cli_t *cli, apr_uint32_t *ttl);

/* Numbers with the units of units.h; what names the argument. */
int cli_size_arg(cli_t *cli, const char *s, const char *what, apr_uint64_t max,
                 apr_uint64_t *out);
int cli_uint_arg(cli_t *cli, const char *s, const char *what, apr_uint64_t max,
                 apr_uint64_t *out);
int cli_duration_arg(cli_t *cli, const char *s, const char *what,
                     apr_uint64_t max, apr_uint64_t *out);

/* Undo the key escaping of cli_put_key (\\ and \xNN) into pool memory.
 * @return 0, or -1 for a malformed escape. */
int cli_unescape(const char *s, apr_size_t len, char **out, apr_size_t *out_len,
                 apr_pool_t *pool);

/* ---- output ------------------------------------------------------------ */

/* Write to stdout; the first failure is kept in cli->out_rv and later
 * writes are dropped. */
void cli_write(cli_t *cli, const void *data, apr_size_t len);
void cli_printf(cli_t *cli, const char *fmt, ...)
    CLI_PRINTF(2, 3);

/* Write a key with every byte outside printable ASCII (0x20..0x7e) as
 * \xNN and a backslash as \\ (so the output is one line and reversible). */
void cli_put_key(cli_t *cli, const void *key, apr_size_t len);

/* The key escaped as cli_put_key does, in pool memory, for messages. */
const char *cli_key_text(const void *key, apr_size_t len, apr_pool_t *pool);

/* Write a JSON string literal of data, which must be valid UTF-8. */
void cli_put_json_string(cli_t *cli, const void *data, apr_size_t len);

/* Write data base64-encoded (RFC 4648, with padding) as a JSON string. */
void cli_put_json_base64(cli_t *cli, const void *data, apr_size_t len);

/* 1 when data is well-formed UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF), else 0. */
int cli_utf8_valid(const void *data, apr_size_t len);

/* Flush stdout. @return CLI_OK (also when the reader of stdout closed it:
 * EPIPE, kept in cli->out_rv, is no error), or CLI_ERROR after saying
 * why. */
int cli_finish_output(cli_t *cli);

/* Bytes in a human unit ("64.0 MiB") in pool memory. */
const char *cli_human_bytes(apr_uint64_t n, apr_pool_t *pool);

/* A TTL as text: "forever" or a number of seconds. */
const char *cli_ttl_text(apr_uint32_t ttl, apr_pool_t *pool);

/* A time as "2024-05-01 12:00:00 UTC" in pool memory. */
const char *cli_time_text(apr_time_t t, apr_pool_t *pool);

/* 1 when file descriptor fd (0, 1, 2) is a terminal. */
int cli_isatty(int fd);

/* ---- commands (one function each) --------------------------------------- */
int cmd_create(cli_t *cli);
int cmd_info(cli_t *cli);
int cmd_remove(cli_t *cli);
int cmd_check(cli_t *cli);
int cmd_repair(cli_t *cli);
int cmd_flush(cli_t *cli);
int cmd_get(cli_t *cli);
int cmd_set(cli_t *cli);
int cmd_add(cli_t *cli);
int cmd_replace(cli_t *cli);
int cmd_cas(cli_t *cli);
int cmd_del(cli_t *cli);
int cmd_incr(cli_t *cli);
int cmd_decr(cli_t *cli);
int cmd_touch(cli_t *cli);
int cmd_ttl(cli_t *cli);
int cmd_keys(cli_t *cli);
int cmd_scan(cli_t *cli);
int cmd_dump(cli_t *cli);
int cmd_load(cli_t *cli);
int cmd_stats(cli_t *cli);
int cmd_fetch(cli_t *cli);

#endif /* SC_CLI_H */
