/* test_feed_binance.c - C unit tests for csrc/feed_binance.c, run under ASan/UBSan by
 * `make sanitize`. Covers each message kind's rows, flags and sequence fields, errors with
 * line and column, resuming after BOT4_FEED_NEED_ROOM (same rows as one big call), an
 * unterminated last line, exact decimals, argument checks, and a mutation fuzz loop over
 * real-looking lines (byte flips, inserts, deletes, truncations) that must never read out
 * of bounds and must report a line inside the input. Row-for-row equality with the Python
 * reader is tested in tests/test_feed_c.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_binance.h"

#include "check.h"

static const bot4_feed_grid SPOT = {2, 6, 1, 1}; /* tick 0.01, lot 0.000001 */


static const char *const SAMPLE[] = {
    "1000 {\"lastUpdateId\":100,\"E\":7,\"bids\":[[\"61000.00\",\"1.5\"],[\"60999.99\",\"2\"]],\"asks\":[[\"61000.01\",\"0.25\"]]}",
    "1001 {\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1723161255208,\"s\":\"BTCUSDT\",\"U\":101,\"u\":103,\"b\":[[\"61000.00\",\"0\"]],\"a\":[[\"61000.02\",\"0.000001\"]]}}",
    "1002 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":5,\"T\":4,\"U\":104,\"u\":104,\"pu\":103,\"b\":[],\"a\":[]}}",
    "1003 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":5,\"s\":\"BTCUSDT\",\"t\":7,\"p\":\"61000.01\",\"q\":\"0.5\",\"T\":6,\"m\":true,\"M\":true}}",
    "1004 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":103,\"s\":\"BTCUSDT\",\"b\":\"60999.99\",\"B\":\"2\",\"a\":\"61000.01\",\"A\":\"0.25\"}}",
    "1005 {\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"x\":[1,{\"y\":[null,true,-0.5e3]}],\"s\":\"\\u0041\\ud83d\\ude00\"}}",
    "1006 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":9,\"b\":\"1.00\",\"B\":\"1\",\"a\":\"1.01\",\"A\":\"1\",\"T\":1,\"E\":2}}",
};
#define N_SAMPLE (sizeof SAMPLE / sizeof SAMPLE[0])

/* More shapes for the fuzz loop: a futures diff as recorded, escapes and whitespace,
 * bids after asks, a replaced "data" object. */
static const char *const FUZZ_EXTRA[] = {
    "1723161255030314667 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1723161256299,\"T\":1723161256298,\"s\":\"BTCUSDT\",\"U\":5123107832006,\"u\":5123107837557,\"pu\":5123107831937,\"b\":[[\"58710.20\",\"0.014\"],[\"61496.50\",\"0.010\"]],\"a\":[[\"61800.30\",\"2.510\"]]}}",
    "1008 { \"d\\u0061ta\" : { \"\\u0065\" : \"trade\" , \"T\" : 6 , \"t\" : 8 , \"p\" : \"1\\u002e00\" , \"q\" : \"2\" , \"m\" : false } }\r",
    "1009 {\"data\":{\"a\":[[\"2.00\",\"1\"]],\"e\":\"depthUpdate\",\"b\":[[\"9\",\"x\"]],\"E\":1,\"U\":5,\"u\":6,\"b\":[[\"1.50\",\"2\"]]}}",
    "1010 {\"data\":{\"e\":\"trade\",\"T\":1,\"t\":1,\"p\":\"1\",\"q\":\"1\",\"m\":true},\"data\":{\"u\":1,\"b\":\"1.00\",\"B\":\"1\",\"a\":\"1.01\",\"A\":\"2\"}}",
};
#define N_FUZZ_EXTRA (sizeof FUZZ_EXTRA / sizeof FUZZ_EXTRA[0])

static char *join_lines(const char *const *lines, size_t count, const char *const *more, size_t count_more,
                        size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < count + count_more; i++)
        n += strlen(i < count ? lines[i] : more[i - count]) + 1;
    char *b = malloc(n);
    size_t k = 0;
    for (size_t i = 0; i < count + count_more; i++) {
        const char *l = i < count ? lines[i] : more[i - count];
        size_t m = strlen(l);
        memcpy(b + k, l, m);
        k += m;
        b[k++] = '\n';
    }
    *len = n;
    return b;
}

static char *join_sample(size_t *len)
{
    return join_lines(SAMPLE, N_SAMPLE, NULL, 0, len);
}

/* Parse all of buf (exactly len bytes, in a fresh allocation so ASan sees overreads) with
 * a growing output starting at `cap0` rows. */
static int parse_all(const char *src, size_t len, const bot4_feed_grid *g, int64_t cap0,
                     bot4_event **out, bot4_feed_result *res, int *regrows)
{
    char *buf = malloc(len ? len : 1);
    memcpy(buf, src, len);
    int64_t cap = cap0;
    *out = malloc((size_t)(cap ? cap : 1) * sizeof(bot4_event));
    bot4_feed_result_init(res);
    int st;
    *regrows = 0;
    while ((st = bot4_feed_binance_parse(buf, len, g, *out, cap, res)) == BOT4_FEED_NEED_ROOM) {
        int64_t nc = cap * 2 > res->need_rows ? cap * 2 : res->need_rows;
        *out = realloc(*out, (size_t)nc * sizeof(bot4_event));
        cap = nc;
        (*regrows)++;
    }
    free(buf);
    return st;
}

static void test_kinds(void)
{
    size_t len;
    char *b = join_sample(&len);
    bot4_event *ev;
    bot4_feed_result r;
    int regrows;
    CHECK(parse_all(b, len, &SPOT, 1000, &ev, &r, &regrows) == BOT4_FEED_OK);
    CHECK(r.lines == 7 && r.messages == 6 && r.snapshots == 1 && r.diffs == 2 && r.trades == 1);
    CHECK(r.quotes == 2 && r.skipped == 1 && r.rows == 3 + 2 + 1 + 1 + 2 + 2);
    /* snapshot: bids then asks, lastUpdateId in seq_last, E in ms -> ns */
    CHECK(ev[0].kind == BOT4_EV_SNAPSHOT && ev[0].side == BOT4_SIDE_BID && ev[0].price == 6100000);
    CHECK(ev[0].qty == 1500000 && ev[0].flags == BOT4_EVF_BEGIN && ev[0].seq_last == 100);
    CHECK(ev[0].ts_exch == 7000000 && ev[0].ts_local == 1000 && ev[0].seq_first == BOT4_SEQ_NONE);
    CHECK(ev[1].price == 6099999 && ev[1].qty == 2000000 && ev[1].flags == 0);
    CHECK(ev[2].side == BOT4_SIDE_ASK && ev[2].price == 6100001 && ev[2].flags == BOT4_EVF_END);
    /* spot diff: U/u, no pu */
    CHECK(ev[3].kind == BOT4_EV_UPDATE && ev[3].seq_first == 101 && ev[3].seq_last == 103);
    CHECK(ev[3].seq_prev == BOT4_SEQ_NONE && ev[3].qty == 0 && ev[4].qty == 1);
    CHECK(ev[3].ts_exch == 1723161255208LL * 1000000 && ev[4].flags == BOT4_EVF_END);
    /* empty futures diff: one SIDE_NONE row, T preferred over E, pu kept */
    CHECK(ev[5].side == BOT4_SIDE_NONE && ev[5].price == 0 && ev[5].seq_prev == 103);
    CHECK(ev[5].ts_exch == 4000000 && ev[5].flags == (BOT4_EVF_BEGIN | BOT4_EVF_END));
    /* trade: buyer is maker -> seller took (ASK); seq_last = trade id; T */
    CHECK(ev[6].kind == BOT4_EV_TRADE && ev[6].side == BOT4_SIDE_ASK && ev[6].seq_last == 7);
    CHECK(ev[6].ts_exch == 6000000 && ev[6].price == 6100001 && ev[6].qty == 500000);
    /* bookTicker without e and without time */
    CHECK(ev[7].kind == BOT4_EV_QUOTE && ev[7].ts_exch == -1 && ev[7].side == BOT4_SIDE_BID);
    CHECK(ev[8].side == BOT4_SIDE_ASK && ev[8].price == 6100001 && ev[8].qty == 250000);
    CHECK(ev[9].ts_exch == 1000000 && ev[10].price == 101 && ev[10].reserved == 0);
    /* the same rows when the output starts tiny and grows */
    bot4_event *ev2;
    bot4_feed_result r2;
    CHECK(parse_all(b, len, &SPOT, 0, &ev2, &r2, &regrows) == BOT4_FEED_OK);
    CHECK(regrows > 0 && r2.rows == r.rows && memcmp(ev, ev2, (size_t)r.rows * sizeof *ev) == 0);
    CHECK(r2.messages == r.messages && r2.lines == r.lines && r2.skipped == r.skipped);
    free(ev2);
    /* no trailing newline, blank lines, CRLF */
    char *c = malloc(len + 8);
    memcpy(c, "\n\n", 2);
    memcpy(c + 2, b, len - 1); /* drop the final '\n' */
    CHECK(parse_all(c, len + 1, &SPOT, 1000, &ev2, &r2, &regrows) == BOT4_FEED_OK);
    CHECK(r2.rows == r.rows && r2.lines == 9 && memcmp(ev, ev2, (size_t)r.rows * sizeof *ev) == 0);
    free(ev2);
    free(c);
    free(ev);
    free(b);
}

static void expect_error(const char *text, int64_t line, int64_t col, const char *needle)
{
    bot4_event *ev;
    bot4_feed_result r;
    int regrows;
    int st = parse_all(text, strlen(text), &SPOT, 64, &ev, &r, &regrows);
    int ok = st == BOT4_FEED_EPARSE && r.err_line == line && (col < 0 || r.err_col == col) &&
             strstr(r.reason, needle) != NULL;
    if (!ok)
        fprintf(stderr, "error case %s: st %d line %lld col %lld reason '%s'\n", text, st,
                (long long)r.err_line, (long long)r.err_col, r.reason);
    CHECK(ok);
    free(ev);
}

static void test_errors(void)
{
    expect_error("1 {\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}\n12 {not json\n", 2, 5, "malformed JSON");
    expect_error("no-timestamp-here\n", 1, 1, "expected '<ns timestamp> <json>'");
    expect_error("\n\nabc {}\n", 3, 1, "bad value");
    expect_error("12 {\"stream\":\"x\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"b\":[],\"a\":[]}}", 1, -1,
                 "missing field 'u'");
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"u\":2,\"b\":[[\"-1.00\",\"1\"]],\"a\":[]}}", 1, 55,
                 "price '-1.00'");
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"u\":2,\"b\":[[\"1.005\",\"1\"]],\"a\":[]}}", 1, -1,
                 "price '1.005'");
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"u\":2,\"b\":[[\"0.00\",\"1\"]],\"a\":[]}}", 1, -1,
                 "price '0.00'");
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"u\":2,\"b\":[[\"1.00\",\"0.0000001\"]],\"a\":[]}}",
                 1, -1, "qty '0.0000001'");
    /* prices are checked before quantities within a message, as in the Python reader */
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"u\":2,\"b\":[[\"1.00\",\"x\"]],\"a\":[[\"y\",\"1\"]]}}",
                 1, -1, "price 'y'");
    expect_error("12 {\"stream\":\"t\",\"data\":{\"e\":\"trade\",\"T\":1,\"t\":1,\"p\":\"1.00\",\"q\":\"1\",\"m\":\"yes\"}}", 1,
                 -1, "'m' must be true/false");
    expect_error("12 {\"hello\":1}", 1, -1, "neither a stream message nor a depth snapshot");
    expect_error("12 [1,2]", 1, -1, "not a JSON object");
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":1.5,\"U\":1,\"u\":2,\"b\":[],\"a\":[]}}", 1, -1,
                 "must be an integer");
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":99999999999999,\"U\":1,\"u\":2,\"b\":[],\"a\":[]}}", 1, -1,
                 "overflows");
    expect_error("12 {\"data\":{\"e\":\"x\",\"v\":1e400}}", 1, -1, "infinite");
    expect_error("12 {\"data\":{\"e\":\"x\",\"v\":\"\\ud800\"}}", 1, -1, "surrogate");
    expect_error("12 {\"data\":{\"e\":\"x\",\"v\":\"\xc0\x80\"}}", 1, -1, "UTF-8");
    expect_error("12 {\"data\":{\"e\":\"x\",\"v\":[1,]}}", 1, -1, "malformed JSON");
    expect_error("12 {\"data\":{\"e\":\"x\"}} x", 1, -1, "after the document");
    expect_error("12 {\"data\":{\"e\":\"x\",\"v\":\"abc", 1, -1, "unterminated string");
    expect_error("12 {\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"u\":2,\"b\":[[\"1.00\",\"1\",\"2\"]],\"a\":[]}}", 1,
                 -1, "[price, qty]");
    expect_error("99999999999999999999 {}", 1, 1, "timestamp");
}

static void test_depth_limit(void)
{
    /* 1024 nested containers are valid JSON (orjson's limit), 1025 are not. */
    for (int extra = 0; extra < 2; extra++) {
        int depth = 1024 + extra; /* the top-level object and "data" count as 2 */
        size_t cap = 64 + 2 * (size_t)depth;
        char *t = malloc(cap);
        int k = snprintf(t, cap, "1 {\"data\":{\"e\":\"x\",\"v\":");
        for (int i = 0; i < depth - 2; i++)
            t[k++] = '[';
        for (int i = 0; i < depth - 2; i++)
            t[k++] = ']';
        k += snprintf(t + k, cap - (size_t)k, "}}");
        bot4_event *ev;
        bot4_feed_result r;
        int regrows;
        int st = parse_all(t, (size_t)k, &SPOT, 16, &ev, &r, &regrows);
        CHECK(extra ? (st == BOT4_FEED_EPARSE && strstr(r.reason, "depth") != NULL)
                    : (st == BOT4_FEED_OK && r.skipped == 1));
        free(ev);
        free(t);
    }
}

static void test_decimals(void)
{
    int64_t v = -1;
    CHECK(bot4_feed_decimal_steps("61837.63000000", 14, 2, 1, &v) == BOT4_FEED_OK && v == 6183763);
    CHECK(bot4_feed_decimal_steps("61837.635", 9, 2, 1, &v) == BOT4_FEED_EPARSE);
    CHECK(bot4_feed_decimal_steps("0.25", 4, 2, 5, &v) == BOT4_FEED_OK && v == 5);
    CHECK(bot4_feed_decimal_steps("0.26", 4, 2, 5, &v) == BOT4_FEED_EPARSE);
    CHECK(bot4_feed_decimal_steps("9223372036854775807", 19, 0, 1, &v) == BOT4_FEED_OK && v == INT64_MAX);
    CHECK(bot4_feed_decimal_steps("9223372036854775808", 19, 0, 1, &v) == BOT4_FEED_EPARSE);
    /* units beyond 64 bits whose steps still fit: the 128-bit path */
    CHECK(bot4_feed_decimal_steps("36893488147419103228", 20, 0, 4, &v) == BOT4_FEED_OK && v == INT64_MAX);
    CHECK(bot4_feed_decimal_steps("36893488147419103232", 20, 0, 4, &v) == BOT4_FEED_EPARSE);
    CHECK(bot4_feed_decimal_steps("000000000000000000000000000001.000000000000000000000", 52, 18, 1, &v) ==
              BOT4_FEED_OK && v == 1000000000000000000LL);
    CHECK(bot4_feed_decimal_steps("99999999999999999999999999999999999999999999", 44, 0, 1, &v) ==
          BOT4_FEED_EPARSE);
    const char *bad[] = {"", ".5", "5.", "-1", "+1", "1e5", "1.2.3", " 5", "NaN", "1_0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(bot4_feed_decimal_steps(bad[i], strlen(bad[i]), 2, 1, &v) == BOT4_FEED_EPARSE);
    CHECK(bot4_feed_decimal_steps("1", 1, 19, 1, &v) == BOT4_FEED_EINVAL);
    CHECK(bot4_feed_decimal_steps("1", 1, 2, 0, &v) == BOT4_FEED_EINVAL);
}

/* Decimal text through the whole scanner (the 64-bit fast path and its fallback; in a
 * level, in a string field, and as the last field near the end of the buffer) against the
 * exact 128-bit conversion. */
static void test_decimal_paths_agree(long iterations)
{
    const char *const shapes[] = {
        "1 {\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"U\":1,\"u\":1,\"b\":[[\"1\",\"%s\"]],\"a\":[]}}",
        "1 {\"data\":{\"e\":\"trade\",\"T\":1,\"t\":1,\"p\":\"1\",\"q\":\"%s\",\"m\":true,\"x\":\"0123456789abcdef\"}}",
        "1 {\"data\":{\"u\":1,\"b\":\"1\",\"B\":\"0\",\"a\":\"1\",\"A\":\"%s\"}}",
    };
    const char digits[] = "0000123456789.";
    long mismatches = 0;
    bot4_event ev[64];
    for (long it = 0; it < iterations; it++) {
        char text[32], line[256];
        int n = (int)(check_rand() % 22);
        for (int i = 0; i < n; i++)
            text[i] = check_rand() % 40 ? digits[check_rand() % (sizeof digits - 1)] : "a-+e x"[check_rand() % 6];
        text[n] = 0;
        bot4_feed_grid g = {0, (int32_t)(check_rand() % 9), 1, (int64_t[]){1, 1, 2, 5, 25}[check_rand() % 5]};
        int64_t want = 0;
        int want_st = bot4_feed_decimal_steps(text, (size_t)n, g.qty_scale, g.lot_units, &want);
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            int len = snprintf(line, sizeof line, shapes[k], text);
            char *buf = malloc((size_t)len); /* exact size: the last shape ends near the buffer end */
            memcpy(buf, line, (size_t)len);
            bot4_feed_result r;
            bot4_feed_result_init(&r);
            int st = bot4_feed_binance_parse(buf, (size_t)len, &g, ev, 64, &r);
            int64_t got = k == 2 ? ev[1].qty : ev[0].qty;
            int same = want_st == BOT4_FEED_OK ? (st == BOT4_FEED_OK && got == want)
                                               : (st == BOT4_FEED_EPARSE && strstr(r.reason, "qty") != NULL);
            if (!same && mismatches++ < 5)
                fprintf(stderr, "decimal '%s' scale %d step %lld shape %zu: want %d/%lld got %d/%lld (%s)\n", text,
                        g.qty_scale, (long long)g.lot_units, k, want_st, (long long)want, st, (long long)got,
                        r.reason);
            free(buf);
        }
    }
    CHECK(mismatches == 0);
}

static void test_args(void)
{
    bot4_feed_result r;
    bot4_event ev[4];
    bot4_feed_grid bad = {19, 0, 1, 1};
    bot4_feed_result_init(&r);
    CHECK(bot4_feed_binance_parse("", 0, &bad, ev, 4, &r) == BOT4_FEED_EINVAL);
    CHECK(bot4_feed_binance_parse(NULL, 3, &SPOT, ev, 4, &r) == BOT4_FEED_EINVAL);
    CHECK(bot4_feed_binance_parse("", 0, &SPOT, NULL, 4, &r) == BOT4_FEED_EINVAL);
    CHECK(bot4_feed_binance_parse("", 0, &SPOT, ev, 4, NULL) == BOT4_FEED_EINVAL);
    r.offset = 10;
    CHECK(bot4_feed_binance_parse("abc", 3, &SPOT, ev, 4, &r) == BOT4_FEED_EINVAL);
    bot4_feed_result_init(&r);
    CHECK(bot4_feed_binance_parse(NULL, 0, &SPOT, ev, 4, &r) == BOT4_FEED_OK && r.rows == 0 && r.lines == 0);
}


/* Mutations of the sample: never an out-of-bounds access (ASan), a status from the set,
 * an error line inside the input, and well-framed rows on success. */
static void test_fuzz(long iterations)
{
    size_t len;
    char *base = join_lines(SAMPLE, N_SAMPLE, FUZZ_EXTRA, N_FUZZ_EXTRA, &len);
    {
        bot4_event *ev0;
        bot4_feed_result r0;
        int regrows;
        CHECK(parse_all(base, len, &SPOT, 64, &ev0, &r0, &regrows) == BOT4_FEED_OK);
        CHECK(r0.messages == 10 && r0.skipped == 1 && r0.rows == 11 + 3 + 1 + 2 + 2);
        free(ev0);
    }
    const char alphabet[] = "{}[]\",:\\0123456789.-+eEtrufalsn \t\r\nu\x01\x80\xff";
    char *m = malloc(len + 64);
    long ok = 0, errors = 0, bad = 0;
    bot4_event *ev = malloc(4096 * sizeof *ev);
    for (long it = 0; it < iterations; it++) {
        memcpy(m, base, len);
        size_t n = len;
        int edits = 1 + (int)(check_rand() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(check_rand() % (n ? n : 1));
            switch (check_rand() % 4) {
            case 0: /* replace */
                if (n)
                    m[at] = check_rand() % 2 ? alphabet[check_rand() % (sizeof alphabet - 1)] : (char)check_rand();
                break;
            case 1: /* insert */
                memmove(m + at + 1, m + at, n - at);
                m[at] = alphabet[check_rand() % (sizeof alphabet - 1)];
                n++;
                break;
            case 2: /* delete */
                if (n) {
                    memmove(m + at, m + at + 1, n - at - 1);
                    n--;
                }
                break;
            default: /* truncate */
                n = at;
                break;
            }
        }
        char *buf = malloc(n ? n : 1); /* exact size: ASan catches any overread */
        memcpy(buf, m, n);
        bot4_feed_result r;
        bot4_feed_result_init(&r);
        int st = bot4_feed_binance_parse(buf, n, &SPOT, ev, 4096, &r);
        int64_t lines = 0;
        for (size_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        lines += n && buf[n - 1] != '\n';
        if (st == BOT4_FEED_OK) {
            ok++;
            int64_t begins = 0, ends = 0;
            for (int64_t i = 0; i < r.rows; i++) {
                begins += (ev[i].flags & BOT4_EVF_BEGIN) != 0;
                ends += (ev[i].flags & BOT4_EVF_END) != 0;
            }
            if (begins != r.messages || ends != r.messages || r.lines > lines ||
                (r.rows && !(ev[0].flags & BOT4_EVF_BEGIN)))
                bad++;
        } else if (st == BOT4_FEED_EPARSE) {
            errors++;
            if (r.err_line < 1 || r.err_line > lines || r.err_col < 1 || r.reason[0] == 0)
                bad++;
        } else {
            bad++;
        }
        free(buf);
    }
    CHECK(bad == 0);
    CHECK(ok > 0 && errors > 0);
    printf("fuzz: %ld mutations, %ld parsed, %ld errors\n", iterations, ok, errors);
    free(ev);
    free(m);
    free(base);
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    check_rng = 0x9E3779B97F4A7C15ULL;
    test_kinds();
    test_errors();
    test_depth_limit();
    test_decimals();
    test_decimal_paths_agree(iterations / 4);
    test_args();
    test_fuzz(iterations);
    printf("feed_binance: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
