"""Bot4 engine: Cython bindings over the C hot path in csrc/.

Importing the package fixes the SIMD path once (see engine.simd).
"""

from engine.simd import simd_level

__all__ = ["simd_level"]
