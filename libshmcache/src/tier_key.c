/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier_key.c - what keys and values look like in L2.
 *
 * Keys: memcached takes 1..250 bytes without spaces or control
 * characters, and both APR-util clients take C strings. A key of 1..200
 * printable non-space ASCII bytes not starting with '~' is kept as it is;
 * any other becomes "~" + 32 hex digits of its XXH3-128 hash. A kept key
 * never starts with '~', so the two forms never meet.
 *
 * Values: "\0SCT" + 8-byte big-endian expiry (unix seconds, 0 = never) +
 * the bytes, so a machine that reads it knows the TTL left; decimal
 * numbers stay bare so that L2's increment works on them.
 */
#include <string.h>
#include <apr_strings.h>
#include <xxhash.h>
#include "tier_private.h"

static const char env_magic[4] = { '\0', 'S', 'C', 'T' };

static int plain_key(const unsigned char *k, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > SC_TIER_PLAIN_KEY_MAX || k[0] == '~')
        return 0;
    for (i = 0; i < len; i++)
        if (k[i] <= 0x20 || k[i] >= 0x7f)
            return 0;
    return 1;
}

apr_size_t sc_tier_key_map(const char *prefix, const void *key, apr_size_t len,
                           char *out)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t plen = prefix ? strlen(prefix) : 0;
    XXH128_hash_t h;
    XXH128_canonical_t c;
    char *p;
    int i;

    if (plen)
        memcpy(out, prefix, plen);
    p = out + plen;
    if (plain_key(key, len)) {
        memcpy(p, key, len);
        p += len;
    } else {
        h = XXH3_128bits(key, len);
        XXH128_canonicalFromHash(&c, h);
        *p++ = '~';
        for (i = 0; i < 16; i++) {
            *p++ = hex[c.digest[i] >> 4];
            *p++ = hex[c.digest[i] & 15];
        }
    }
    *p = '\0';
    return (apr_size_t)(p - out);
}

int sc_tier_is_number(const void *value, apr_size_t len)
{
    const unsigned char *v = value;
    apr_size_t i;

    if (len == 0 || len > 20)
        return 0;
    for (i = 0; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

void sc_tier_envelope(const void *value, apr_size_t len, apr_int64_t expires,
                      const char **out, apr_size_t *out_len, apr_pool_t *pool)
{
    unsigned char *buf;
    int i;

    if (sc_tier_is_number(value, len)) {
        *out = value;
        *out_len = len;
        return;
    }
    buf = apr_palloc(pool, SC_TIER_ENV_LEN + len + 1);
    memcpy(buf, env_magic, 4);
    for (i = 0; i < 8; i++)
        buf[4 + i] = (unsigned char)((apr_uint64_t)expires >> (56 - 8 * i));
    memcpy(buf + SC_TIER_ENV_LEN, value, len);
    buf[SC_TIER_ENV_LEN + len] = '\0';
    *out = (const char *)buf;
    *out_len = SC_TIER_ENV_LEN + len;
}

void sc_tier_unenvelope(const char *raw, apr_size_t raw_len, const char **value,
                        apr_size_t *len, apr_int64_t *expires)
{
    const unsigned char *b = (const unsigned char *)raw;
    apr_uint64_t e = 0;
    int i;

    if (raw_len < SC_TIER_ENV_LEN || memcmp(raw, env_magic, 4) != 0) {
        *value = raw;
        *len = raw_len;
        *expires = -1;
        return;
    }
    for (i = 0; i < 8; i++)
        e = (e << 8) | b[4 + i];
    *value = raw + SC_TIER_ENV_LEN;
    *len = raw_len - SC_TIER_ENV_LEN;
    *expires = (apr_int64_t)e;
}
