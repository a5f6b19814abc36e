/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_configcheck.h - the configuration check of mod_shmcache: every cache
 * name that a directive asks for must be declared by a ShmcacheCache.
 * See sc_configcheck.c.
 */
#ifndef SC_CONFIGCHECK_H
#define SC_CONFIGCHECK_H

#include "httpd.h"
#include "http_config.h"

/* register_hooks: the pre_config hook that starts an empty list of names
 * and the check_config hook that resolves them. */
void sc_configcheck_register(apr_pool_t *p);

/* A directive handler of this module names a cache (ShmcacheAPICache
 * NAME): remember the name with the directive and its file:line, for the
 * check. */
void sc_configcheck_note(cmd_parms *cmd, const char *name);

/* The socache provider's create was given `shmcache:NAME` by a consumer
 * that creates while parsing (mod_ssl, mod_authn_socache): remember the
 * name (the consumer's directive and file:line are found in the parsed
 * configuration). p is the configuration pool. */
void sc_configcheck_note_socache(const char *name, apr_pool_t *p);

#endif /* SC_CONFIGCHECK_H */
