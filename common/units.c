/* SPDX-License-Identifier: Apache-2.0 */
/*
 * units.c - the number words of the CLI and the module (see units.h for
 * the grammar).
 *
 * Unsigned numbers are accumulated digit by digit here rather than with
 * apr_strtoi64: that function tops out at 2^63-1 (cas versions and incr
 * values use the whole unsigned range) and quietly accepts leading spaces
 * and a sign. Signed numbers go through apr_strtoi64 once the string has
 * been checked to be nothing but an optional sign and digits.
 */
#include "units.h"

#include <apr_strings.h>
#include <errno.h>
#include <string.h>

#define U64_MAX APR_UINT64_MAX

/* Value of digit c in base, or -1. */
static int digit_value(char c, int base)
{
    int v;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    else
        return -1;
    return v < base ? v : -1;
}

/* Accumulate the leading digits of s in base into *out; *end gets the
 * first non-digit. Refuses an empty run and 64-bit overflow. */
static sc_units_err_e leading_digits(const char *s, int base,
                                     apr_uint64_t *out, const char **end)
{
    apr_uint64_t n = 0;
    const char *p = s;
    int d;

    for (; (d = digit_value(*p, base)) >= 0; p++) {
        if (n > (U64_MAX - (apr_uint64_t)d) / (apr_uint64_t)base)
            return SC_UNITS_OVERFLOW;
        n = n * (apr_uint64_t)base + (apr_uint64_t)d;
    }
    if (p == s)
        return SC_UNITS_GARBAGE;
    *out = n;
    *end = p;
    return SC_UNITS_OK;
}

/* The checks every parser starts with: NULL/empty and a leading '-'. */
static sc_units_err_e precheck(const char *s)
{
    if (s == NULL || *s == '\0')
        return SC_UNITS_EMPTY;
    if (*s == '-')
        return SC_UNITS_NEGATIVE;
    return SC_UNITS_OK;
}

/* n * mult, refusing overflow and values above max. */
static sc_units_err_e scale(apr_uint64_t n, apr_uint64_t mult, apr_uint64_t max,
                            apr_uint64_t *out)
{
    if (n != 0 && mult > U64_MAX / n)
        return SC_UNITS_OVERFLOW;
    if (n * mult > max)
        return SC_UNITS_RANGE;
    *out = n * mult;
    return SC_UNITS_OK;
}

/* A unit letter (any of letters) and what it multiplies by. */
typedef struct unit_t {
    const char *letters;
    apr_uint64_t mult;
} unit_t;

static const unit_t size_units[] = {
    {"kK", APR_UINT64_C(1) << 10}, {"mM", APR_UINT64_C(1) << 20},
    {"gG", APR_UINT64_C(1) << 30}, {"tT", APR_UINT64_C(1) << 40}, {NULL, 0}};
static const unit_t duration_units[] = {
    {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {NULL, 0}};

/* DIGITS, then at most one unit of units, then at most one letter of
 * suffix, then the end: the number times the unit, at most max. */
static sc_units_err_e with_unit(const char *s, const unit_t *units,
                                const char *suffix, apr_uint64_t max,
                                apr_uint64_t *out)
{
    apr_uint64_t n, mult = 1;
    const char *p;
    sc_units_err_e err;

    if ((err = precheck(s)) != SC_UNITS_OK
        || (err = leading_digits(s, 10, &n, &p)) != SC_UNITS_OK)
        return err;
    for (; *p != '\0' && units->letters != NULL; units++)
        if (strchr(units->letters, *p) != NULL) {
            mult = units->mult;
            p++;
            break;
        }
    if (*p != '\0' && strchr(suffix, *p) != NULL)
        p++;
    if (*p != '\0')
        return SC_UNITS_GARBAGE;
    return scale(n, mult, max, out);
}

sc_units_err_e sc_units_size(const char *s, apr_uint64_t max, apr_uint64_t *out)
{
    return with_unit(s, size_units, "bB", max, out);
}

sc_units_err_e sc_units_duration(const char *s, apr_uint64_t max,
                                 apr_uint64_t *out)
{
    return with_unit(s, duration_units, "", max, out);
}

sc_units_err_e sc_units_uint(const char *s, int base, apr_uint64_t max,
                             apr_uint64_t *out)
{
    apr_uint64_t n;
    const char *p;
    sc_units_err_e err;

    if (base < 2 || base > 16)
        return SC_UNITS_GARBAGE;
    if ((err = precheck(s)) != SC_UNITS_OK)
        return err;
    if ((err = leading_digits(s, base, &n, &p)) != SC_UNITS_OK)
        return err;
    if (*p != '\0')
        return SC_UNITS_GARBAGE;
    return scale(n, 1, max, out);
}

sc_units_err_e sc_units_int(const char *s, apr_int64_t *out)
{
    const char *p = s;
    char *end = NULL;
    apr_int64_t n;
    int saved = errno;
    sc_units_err_e err = SC_UNITS_OK;

    if (s == NULL || *s == '\0')
        return SC_UNITS_EMPTY;
    if (*p == '-' || *p == '+')
        p++;
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
        return SC_UNITS_GARBAGE;
    errno = 0;
    n = apr_strtoi64(s, &end, 10);
    if (errno == ERANGE)
        err = SC_UNITS_OVERFLOW;
    else if (errno != 0 || end == NULL || *end != '\0')
        err = SC_UNITS_GARBAGE;
    errno = saved;
    if (err == SC_UNITS_OK)
        *out = n;
    return err;
}

const char *sc_units_strerror(sc_units_err_e err)
{
    switch (err) {
    case SC_UNITS_OK:       return "is fine";
    case SC_UNITS_EMPTY:    return "is empty";
    case SC_UNITS_NEGATIVE: return "is negative";
    case SC_UNITS_GARBAGE:  return "is not a number with a known unit";
    case SC_UNITS_OVERFLOW: return "overflows 64 bits";
    case SC_UNITS_RANGE:    return "is too large";
    }
    return "is not valid";
}
