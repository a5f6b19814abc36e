/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_parse.c - every word mod_shmcache reads, turned into values: the
 * options of ShmcacheCache, cache names, sizes, TTLs, file modes, the
 * socache argument PATH(SIZE), and the key API's URL path, TTL and
 * numbers.
 *
 * Sizes, durations and plain numbers are common/units.c's, the parser
 * shmcache-cli uses too, so a size or a TTL is written the same way on
 * the command line and in httpd.conf. Percent-decoding is not here: the
 * key API hands the encoded key this file finds to httpd's
 * ap_unescape_url_keep2f, and its query to ap_args_to_table.
 *
 * Nothing here calls httpd or looks at the registry (see sc_private.h),
 * so tests/test_parse.c and fuzz/fuzz_module.c link this file directly.
 */
#include "sc_private.h"
#include "units.h"

#include "apr_strings.h"
#include "apr_user.h"

/* ------------------------------------------------------------------------
 * Words
 * ---------------------------------------------------------------------- */

int sc_parse_name(const char *s)
{
    apr_size_t n = 0;

    for (; *s != '\0'; s++, n++)
        if (!apr_isalnum(*s) && *s != '_' && *s != '-')
            return 0;
    return n > 0 && n <= SC_NAME_MAX;
}

int sc_parse_uint(const char *s, apr_uint64_t lo, apr_uint64_t hi,
                  apr_uint64_t *out)
{
    apr_uint64_t v;

    if (sc_units_uint(s, 10, hi, &v) != SC_UNITS_OK || v < lo)
        return 0;
    *out = v;
    return 1;
}

int sc_parse_u64(const char *s, apr_uint64_t *out)
{
    return sc_parse_uint(s, 0, APR_UINT64_MAX, out);
}

int sc_parse_u32(const char *s, apr_uint32_t lo, apr_uint32_t hi,
                 apr_uint32_t *out)
{
    apr_uint64_t v;

    if (!sc_parse_uint(s, lo, hi, &v))
        return 0;
    *out = (apr_uint32_t)v;
    return 1;
}

const char *sc_parse_size(const char *arg, apr_uint64_t *out, apr_pool_t *p)
{
    sc_units_err_e err = sc_units_size(arg, APR_UINT64_MAX, out);

    if (err == SC_UNITS_OK)
        return NULL;
    if (err == SC_UNITS_OVERFLOW || err == SC_UNITS_RANGE)
        return "too large";
    if (arg == NULL || !apr_isdigit(*arg))
        return "not a size (a number of bytes, optionally followed by K, M, "
               "G or T)";
    return apr_psprintf(p, "bad unit '%s' (use K, M, G or T, powers of 1024, "
                        "or plain bytes)", arg + strspn(arg, "0123456789"));
}

int sc_parse_ttl(const char *s, apr_uint32_t *out)
{
    apr_uint64_t v;

    if (sc_units_duration(s, SHMCACHE_TTL_MAX, &v) != SC_UNITS_OK)
        return 0;
    *out = (apr_uint32_t)v;
    return 1;
}

int sc_parse_mode(const char *s, apr_fileperms_t *out, unsigned *octal)
{
    apr_uint64_t v;
    unsigned m;

    if (strlen(s) < 3 || strlen(s) > 4
        || sc_units_uint(s, 8, 07777, &v) != SC_UNITS_OK)
        return 0;
    m = (unsigned)v;
    /* owner read+write needed (the creator maps it); no execute bits, no
     * setuid/setgid/sticky */
    if ((m & 0600) != 0600 || (m & 07111) != 0)
        return 0;
    /* APR keeps one nibble per class: the octal digits become nibbles */
    *out = (apr_fileperms_t)(((m >> 6) & 7) << 8 | ((m >> 3) & 7) << 4 | (m & 7));
    *octal = m;
    return 1;
}

/* "SIZE" of PATH(SIZE) within the library's limits: NULL or the message. */
static const char *path_size(const char *arg, const char *word,
                             apr_uint64_t *size, apr_pool_t *p)
{
    const char *err = sc_parse_size(word, size, p);

    if (err != NULL)
        return apr_psprintf(p, "shmcache: '%s': invalid size '%s': %s", arg,
                            word, err);
    if (*size < SHMCACHE_MIN_SIZE || *size > SHMCACHE_LIMIT_SIZE)
        return apr_psprintf(p, "shmcache: '%s': the size must be between %uK "
                            "and %" APR_UINT64_T_FMT "G", arg,
                            SHMCACHE_MIN_SIZE / 1024,
                            (apr_uint64_t)SHMCACHE_LIMIT_SIZE >> 30);
    return NULL;
}

const char *sc_parse_path_size(const char *arg, const char **path,
                               apr_uint64_t *size, int *size_given,
                               apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, arg);
    char *open = strrchr(copy, '(');
    char *last;
    const char *err;
    apr_uint64_t v;

    if (*copy == '\0')          /* (last would point before the string) */
        return "shmcache: an empty argument names no path";
    last = copy + strlen(copy) - 1;
    if (open == NULL && *last == ')')
        return apr_psprintf(p, "shmcache: '%s': no opening parenthesis", arg);
    if (open != NULL && *last != ')')
        return apr_psprintf(p, "shmcache: '%s': no closing parenthesis after "
                            "the size", arg);
    if (open != NULL) {
        *open = '\0';
        *last = '\0';
        if ((err = path_size(arg, open + 1, &v, p)) != NULL)
            return err;
    }
    if (open == copy)           /* "(SIZE)": the size cut the path away */
        return apr_psprintf(p, "shmcache: '%s': no path before the size", arg);
    if (open != NULL) {
        *size = v;
        *size_given = 1;
    }
    *path = copy;
    return NULL;
}

int sc_parse_api_ttl(const char *v, apr_uint32_t *ttl)
{
    if (strcasecmp(v, "forever") == 0) {
        *ttl = SHMCACHE_TTL_FOREVER;
        return 1;
    }
    return sc_parse_u32(v, 0, SHMCACHE_TTL_MAX, ttl);
}

int sc_parse_etag_version(const char *im, apr_uint64_t *out)
{
    char digits[21];            /* 2^64-1 has 20 digits */
    apr_size_t n;

    if (*im == 'W' && im[1] == '/')
        im += 2;
    if (*im == '"')
        im++;
    while (im[0] == '0' && apr_isdigit(im[1]))    /* (so that 20 digits do) */
        im++;
    n = strspn(im, "0123456789");
    if (n == 0 || n >= sizeof digits)
        return 0;
    memcpy(digits, im, n);
    digits[n] = '\0';
    return sc_parse_u64(digits, out);
}

sc_key_path_e sc_parse_key_path(const char *uri, const char *prefix,
                                const char **key, apr_size_t *len)
{
    apr_size_t plen = strlen(prefix), n;

    if (uri == NULL)
        return SC_KEY_NO_PATH;
    if (*uri != '/') {          /* absolute form: skip scheme://authority */
        const char *s = strstr(uri, "://");
        if (s == NULL || (uri = strchr(s + 3, '/')) == NULL)
            return SC_KEY_NO_PATH;
    }
    n = strcspn(uri, "?#");
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    if (n < plen || strncmp(uri, prefix, plen) != 0
        || (n > plen && uri[plen] != '/'))
        return SC_KEY_OUTSIDE;
    if (n <= plen + 1)          /* the prefix, with or without its '/' */
        return SC_KEY_EMPTY;
    *key = uri + plen + 1;
    *len = n - plen - 1;
    return SC_KEY_OK;
}

/* ------------------------------------------------------------------------
 * ShmcacheCache
 * ---------------------------------------------------------------------- */

void sc_cache_defaults(sc_cache_t *c)
{
    shmcache_options_init(&c->opts);
    c->uid = (apr_uid_t)-1;
    c->gid = (apr_gid_t)-1;
    c->file_owner = (apr_uid_t)-1;
}

/* One option's parser: NULL, or what the value must be (the caller puts
 * "DIRECTIVE NAME: key=value: " in front). */
typedef const char *(option_fn)(sc_cache_t *c, const char *val, apr_pool_t *p);

static const char *opt_size(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    apr_uint64_t v;
    const char *err = sc_parse_size(val, &v, p);

    if (err != NULL)
        return err;
    if (v < SHMCACHE_MIN_SIZE || v > SHMCACHE_LIMIT_SIZE)
        return apr_psprintf(p, "the size must be between %uK and %"
                            APR_UINT64_T_FMT "G", SHMCACHE_MIN_SIZE / 1024,
                            (apr_uint64_t)SHMCACHE_LIMIT_SIZE >> 30);
    c->opts.size = v;
    return NULL;
}

static const char *opt_ttl(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    if (sc_parse_ttl(val, &c->opts.default_ttl))
        return NULL;
    return apr_psprintf(p, "the default TTL must be a number of seconds (or "
                        "with s, m, h, d), at most %u seconds; 0 means never "
                        "expires", SHMCACHE_TTL_MAX);
}

static const char *opt_max_key(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    if (sc_parse_u32(val, 1, SHMCACHE_LIMIT_MAX_KEY, &c->opts.max_key))
        return NULL;
    return apr_psprintf(p, "the longest key must be 1..%u bytes",
                        SHMCACHE_LIMIT_MAX_KEY);
}

static const char *opt_max_value(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    apr_uint64_t v;
    const char *err = sc_parse_size(val, &v, p);

    if (err != NULL)
        return err;
    if (v == 0 || v > 0xFFFFFFFFu)
        return "the longest value must be 1 byte..4G";
    c->opts.max_value = (apr_uint32_t)v;
    c->max_value_set = 1;
    return NULL;
}

static const char *opt_buckets(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    if (sc_parse_u32(val, 64, 0x40000000u, &c->opts.buckets))
        return NULL;
    return "the bucket count must be 64..1073741824 (rounded up to a power of "
           "two)";
}

static const char *opt_slots(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    if (!sc_parse_u32(val, 8, SHMCACHE_LIMIT_SLOTS, &c->opts.slots))
        return apr_psprintf(p, "process slots must be 8..%u",
                            SHMCACHE_LIMIT_SLOTS);
    c->slots_set = 1;
    return NULL;
}

static const char *opt_mode(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    if (sc_parse_mode(val, &c->opts.mode, &c->mode_octal))
        return NULL;
    return "the file mode must be octal like 0600 or 0660, with owner read "
           "and write and no execute bits";
}

/* "#123": a numeric id (uid_t and gid_t are plain numbers where user= and
 * group= are accepted: sc_perms_check_config refuses them on Windows). */
static int numeric_id(const char *val, apr_uint64_t *id)
{
    return *val == '#' && sc_parse_uint(val + 1, 0, 0x7FFFFFFF, id);
}

static const char *opt_user(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    apr_gid_t ignored;
    apr_uint64_t id;

    if (numeric_id(val, &id))
        c->uid = (apr_uid_t)id;
    else if (*val == '#' || apr_uid_get(&c->uid, &ignored, val, p) != APR_SUCCESS)
        return "no such user (give a name or #uid)";
    c->user = val;
    c->uid_set = 1;
    return NULL;
}

static const char *opt_group(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    apr_uint64_t id;

    if (numeric_id(val, &id))
        c->gid = (apr_gid_t)id;
    else if (*val == '#' || apr_gid_get(&c->gid, val, p) != APR_SUCCESS)
        return "no such group (give a name or #gid)";
    c->group = val;
    c->gid_set = 1;
    return NULL;
}

static const char *opt_lock_timeout(sc_cache_t *c, const char *val, apr_pool_t *p)
{
    if (sc_parse_u32(val, 1, 600000, &c->opts.lock_timeout_ms))
        return NULL;
    return "milliseconds, 1..600000";
}

/* The options of ShmcacheCache this file knows, in the order the unknown
 * option's message lists them. */
static const struct {
    const char *key;
    option_fn *parse;
} options[] = {
    {"size", opt_size},
    {"ttl", opt_ttl},
    {"max-key", opt_max_key},
    {"max-value", opt_max_value},
    {"buckets", opt_buckets},
    {"slots", opt_slots},
    {"mode", opt_mode},
    {"user", opt_user},
    {"group", opt_group},
    {"lock-timeout", opt_lock_timeout},
};

const char *sc_parse_cache_word(const char *d, sc_cache_t *c, const char *word,
                                const char **key, const char **val,
                                apr_pool_t *p)
{
    const char *eq = strchr(word, '=');

    *key = NULL;
    if (strcasecmp(word, "allow-world-writable") == 0) {
        c->world_writable_ok = 1;
        return NULL;
    }
    if (eq == NULL || eq == word)
        return apr_psprintf(p, "%s %s: '%s' is not key=value", d, c->name, word);
    *key = apr_pstrmemdup(p, word, (apr_size_t)(eq - word));
    *val = eq + 1;
    return NULL;
}

const char *sc_parse_cache_option(const char *d, sc_cache_t *c, const char *key,
                                  const char *val, apr_pool_t *p)
{
    const char *why;
    apr_size_t i;

    for (i = 0; i < sizeof options / sizeof options[0]; i++) {
        if (strcasecmp(key, options[i].key) != 0)
            continue;
        why = options[i].parse(c, val, p);
        return why == NULL ? NULL : apr_psprintf(p, "%s %s: %s=%s: %s", d,
                                                 c->name, options[i].key, val, why);
    }
    return apr_psprintf(p, "%s %s: unknown option '%s' (known: size, ttl, "
                        "max-key, max-value, buckets, slots, mode, user, group, "
                        "lock-timeout, l2, l2-pool, l2-timeout, l1-ttl, neg-ttl, "
                        "l2-prefix, l2-invalidate, and the word "
                        "allow-world-writable)", d,
                        c->name, key);
}

/* NULL, or why c's mode cannot be accepted: write for "other" lets every
 * local user change, destroy or truncate the cache, and take part in its
 * lock, so it needs the explicit allow-world-writable. */
static const char *check_world_writable(const char *d, const sc_cache_t *c,
                                        apr_pool_t *p)
{
    if (!(c->opts.mode & APR_FPROT_WWRITE) || c->world_writable_ok)
        return NULL;
    return apr_psprintf(p, "%s %s (%s): mode=%04o lets every local user write "
                        "the cache (o+w): any of them could change or destroy "
                        "the cached data, truncate the file under httpd and "
                        "hold its lock; use mode=0660 with group= for the "
                        "users that need it, or add the word "
                        "allow-world-writable to the directive if every user "
                        "really must write it", d, c->name, c->where,
                        c->mode_octal);
}

/* NULL, or why one item of max-value and max-key cannot fit: it may take
 * at most half of the cache. */
static const char *check_item_fits(const char *d, const sc_cache_t *c,
                                   apr_pool_t *p)
{
    if (!c->max_value_set
        || (apr_uint64_t)c->opts.max_value + c->opts.max_key <= c->opts.size / 2)
        return NULL;
    return apr_psprintf(p, "%s %s: max-value=%u and max-key=%u do not fit in "
                        "size=%" APR_UINT64_T_FMT ": one item may take at most "
                        "half of the cache", d, c->name, c->opts.max_value,
                        c->opts.max_key, c->opts.size);
}

const char *sc_parse_cache_check(const char *d, const sc_cache_t *c,
                                 apr_pool_t *p)
{
    const char *err = check_world_writable(d, c, p);

    return err != NULL ? err : check_item_fits(d, c, p);
}
