/* SPDX-License-Identifier: Apache-2.0 */
/*
 * units.h - the number words that shmcache-cli and mod_shmcache share:
 * sizes with binary units, durations with time units, plain unsigned and
 * signed integers. The CLI's arguments and the module's directives both
 * parse sizes and durations here, so they accept the same words ("1T" and
 * "64B" in both).
 *
 * Every function here is pure: it reads only its arguments, writes only
 * *out, allocates nothing and keeps no state, so it can be fuzzed on its
 * own (link units.c and APR). The whole string must be the number: empty
 * strings, leading or trailing spaces, signs where none is allowed,
 * unknown units and values above the caller's max are all refused, and
 * *out is left untouched on failure.
 *
 * Grammar (digits are ASCII 0-9, at most what fits 64 bits):
 *   size      DIGITS [K|M|G|T] [B]     K = 1024 bytes, M = 1024 K, ...;
 *                                      the unit letters in either case;
 *                                      "64M", "1G", "512k", "1024", "8KB"
 *   duration  DIGITS [s|m|h|d]         seconds, minutes, hours, days;
 *                                      "30s", "5m", "2h", "1d", "90"
 *   unsigned  DIGITS                   in base 10 (or 8 for file modes)
 *   signed    [-|+] DIGITS             base 10, -2^63 .. 2^63-1
 */
#ifndef SC_UNITS_H
#define SC_UNITS_H

#include <apr.h>

/* Results of the parsers. SC_UNITS_OK is 0; the others explain a refusal. */
typedef enum sc_units_err_e {
    SC_UNITS_OK = 0,
    SC_UNITS_EMPTY,         /* "" or NULL */
    SC_UNITS_NEGATIVE,      /* a '-' where only non-negative numbers fit */
    SC_UNITS_GARBAGE,       /* not a number, or an unknown unit */
    SC_UNITS_OVERFLOW,      /* does not fit 64 bits (before or after the unit) */
    SC_UNITS_RANGE          /* fits 64 bits but is above the caller's max */
} sc_units_err_e;

/* Parse a size ("64M") into bytes, refusing anything above max.
 * @return SC_UNITS_OK and *out, or the reason it is not a size. */
sc_units_err_e sc_units_size(const char *s, apr_uint64_t max, apr_uint64_t *out);

/* Parse a duration ("5m") into seconds, refusing anything above max.
 * @return SC_UNITS_OK and *out, or the reason it is not a duration. */
sc_units_err_e sc_units_duration(const char *s, apr_uint64_t max,
                                 apr_uint64_t *out);

/* Parse an unsigned integer written in base (2..16; digits only, no
 * prefix such as 0x), refusing anything above max.
 * @return SC_UNITS_OK and *out, or the reason it is not such a number. */
sc_units_err_e sc_units_uint(const char *s, int base, apr_uint64_t max,
                             apr_uint64_t *out);

/* Parse a signed decimal integer with an optional leading '-' or '+'.
 * @return SC_UNITS_OK and *out, or the reason it is not such a number. */
sc_units_err_e sc_units_int(const char *s, apr_int64_t *out);

/* A short English phrase for err ("is not a number", ...), static. */
const char *sc_units_strerror(sc_units_err_e err);

#endif /* SC_UNITS_H */
