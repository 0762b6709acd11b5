from libc.stdint cimport int64_t

cdef extern from "garch.h":
    int BOT4_GARCH_OK
    int BOT4_GARCH_EOMEGA
    int BOT4_GARCH_EALPHA
    int BOT4_GARCH_EBETA
    int BOT4_GARCH_ENONSTATIONARY
    int BOT4_GARCH_ESIGMA2
    int BOT4_GARCH_ERETURN
    int BOT4_GARCH_EHORIZON

    ctypedef struct bot4_garch:
        double omega
        double alpha
        double beta
        double sigma2

    int bot4_garch_check_params(double omega, double alpha, double beta) nogil
    int bot4_garch_init(bot4_garch *g, double omega, double alpha, double beta, double sigma2) nogil
    int bot4_garch_update(bot4_garch *g, double r, double *sigma2_next) nogil
    int bot4_garch_filter(bot4_garch *g, const double *r, int64_t n, double *out, int64_t *bad_index) nogil
    int bot4_garch_forecast(const bot4_garch *g, int64_t horizons, double *out) nogil
    double bot4_garch_unconditional(const bot4_garch *g) nogil


cdef class GarchFilter:
    cdef bot4_garch g
    cdef int busy
    cdef int _enter(self) except -1
