/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_registry.c - the caches of one configuration generation: the caches
 * that ShmcacheCache declares (by name and by path) and the socache
 * instances that consumers make with `shmcache:ARG`.
 *
 * The registry is made afresh by pre_config on every (re)start, in pconf,
 * and forgotten when pconf goes. The directive handlers fill it while
 * httpd reads its configuration; post_config, child_init, the handlers and
 * the optional functions read it. It holds data only: it creates, attaches
 * and logs nothing, so every other file of the module may depend on it and
 * it depends on none of them.
 */
#include "sc_private.h"

/* The registry of the configuration generation being read or served. */
static sc_registry_t *registry;

/* pconf cleanup: the generation is over. A newer registry (made before
 * the old pconf went) is left alone. */
static apr_status_t registry_gone(void *data)
{
    if (registry == data)
        registry = NULL;
    return APR_SUCCESS;
}

sc_registry_t *sc_registry(void)
{
    return registry;
}

sc_registry_t *sc_registry_open(apr_pool_t *pconf)
{
    sc_registry_t *reg = apr_pcalloc(pconf, sizeof *reg);

    reg->pool = pconf;
    reg->proc_pool = pconf;
    reg->caches = apr_array_make(pconf, 4, sizeof(sc_cache_t *));
    reg->instances = apr_array_make(pconf, 4, sizeof(sc_cache_t *));
    reg->by_name = apr_hash_make(pconf);
    reg->by_path = apr_hash_make(pconf);
    registry = reg;
    apr_pool_cleanup_register(pconf, reg, registry_gone, apr_pool_cleanup_null);
    return reg;
}

sc_cache_t *sc_registry_find(const char *name)
{
    if (registry == NULL || name == NULL)
        return NULL;
    return apr_hash_get(registry->by_name, name, APR_HASH_KEY_STRING);
}

sc_cache_t *sc_registry_find_path(const char *path)
{
    if (registry == NULL || path == NULL)
        return NULL;
    return apr_hash_get(registry->by_path, path, APR_HASH_KEY_STRING);
}

void sc_registry_add(sc_cache_t *c)
{
    APR_ARRAY_PUSH(registry->caches, sc_cache_t *) = c;
    apr_hash_set(registry->by_name, c->name, APR_HASH_KEY_STRING, c);
    apr_hash_set(registry->by_path, c->path, APR_HASH_KEY_STRING, c);
}

sc_cache_t *sc_cache_target(sc_cache_t *c)
{
    while (c->alias != NULL)
        c = c->alias;
    return c;
}
