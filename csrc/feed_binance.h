/* feed_binance.h - strict scanner for recorded Binance feeds: bytes -> bot4_event rows.
 *
 * Input: the decompressed bytes of a recorded file, lines `<ns ts> <json>\n` (see
 * ../shared/data/README.md). Output: bot4_event rows (csrc/events.h) exactly as
 * bot.data.binance.parse_file produces them (its Python reader is the reference the tests
 * compare with): same row order, kinds, sides, BEGIN/END flags, one SIDE_NONE row for a
 * book message without levels, sequence fields, ts_exch -1 when absent, ms -> ns.
 *
 * Messages read: combined-stream depthUpdate (U, u, optional pu; T else E as exchange ms),
 * trade (m, T, t, p, q), bookTicker (e == "bookTicker", or no/null e with u and B present:
 * u, b, B, a, A, optional T else E) and the bare REST snapshot {lastUpdateId, [T|E], bids,
 * asks}. Other streams (aggTrade, ...) are validated as JSON and counted in `skipped`.
 *
 * Design: one pass per line. memchr finds the line end; each line is followed by a
 * readable '\n' (the file's own terminator, or for an unterminated last line a private
 * copy), so inner loops stop on that sentinel without bounds checks. A real JSON
 * tokenizer (objects, arrays, strings with escapes and surrogate pairs, UTF-8 validated,
 * numbers with the double-overflow rule, true/false/null, nesting limit 1024) accepts
 * exactly what orjson accepts; keys of the top-level object and of its "data" object are
 * recorded (last duplicate wins, as in a dict), every other value is skipped by an
 * iterative validating skipper. Level arrays are converted while they are scanned,
 * straight into the output rows, when they come in the usual order (bids, then asks);
 * any other arrangement (asks first, duplicate keys, levels in the wrong object) is
 * re-read from its recorded span when the message is built, so key order never changes
 * the result. Decimal text -> ticks/lots with integer arithmetic only: the first `scale`
 * fraction digits accumulate, finer digits must be zeros, then the value must be a
 * multiple of the step units; a 64-bit fast path and an exact 128-bit path for long or
 * escaped text.
 *
 * Output space: resumable. The caller passes `out` with capacity `out_cap` rows and a
 * zeroed bot4_feed_result; before each line the scanner checks that the rows that line
 * could possibly produce (line bytes / 7 + 4: a level is at least 8 bytes) fit, and if not
 * returns BOT4_FEED_NEED_ROOM with res->need_rows set and res positioned at that line.
 * The caller grows `out` (keeping rows [0, res->rows)) and calls again with the same res.
 *
 * Strictness (where the scanner refuses what the Python reader lets through): the
 * timestamp must be ASCII digits, leading zeros allowed (Python's int() also takes signs,
 * '_' and surrounding whitespace);
 * integer fields must be JSON integers within int64 (Python truncates floats and takes
 * numeric strings and booleans); price/qty must be JSON strings and levels arrays of
 * [price, qty] string pairs (Python stringifies numbers and treats null/{} as empty).
 * Everything the scanner accepts, the Python reader accepts with the same rows.
 * Errors: the first bad line stops the scan (Python reports text-conversion errors after
 * the scan, so with several bad lines it may name a later one); within a line the
 * precedence is Python's: malformed JSON, then structure in Python's evaluation order,
 * then prices before quantities.
 *
 * Cost: O(bytes), one pass (level arrays in an unusual key order: two); about 1.3-1.6 ns
 * of CPU a byte on the recorded USD-M file (~2.5M messages/s). No allocation except one
 * copy of an unterminated last line.
 */
#ifndef BOT4_FEED_BINANCE_H
#define BOT4_FEED_BINANCE_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"

enum {
    BOT4_FEED_OK = 0,         /* all lines scanned; res->rows rows in out */
    BOT4_FEED_NEED_ROOM = 1,  /* out is full: grow it to >= res->need_rows rows, call again */
    BOT4_FEED_EPARSE = -1,    /* a line is bad: res->err_line, err_col, reason */
    BOT4_FEED_EINVAL = -2,    /* bad arguments (NULL pointers, grid out of range) */
    BOT4_FEED_ENOMEM = -3,    /* could not copy an unterminated last line */
};

#define BOT4_FEED_MAX_SCALE 18
#define BOT4_FEED_MAX_DEPTH 1024 /* JSON nesting limit, as orjson's */

/* The instrument grid: price text at `price_scale` decimals must be a multiple of
 * `tick_units` (tick = tick_units * 10^-price_scale), likewise quantities. */
typedef struct bot4_feed_grid {
    int32_t price_scale; /* 0..18 */
    int32_t qty_scale;   /* 0..18 */
    int64_t tick_units;  /* >= 1 */
    int64_t lot_units;   /* >= 1 */
} bot4_feed_grid;

/* Scan state and result. Zero it (bot4_feed_result_init) before the first call; it
 * carries the position across BOT4_FEED_NEED_ROOM calls. */
typedef struct bot4_feed_result {
    size_t offset;      /* byte offset of the next line to scan */
    int64_t line_no;    /* lines consumed so far, empty ones included */
    int64_t rows;       /* rows written to out */
    int64_t need_rows;  /* with BOT4_FEED_NEED_ROOM: capacity that lets the scan go on */
    /* statistics, as bot.data.binance.ParseStats */
    int64_t lines;      /* number of the last non-empty line */
    int64_t messages;   /* snapshots + diffs + trades + quotes */
    int64_t snapshots, diffs, trades, quotes;
    int64_t skipped;    /* valid messages of other streams */
    /* error (BOT4_FEED_EPARSE) */
    int64_t err_line;   /* 1-based line number */
    int64_t err_col;    /* 1-based byte column within the line */
    char reason[192];   /* short, NUL-terminated, e.g. "missing field 'u'" */
} bot4_feed_result;

void bot4_feed_result_init(bot4_feed_result *res);

/* Check a grid: BOT4_FEED_OK or BOT4_FEED_EINVAL. */
int bot4_feed_grid_check(const bot4_feed_grid *grid);

/* Scan buf[res->offset, len) into out[res->rows, out_cap). Returns a BOT4_FEED_* status.
 * On BOT4_FEED_EPARSE the rows written are not valid output. */
int bot4_feed_binance_parse(const char *buf, size_t len, const bot4_feed_grid *grid,
                            bot4_event *out, int64_t out_cap, bot4_feed_result *res);

/* Decimal text (n bytes, no quotes, no escapes) -> steps of 10^-scale * step_units.
 * BOT4_FEED_OK, or BOT4_FEED_EPARSE for text that is not a plain non-negative decimal on
 * the grid or whose steps overflow int64. Exposed for the tests. */
int bot4_feed_decimal_steps(const char *text, size_t n, int32_t scale, int64_t step_units,
                            int64_t *steps);

#endif
