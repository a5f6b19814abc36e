/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strerror.c - shmcache_strerror: the library's own codes, then APR's and
 * the OS's through apr_strerror.
 */
#include "shmcache_status.h"

#include <apr_strings.h>

/* One message per code, indexed by code - SHMCACHE_START_ERROR. */
static const char *const messages[] = {
    NULL,
    "not found (no such key, or it has expired)",
    "the key already exists",
    "the entry's version does not match (it was changed since it was read)",
    "the key is empty or longer than the cache's max_key",
    "the value is longer than the cache's max_value",
    "the item cannot fit in the cache even when empty",
    "the stored value is not an unsigned decimal number",
    "not a shmcache segment (bad magic or too short)",
    "the segment has another format version (made by another shmcache release)",
    "the segment was made by a build with another struct layout",
    "the segment is corrupted (inconsistent header, offsets or lists)",
    "timed out waiting for a live lock holder",
    "the buffer is too small for the value",
    "invalid argument, option or handle",
    "the filesystem cannot reserve memory for the segment (is /dev/shm, or free memory, too small?)",
    "the segment file belongs to another user, or is not a regular file "
        "(symlinks are never followed)",
    "the TTL is out of range (at most ten years)",
    "the size is too small for the segment's own metadata and one item",
    "the cache is busy (other processes are attached, or writers kept "
        "changing it during every try of a read-only read)",
    "every process slot of the segment is held by a live process",
    "a size or count overflows the format's limits",
    "this caller holds the key's lease: compute and store the value",
    "the value is stale; another caller is refreshing it",
    "another caller holds the key's lease and no value came in time",
    "the value's computation failed (its lease was released as failed)",
    "the key is already being computed by this thread (recursive "
        "get-or-compute)",
    "the cache was opened read-only",
    "a writer died in the middle of a change: a read-only reader cannot "
        "repair it (opening the cache for writing does)",
};
_Static_assert(sizeof messages / sizeof messages[0]
                   == SHMCACHE_LAST_STATUS - SHMCACHE_START_ERROR + 1,
               "one message per status, in order");

char *shmcache_strerror(apr_status_t status, char *buf, apr_size_t buf_size)
{
    apr_size_t i;

    if (buf == NULL || buf_size == 0)
        return buf;
    if (SHMCACHE_IS_OWN_STATUS(status)) {
        i = (apr_size_t)(status - SHMCACHE_START_ERROR);
        if (i < sizeof messages / sizeof messages[0] && messages[i] != NULL)
            apr_cpystrn(buf, messages[i], buf_size);
        else
            apr_snprintf(buf, buf_size, "unknown shmcache status %d", (int)status);
        return buf;
    }
    return apr_strerror(status, buf, buf_size);
}
