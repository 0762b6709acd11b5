from libc.stdint cimport int64_t

cdef extern from "ta.h":
    int BOT4_TA_OK
    int BOT4_TA_EINVAL
    int BOT4_TA_ENOMEM
    int BOT4_TA_EINPUT
    int BOT4_TA_MAX_WINDOW
    int BOT4_TA_MAX_OUTPUTS
    int BOT4_TA_IN_OPEN
    int BOT4_TA_IN_HIGH
    int BOT4_TA_IN_LOW
    int BOT4_TA_IN_CLOSE
    int BOT4_TA_IN_VOLUME

    ctypedef enum bot4_ta_kind:
        BOT4_TA_SMA
        BOT4_TA_EMA
        BOT4_TA_WMA
        BOT4_TA_DEMA
        BOT4_TA_TEMA
        BOT4_TA_RSI
        BOT4_TA_MACD
        BOT4_TA_STOCH
        BOT4_TA_CCI
        BOT4_TA_WILLR
        BOT4_TA_MFI
        BOT4_TA_ROC
        BOT4_TA_TSI
        BOT4_TA_ULTOSC
        BOT4_TA_ADX
        BOT4_TA_AROON
        BOT4_TA_SAR
        BOT4_TA_SUPERTREND
        BOT4_TA_ICHIMOKU
        BOT4_TA_ATR
        BOT4_TA_BBANDS
        BOT4_TA_KELTNER
        BOT4_TA_DONCHIAN
        BOT4_TA_CHAIKIN_VOL
        BOT4_TA_GARMAN_KLASS
        BOT4_TA_PARKINSON
        BOT4_TA_OBV
        BOT4_TA_VWAP
        BOT4_TA_AD
        BOT4_TA_CMF
        BOT4_TA_FORCE
        BOT4_TA_EOM
        BOT4_TA_HURST
        BOT4_TA_NKINDS

    ctypedef struct bot4_ta:
        pass

    int bot4_ta_n_params(int kind) nogil
    int bot4_ta_n_outputs(int kind) nogil
    int bot4_ta_inputs(int kind) nogil
    int bot4_ta_check(int kind, const double *params) nogil
    int bot4_ta_create(bot4_ta **out, int kind, const double *params) nogil
    void bot4_ta_destroy(bot4_ta *ta) nogil
    void bot4_ta_reset(bot4_ta *ta) nogil
    int64_t bot4_ta_lookback(const bot4_ta *ta) nogil
    int64_t bot4_ta_count(const bot4_ta *ta) nogil
    int bot4_ta_update(bot4_ta *ta, double open, double high, double low, double close,
                       double volume, double *out) nogil
    int bot4_ta_batch(int kind, const double *params, int64_t n, const double *const *inp,
                      double *const *out) nogil
    int64_t bot4_ta_first_bad(const double *x, int64_t n, int positive) nogil
