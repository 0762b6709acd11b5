"""Build the Cython extensions in engine/ over the C in csrc/.

Every engine/<name>.pyx becomes the extension module engine.<name>. A .pyx names the C it
links in its own header (``# distutils: sources = csrc/book.c csrc/simd.c``), so a new C
family or binding needs no edit here. AVX-512 bodies use function-level target attributes,
so one set of flags serves every file and the binary runs on CPUs without AVX-512.

BOT4_ONLY=book,ring limits the build to those modules (for fast iteration).
BOT4_SKIP_EXT=1 builds no extension: `make setup` uses it for the editable install, which
then only registers the packages and the `bot4` script, and `make build` compiles the
extensions once, in place, in parallel.
"""

import glob
import json
import os
import platform
import subprocess
import Cython
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -fvisibility=hidden: nothing calls into a module's C from outside (Cython modules share
# C by compiling it, not by linking each other), and hidden symbols let the compiler
# inline and call them directly instead of through the PLT (e.g. the book queries
# inside micro_features.c and book.c's own hot paths).
CFLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra", "-fno-strict-aliasing", "-D_GNU_SOURCE",
          "-fvisibility=hidden"]
if os.environ.get("BOT4_CFLAGS"):
    CFLAGS += os.environ["BOT4_CFLAGS"].split()

c_headers = sorted(glob.glob("csrc/*.h"))
only = {n for n in os.environ.get("BOT4_ONLY", "").split(",") if n}

extensions = [
    Extension(
        f"engine.{os.path.splitext(os.path.basename(pyx))[0]}",
        sources=[pyx],
        include_dirs=["csrc", numpy.get_include()],
        depends=c_headers,
        extra_compile_args=CFLAGS,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for pyx in sorted(glob.glob("engine/*.pyx"))
    if not only or os.path.splitext(os.path.basename(pyx))[0] in only
]
if os.environ.get("BOT4_SKIP_EXT"):
    extensions = []


class build_ext_with_info(build_ext):
    """build_ext that also records how the engine was built (read by `bot4 perf-manifest`)."""

    def run(self):
        super().run()
        cc = self.compiler.compiler_so[0] if getattr(self, "compiler", None) else "cc"
        try:
            version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                     check=False).stdout.splitlines()[0]
        except (OSError, IndexError):
            version = "unknown"
        info = {
            "compiler": cc,
            "compiler_version": version,
            "cflags": CFLAGS,
            "python": platform.python_version(),
            "cython": Cython.__version__,
            "numpy_build": numpy.__version__,
            "machine": platform.machine(),
        }
        target_dir = "engine" if self.inplace else os.path.join(self.build_lib, "engine")
        os.makedirs(target_dir, exist_ok=True)
        with open(os.path.join(target_dir, "_build_info.json"), "w") as f:
            json.dump(info, f, indent=2)


setup(
    cmdclass={"build_ext": build_ext_with_info},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    ),
)
