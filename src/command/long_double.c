/* INCRBYFLOAT arithmetic exactly as Redis does it: parse with strtold, add in long double,
 * print with "%.17Lf" and trim trailing zeros. Rust has no long double, so this stays in C. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

/* Redis's string2ld: the whole buffer must be a float; no leading space, no NaN. */
static int parse_long_double(const char *s, size_t len, long double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    char *end;
    long double value;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' ||
        (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL || fpclassify(value) == FP_ZERO)) ||
        isnan(value))
        return 0;
    *out = value;
    return 1;
}

/* Adds `incr` to `current` (NULL = the key is absent, i.e. 0) and writes the result the way
 * Redis stores it. Returns the length written, -1 when `current` is not a float, -2 when
 * `incr` is not, -3 when the sum is NaN or infinite, -4 when `out` is too small. */
long sessiond_incr_long_double(const char *current, size_t current_len, const char *incr,
                               size_t incr_len, char *out, size_t out_len) {
    long double value = 0, increment;
    int written;
    if (current != NULL && !parse_long_double(current, current_len, &value)) return -1;
    if (!parse_long_double(incr, incr_len, &increment)) return -2;
    value += increment;
    if (isnan(value) || isinf(value)) return -3;
    written = snprintf(out, out_len, "%.17Lf", value);
    if (written < 0 || (size_t)written + 1 > out_len) return -4;
    if (strchr(out, '.') != NULL) {
        char *p = out + written - 1;
        while (*p == '0') { p--; written--; }
        if (*p == '.') written--;
    }
    if (written == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; written = 1; }
    return written;
}
