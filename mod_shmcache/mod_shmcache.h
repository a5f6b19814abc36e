/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_shmcache.h - what other httpd modules use to reach mod_shmcache's
 * caches.
 *
 * Caches are declared in httpd.conf with ShmcacheCache, created by the
 * parent in post_config and attached by every child in child_init. Another
 * module looks a cache up by name through the optional functions below and
 * then uses the library API (shmcache.h) on the handle it gets back:
 *
 *     #include "mod_shmcache.h"
 *
 *     static APR_OPTIONAL_FN_TYPE(shmcache_mod_lookup) *sc_lookup;
 *
 *     static void my_optional_fn_retrieve(void)
 *     {
 *         sc_lookup = APR_RETRIEVE_OPTIONAL_FN(shmcache_mod_lookup);
 *     }
 *     ...
 *     ap_hook_optional_fn_retrieve(my_optional_fn_retrieve, NULL, NULL,
 *                                  APR_HOOK_MIDDLE);
 *     ...
 *     // at request time (or in child_init):
 *     shmcache_t *c = sc_lookup ? sc_lookup("sessions") : NULL;
 *     if (c != NULL)
 *         shmcache_set(c, key, klen, val, vlen, SHMCACHE_TTL_DEFAULT, NULL);
 *
 * Linking: mod_shmcache.so carries the library (linked statically) and
 * exports its shmcache_* functions; httpd loads modules with RTLD_GLOBAL,
 * so a module loaded after mod_shmcache (LoadModule order) resolves them
 * without linking libshmcache itself. Linking the shared libshmcache
 * instead also works as long as it is the same build (the segment format
 * and layout are checked on attach).
 *
 * Lifetime: a handle returned by shmcache_mod_lookup belongs to the calling
 * process and stays valid until that process's child pool (or, in the
 * parent, the configuration pool) is destroyed; never close it.
 */
#ifndef MOD_SHMCACHE_H
#define MOD_SHMCACHE_H

#include "apr_optional.h"
#include "apr_tables.h"
#include "shmcache.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Look a declared cache (ShmcacheCache NAME ...) up by name.
 *  Returns this process's handle on it, attaching first if this process
 *  has not attached yet, or NULL when no cache has that name or this
 *  process cannot attach (the reason is in the error log). Thread-safe. */
APR_DECLARE_OPTIONAL_FN(shmcache_t *, shmcache_mod_lookup, (const char *name));

/** The names of all declared caches, in declaration order, as an array of
 *  const char * allocated from p. */
APR_DECLARE_OPTIONAL_FN(apr_array_header_t *, shmcache_mod_names,
                        (apr_pool_t *p));

/** The configured default TTL (seconds, 0 = never expires) of the declared
 *  cache name, or SHMCACHE_TTL_FOREVER when there is no such cache. The
 *  library applies it for SHMCACHE_TTL_DEFAULT; this is for display. */
APR_DECLARE_OPTIONAL_FN(apr_uint32_t, shmcache_mod_default_ttl,
                        (const char *name));

#ifdef __cplusplus
}
#endif

#endif /* MOD_SHMCACHE_H */
