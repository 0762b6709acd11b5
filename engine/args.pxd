# Argument checks shared by the Cython modules (cimported; inline, so no module of its own).


cdef inline object check_int(object value, str name, object lo, object hi):
    """value as a Python int in [lo, hi]; TypeError/ValueError naming `name` otherwise
    (bool is refused: it is an int to Python, never a count or a size here)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    v = value.__index__()
    if v < lo or v > hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {v}")
    return v
