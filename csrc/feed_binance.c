/* feed_binance.c - strict scanner for recorded Binance feeds: bytes -> bot4_event rows.
 *
 * Structure (design and contract in feed_binance.h):
 *   bot4_feed_binance_parse   line loop: memchr for the line end, room check, timestamp,
 *                             scan_message, build_message, statistics.
 *   scan_message/scan_object  JSON tokenizer for the top-level object and its "data"
 *                             object; the values of known keys are recorded in line_ctx
 *                             (last duplicate wins), unknown ones skipped by skip_value.
 *   skip_value                iterative validating skipper (bit stack, depth <= 1024).
 *   parse_levels              [[price, qty], ...] converted straight into rows; returns
 *                             NULL on anything unusual, and the caller re-scans the value
 *                             with skip_value, which finds and names the JSON error.
 *   dec_fast/dec_slow         decimal text -> steps: 64-bit fast path for plain text, an
 *                             exact 128-bit path for long or escaped text.
 *   build_message             Python's reader's semantics: message kind, required fields
 *                             in its evaluation order, rows, flags, errors.
 * Invariants: every line [ls, le) is followed by a readable '\n' at le, and no byte
 * inside the line is '\n'; so scanners stop at le without bounds checks (whitespace
 * skipping never skips '\n', strings stop on it as a control character, digits and
 * literals do not match it). Rows are written only below row0 + line bytes / 7 + 4,
 * which the line loop checked against the capacity. Nothing allocates but the copy of an
 * unterminated last line. Cost: O(line bytes) per line; level arrays in an unusual key
 * order are scanned twice.
 */
#include "feed_binance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* ---- character classes ------------------------------------------------------------ */

#define IS_DIGIT(c) ((unsigned)((unsigned char)(c) - '0') < 10u)

/* JSON whitespace inside a line ('\n' is the line sentinel, never skipped). */
static inline int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static inline const char *skip_ws(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

/* 0: ordinary string byte; 1: '"'; 2: '\\'; 3: control (< 0x20); 4: non-ASCII lead. */
static const uint8_t str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

static const uint64_t pow10_u64[19] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL,
};

/* Eight ASCII digits in x (bytes in memory order)? And their value. (SWAR, as in simdjson.) */
static inline int eight_digits(uint64_t x)
{
    return ((x & 0xF0F0F0F0F0F0F0F0ULL) | (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) ==
           0x3333333333333333ULL;
}

static inline uint64_t eight_digits_value(uint64_t x)
{
    const uint64_t mask = 0x000000FF000000FFULL;
    const uint64_t mul1 = 0x000F424000000064ULL; /* 100 + (1000000 << 32) */
    const uint64_t mul2 = 0x0000271000000001ULL; /* 1 + (10000 << 32) */
    x -= 0x3030303030303030ULL;
    x = x * 10 + (x >> 8);
    return (((x & mask) * mul1) + (((x >> 16) & mask) * mul2)) >> 32;
}

/* The run of ASCII digits at p: returns its end, with *u the value mod 2^64 (exact for up
 * to 19 digits). Eight digits a step while eight bytes are readable before safe_end. */
static inline const char *digits_run(const char *p, const char *safe_end, uint64_t *u)
{
    uint64_t v = 0;
    for (int k = 0; k < 2 && safe_end - p >= 8; k++) {
        uint64_t x;
        memcpy(&x, p, 8);
        if (!eight_digits(x))
            break;
        v = v * 100000000ULL + eight_digits_value(x);
        p += 8;
    }
    while (IS_DIGIT(*p)) {
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    *u = v;
    return p;
}

/* ---- strings ------------------------------------------------------------------------ */

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (read one by one, so the sentinel stops it), or -1. */
static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Escape at p (p[0] == '\\'): the byte after it, or NULL if invalid. \u escapes must form
 * valid UTF-16 (a high surrogate followed by \u low surrogate; no lone surrogates). */
static const char *escape_end(const char *p, const char **msg)
{
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u': {
        int u = hex4(p + 2);
        if (u < 0)
            break;
        if (u >= 0xDC00 && u <= 0xDFFF) {
            *msg = "lone low surrogate in string";
            return NULL;
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (p[6] == '\\' && p[7] == 'u') {
                int lo = hex4(p + 8);
                if (lo >= 0xDC00 && lo <= 0xDFFF)
                    return p + 12;
            }
            *msg = "high surrogate without a low surrogate in string";
            return NULL;
        }
        return p + 6;
    }
    default:
        break;
    }
    *msg = "invalid escape in string";
    return NULL;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static int utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
#define CONT(x) ((x) >= 0x80 && (x) <= 0xBF)
    if (c >= 0xC2 && c <= 0xDF)
        return CONT(p[1]) ? 2 : 0;
    if (c == 0xE0)
        return (p[1] >= 0xA0 && p[1] <= 0xBF && CONT(p[2])) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        return (CONT(p[1]) && CONT(p[2])) ? 3 : 0;
    if (c == 0xED)
        return (p[1] >= 0x80 && p[1] <= 0x9F && CONT(p[2])) ? 3 : 0;
    if (c == 0xF0)
        return (p[1] >= 0x90 && p[1] <= 0xBF && CONT(p[2]) && CONT(p[3])) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3)
        return (CONT(p[1]) && CONT(p[2]) && CONT(p[3])) ? 4 : 0;
    if (c == 0xF4)
        return (p[1] >= 0x80 && p[1] <= 0x8F && CONT(p[2]) && CONT(p[3])) ? 4 : 0;
#undef CONT
    return 0;
}

/* Mask with the high bit set in each byte of x that is '"', '\\', < 0x20 or >= 0x80.
 * Only the lowest set byte is exact (borrows can flag bytes above it), which is all the
 * scanner uses. */
static inline uint64_t special_bytes(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) | x) & high;
}

/* p is just after an opening quote; bytes up to safe_end are readable. Returns the
 * closing quote, or NULL with *bad and *msg naming the offending byte. *esc is set if the
 * body has escapes or non-ASCII bytes. Eight bytes a step while they are readable. */
static inline const char *string_end(const char *p, const char *safe_end, uint8_t *esc,
                                     const char **bad, const char **msg)
{
    for (;;) {
        while (safe_end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            uint64_t m = special_bytes(x);
            if (m) {
                p += __builtin_ctzll(m) >> 3;
                break;
            }
            p += 8;
        }
        while (str_class[(unsigned char)*p] == 0)
            p++;
        switch (str_class[(unsigned char)*p]) {
        case 1:
            return p;
        case 2: {
            const char *q = escape_end(p, msg);
            if (!q) {
                *bad = p;
                return NULL;
            }
            *esc = 1;
            p = q;
            break;
        }
        case 3:
            *bad = p;
            *msg = *p == '\n' ? "unterminated string" : "control character in string";
            return NULL;
        default: {
            int n = utf8_len(p);
            if (!n) {
                *bad = p;
                *msg = "invalid UTF-8 in string";
                return NULL;
            }
            *esc = 1;
            p += n;
        }
        }
    }
}

/* Next character of a validated string body [*pp, end): a code point (escapes decoded;
 * a non-ASCII byte is returned as itself, enough to tell it is not ASCII), or -1 at end.
 * With raw != 0 the bytes are returned as they are (no escapes). */
static int32_t str_next(const char **pp, const char *end, int raw)
{
    const char *p = *pp;
    if (p >= end)
        return -1;
    if (raw || *p != '\\') {
        *pp = p + 1;
        return (unsigned char)*p;
    }
    switch (p[1]) {
    case 'u': {
        int u = hex4(p + 2);
        if (u >= 0xD800 && u <= 0xDBFF) {
            *pp = p + 12;
            return 0x10000 + ((u - 0xD800) << 10) + (hex4(p + 8) - 0xDC00);
        }
        *pp = p + 6;
        return u;
    }
    case 'b': *pp = p + 2; return '\b';
    case 'f': *pp = p + 2; return '\f';
    case 'n': *pp = p + 2; return '\n';
    case 'r': *pp = p + 2; return '\r';
    case 't': *pp = p + 2; return '\t';
    default: *pp = p + 2; return (unsigned char)p[1]; /* " \ / */
    }
}

/* Does the string body [s, e) (escaped or not) equal the ASCII word w of n bytes? */
#define STR_EQUALS(s, e, esc, lit) str_equals((s), (e), (esc), (lit), sizeof(lit) - 1)
static inline int str_equals(const char *s, const char *e, int esc, const char *w, size_t n)
{
    if (!esc)
        return (size_t)(e - s) == n && memcmp(s, w, n) == 0;
    const char *p = s;
    for (size_t i = 0; i < n; i++)
        if (str_next(&p, e, 0) != (unsigned char)w[i])
            return 0;
    return str_next(&p, e, 0) == -1;
}

/* ---- decimals ------------------------------------------------------------------------ */

enum { DEC_OK = 0, DEC_BAD = 1, DEC_RANGE = 2 };

/* Plain text of [0-9.] up to the closing quote: returns the closing quote with *code and
 * *v set, or NULL when the slow path must decide (other bytes, '5.', '', long text). */
static inline const char *dec_fast(const char *s, int scale, int64_t step, int64_t *v, int *code)
{
    const char *p = s;
    uint64_t acc = 0;
    while (IS_DIGIT(*p)) {
        acc = acc * 10 + (uint64_t)(*p - '0'); /* may wrap; then nd > 18 sends it away */
        p++;
    }
    size_t nd = (size_t)(p - s);
    if (nd == 0)
        return NULL;
    int pad = scale;
    unsigned extra = 0;
    if (*p == '.') {
        p++;
        int k = 0;
        while (k < scale && IS_DIGIT(p[k])) {
            acc = acc * 10 + (uint64_t)(p[k] - '0');
            k++;
        }
        const char *q = p + k;
        while (IS_DIGIT(*q)) {
            extra |= (unsigned)(*q - '0');
            q++;
        }
        if (q == p)
            return NULL; /* '5.' */
        nd += (size_t)k;
        pad = scale - k;
        p = q;
    }
    if (*p != '"' || nd + (size_t)pad > 18)
        return NULL;
    if (extra) {
        *code = DEC_BAD;
        return p;
    }
    acc *= pow10_u64[pad];
    if (step != 1) {
        if (acc % (uint64_t)step) {
            *code = DEC_BAD;
            return p;
        }
        acc /= (uint64_t)step;
    }
    *v = (int64_t)acc;
    *code = DEC_OK;
    return p;
}

/* Exact conversion of any validated string body [s, e): grammar digits['.'digits], ASCII
 * only; digits finer than 10^-scale must be zeros; a multiple of step; steps <= INT64_MAX. */
static int dec_slow(const char *s, const char *e, int raw, int scale, int64_t step, int64_t *v)
{
    /* Past this, acc * 10 would not fit; and steps = acc / step > INT64_MAX for any step. */
    const u128 limit = (~(u128)0 - 9) / 10;
    u128 acc = 0;
    uint64_t mod = 0; /* the value mod step, exact even when acc saturates */
    int big = 0;
    const char *p = s;
    int32_t c = str_next(&p, e, raw);
    int whole = 0, frac = 0, extra = 0;
#define PUSH(d)                                                                          \
    do {                                                                                 \
        mod = (uint64_t)((((u128)mod) * 10 + (unsigned)(d)) % (uint64_t)step);           \
        if (!big) {                                                                      \
            if (acc > limit)                                                             \
                big = 1;                                                                 \
            else                                                                         \
                acc = acc * 10 + (unsigned)(d);                                          \
        }                                                                                \
    } while (0)
    while (c >= '0' && c <= '9') {
        PUSH(c - '0');
        whole++;
        c = str_next(&p, e, raw);
    }
    if (whole == 0)
        return DEC_BAD;
    if (c == '.') {
        int nf = 0;
        c = str_next(&p, e, raw);
        while (c >= '0' && c <= '9') {
            if (nf < scale) {
                PUSH(c - '0');
                frac++;
            } else if (c != '0') {
                extra = 1;
            }
            nf++;
            c = str_next(&p, e, raw);
        }
        if (nf == 0)
            return DEC_BAD;
    }
    if (c != -1 || extra)
        return DEC_BAD;
    for (int i = frac; i < scale; i++)
        PUSH(0);
#undef PUSH
    if (mod != 0)
        return DEC_BAD;
    if (big)
        return DEC_RANGE;
    u128 q = acc / (uint64_t)step;
    if (q > (u128)INT64_MAX)
        return DEC_RANGE;
    *v = (int64_t)q;
    return DEC_OK;
}

int bot4_feed_decimal_steps(const char *text, size_t n, int32_t scale, int64_t step_units,
                            int64_t *steps)
{
    if ((!text && n) || !steps || scale < 0 || scale > BOT4_FEED_MAX_SCALE || step_units < 1)
        return BOT4_FEED_EINVAL;
    int64_t v = 0;
    int code = dec_slow(text, text + n, 1, scale, step_units, &v);
    if (code != DEC_OK)
        return BOT4_FEED_EPARSE;
    *steps = v;
    return BOT4_FEED_OK;
}

/* ---- the line context ---------------------------------------------------------------- */

enum { T_NONE = 0, T_NULL, T_TRUE, T_FALSE, T_INT, T_NUM, T_STR, T_ARR, T_OBJ };

/* Recorded keys: of the top-level object, then of its "data" object. A bids key is
 * directly followed by its asks key (the in-place rule relies on it). */
enum {
    TK_DATA, TK_LUID, TK_T, TK_E, TK_BIDS, TK_ASKS,
    DK_e, DK_E, DK_T, DK_U, DK_u, DK_pu, DK_b, DK_a, DK_t, DK_p, DK_q, DK_m, DK_B, DK_A,
    N_KEYS
};
#define DATA_KEYS_MASK (((1u << N_KEYS) - 1) & ~((1u << DK_e) - 1))

static const char *const key_names[N_KEYS] = {
    "data", "lastUpdateId", "T", "E", "bids", "asks",
    "e", "E", "T", "U", "u", "pu", "b", "a", "t", "p", "q", "m", "B", "A",
};

typedef struct field {
    const char *v;    /* value start (strings: first byte of the body) */
    const char *vend; /* value end (strings: the closing quote) */
    int64_t ival;     /* T_INT within int64 */
    int64_t dec_val;  /* with dec_done: the string converted on the price/qty grid */
    int dec_code;
    uint8_t dec_done;
    uint8_t type;
    uint8_t int_ok;
    uint8_t esc; /* string body has escapes or non-ASCII bytes */
} field;

typedef struct levels_res {
    int64_t n;
    int64_t bad_price_i, bad_qty_i; /* first bad row of this array, or -1 */
    const char *bp, *bpe, *bq, *bqe;
    int bp_code, bq_code;
} levels_res;

typedef struct inplace {
    const char *span; /* the '[' of the array converted in place */
    int fid;
    levels_res r;
} inplace;

typedef struct line_ctx {
    const char *ls, *le;
    const char *safe_end; /* bytes before it are readable (8-byte string steps) */
    const bot4_feed_grid *g;
    bot4_event *out; /* row0: the first row of this line's message */
    uint32_t present;
    field f[N_KEYS];
    inplace ip[2];
    int nip;
    int top_is_object;
    uint32_t dec_keys; /* keys whose string values are prices or quantities */
    const char *err_at;
    char *reason;
} line_ctx;

static const char *json_fail(line_ctx *lc, const char *at, const char *msg)
{
    lc->err_at = at;
    snprintf(lc->reason, sizeof(((bot4_feed_result *)0)->reason), "malformed JSON (%s)", msg);
    return NULL;
}

static int value_fail(line_ctx *lc, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int value_fail(line_ctx *lc, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lc->reason, sizeof(((bot4_feed_result *)0)->reason), fmt, ap);
    va_end(ap);
    lc->err_at = at;
    return -1;
}

static const char *scan_string(line_ctx *lc, const char *p, uint8_t *esc)
{
    const char *bad = NULL, *msg = NULL;
    const char *e = string_end(p, lc->safe_end, esc, &bad, &msg);
    if (!e)
        return json_fail(lc, bad, msg);
    return e;
}

/* ---- numbers and literals ------------------------------------------------------------ */

/* 2^1024 - 2^970: the least decimal that rounds to +inf as a double (ties to even). */
static const char dbl_overflow_digits[] =
    "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490"
    "1797758720709633028641669288791094655554785194040263065748867150582068190890200070838367"
    "6273854845817711531764475730270069855571366959622842914819860834936475292719074168444365"
    "510704342711559699508093042880177904174497792";

/* Does the number with integer digits [i0, i1), fraction digits [f0, f1) (f0 may be NULL)
 * and exponent ex overflow a double (as orjson refuses it)? Exact. */
static int number_is_inf(const char *i0, const char *i1, const char *f0, const char *f1, int64_t ex)
{
    const char *z = i0;
    int64_t x; /* the value lies in [10^(x-1), 10^x) */
    while (z < i1 && *z == '0')
        z++;
    if (z < i1) {
        x = (int64_t)(i1 - z) + ex;
    } else {
        if (!f0)
            return 0;
        z = f0;
        while (z < f1 && *z == '0')
            z++;
        if (z == f1)
            return 0; /* zero */
        x = -(int64_t)(z - f0) + ex;
    }
    if (x <= 308)
        return 0;
    if (x >= 310)
        return 1;
    /* x == 309: compare the significant digits, from z on, with the threshold's. */
    const char *a1 = z, *b1 = z < i1 ? i1 : f1, *a2 = NULL, *b2 = NULL;
    if (z < i1 && f0) {
        a2 = f0;
        b2 = f1;
    }
    for (size_t k = 0; k < sizeof dbl_overflow_digits - 1; k++) {
        int d = 0;
        if (a1 < b1)
            d = *a1++ - '0';
        else if (a2 && a2 < b2)
            d = *a2++ - '0';
        int t = dbl_overflow_digits[k] - '0';
        if (d != t)
            return d > t;
    }
    return 1; /* equal to the threshold (or above it in further digits) */
}

/* Number at p; records type/int value in f when f is non-NULL. */
static const char *scan_number(line_ctx *lc, const char *p, field *f)
{
    if (*p >= '1' && *p <= '9') { /* fast path: a positive integer of at most 18 digits */
        uint64_t u = 0;
        const char *q = digits_run(p, lc->safe_end, &u);
        if (q - p <= 18 && *q != '.' && *q != 'e' && *q != 'E') {
            if (f) {
                f->type = T_INT;
                f->int_ok = 1;
                f->ival = (int64_t)u;
            }
            return q;
        }
    }
    const char *s = p;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    const char *i0 = p;
    if (*p == '0') {
        p++;
        if (IS_DIGIT(*p))
            return json_fail(lc, p, "number with a leading zero");
    } else if (IS_DIGIT(*p)) {
        while (IS_DIGIT(*p))
            p++;
    } else {
        return json_fail(lc, p, "expected a digit");
    }
    const char *i1 = p, *f0 = NULL, *f1 = NULL;
    int is_int = 1;
    int64_t ex = 0;
    if (*p == '.') {
        p++;
        f0 = p;
        if (!IS_DIGIT(*p))
            return json_fail(lc, p, "expected a digit after '.'");
        while (IS_DIGIT(*p))
            p++;
        f1 = p;
        is_int = 0;
    }
    if (*p == 'e' || *p == 'E') {
        is_int = 0;
        p++;
        int eneg = 0;
        if (*p == '+' || *p == '-') {
            eneg = *p == '-';
            p++;
        }
        if (!IS_DIGIT(*p))
            return json_fail(lc, p, "expected a digit in the exponent");
        while (IS_DIGIT(*p)) {
            if (ex < 1000000000)
                ex = ex * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            ex = -ex;
    }
    if ((!is_int || i1 - i0 > 19) && number_is_inf(i0, i1, f0, f1, ex))
        return json_fail(lc, s, "number is infinite as a double");
    if (f) {
        f->type = is_int ? T_INT : T_NUM;
        f->int_ok = 0;
        if (is_int && i1 - i0 <= 19) {
            uint64_t u = 0;
            for (const char *q = i0; q < i1; q++)
                u = u * 10 + (uint64_t)(*q - '0');
            if (!neg && u <= (uint64_t)INT64_MAX) {
                f->ival = (int64_t)u;
                f->int_ok = 1;
            } else if (neg && u <= (uint64_t)INT64_MAX + 1) {
                f->ival = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
                f->int_ok = 1;
            }
        }
    }
    return p;
}

/* A scalar (string, number, true/false/null) at p; NULL with an error otherwise. */
static const char *scan_scalar(line_ctx *lc, const char *p, field *f)
{
    switch (*p) {
    case '"': {
        uint8_t esc = 0;
        const char *e = scan_string(lc, p + 1, &esc);
        if (!e)
            return NULL;
        if (f) {
            f->type = T_STR;
            f->v = p + 1;
            f->vend = e;
            f->esc = esc;
        }
        return e + 1;
    }
    case 't':
        if (p[1] == 'r' && p[2] == 'u' && p[3] == 'e') {
            if (f)
                f->type = T_TRUE;
            return p + 4;
        }
        break;
    case 'f':
        if (p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e') {
            if (f)
                f->type = T_FALSE;
            return p + 5;
        }
        break;
    case 'n':
        if (p[1] == 'u' && p[2] == 'l' && p[3] == 'l') {
            if (f)
                f->type = T_NULL;
            return p + 4;
        }
        break;
    default:
        if (*p == '-' || IS_DIGIT(*p))
            return scan_number(lc, p, f);
        break;
    }
    return json_fail(lc, p, *p == '\n' ? "unexpected end of line" : "expected a JSON value");
}

/* Any JSON value at p, inside containers nested `depth` deep; iterative. */
static const char *skip_value(line_ctx *lc, const char *p, int depth)
{
    if (*p != '{' && *p != '[')
        return scan_scalar(lc, p, NULL);
    uint64_t is_obj[BOT4_FEED_MAX_DEPTH / 64 + 1];
    int d = 0; /* containers open in this call */
open:
    if (depth + d + 1 > BOT4_FEED_MAX_DEPTH)
        return json_fail(lc, p, "depth limit exceeded");
    {
        int obj = *p == '{';
        if (obj)
            is_obj[d / 64] |= 1ULL << (d % 64);
        else
            is_obj[d / 64] &= ~(1ULL << (d % 64));
        d++;
        p = skip_ws(p + 1);
        if (*p == (obj ? '}' : ']')) {
            p++;
            goto closed;
        }
    }
element:
    if (is_obj[(d - 1) / 64] >> ((d - 1) % 64) & 1) {
        if (*p != '"')
            return json_fail(lc, p, "expected a string key");
        uint8_t esc = 0;
        const char *e = scan_string(lc, p + 1, &esc);
        if (!e)
            return NULL;
        p = skip_ws(e + 1);
        if (*p != ':')
            return json_fail(lc, p, "expected ':' after a key");
        p = skip_ws(p + 1);
    }
    if (*p == '{' || *p == '[')
        goto open;
    p = scan_scalar(lc, p, NULL);
    if (!p)
        return NULL;
after:
    p = skip_ws(p);
    {
        int obj = is_obj[(d - 1) / 64] >> ((d - 1) % 64) & 1;
        if (*p == ',') {
            p = skip_ws(p + 1);
            goto element;
        }
        if (*p == (obj ? '}' : ']')) {
            p++;
            goto closed;
        }
        return json_fail(lc, p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
closed:
    if (--d == 0)
        return p;
    goto after;
}

/* ---- level arrays ----------------------------------------------------------------- */

/* Decimal string body at s (after the quote): the closing quote with *v and *code, or NULL
 * when the body is not a valid JSON string. */
static inline const char *dec_string(const char *s, const char *safe_end, int scale, int64_t step,
                                     int64_t *v, int *code)
{
    const char *e = dec_fast(s, scale, step, v, code);
    if (e)
        return e;
    uint8_t esc = 0;
    const char *bad, *msg;
    e = string_end(s, safe_end, &esc, &bad, &msg);
    if (!e)
        return NULL;
    *code = dec_slow(s, e, !esc, scale, step, v);
    return e;
}

/* [[price, qty], ...] at p (p[0] == '[') into out[0..n): price, qty, side. Returns the byte
 * after the closing ']', or NULL if the value is anything else or not valid JSON (the
 * caller then re-scans it with skip_value). Text errors are recorded, not returned: they
 * matter only if the message turns out to use this array. */
static const char *parse_levels(const line_ctx *lc, const char *p, bot4_event *out,
                                uint8_t side, levels_res *r)
{
    const bot4_feed_grid *g = lc->g;
    const int pscale = g->price_scale, qscale = g->qty_scale;
    const int64_t tick = g->tick_units, lot = g->lot_units;
    r->n = 0;
    r->bad_price_i = r->bad_qty_i = -1;
    p = skip_ws(p + 1);
    if (*p == ']')
        return p + 1;
    /* Separators are tried without whitespace first (as the exchange writes them); each
     * byte is read only after the one before it matched, so the sentinel stops it. */
    for (;;) {
        int64_t price = 0, qty = 0;
        int code = DEC_OK;
        if (p[0] == '[' && p[1] == '"') {
            p++;
        } else {
            if (*p != '[')
                return NULL;
            p = skip_ws(p + 1);
            if (*p != '"')
                return NULL;
        }
        const char *s = p + 1;
        const char *e = dec_string(s, lc->safe_end, pscale, tick, &price, &code);
        if (!e)
            return NULL;
        if (code == DEC_OK && price <= 0)
            code = DEC_BAD;
        if (code != DEC_OK && r->bad_price_i < 0) {
            r->bad_price_i = r->n;
            r->bp = s;
            r->bpe = e;
            r->bp_code = code;
        }
        if (e[1] == ',' && e[2] == '"') {
            p = e + 2;
        } else {
            p = skip_ws(e + 1);
            if (*p != ',')
                return NULL;
            p = skip_ws(p + 1);
            if (*p != '"')
                return NULL;
        }
        s = p + 1;
        e = dec_string(s, lc->safe_end, qscale, lot, &qty, &code);
        if (!e)
            return NULL;
        if (code != DEC_OK && r->bad_qty_i < 0) {
            r->bad_qty_i = r->n;
            r->bq = s;
            r->bqe = e;
            r->bq_code = code;
        }
        p = e[1] == ']' ? e + 1 : skip_ws(e + 1);
        if (*p != ']')
            return NULL;
        bot4_event *ev = out + r->n;
        ev->price = price;
        ev->qty = qty;
        ev->side = side;
        r->n++;
        if (p[1] == ',') {
            p += 2;
            if (*p != '[')
                p = skip_ws(p);
            continue;
        }
        p = skip_ws(p + 1);
        if (*p == ',') {
            p = skip_ws(p + 1);
            continue;
        }
        if (*p == ']')
            return p + 1;
        return NULL;
    }
}

/* ---- objects ------------------------------------------------------------------------- */

/* One-character keys -> id + 1 (0: not recorded). */
static const int8_t data_key1[256] = {
    ['e'] = DK_e + 1, ['E'] = DK_E + 1, ['T'] = DK_T + 1, ['U'] = DK_U + 1, ['u'] = DK_u + 1,
    ['b'] = DK_b + 1, ['a'] = DK_a + 1, ['t'] = DK_t + 1, ['p'] = DK_p + 1, ['q'] = DK_q + 1,
    ['m'] = DK_m + 1, ['B'] = DK_B + 1, ['A'] = DK_A + 1,
};
static const int8_t top_key1[256] = {['T'] = TK_T + 1, ['E'] = TK_E + 1};

static int key_id(int data_ctx, const char *k, const char *ke, int esc)
{
    char buf[16];
    size_t n = 0;
    if (esc) {
        const char *p = k;
        int32_t c;
        while ((c = str_next(&p, ke, 0)) != -1) {
            if (c <= 0 || c >= 0x80 || n == sizeof buf)
                return -1;
            buf[n++] = (char)c;
        }
        k = buf;
    } else {
        n = (size_t)(ke - k);
    }
    if (data_ctx) {
        if (n == 1) {
            switch (k[0]) {
            case 'e': return DK_e;
            case 'E': return DK_E;
            case 'T': return DK_T;
            case 'U': return DK_U;
            case 'u': return DK_u;
            case 'b': return DK_b;
            case 'a': return DK_a;
            case 't': return DK_t;
            case 'p': return DK_p;
            case 'q': return DK_q;
            case 'm': return DK_m;
            case 'B': return DK_B;
            case 'A': return DK_A;
            default: return -1;
            }
        }
        if (n == 2 && k[0] == 'p' && k[1] == 'u')
            return DK_pu;
        return -1;
    }
    if (n == 1)
        return k[0] == 'T' ? TK_T : k[0] == 'E' ? TK_E : -1;
    if (n == 4) {
        if (!memcmp(k, "data", 4))
            return TK_DATA;
        if (!memcmp(k, "bids", 4))
            return TK_BIDS;
        if (!memcmp(k, "asks", 4))
            return TK_ASKS;
        return -1;
    }
    if (n == 12 && !memcmp(k, "lastUpdateId", 12))
        return TK_LUID;
    return -1;
}

static const char *scan_object(line_ctx *lc, const char *p, int data_ctx);

/* The value of recorded key `id` at p, in an object nested `depth` deep. */
static const char *scan_field(line_ctx *lc, const char *p, int id, int depth)
{
    field *f = &lc->f[id];
    const char *start = p;
    if (id == TK_DATA && *p == '{') {
        lc->present &= ~DATA_KEYS_MASK; /* a later "data" replaces an earlier one whole */
        p = scan_object(lc, p, 1);
        if (!p)
            return NULL;
        f->type = T_OBJ;
    } else if (*p == '[') {
        int is_bids = id == TK_BIDS || id == DK_b;
        int is_level_key = is_bids || id == TK_ASKS || id == DK_a;
        inplace *ip = NULL;
        bot4_event *at = NULL;
        if (is_level_key && lc->nip == 0 && is_bids) {
            ip = &lc->ip[0];
            at = lc->out;
        } else if (is_level_key && lc->nip == 1 && id == lc->ip[0].fid + 1) {
            ip = &lc->ip[1];
            at = lc->out + lc->ip[0].r.n;
        }
        const char *q = NULL;
        if (ip) {
            q = parse_levels(lc, p, at, is_bids ? BOT4_SIDE_BID : BOT4_SIDE_ASK, &ip->r);
            if (q) {
                ip->span = p;
                ip->fid = id;
                lc->nip++;
            }
        }
        p = q ? q : skip_value(lc, p, depth);
        if (!p)
            return NULL;
        f->type = T_ARR;
    } else if (*p == '{') {
        p = skip_value(lc, p, depth);
        if (!p)
            return NULL;
        f->type = T_OBJ;
    } else {
        f->esc = 0;
        f->dec_done = 0;
        if (*p == '"' && (lc->dec_keys >> id & 1)) { /* a price or qty: convert as it is scanned */
            int is_price = id == DK_b || id == DK_a || id == DK_p;
            const bot4_feed_grid *g = lc->g;
            const char *e = dec_fast(p + 1, is_price ? g->price_scale : g->qty_scale,
                                     is_price ? g->tick_units : g->lot_units, &f->dec_val, &f->dec_code);
            if (e) {
                f->type = T_STR;
                f->v = p + 1;
                f->vend = e;
                f->dec_done = 1;
                lc->present |= 1u << id;
                return e + 1;
            }
        }
        p = scan_scalar(lc, p, f);
        if (!p)
            return NULL;
        lc->present |= 1u << id;
        if (f->type != T_STR) { /* strings keep their body span */
            f->v = start;
            f->vend = p;
        }
        return p;
    }
    f->v = start;
    f->vend = p;
    lc->present |= 1u << id;
    return p;
}

/* The object at p (p[0] == '{'): top-level (data_ctx 0, depth 1) or "data" (depth 2). */
static const char *scan_object(line_ctx *lc, const char *p, int data_ctx)
{
    int depth = data_ctx ? 2 : 1;
    p = skip_ws(p + 1);
    if (*p == '}')
        return p + 1;
    for (;;) {
        if (*p != '"')
            return json_fail(lc, p, "expected a string key");
        const char *ke;
        int id;
        if (str_class[(unsigned char)p[1]] == 0 && p[2] == '"') { /* one-character key */
            ke = p + 2;
            id = (data_ctx ? data_key1 : top_key1)[(unsigned char)p[1]] - 1;
        } else {
            uint8_t esc = 0;
            const char *k = p + 1;
            ke = scan_string(lc, k, &esc);
            if (!ke)
                return NULL;
            id = key_id(data_ctx, k, ke, esc);
        }
        p = skip_ws(ke + 1);
        if (*p != ':')
            return json_fail(lc, p, "expected ':' after a key");
        p = skip_ws(p + 1);
        if (id >= 0) {
            p = scan_field(lc, p, id, depth);
        } else if (*p == '"') { /* the usual unknown value ("stream", "s"): a string */
            uint8_t esc = 0;
            p = scan_string(lc, p + 1, &esc);
            p = p ? p + 1 : NULL;
        } else {
            p = skip_value(lc, p, depth);
        }
        if (!p)
            return NULL;
        p = skip_ws(p);
        if (*p == ',') {
            p = skip_ws(p + 1);
            continue;
        }
        if (*p == '}')
            return p + 1;
        return json_fail(lc, p, "expected ',' or '}'");
    }
}

/* The JSON document of a line, from p to le. 0, or -1 with the error in lc. */
static int scan_message(line_ctx *lc, const char *p)
{
    p = skip_ws(p);
    if (*p == '{') {
        lc->top_is_object = 1;
        p = scan_object(lc, p, 0);
    } else {
        lc->top_is_object = 0;
        p = skip_value(lc, p, 0);
    }
    if (!p)
        return -1;
    p = skip_ws(p);
    if (p != lc->le) {
        json_fail(lc, p, "unexpected content after the document");
        return -1;
    }
    return 0;
}

/* ---- building the message's rows ------------------------------------------------------ */

static const char *type_name(int t)
{
    static const char *const names[] = {"nothing", "null", "true", "false", "an integer",
                                        "a non-integer number", "a string", "an array",
                                        "an object"};
    return names[t];
}

/* 'text' of a string body for a reason: printable ASCII as is, other bytes as \xNN,
 * quotes and backslashes escaped; cut at 40 bytes. */
static void quote_text(char *buf, size_t cap, const char *s, const char *e)
{
    size_t n = 0;
    buf[n++] = '\'';
    for (const char *p = s; p < e && n + 8 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (p - s >= 40) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (c == '\'' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            buf[n++] = (char)c;
        } else {
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
        }
    }
    buf[n++] = '\'';
    buf[n] = 0;
}

/* units * 10^-scale as decimal text, e.g. (1, 2) -> "0.01". */
static void step_text(char *buf, size_t cap, int64_t units, int scale)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)units);
    if (scale == 0) {
        snprintf(buf, cap, "%s", digits);
        return;
    }
    char tmp[64];
    int z = scale + 1 - n; /* leading zeros needed */
    size_t k = 0;
    for (int i = 0; i < z; i++)
        tmp[k++] = '0';
    memcpy(tmp + k, digits, (size_t)n);
    k += (size_t)n;
    tmp[k] = 0;
    size_t w = k - (size_t)scale;
    snprintf(buf, cap, "%.*s.%s", (int)w, tmp, tmp + w);
}

static int text_fail(line_ctx *lc, int is_price, const char *s, const char *e, int code)
{
    char q[64], step[48];
    quote_text(q, sizeof q, s, e);
    const bot4_feed_grid *g = lc->g;
    if (code == DEC_RANGE)
        return value_fail(lc, s - 1, "%s %s is out of range (int64 %s)", is_price ? "price" : "qty",
                          q, is_price ? "ticks" : "lots");
    if (is_price) {
        step_text(step, sizeof step, g->tick_units, g->price_scale);
        return value_fail(lc, s - 1, "price %s is not a positive decimal on the tick grid (%s)", q, step);
    }
    step_text(step, sizeof step, g->lot_units, g->qty_scale);
    return value_fail(lc, s - 1, "qty %s is not a non-negative decimal on the lot grid (%s)", q, step);
}

static int need(line_ctx *lc, int id, const char *obj)
{
    if (lc->present >> id & 1)
        return 0;
    return value_fail(lc, obj, "missing field '%s'", key_names[id]);
}

/* An integer field (present). */
static int get_int(line_ctx *lc, int id, int64_t *v)
{
    const field *f = &lc->f[id];
    if (f->type == T_INT && f->int_ok) {
        *v = f->ival;
        return 0;
    }
    const char *at = f->type == T_STR ? f->v - 1 : f->v;
    if (f->type == T_INT)
        return value_fail(lc, at, "bad value (field '%s' is out of the int64 range)", key_names[id]);
    return value_fail(lc, at, "bad value (field '%s' must be an integer, got %s)", key_names[id],
                      type_name(f->type));
}

/* An exchange time in ms (present) -> ns. null gives -1 when allowed. */
static int get_ms(line_ctx *lc, int id, int null_ok, int64_t *ns)
{
    const field *f = &lc->f[id];
    if (null_ok && f->type == T_NULL) {
        *ns = -1;
        return 0;
    }
    int64_t ms = 0;
    if (get_int(lc, id, &ms))
        return -1;
    if (__builtin_mul_overflow(ms, (int64_t)1000000, ns))
        return value_fail(lc, f->v, "bad value (field '%s' = %lld ms overflows int64 ns)", key_names[id],
                          (long long)ms);
    return 0;
}

/* A string-valued price/qty field (present) -> steps. */
static int get_text(line_ctx *lc, int id, int is_price, int64_t *v)
{
    const field *f = &lc->f[id];
    const bot4_feed_grid *g = lc->g;
    int scale = is_price ? g->price_scale : g->qty_scale;
    int64_t step = is_price ? g->tick_units : g->lot_units;
    int code = DEC_OK;
    if (f->dec_done) {
        code = f->dec_code;
        *v = f->dec_val;
    } else {
        code = dec_slow(f->v, f->vend, !f->esc, scale, step, v);
    }
    if (code == DEC_OK && is_price && *v <= 0)
        code = DEC_BAD;
    if (code != DEC_OK)
        return text_fail(lc, is_price, f->v, f->vend, code);
    return 0;
}

static int need_string(line_ctx *lc, int id)
{
    const field *f = &lc->f[id];
    if (f->type == T_STR)
        return 0;
    return value_fail(lc, f->v, "bad value (field '%s' must be a decimal string, got %s)", key_names[id],
                      type_name(f->type));
}

static int levels_shape_fail(line_ctx *lc, int id)
{
    const field *f = &lc->f[id];
    return value_fail(lc, f->type == T_STR ? f->v - 1 : f->v,
                      "bad value (field '%s' must be an array of [price, qty] string pairs, got %s)",
                      key_names[id], f->type == T_ARR ? "another array" : type_name(f->type));
}

/* Rows of a book message from the level keys b (bids) and a (asks), both present. */
static int book_rows(line_ctx *lc, int b, int a, int64_t *n_rows)
{
    levels_res rb, ra;
    const field *fb = &lc->f[b], *fa = &lc->f[a];
    if (lc->nip == 2 && lc->ip[0].fid == b && lc->ip[0].span == fb->v && fb->type == T_ARR &&
        lc->ip[1].span == fa->v && fa->type == T_ARR) {
        rb = lc->ip[0].r;
        ra = lc->ip[1].r;
    } else {
        /* Unusual arrangement: read both arrays again from their spans, in row order. */
        if (fb->type != T_ARR || !parse_levels(lc, fb->v, lc->out, BOT4_SIDE_BID, &rb))
            return levels_shape_fail(lc, b);
        if (fa->type != T_ARR || !parse_levels(lc, fa->v, lc->out + rb.n, BOT4_SIDE_ASK, &ra))
            return levels_shape_fail(lc, a);
    }
    if (rb.bad_price_i >= 0)
        return text_fail(lc, 1, rb.bp, rb.bpe, rb.bp_code);
    if (ra.bad_price_i >= 0)
        return text_fail(lc, 1, ra.bp, ra.bpe, ra.bp_code);
    if (rb.bad_qty_i >= 0)
        return text_fail(lc, 0, rb.bq, rb.bqe, rb.bq_code);
    if (ra.bad_qty_i >= 0)
        return text_fail(lc, 0, ra.bq, ra.bqe, ra.bq_code);
    int64_t n = rb.n + ra.n;
    if (n == 0) { /* keep the message (and its sequence ids) as one row */
        lc->out[0].price = 0;
        lc->out[0].qty = 0;
        lc->out[0].side = BOT4_SIDE_NONE;
        n = 1;
    }
    *n_rows = n;
    return 0;
}

enum { MSG_SNAPSHOT, MSG_DIFF, MSG_TRADE, MSG_QUOTE, MSG_SKIPPED };

/* Rows of the scanned message (Python reader's semantics). 0 with *n_rows and *kind, or
 * -1 with the error in lc. */
static int build_message(line_ctx *lc, const char *doc, int64_t ts_local, int64_t *n_rows, int *kind)
{
    int64_t ts_exch = -1, seq_first = BOT4_SEQ_NONE, seq_last = 0, seq_prev = BOT4_SEQ_NONE;
    int64_t n = 0;
    uint8_t ev_kind;
    const field *fd = &lc->f[TK_DATA];
    if (!lc->top_is_object)
        return value_fail(lc, doc, "bad value (the message is not a JSON object)");
    if (!(lc->present >> TK_DATA & 1) || fd->type == T_NULL) {
        if (!(lc->present >> TK_LUID & 1))
            return value_fail(lc, doc, "neither a stream message nor a depth snapshot");
        *kind = MSG_SNAPSHOT;
        ev_kind = BOT4_EV_SNAPSHOT;
        if (lc->present >> TK_T & 1) {
            if (get_ms(lc, TK_T, 1, &ts_exch))
                return -1;
        } else if (lc->present >> TK_E & 1) {
            if (get_ms(lc, TK_E, 1, &ts_exch))
                return -1;
        }
        if (get_int(lc, TK_LUID, &seq_last) || need(lc, TK_BIDS, doc) || need(lc, TK_ASKS, doc) ||
            book_rows(lc, TK_BIDS, TK_ASKS, &n))
            return -1;
    } else {
        if (fd->type != T_OBJ)
            return value_fail(lc, fd->v, "bad value (field 'data' must be an object, got %s)",
                              type_name(fd->type));
        const char *obj = fd->v;
        const field *fe = &lc->f[DK_e];
        int has_e = lc->present >> DK_e & 1;
        int e_str = has_e && fe->type == T_STR;
        if (e_str && STR_EQUALS(fe->v, fe->vend, fe->esc, "depthUpdate")) {
            *kind = MSG_DIFF;
            ev_kind = BOT4_EV_UPDATE;
            int tid = lc->present >> DK_T & 1 ? DK_T : DK_E;
            if (!(lc->present >> tid & 1))
                return value_fail(lc, obj, "bad value (depthUpdate without 'T' or 'E')");
            if (get_ms(lc, tid, 0, &ts_exch) || need(lc, DK_U, obj) || get_int(lc, DK_U, &seq_first) ||
                need(lc, DK_u, obj) || get_int(lc, DK_u, &seq_last))
                return -1;
            if ((lc->present >> DK_pu & 1) && lc->f[DK_pu].type != T_NULL && get_int(lc, DK_pu, &seq_prev))
                return -1;
            if (need(lc, DK_b, obj) || need(lc, DK_a, obj) || book_rows(lc, DK_b, DK_a, &n))
                return -1;
        } else if (e_str && STR_EQUALS(fe->v, fe->vend, fe->esc, "trade")) {
            *kind = MSG_TRADE;
            ev_kind = BOT4_EV_TRADE;
            if (need(lc, DK_m, obj))
                return -1;
            const field *fm = &lc->f[DK_m];
            if (fm->type != T_TRUE && fm->type != T_FALSE) {
                char q[64];
                const char *vend = fm->type == T_STR ? fm->vend + 1 : fm->vend;
                const char *v = fm->type == T_STR ? fm->v - 1 : fm->v;
                quote_text(q, sizeof q, v, vend);
                return value_fail(lc, v, "trade field 'm' must be true/false, got %s", q);
            }
            int64_t price, qty;
            if (need(lc, DK_T, obj) || get_ms(lc, DK_T, 0, &ts_exch) || need(lc, DK_t, obj) ||
                get_int(lc, DK_t, &seq_last) || need(lc, DK_p, obj) || need(lc, DK_q, obj) ||
                need_string(lc, DK_p) || need_string(lc, DK_q) || get_text(lc, DK_p, 1, &price) ||
                get_text(lc, DK_q, 0, &qty))
                return -1;
            lc->out[0].price = price;
            lc->out[0].qty = qty;
            lc->out[0].side = fm->type == T_TRUE ? BOT4_SIDE_ASK : BOT4_SIDE_BID; /* buyer is maker: seller took */
            n = 1;
        } else if ((e_str && STR_EQUALS(fe->v, fe->vend, fe->esc, "bookTicker")) ||
                   ((!has_e || fe->type == T_NULL) && (lc->present >> DK_u & 1) && (lc->present >> DK_B & 1))) {
            *kind = MSG_QUOTE;
            ev_kind = BOT4_EV_QUOTE;
            if (lc->present >> DK_T & 1) {
                if (get_ms(lc, DK_T, 1, &ts_exch))
                    return -1;
            } else if (lc->present >> DK_E & 1) {
                if (get_ms(lc, DK_E, 1, &ts_exch))
                    return -1;
            }
            int64_t bp, ap, bq, aq;
            if (need(lc, DK_u, obj) || get_int(lc, DK_u, &seq_last) || need(lc, DK_b, obj) ||
                need(lc, DK_a, obj) || need(lc, DK_B, obj) || need(lc, DK_A, obj) || need_string(lc, DK_b) ||
                need_string(lc, DK_a) || need_string(lc, DK_B) || need_string(lc, DK_A) ||
                get_text(lc, DK_b, 1, &bp) || get_text(lc, DK_a, 1, &ap) || get_text(lc, DK_B, 0, &bq) ||
                get_text(lc, DK_A, 0, &aq))
                return -1;
            lc->out[0].price = bp;
            lc->out[0].qty = bq;
            lc->out[0].side = BOT4_SIDE_BID;
            lc->out[1].price = ap;
            lc->out[1].qty = aq;
            lc->out[1].side = BOT4_SIDE_ASK;
            n = 2;
        } else {
            *kind = MSG_SKIPPED;
            *n_rows = 0;
            return 0;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        bot4_event *ev = lc->out + i;
        ev->ts_exch = ts_exch;
        ev->ts_local = ts_local;
        ev->seq_first = seq_first;
        ev->seq_last = seq_last;
        ev->seq_prev = seq_prev;
        ev->kind = ev_kind;
        ev->flags = 0;
        ev->reserved = 0;
    }
    lc->out[0].flags |= BOT4_EVF_BEGIN;
    lc->out[n - 1].flags |= BOT4_EVF_END;
    *n_rows = n;
    return 0;
}

/* ---- the line loop ------------------------------------------------------------------ */

void bot4_feed_result_init(bot4_feed_result *res)
{
    memset(res, 0, sizeof *res);
}

int bot4_feed_grid_check(const bot4_feed_grid *g)
{
    if (!g || g->price_scale < 0 || g->price_scale > BOT4_FEED_MAX_SCALE || g->qty_scale < 0 ||
        g->qty_scale > BOT4_FEED_MAX_SCALE || g->tick_units < 1 || g->lot_units < 1)
        return BOT4_FEED_EINVAL;
    return BOT4_FEED_OK;
}

/* One non-empty line [ls, le), *le == '\n'. 0 with rows at out, or -1 with res->reason. */
static int scan_line(const char *ls, const char *le, const char *safe_end, const bot4_feed_grid *g,
                     bot4_event *out, bot4_feed_result *res, int64_t *n_rows, int *kind)
{
    line_ctx lc;
    lc.ls = ls;
    lc.le = le;
    lc.safe_end = safe_end;
    lc.dec_keys = 1u << DK_b | 1u << DK_a | 1u << DK_p | 1u << DK_B | 1u << DK_A | 1u << DK_q;
    lc.g = g;
    lc.out = out;
    lc.present = 0;
    lc.nip = 0;
    lc.err_at = ls;
    lc.reason = res->reason;
    uint64_t ts = 0;
    const char *t0 = ls;
    while (*t0 == '0' && IS_DIGIT(t0[1])) /* leading zeros, as int() takes them */
        t0++;
    const char *sp = digits_run(t0, safe_end, &ts);
    if (*sp != ' ' || sp == ls || sp - t0 > 19 || ts > (uint64_t)INT64_MAX) {
        /* Python's framing: the text before the first space must be an integer. */
        sp = memchr(ls, ' ', (size_t)(le - ls));
        if (!sp) {
            value_fail(&lc, ls, "expected '<ns timestamp> <json>'");
            goto fail;
        }
        char q[64];
        quote_text(q, sizeof q, ls, sp);
        value_fail(&lc, ls, "bad value (timestamp %s is not a non-negative int64 of ASCII digits)", q);
        goto fail;
    }
    if (scan_message(&lc, sp + 1))
        goto fail;
    if (build_message(&lc, skip_ws(sp + 1), (int64_t)ts, n_rows, kind))
        goto fail;
    return 0;
fail:
    res->err_col = (int64_t)(lc.err_at - ls) + 1;
    return -1;
}

int bot4_feed_binance_parse(const char *buf, size_t len, const bot4_feed_grid *grid,
                            bot4_event *out, int64_t out_cap, bot4_feed_result *res)
{
    if (!res || (!buf && len) || bot4_feed_grid_check(grid) != BOT4_FEED_OK || out_cap < 0 ||
        (!out && out_cap) || res->offset > len || res->rows < 0 || res->rows > out_cap)
        return BOT4_FEED_EINVAL;
    size_t off = res->offset;
    while (off < len) {
        const char *ls = buf + off;
        const char *nl = memchr(ls, '\n', len - off);
        size_t llen = nl ? (size_t)(nl - ls) : len - off;
        int64_t line_no = res->line_no + 1;
        if (llen == 0) {
            res->line_no = line_no;
            off += 1;
            res->offset = off;
            continue;
        }
        int64_t room = (int64_t)(llen / 7) + 4;
        if (res->rows + room > out_cap) {
            res->need_rows = res->rows + room;
            return BOT4_FEED_NEED_ROOM;
        }
        char *copy = NULL;
        if (!nl) { /* the last line has no '\n': give it one to stop on */
            copy = malloc(llen + 1);
            if (!copy)
                return BOT4_FEED_ENOMEM;
            memcpy(copy, ls, llen);
            copy[llen] = '\n';
            ls = copy;
        }
        int64_t n = 0;
        int kind = MSG_SKIPPED;
        int st = scan_line(ls, ls + llen, copy ? copy + llen + 1 : buf + len, grid, out + res->rows, res,
                           &n, &kind);
        free(copy);
        if (st) {
            res->err_line = line_no;
            return BOT4_FEED_EPARSE;
        }
        res->rows += n;
        res->line_no = line_no;
        res->lines = line_no;
        switch (kind) {
        case MSG_SNAPSHOT: res->snapshots++; break;
        case MSG_DIFF: res->diffs++; break;
        case MSG_TRADE: res->trades++; break;
        case MSG_QUOTE: res->quotes++; break;
        default: res->skipped++; break;
        }
        if (kind != MSG_SKIPPED)
            res->messages++;
        off = nl ? (size_t)(nl - buf) + 1 : len;
        res->offset = off;
    }
    return BOT4_FEED_OK;
}
