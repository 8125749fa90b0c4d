"""Only for the compiled build: everything else is in pyproject.toml.

With ACD_COMPILE=1 the hot-path modules (acd/hot_path.py) are compiled to C by mypyc,
which comes with mypy, and the one written in C (acd/pbx/_headers.c) is built beside
them: ``ACD_COMPILE=1 pip install --no-build-isolation .`` in a virtual environment
that has mypy and a C compiler (Debian: gcc, python3-dev).
Without it, acd installs as plain Python, as before.
"""

import glob
import os
import runpy

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("ACD_COMPILE") == "1":
    from mypyc.build import mypycify

    patterns = runpy.run_path("acd/hot_path.py")["MODULES"]
    paths = [path for pattern in patterns for path in sorted(glob.glob(pattern))]
    ext_modules = mypycify([p for p in paths if p.endswith(".py")], opt_level="3", group_name="acd_hot_path")
    ext_modules += [Extension(p[:-2].replace("/", "."), [p], extra_compile_args=["-O2"])
                    for p in paths if p.endswith(".c")]

setup(ext_modules=ext_modules)
