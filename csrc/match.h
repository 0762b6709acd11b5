/* match.h - L3 limit order book matching engine: price-time priority, int64 ticks/lots.
 *
 * Structure
 *   - Orders live in a fixed pool (capacity given at creation); free slots form a singly
 *     linked free list. An open-addressing hash table (linear probing, backward-shift
 *     deletion, no tombstones) maps the caller's order id -> pool slot, so cancel and
 *     modify find an order in O(1).
 *   - Each price level is a node from a second pool holding the FIFO of its orders as an
 *     intrusive doubly linked list (head = oldest), its total quantity and order count.
 *     Orders keep their level's slot, so unlinking an order and updating the level total is
 *     O(1).
 *   - Each side keeps its levels in a sorted array (price, level slot) with the BEST price
 *     at the END: bids ascending, asks descending. The touch is the last element, so
 *     consuming or emptying the best level is a pop, and a new level near the touch is a
 *     short memmove. The insert position is found by a short backward scan from the touch,
 *     falling back to binary search.
 * Invariants
 *   - every live order is in exactly one level FIFO and in the id table; level total ==
 *     sum of its orders' remaining qty > 0; count >= 1; no empty level is in a side array;
 *   - side arrays are strictly sorted, best at the end; best bid < best ask after every
 *     operation (an incoming order matches until it no longer crosses);
 *   - trades always execute at the resting (maker) order's price.
 * Cost per operation (L = levels on a side, d = levels between the price and the touch)
 *   add that rests: O(1) hash + O(min(d, log L)) search + O(d) memmove for a new level;
 *   cancel: O(1), plus O(log L + d) when it empties its level;
 *   match: O(1) per maker order touched, O(1) per level consumed;
 *   depth snapshot of N levels: O(N).
 * Nothing here allocates after bot4_match_create, prints, or aborts; every function returns
 * a status / reason code (bot4_match_reason).
 */
#ifndef BOT4_MATCH_H
#define BOT4_MATCH_H

#include <stdint.h>

enum { BOT4_MATCH_BUY = 0, BOT4_MATCH_SELL = 1 };

enum { BOT4_MATCH_OP_ADD = 0, BOT4_MATCH_OP_CANCEL = 1, BOT4_MATCH_OP_MODIFY = 2 };

enum { BOT4_MATCH_LIMIT = 0, BOT4_MATCH_MARKET = 1 };

enum { BOT4_MATCH_GTC = 0, BOT4_MATCH_IOC = 1, BOT4_MATCH_FOK = 2 };

/* Post-only: NONE takes liquidity normally; REJECT refuses an order that would take;
 * REPRICE moves it to one tick behind the opposite touch so it rests as a maker. */
enum { BOT4_MATCH_PO_NONE = 0, BOT4_MATCH_PO_REJECT = 1, BOT4_MATCH_PO_REPRICE = 2 };

/* Self-trade prevention, decided by the taker's mode when it meets a resting order of the
 * same owner: cancel the taker's remainder (newest), cancel the resting order (oldest), or
 * reduce both by the smaller quantity without a trade (decrement both). */
enum {
    BOT4_MATCH_STP_NONE = 0,
    BOT4_MATCH_STP_CANCEL_NEWEST = 1,
    BOT4_MATCH_STP_CANCEL_OLDEST = 2,
    BOT4_MATCH_STP_DECREMENT_BOTH = 3,
};

typedef enum bot4_match_reason {
    BOT4_MATCH_OK = 0,
    BOT4_MATCH_R_INVALID_OP,
    BOT4_MATCH_R_INVALID_SIDE,
    BOT4_MATCH_R_INVALID_TYPE,
    BOT4_MATCH_R_INVALID_TIF,
    BOT4_MATCH_R_INVALID_PRICE,
    BOT4_MATCH_R_INVALID_QTY,
    BOT4_MATCH_R_INVALID_ID,
    BOT4_MATCH_R_INVALID_FLAGS,
    BOT4_MATCH_R_DUPLICATE_ID,
    BOT4_MATCH_R_UNKNOWN_ID,
    BOT4_MATCH_R_BOOK_FULL,
    BOT4_MATCH_R_POST_ONLY_WOULD_TAKE,
    BOT4_MATCH_R_FOK_UNFILLABLE,
    BOT4_MATCH_R_REDUCE_ONLY_WOULD_INCREASE,
    BOT4_MATCH_R_NO_LIQUIDITY,
    BOT4_MATCH_R_FILL_BUFFER_FULL,
    BOT4_MATCH_R_COUNT
} bot4_match_reason;

/* One operation. 48 bytes, mirrored by engine.match.OP_DTYPE.
 * ADD: all fields. CANCEL: id. MODIFY: id, price (new), qty (new remaining).
 * position: the owner's signed position in lots, read only for reduce-only adds. */
typedef struct bot4_match_op {
    int64_t id;
    int64_t owner;
    int64_t price;
    int64_t qty;
    int64_t position;
    uint8_t op;
    uint8_t side;
    uint8_t type;
    uint8_t tif;
    uint8_t post_only;
    uint8_t stp;
    uint8_t reduce_only;
    uint8_t pad;
} bot4_match_op;

/* Outcome of one operation. 48 bytes, mirrored by engine.match.RESULT_DTYPE.
 * filled: traded qty; resting: qty left on the book; cancelled: qty dropped (IOC/market
 * remainder, STP); price: the price the order rests at (after a post-only reprice). */
typedef struct bot4_match_result {
    int64_t id;
    int64_t filled;
    int64_t resting;
    int64_t cancelled;
    int64_t price;
    uint8_t reason;
    uint8_t pad[3];
    uint32_t nfills;
} bot4_match_result;

enum { BOT4_MATCH_FILL = 0, BOT4_MATCH_STP_CANCEL_MAKER = 1, BOT4_MATCH_STP_DECREMENT = 2 };

/* One record of an operation's effect on a resting (maker) order, 64 bytes, mirrored by
 * engine.match.FILL_DTYPE. kind FILL is a trade of qty at price; STP_CANCEL_MAKER removes
 * the maker's qty; STP_DECREMENT reduces taker and maker by qty without a trade.
 * maker_remaining is the maker's qty left after this record (0: it left the book). */
typedef struct bot4_match_fill {
    int64_t taker_id;
    int64_t maker_id;
    int64_t taker_owner;
    int64_t maker_owner;
    int64_t price;
    int64_t qty;
    int64_t maker_remaining;
    uint8_t kind;
    uint8_t taker_side;
    uint16_t pad;
    uint32_t op_index;
} bot4_match_fill;

_Static_assert(sizeof(bot4_match_op) == 48, "bot4_match_op layout");
_Static_assert(sizeof(bot4_match_result) == 48, "bot4_match_result layout");
_Static_assert(sizeof(bot4_match_fill) == 64, "bot4_match_fill layout");

typedef struct bot4_match bot4_match;

/* A book for at most max_orders resting orders (1 <= max_orders <= 2^30). NULL if out of
 * memory or max_orders is out of range. */
bot4_match *bot4_match_create(uint32_t max_orders);
void bot4_match_destroy(bot4_match *m);
void bot4_match_clear(bot4_match *m);

/* Run ops[0..n) in order. Results go to results[i]; fill records are appended to
 * fills[0..fills_cap). Before an op that could produce more records than remain in the
 * buffer (at most one per resting order), the run stops: *n_done says how many ops ran and
 * the function returns BOT4_MATCH_R_FILL_BUFFER_FULL (ops before it have fully taken
 * effect, the stopped op none). Otherwise returns BOT4_MATCH_OK. Rejections are per op
 * (results[i].reason) and change nothing. */
int bot4_match_run(bot4_match *m, const bot4_match_op *ops, uint32_t n,
                   bot4_match_result *results, bot4_match_fill *fills, uint32_t fills_cap,
                   uint32_t *n_done, uint32_t *n_fills);

/* Resting order by id: 0 and its fields, or BOT4_MATCH_R_UNKNOWN_ID. */
int bot4_match_get(const bot4_match *m, int64_t id, int64_t *owner, uint8_t *side,
                   int64_t *price, int64_t *qty);

/* Best price of a side; BOT4_MATCH_R_NO_LIQUIDITY when the side is empty. */
int bot4_match_best(const bot4_match *m, int side, int64_t *price, int64_t *qty);

/* Up to n levels of a side from the touch outward; returns the number written. */
uint32_t bot4_match_depth(const bot4_match *m, int side, uint32_t n, int64_t *prices,
                          int64_t *qtys, uint32_t *counts);

/* Order ids of one level in FIFO order (oldest first); returns the number written, or 0 if
 * there is no level at that price. */
uint32_t bot4_match_level_orders(const bot4_match *m, int side, int64_t price, uint32_t n,
                                 int64_t *ids);

uint32_t bot4_match_order_count(const bot4_match *m);
uint32_t bot4_match_level_count(const bot4_match *m, int side);
uint32_t bot4_match_capacity(const bot4_match *m);

/* Full structural check (sums, links, sort order, id table); 0 when consistent. O(n). */
int bot4_match_check(const bot4_match *m);

const char *bot4_match_reason_name(int reason);

#endif
