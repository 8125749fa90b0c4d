"""The modules every AMI event runs through, which a compiled build turns into C.

``ACD_COMPILE=1 pip install --no-build-isolation .`` (README, "Compiled build") has
mypyc compile them from these very sources, type annotations and all: no second copy
of the code to keep in step. The interpreted build runs the same files. One exception,
written in C by hand: the reader of an event's header lines (acd/pbx/_headers.c), the
largest single cost per event, where mypyc's code still made a string for every line;
the interpreted build uses framing.read_lines, which the tests hold it to. On the bench
machine the compiled build takes less than half the CPU per handled AMI event
(bench/ami_ingest.py: 7.0 -> 3.1 us); per call of the whole service, where the history,
the web and the store stay interpreted, the gain is below the machine's drift
(bench/first_ring.py).

setup.py runs this file on its own, before acd or its dependencies are installed: it
imports nothing but the standard library.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
from pathlib import Path

# the AMI link's parsing and channel tracking, the routing core (calls and
# conversations alike), and the distributor that carries out its decisions
MODULES = (
    "acd/pbx/framing.py",
    "acd/pbx/_headers.c",
    "acd/pbx/channels.py",
    "acd/pbx/tracker.py",
    "acd/pbx/actions.py",
    "acd/distributor.py",
    "acd/core/*.py",
)


def compiled_modules(names: list[str]) -> dict[str, Path]:
    """Those of the modules (imported here) that are extension modules: name -> file."""
    out = {}
    for name in names:
        if importlib.util.find_spec(name) is None:
            continue  # a module written in C and not built (the interpreted build)
        file = getattr(importlib.import_module(name), "__file__", None)
        if file and file.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            out[name] = Path(file)
    return out


def stale_modules(compiled: dict[str, Path] | None = None) -> list[str]:
    """Compiled modules whose source was changed after they were compiled: the compiled
    one is what runs, not the change (an in-place build, then an edit or a checkout)."""
    if compiled is None:
        compiled = compiled_modules(module_names())
    out = []
    for name, file in compiled.items():
        stem = file.name.split(".")[0]  # x.cpython-311-....so -> x.py, or x.c for one written in C
        sources = [file.with_name(stem + suffix) for suffix in (".py", ".c")]
        if any(s.exists() and s.stat().st_mtime > file.stat().st_mtime for s in sources):
            out.append(name)
    return out


COMPILED = "compiled (mypyc and C)"


def describe() -> str:
    """"compiled", "interpreted", or what is partly compiled: said at start-up and by the benches."""
    names = module_names()
    compiled = compiled_modules(names)
    if not compiled:
        return "interpreted"
    if len(compiled) == len(names):
        return COMPILED
    return f"partly compiled ({len(compiled)} of {len(names)} hot-path modules)"


def module_names() -> list[str]:
    """The dotted names MODULES stands for."""
    root = Path(__file__).resolve().parent.parent
    out = []
    for pattern in MODULES:
        for path in sorted(root.glob(pattern)):
            parts = path.relative_to(root).with_suffix("").parts
            out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out
