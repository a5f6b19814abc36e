/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - shmcache-cli: the command table, option parsing and dispatch.
 *
 *     shmcache-cli [-f PATH] [--allow-foreign-owner] COMMAND [ARGS]
 *
 * The tool attaches to a cache from outside the processes that use it.
 * Each command is one row of `commands` below (name, handler, positional
 * argument counts, accepted options, usage and help) and one cmd_<name>
 * function in a cmd_*.c file. Options are parsed with apr_getopt_long; two
 * things it lacks are done around it here:
 *   - options after positional arguments (`set KEY VALUE --ttl 5m`): the
 *     loop in parse_command hands apr_getopt_long one argument at a time
 *     and keeps non-options itself, so argument order is preserved;
 *   - negative numbers as arguments (`incr KEY -5`): an argument that is
 *     '-' followed by a digit is positional, never an option. A key that
 *     starts with '-' goes after `--`.
 * apr_getopt_long has no optional option arguments, so `stats --watch
 * [SECS]` takes the interval as stats' positional argument.
 */
#include "cli.h"

#include <apr_env.h>
#include <apr_general.h>
#include <apr_signal.h>
#include <apr_strings.h>
#include <signal.h>
#include <string.h>
#ifndef _WIN32
#include <setjmp.h>
#include <unistd.h>
#endif

static int cmd_help(cli_t *cli);

/* Every option any command knows. Descriptions live in each command's help
 * text because one option can mean a little more for one command. */
static const apr_getopt_option_t all_options[] = {
    {"file", OPT_FILE, 1, NULL},
    {"help", OPT_HELP, 0, NULL},
    {"escaped", OPT_ESCAPED, 0, NULL},
    {"allow-foreign-owner", OPT_FOREIGN, 0, NULL},
    {"json", OPT_JSON, 0, NULL},
    {"ttl", OPT_TTL, 1, NULL},
    {"init", OPT_INIT, 1, NULL},
    {"prefix", OPT_PREFIX, 1, NULL},
    {"limit", OPT_LIMIT, 1, NULL},
    {"cursor", OPT_CURSOR, 1, NULL},
    {"count", OPT_COUNT, 1, NULL},
    {"size", OPT_SIZE, 1, NULL},
    {"buckets", OPT_BUCKETS, 1, NULL},
    {"mode", OPT_MODE, 1, NULL},
    {"max-key", OPT_MAX_KEY, 1, NULL},
    {"max-value", OPT_MAX_VALUE, 1, NULL},
    {"default-ttl", OPT_DEFAULT_TTL, 1, NULL},
    {"slots", OPT_SLOTS, 1, NULL},
    {"force", OPT_FORCE, 0, NULL},
    {"watch", OPT_WATCH, 0, NULL},
    {"full", OPT_FULL, 0, NULL},
    {"version", OPT_VERSION, 0, NULL},
    {"stale", OPT_STALE, 1, NULL},
    {"lease-ttl", OPT_LEASE_TTL, 1, NULL},
    {"wait", OPT_WAIT, 1, NULL},
    {NULL, 0, 0, NULL}
};

/* Options every command accepts besides its own. */
static const int common_opts[] = {OPT_FILE, OPT_HELP, OPT_FOREIGN, 0};

static const int no_opts[] = {0};
static const int key_opts[] = {OPT_ESCAPED, 0};
static const int get_opts[] = {OPT_ESCAPED, OPT_JSON, 0};
static const int store_opts[] = {OPT_ESCAPED, OPT_TTL, 0};
static const int incr_opts[] = {OPT_ESCAPED, OPT_TTL, OPT_INIT, 0};
static const int keys_opts[] = {OPT_ESCAPED, OPT_PREFIX, OPT_LIMIT, 0};
static const int scan_opts[] = {OPT_ESCAPED, OPT_PREFIX, OPT_LIMIT, OPT_CURSOR,
                                OPT_COUNT, 0};
static const int create_opts[] = {OPT_SIZE, OPT_BUCKETS, OPT_MODE, OPT_MAX_KEY,
                                  OPT_MAX_VALUE, OPT_DEFAULT_TTL, OPT_SLOTS, 0};
static const int remove_opts[] = {OPT_FORCE, 0};
static const int stats_opts[] = {OPT_JSON, OPT_WATCH, OPT_COUNT, OPT_FULL, 0};
static const int fetch_opts[] = {OPT_ESCAPED, OPT_TTL, OPT_STALE, OPT_LEASE_TTL,
                                 OPT_WAIT, 0};

#define KEY_HELP \
    "  -x, --escaped   KEY is written with the escapes `keys` prints\n" \
    "                  (\\xNN for a byte, \\\\ for a backslash)\n"
#define TTL_HELP \
    "  --ttl DURATION  30s, 5m, 2h, 1d or seconds; 0 = the cache's default\n" \
    "                  TTL; `forever` = never expires (default: 0)\n"

static const cmd_t commands[] = {
    {"create", cmd_create, 0, 0, create_opts,
     "[--size 64M] [--buckets N] [--mode 0600] [--max-key N] [--max-value 1M] "
     "[--default-ttl DURATION] [--slots N]",
     "create a new cache at PATH",
     "Creates the cache file exclusively (never over an existing file, never\n"
     "through a symlink) and reserves its memory.\n"
     "  --size SIZE          total bytes, e.g. 64M, 1G (default 64M)\n"
     "  --buckets N          hash buckets, rounded up to a power of two\n"
     "                       (default size / 256)\n"
     "  --mode OCTAL         file mode, e.g. 0640 (default 0600)\n"
     "  --max-key N          longest key in bytes, 1..65535 (default 250)\n"
     "  --max-value SIZE     longest value (default 1M)\n"
     "  --default-ttl DUR    TTL of entries stored with TTL 0 (default: none)\n"
     "  --slots N            processes attached at once, 8..4096 (default 256)\n"},
    {"info", cmd_info, 0, 0, no_opts, "",
     "show the cache's layout, format and sizes",
     "Prints the file, its owner and mode, the library that reads it, and the\n"
     "sizes fixed at creation. The per-cache hash seed is never shown.\n"},
    {"remove", cmd_remove, 0, 0, remove_opts, "[--force]",
     "remove the cache file",
     "Refuses while other processes are attached to the cache.\n"
     "  --force   remove anyway; attached processes keep their mapping until\n"
     "            they close it\n"},
    {"get", cmd_get, 1, 1, get_opts, "[--json] [-x] KEY",
     "print the value of KEY",
     "Writes the raw value to stdout, byte for byte, to a pipe or a file;\n"
     "on a terminal a newline follows a value that does not end with one.\n"
     "  --json   print {\"value\": ..., \"encoding\": ..., \"length\": N,\n"
     "           \"ttl\": N or null (never expires), \"version\": N}; the value\n"
     "           is a JSON string when it is valid UTF-8 (\"encoding\":\n"
     "           \"utf-8\"), else base64 (\"encoding\": \"base64\")\n"
     KEY_HELP
     "Exit status 1 when KEY is missing or expired.\n"},
    {"set", cmd_set, 1, 2, store_opts, "[--ttl DURATION] [-x] KEY [VALUE]",
     "store VALUE (or stdin) under KEY",
     "Without VALUE the value is read from stdin, binary-safe, up to the\n"
     "cache's largest value; an empty stdin stores an empty value, and a\n"
     "terminal on stdin is refused as a missing VALUE.\n"
     TTL_HELP KEY_HELP},
    {"add", cmd_add, 1, 2, store_opts, "[--ttl DURATION] [-x] KEY [VALUE]",
     "store only if KEY is absent",
     "As set, but exit status 1 when KEY already exists.\n" TTL_HELP KEY_HELP},
    {"replace", cmd_replace, 1, 2, store_opts,
     "[--ttl DURATION] [-x] KEY [VALUE]", "store only if KEY exists",
     "As set, but exit status 1 when KEY is missing.\n" TTL_HELP KEY_HELP},
    {"cas", cmd_cas, 3, 3, store_opts, "[--ttl DURATION] [-x] KEY VERSION VALUE",
     "store only if KEY is still at VERSION",
     "VERSION comes from `get --json`. Exit status 1 when KEY is missing or\n"
     "has another version (the current one is printed to stderr).\n"
     TTL_HELP KEY_HELP},
    {"del", cmd_del, 1, 1, key_opts, "[-x] KEY", "delete KEY",
     "Exit status 1 when KEY is missing.\n" KEY_HELP},
    {"delete", cmd_del, 1, 1, key_opts, "[-x] KEY", "same as del", KEY_HELP},
    {"incr", cmd_incr, 1, 2, incr_opts,
     "[--init N [--ttl DURATION]] [-x] KEY [DELTA]",
     "add DELTA (default 1, may be negative) to a number",
     "The value must be an unsigned decimal number; below 0 gives 0, past\n"
     "2^64-1 wraps. Prints the new number.\n"
     "  --init N         store N when KEY is missing (DELTA not applied)\n"
     "  --ttl DURATION   TTL of an entry created by --init\n"
     KEY_HELP
     "Exit status 1 when KEY is missing and --init is not given.\n"},
    {"decr", cmd_decr, 1, 2, incr_opts,
     "[--init N [--ttl DURATION]] [-x] KEY [DELTA]",
     "subtract DELTA (default 1) from a number", "As incr with -DELTA.\n"},
    {"touch", cmd_touch, 2, 2, key_opts, "[-x] KEY TTL",
     "give KEY a new TTL",
     "TTL: 30s, 5m, 2h, 1d or seconds; 0 = the cache's default; `forever`.\n"
     KEY_HELP "Exit status 1 when KEY is missing.\n"},
    {"ttl", cmd_ttl, 1, 1, key_opts, "[-x] KEY",
     "print the seconds KEY has left",
     "Prints a number of seconds, or `forever`.\n" KEY_HELP
     "Exit status 1 when KEY is missing.\n"},
    {"keys", cmd_keys, 0, 0, keys_opts, "[--prefix P] [--limit N]",
     "list keys, one per line",
     "Walks the table a few buckets at a time (the lock is never held over\n"
     "the whole table). Bytes outside printable ASCII are written \\xNN and a\n"
     "backslash \\\\, so each key is one line; give such a key back with -x.\n"
     "  --prefix P   only keys starting with P (with -x, P is escaped too)\n"
     "  --limit N    stop after N keys\n"},
    {"scan", cmd_scan, 0, 0, scan_opts,
     "[--prefix P] [--limit N] [--cursor C [--count B]]",
     "list entries with length, TTL and version",
     "Prints KEY<TAB>LENGTH<TAB>TTL<TAB>VERSION per entry, KEY escaped as in\n"
     "`keys`, TTL in seconds or `forever`.\n"
     "  --prefix P    only keys starting with P\n"
     "  --limit N     stop after N entries (not with --cursor)\n"
     "  --cursor C    walk only B buckets starting at cursor C (start with 0)\n"
     "                and end with a line `cursor NEXT`; NEXT is 0 at the end\n"
     "  --count B     buckets per step with --cursor (default 1024)\n"},
    {"dump", cmd_dump, 1, 1, no_opts, "FILE",
     "write a snapshot of every entry to FILE (- for stdout)",
     "The snapshot holds each key, value and remaining TTL, with a checksum;\n"
     "the format is in shmcache-cli(1). A FILE is written under a temporary\n"
     "name, synced to the disk and renamed when complete.\n"},
    {"load", cmd_load, 1, 1, no_opts, "FILE",
     "store every entry of a snapshot (- for stdin)",
     "Verifies the whole snapshot (checksum included) before storing\n"
     "anything, then sets each entry with the TTL it has left; entries that\n"
     "expired since the dump, or that do not fit this cache's limits, are\n"
     "skipped. Works into a cache of any size. Prints the counts, the items\n"
     "the cache holds afterwards and the entries evicted to make room.\n"},
    {"stats", cmd_stats, 0, 1, stats_opts,
     "[--json] [--watch [SECS] [--count N] [--full]]",
     "show figures and counters",
     "Every figure of the cache, grouped; the JSON keys are the names of\n"
     "shmcache_stats_t's members, as on mod_shmcache's status page.\n"
     "  --json         one JSON object\n"
     "  --watch [SECS] a sample every SECS (default 1): one line of rates\n"
     "                 per sample (items, memory used, fill, gets/s, hit %\n"
     "                 of the interval, sets/s, evictions/s, recoveries in the\n"
     "                 interval), the header repeated every 20 lines; with\n"
     "                 --json one object per line with \"interval\" and\n"
     "                 \"rates\"\n"
     "  --count N      stop after N samples (at least 1; without --count,\n"
     "                 watch until interrupted)\n"
     "  --full         with --watch: the whole table with rates per second,\n"
     "                 redrawn in place on a terminal\n"},
    {"fetch", cmd_fetch, 2, CLI_ANY_ARGS, fetch_opts,
     "[--ttl T] [--stale T] [--lease-ttl T] [--wait T] [-x] KEY -- COMMAND "
     "[ARGS...]",
     "print KEY, or compute it once with COMMAND for every caller",
     "Prints the value of KEY when there is one (or a stale one while\n"
     "another caller refreshes it). Otherwise exactly one of any number of\n"
     "concurrent callers runs COMMAND (no shell; its stderr passes through),\n"
     "stores its standard output when it exits 0, and every caller prints it.\n"
     "  --ttl T        how long the value is fresh (default: the cache's\n"
     "                 default TTL; `forever`)\n"
     "  --stale T      then serve it stale for T more while one caller runs\n"
     "                 COMMAND again (default 0: no stale value)\n"
     "  --lease-ttl T  the lease to run COMMAND ends after T if its holder\n"
     "                 hangs (default 30s; a holder that dies frees it at once)\n"
     "  --wait T       how long a caller waits for another caller's COMMAND\n"
     "                 (default: the lease TTL; 0 = do not wait)\n"
     KEY_HELP
     "Exit status 3 when COMMAND fails (the caller that ran it reports its\n"
     "exit status, the callers that waited for it a failed computation;\n"
     "nothing is stored), when its output is over the cache's largest\n"
     "value, or when the wait runs out.\n"},
    {"check", cmd_check, 0, 0, no_opts, "",
     "verify every invariant of the cache",
     "Exit status 3 with the first problem found when the cache is broken;\n"
     "repair then mends it.\n"},
    {"repair", cmd_repair, 0, 0, no_opts, "",
     "check, and mend what check finds",
     "Takes the write lock, verifies the cache and, when it is damaged,\n"
     "repairs it as after a crash: chains cut at a bad link, damaged and\n"
     "duplicate entries dropped, leaked blocks freed, the allocator and the\n"
     "eviction queues rebuilt; empties the cache only when the allocator's\n"
     "blocks are beyond rebuilding. Says what it found and what it did.\n"},
    {"flush", cmd_flush, 0, 0, no_opts, "", "delete every entry", ""},
    {"help", cmd_help, 0, 1, no_opts, "[COMMAND]", "show help", ""},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL}
};

static const cmd_t *find_command(const char *name)
{
    const cmd_t *c;

    for (c = commands; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static const apr_getopt_option_t *find_option(int code)
{
    const apr_getopt_option_t *o;

    for (o = all_options; o->optch != 0; o++)
        if (o->optch == code)
            return o;
    return NULL;
}

static void print_usage_line(cli_t *cli, apr_file_t *f, const cmd_t *c)
{
    apr_file_printf(f, "usage: shmcache-cli [-f PATH] %s%s%s\n", c->name,
                    *c->usage ? " " : "", c->usage);
}

static void print_tool_help(cli_t *cli)
{
    const cmd_t *c;

    cli_printf(cli,
        "usage: shmcache-cli [-f PATH] [--allow-foreign-owner] [--read-only]\n"
        "                    [--l2 URL] COMMAND [ARGS]\n"
        "       shmcache-cli COMMAND --help\n"
        "       shmcache-cli --version\n"
        "\n"
        "Looks inside a shmcache shared-memory cache from outside the processes\n"
        "that use it.\n"
        "\n"
        "  -f, --file PATH         the cache; default $SHMCACHE_FILE, and\n"
        "                          without it " CLI_DEFAULT_PATH "\n"
        "  --allow-foreign-owner   attach to a cache file owned by another user\n"
        "  --read-only             open the cache for reading only (writes\n"
        "                          nothing; stats, info, get, ttl, keys, scan,\n"
        "                          dump and check do so by themselves when the\n"
        "                          file is not writable by you)\n"
        "  --l2 URL                get, set, add, replace, del, incr, decr, touch\n"
        "                          and stats go through a second tier:\n"
        "                          memcache://host:port[,...] or redis://...\n"
        "  --l2-timeout MS         longest L2 call (default 50)\n"
        "  --l1-ttl SECS           longest life of an L1 copy of an L2 value\n"
        "                          (default 5)\n"
        "\n"
        "commands:\n");
    for (c = commands; c->name != NULL; c++)
        cli_printf(cli, "  %-9s %s\n", c->name, c->summary);
    cli_printf(cli,
        "\n"
        "Sizes take K, M, G, T (powers of 1024): 512K, 64M, 1G; plain numbers\n"
        "are bytes. Durations take s, m, h, d: 30s, 5m, 2h, 1d; plain numbers\n"
        "are seconds. A KEY or VALUE starting with '-' goes after `--`\n"
        "(a negative number is taken as an argument as it is).\n"
        "\n"
        "Exit status: 0 done, 1 not found (miss, cas mismatch, add on an\n"
        "existing key), 2 usage error, 3 error. A reader that closes stdout\n"
        "early (`dump - | head`) ends the command quietly with status 0.\n");
}

static void print_command_help(cli_t *cli, const cmd_t *c)
{
    print_usage_line(cli, cli->out, c);
    cli_printf(cli, "\n%s.\n%s%s", c->summary, *c->help ? "\n" : "", c->help);
}

/* `help [COMMAND]` */
static int cmd_help(cli_t *cli)
{
    const cmd_t *c;

    if (cli->nargs == 0) {
        print_tool_help(cli);
        return CLI_OK;
    }
    if ((c = find_command(cli->args[0])) == NULL)
        return cli_usage(cli, "unknown command '%s'", cli->args[0]);
    print_command_help(cli, c);
    return CLI_OK;
}

/* The apr_getopt_long table for command c: its options plus the common
 * ones, in pool memory. */
static apr_getopt_option_t *options_for(const cmd_t *c, apr_pool_t *pool)
{
    apr_getopt_option_t *opts = apr_pcalloc(pool, sizeof(*opts) * OPT_END);
    const int *lists[2];
    int n = 0, l;
    const int *code;

    lists[0] = common_opts;
    lists[1] = c->opts;
    for (l = 0; l < 2; l++)
        for (code = lists[l]; *code != 0; code++)
            opts[n++] = *find_option(*code);
    return opts;
}

/* True when a is a positional argument rather than an option: it does not
 * start with '-', is a lone "-" (stdin/stdout), or is a negative number. */
static int is_positional(const char *a)
{
    return a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9');
}

static void keep_arg(cli_t *cli, int *count, const char *a)
{
    if (*count < CLI_MAX_ARGS)
        cli->args[*count] = a;
    (*count)++;
}

/* Take what os stands at when it is no option: `--` (every argument
 * after it is positional and goes to cli->tail too) or a positional
 * argument (kept, skipped by apr_getopt_long). @return 2 after `--`, 1
 * after a positional argument, 0 when os stands at an option (or at the
 * end). */
static int take_non_option(cli_t *cli, apr_getopt_t *os, int *count)
{
    const char *a;

    if (*os->place != '\0' || os->ind >= os->argc)
        return 0;
    a = os->argv[os->ind];
    if (strcmp(a, "--") == 0) {
        cli->tail = os->argv + os->ind + 1;
        cli->ntail = os->argc - os->ind - 1;
        cli->tail_at = *count;
        for (os->ind++; os->ind < os->argc; os->ind++)
            keep_arg(cli, count, os->argv[os->ind]);
        return 2;
    }
    if (!is_positional(a))
        return 0;
    keep_arg(cli, count, a);
    os->ind++;
    os->skip_start = os->skip_end = os->ind;
    return 1;
}

/* Check the count of positional arguments against the command's.
 * @return CLI_OK or CLI_USAGE. */
static int check_arg_count(cli_t *cli, int count)
{
    if (count < cli->cmd->min_args)
        return cli_usage(cli, "missing argument%s (%d given, %d needed)",
                         cli->cmd->min_args - count > 1 ? "s" : "", count,
                         cli->cmd->min_args);
    if (count > cli->cmd->max_args)
        return cli_usage(cli, "too many arguments (%d given, at most %d)",
                         count, cli->cmd->max_args);
    return CLI_OK;
}

/* Parse the arguments after the command name (argv[0] is the name) into
 * cli->args and cli->opt. @return CLI_OK or CLI_USAGE. */
static int parse_command(cli_t *cli, int argc, const char *const *argv)
{
    apr_getopt_t *os;
    apr_getopt_option_t *opts = options_for(cli->cmd, cli->pool);
    const char **av = apr_pmemdup(cli->pool, argv, sizeof(*argv) * argc);
    int count = 0, ch, took;
    const char *arg;
    apr_status_t rv;

    /* APR's own message names "shmcache-cli COMMAND" (its argv[0]). */
    av[0] = apr_pstrcat(cli->pool, "shmcache-cli ", cli->cmd->name, NULL);
    apr_getopt_init(&os, cli->pool, argc, av);
    for (;;) {
        if ((took = take_non_option(cli, os, &count)) == 2)
            break;
        if (took == 1)
            continue;
        rv = apr_getopt_long(os, opts, &ch, &arg);
        if (rv == APR_EOF)
            break;
        if (rv != APR_SUCCESS) {
            print_usage_line(cli, cli->err, cli->cmd);
            return CLI_USAGE;
        }
        cli->opt[ch] = arg != NULL ? arg : "";
    }
    cli->nargs = count < CLI_MAX_ARGS ? count : CLI_MAX_ARGS;
    return cli->opt[OPT_HELP] != NULL ? CLI_OK : check_arg_count(cli, count);
}

/* Parse the options before COMMAND. *cmd_index receives the index of
 * COMMAND in argv (argc when there is none). @return -1 to go on, or the
 * exit code when the run is already over (--help, --version, errors). */
static int parse_global(cli_t *cli, int argc, const char *const *argv,
                        int *cmd_index)
{
    static const apr_getopt_option_t opts[] = {
        {"file", OPT_FILE, 1, NULL},
        {"help", OPT_HELP, 0, NULL},
        {"version", OPT_VERSION, 0, NULL},
        {"allow-foreign-owner", OPT_FOREIGN, 0, NULL},
        {"read-only", OPT_READ_ONLY, 0, NULL},
        {"l2", OPT_L2, 1, NULL},
        {"l2-timeout", OPT_L2_TIMEOUT, 1, NULL},
        {"l1-ttl", OPT_L1_TTL, 1, NULL},
        {NULL, 0, 0, NULL}
    };
    apr_getopt_t *os;
    const char **av = apr_pmemdup(cli->pool, argv, sizeof(*argv) * argc);
    int ch;
    const char *arg;
    apr_status_t rv;

    av[0] = "shmcache-cli";
    apr_getopt_init(&os, cli->pool, argc, av);
    while ((rv = apr_getopt_long(os, opts, &ch, &arg)) == APR_SUCCESS) {
        if (ch == OPT_HELP) {
            print_tool_help(cli);
            return CLI_OK;
        }
        if (ch == OPT_VERSION) {
            cli_printf(cli, "shmcache-cli %s (libshmcache %s)\n",
                       SHMCACHE_VERSION_STRING, SHMCACHE_VERSION_STRING);
            return CLI_OK;
        }
        cli->opt[ch] = arg != NULL ? arg : "";
    }
    if (rv != APR_EOF)
        return cli_say(cli, CLI_USAGE, "see `shmcache-cli --help`");
    *cmd_index = os->ind;
    return -1;
}

/* Settle the cache path: the command's -f, the global -f, $SHMCACHE_FILE,
 * or the default. */
static int settle_path(cli_t *cli, const char *global_file)
{
    char *env = NULL;

    if (cli->opt[OPT_FILE] != NULL || global_file != NULL) {
        cli->path = cli->opt[OPT_FILE] != NULL ? cli->opt[OPT_FILE] : global_file;
        cli->path_origin = "-f";
    } else if (apr_env_get(&env, "SHMCACHE_FILE", cli->pool) == APR_SUCCESS
               && env != NULL && *env != '\0') {
        cli->path = env;
        cli->path_origin = "SHMCACHE_FILE";
    } else {
        cli->path = CLI_DEFAULT_PATH;
        cli->path_origin = "default";
    }
    if (*cli->path == '\0')
        return cli_usage(cli, "the cache path is empty");
    return CLI_OK;
}

static int run(cli_t *cli, int argc, const char *const *argv)
{
    int rc, idx = argc;
    const char *global_file, *name;

    if ((rc = parse_global(cli, argc, argv, &idx)) >= 0)
        return rc;
    if (idx >= argc) {
        print_tool_help(cli);
        return cli_say(cli, CLI_USAGE, "no command given");
    }
    global_file = cli->opt[OPT_FILE];
    if (cli->opt[OPT_FOREIGN] != NULL)
        cli->allow_foreign_owner = 1;
    cli->read_only = cli->opt[OPT_READ_ONLY] != NULL;
    cli->l2_url = cli->opt[OPT_L2];
    cli->l2_timeout = cli->opt[OPT_L2_TIMEOUT];
    cli->l1_ttl = cli->opt[OPT_L1_TTL];
    memset(cli->opt, 0, sizeof cli->opt);
    name = argv[idx];
    if ((cli->cmd = find_command(name)) == NULL)
        return cli_say(cli, CLI_USAGE,
                       "unknown command '%s': see `shmcache-cli --help`", name);
    if ((rc = parse_command(cli, argc - idx, argv + idx)) != CLI_OK)
        return rc;
    if (cli->opt[OPT_HELP] != NULL) {
        print_command_help(cli, cli->cmd);
        return CLI_OK;
    }
    if (cli->opt[OPT_FOREIGN] != NULL)
        cli->allow_foreign_owner = 1;
    if ((rc = settle_path(cli, global_file)) != CLI_OK)
        return rc;
    return cli->cmd->fn(cli);
}

/* ------------------------------------------------------------------------
 * The SIGBUS guard
 *
 * Whoever can write the segment file can also truncate it while we have it
 * mapped; touching a page past the new end then raises SIGBUS, which would
 * kill the tool with no word about why. The guard catches it around the
 * whole command (attach, the command's segment reads and writes, close),
 * jumps back here, says what happened and exits 3. The handle is then
 * abandoned, never closed: closing touches the mapping again. Nothing in
 * the command is half-done in a way that matters to this process, which
 * exits at once. The only place in the tool that handles signals this way.
 * ---------------------------------------------------------------------- */
#ifdef SIGBUS
static sigjmp_buf bus_jump;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
    if (bus_armed) {
        bus_armed = 0;
        siglongjmp(bus_jump, 1);
    }
    signal(sig, SIG_DFL);       /* not ours: die of it as before */
    raise(sig);
}

/* Run the command with SIGBUS caught. @return its exit code, or CLI_ERROR
 * (after saying so) when the segment shrank under it; in that case
 * *abandoned is set and the caller must not close the handle nor destroy
 * the pool that owns it. */
static int run_guarded(cli_t *cli, int argc, const char *const *argv,
                       int *abandoned)
{
    struct sigaction sa, old;
    volatile int rc = CLI_ERROR;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    if (sigsetjmp(bus_jump, 1) == 0) {
        bus_armed = 1;
        rc = run(cli, argc, argv);
        if (cli->cache != NULL)
            shmcache_close(cli->cache);
        cli->cache = NULL;
        bus_armed = 0;
    }
    else {
        *abandoned = 1;
        cli->cache = NULL;
        rc = cli_say(cli, CLI_ERROR, "%s: the segment file was truncated "
                     "under us (SIGBUS): stopped; the cache is unusable until "
                     "it is removed and created again", cli->path);
    }
    sigaction(SIGBUS, &old, NULL);
    return rc;
}
#else
static int run_guarded(cli_t *cli, int argc, const char *const *argv,
                       int *abandoned)
{
    int rc = run(cli, argc, argv);

    (void)abandoned;
    if (cli->cache != NULL)
        shmcache_close(cli->cache);
    cli->cache = NULL;
    return rc;
}
#endif

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    cli_t *cli;
    int rc, out_rc, abandoned = 0;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS)
        return CLI_ERROR;
    apr_pool_create(&pool, NULL);
#ifdef SIGPIPE
    /* A closed stdout (`keys | head`) becomes a write error, so the tool
     * detaches cleanly instead of dying with its process slot taken. */
    apr_signal(SIGPIPE, SIG_IGN);
#endif
    cli = apr_pcalloc(pool, sizeof(*cli));
    cli->pool = pool;
    apr_file_open_flags_stdin(&cli->in, APR_FOPEN_READ | APR_FOPEN_BINARY, pool);
    apr_file_open_flags_stdout(&cli->out, APR_FOPEN_WRITE | APR_FOPEN_BINARY
                               | APR_FOPEN_BUFFERED, pool);
    apr_file_open_flags_stderr(&cli->err, APR_FOPEN_WRITE | APR_FOPEN_BINARY,
                               pool);
    rc = run_guarded(cli, argc, argv, &abandoned);
    out_rc = cli_finish_output(cli);
    if (rc == CLI_OK)
        rc = out_rc;
    /* the reader of stdout left (`dump - | head`): it wanted no more, so
     * stopping is success, as `head` itself sees it */
    if (rc == CLI_ERROR && APR_STATUS_IS_EPIPE(cli->out_rv))
        rc = CLI_OK;
#ifdef SIGBUS
    if (abandoned)
        _exit(rc);      /* the pool's cleanups would touch the mapping */
#endif
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
