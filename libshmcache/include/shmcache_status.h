/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shmcache_status.h - the status codes of libshmcache and
 * shmcache_strerror, which explains any status.
 *
 * shmcache.h includes this header; a program (or a library file) that
 * needs only the codes may include it alone. It also defines
 * SHMCACHE_DECLARE, the export macro of every public function.
 */
#ifndef SHMCACHE_STATUS_H
#define SHMCACHE_STATUS_H

#include <apr.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Export macro: SHMCACHE_DECLARE(type) marks a public function. */
#if defined(_WIN32) && defined(SHMCACHE_SHARED)
#  ifdef SHMCACHE_BUILDING
#    define SHMCACHE_DECLARE(type) __declspec(dllexport) type
#  else
#    define SHMCACHE_DECLARE(type) __declspec(dllimport) type
#  endif
#elif defined(__GNUC__)
#  define SHMCACHE_DECLARE(type) __attribute__((visibility("default"))) type
#else
#  define SHMCACHE_DECLARE(type) type
#endif

/* ------------------------------------------------------------------------
 * Status codes
 *
 * The library's own codes sit at SHMCACHE_START_ERROR, a block of 100 codes
 * above APR_OS_START_USERERR chosen clear of httpd's and Subversion's
 * ranges. Any other value is an APR or OS status passed through
 * (e.g. APR_EACCES, APR_ENOENT, APR_ENOSPC).
 * ---------------------------------------------------------------------- */
#define SHMCACHE_START_ERROR (APR_OS_START_USERERR + 380000)

/** The key is not in the cache (or has expired). Not an error. */
#define SHMCACHE_NOTFOUND   (SHMCACHE_START_ERROR + 1)
/** add: the key already exists. */
#define SHMCACHE_EXISTS     (SHMCACHE_START_ERROR + 2)
/** cas: the entry's version differs from the expected one. */
#define SHMCACHE_EMISMATCH  (SHMCACHE_START_ERROR + 3)
/** The key is empty or longer than the cache's max_key. */
#define SHMCACHE_EKEYLEN    (SHMCACHE_START_ERROR + 4)
/** The value is longer than the cache's max_value. */
#define SHMCACHE_EVALLEN    (SHMCACHE_START_ERROR + 5)
/** The item cannot fit even in an empty cache (key + value + overhead). */
#define SHMCACHE_ENOMEM     (SHMCACHE_START_ERROR + 6)
/** incr: the stored value is not an unsigned decimal number. */
#define SHMCACHE_ENOTNUM    (SHMCACHE_START_ERROR + 7)
/** The file is not a shmcache segment (bad magic, or too short). */
#define SHMCACHE_ENOTCACHE  (SHMCACHE_START_ERROR + 8)
/** The segment has another on-segment format version. */
#define SHMCACHE_EFORMAT    (SHMCACHE_START_ERROR + 9)
/** The segment was made by a build with another struct layout. */
#define SHMCACHE_ELAYOUT    (SHMCACHE_START_ERROR + 10)
/** The segment's contents are inconsistent (corrupted or tampered with). */
#define SHMCACHE_ECORRUPT   (SHMCACHE_START_ERROR + 11)
/** Waited too long for a live lock holder: 10 x lock_timeout_ms after the
 *  call first had to wait (on a read-only handle: lock_timeout_ms while a
 *  live writer kept the cache in the middle of a change). */
#define SHMCACHE_ETIMEDOUT  (SHMCACHE_START_ERROR + 12)
/** shmcache_get_buf: the caller's buffer is smaller than the value. */
#define SHMCACHE_EBUFSIZE   (SHMCACHE_START_ERROR + 13)
/** An argument or option is invalid (NULL, out of range, closed handle). */
#define SHMCACHE_EINVAL     (SHMCACHE_START_ERROR + 14)
/** The filesystem could not reserve the segment's memory (e.g. a small
 *  /dev/shm); nothing was left behind. */
#define SHMCACHE_ERESERVE   (SHMCACHE_START_ERROR + 15)
/** The segment file belongs to another user (and allow_foreign_owner is
 *  off), or is not a regular file. */
#define SHMCACHE_EOWNER     (SHMCACHE_START_ERROR + 16)
/** The TTL is above SHMCACHE_TTL_MAX. */
#define SHMCACHE_ETTL       (SHMCACHE_START_ERROR + 17)
/** The requested size cannot hold the segment's own metadata plus one
 *  item of max_key + max_value, or overflows the format's limits. */
#define SHMCACHE_ESIZE      (SHMCACHE_START_ERROR + 18)
/** The cache is busy: other processes are attached (shmcache_remove_ex
 *  without force), or, on a read-only handle, writers changed the cache
 *  during every one of the read's tries (see shmcache_options_t.read_only);
 *  try again later. */
#define SHMCACHE_EBUSY      (SHMCACHE_START_ERROR + 19)
/** Every process slot of the segment is taken by a live process. */
#define SHMCACHE_ESLOTS     (SHMCACHE_START_ERROR + 20)
/** The number would overflow (incr past 2^64-1 is not an error: it wraps;
 *  this is for sizes and counts given to create). */
#define SHMCACHE_EOVERFLOW  (SHMCACHE_START_ERROR + 21)
/** shmcache_lease_get: the caller now holds the key's lease: compute the
 *  value and store it with shmcache_lease_set, or give the lease up with
 *  shmcache_lease_release. Not an error. A stale value may come with it
 *  (meta->stale). */
#define SHMCACHE_LEASED     (SHMCACHE_START_ERROR + 22)
/** shmcache_lease_get: the value returned is stale (past its soft expiry)
 *  and another caller holds the lease to refresh it. Not an error. */
#define SHMCACHE_STALE      (SHMCACHE_START_ERROR + 23)
/** shmcache_lease_get: the key has no value and another live caller holds
 *  its lease; no value came within the wait asked for. */
#define SHMCACHE_ELEASED    (SHMCACHE_START_ERROR + 24)
/** The value's computation failed: the lease holder this caller waited
 *  for released it as failed (or the compute callback failed). */
#define SHMCACHE_ECOMPUTE   (SHMCACHE_START_ERROR + 25)
/** shmcache_get_or_compute of a key this thread is already computing
 *  (a callback asked for its own key): refused instead of deadlocking. */
#define SHMCACHE_ERECURSE   (SHMCACHE_START_ERROR + 26)
/** A call that writes (set, add, replace, cas, delete, incr, touch, flush,
 *  the lease calls, get-or-compute, repair, perms_set) on a handle opened
 *  with shmcache_options_t.read_only; or shmcache_create asked for a
 *  read-only handle. Nothing was changed. */
#define SHMCACHE_EREADONLY  (SHMCACHE_START_ERROR + 27)
/** Read-only handle: a writer died in the middle of a change (the lock's
 *  sequence word is left odd), so no consistent read is possible. A
 *  read-only process cannot repair that; the next process that opens the
 *  cache for writing and takes the lock does (any write, or
 *  shmcache_repair). */
#define SHMCACHE_EABANDONED (SHMCACHE_START_ERROR + 28)
/** The last status the library defines (strerror.c checks that it has a
 *  message for each, in order, at compile time). */
#define SHMCACHE_LAST_STATUS SHMCACHE_EABANDONED
#define SHMCACHE_END_ERROR  (SHMCACHE_START_ERROR + 99)

/** True when status is one of the library's own codes. */
#define SHMCACHE_IS_OWN_STATUS(s) \
    ((s) > SHMCACHE_START_ERROR && (s) <= SHMCACHE_END_ERROR)

/** Describe any status (the library's, APR's or the OS's) in buf: the
 *  library's own codes by a fixed English sentence, everything else by
 *  apr_strerror.
 *  @param status any apr_status_t (an unknown code of the library's range
 *         is described as "unknown shmcache status N").
 *  @param buf out: receives the NUL-terminated description, truncated to
 *         buf_size. When buf is NULL or buf_size is 0 nothing is written.
 *  @param buf_size bytes at buf; 128 is enough for every message of the
 *         library (APR's and the OS's may be longer and are truncated).
 *  @return buf (NULL when buf was NULL). Never fails. */
SHMCACHE_DECLARE(char *) shmcache_strerror(apr_status_t status, char *buf,
                                           apr_size_t buf_size);

#ifdef __cplusplus
}
#endif

#endif /* SHMCACHE_STATUS_H */
