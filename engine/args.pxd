# Argument checks shared by the Cython modules (cimported; inline, so no module of its own).
#
# Integers: anything with __index__ (int, numpy integers) except bool, which is an int to
# Python but never a price, a count or a size here. A wrong type raises `error` (TypeError,
# or ValueError where a module's API documents ValueError for every bad argument); a value
# out of range raises ValueError. Messages name the argument, the type and the value:
#   "<name> must be an integer, got <type> <repr>", "<name> must be in [lo, hi], got <v>".
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from libc.stdint cimport int64_t


cdef inline object check_index(object value, str name, object error=TypeError):
    """value as a Python int, or `error` naming `name` (no range check)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise error(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return value.__index__()


cdef inline object check_int(object value, str name, object lo, object hi,
                             object error=TypeError):
    """value as a Python int in [lo, hi]."""
    v = check_index(value, name, error)
    if v < lo or v > hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {v}")
    return v


cdef inline int64_t check_int64(object value, str name, int64_t lo, int64_t hi,
                                object error=TypeError) except? -1:
    """check_int for C int64 arguments, with a fast path for an exact int in range."""
    cdef int overflow = 0
    cdef long long x
    if PyLong_CheckExact(value):
        x = PyLong_AsLongLongAndOverflow(value, &overflow)
        if not overflow and lo <= x <= hi:
            return x
    return check_int(value, name, lo, hi, error)


cdef inline object check_choice(object table, str name, object value):
    """table[value] for one of the keys of the dict `table`; ValueError listing the keys
    otherwise."""
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ValueError(
            f"{name} must be one of {', '.join(map(str, table))}, got {value!r}") from None
