"""The hot path's modules, and what acd serve says of them at start-up."""

import importlib.machinery
import os

from acd import hot_path


def test_the_names_cover_the_parser_the_tracker_the_core_and_the_distributor() -> None:
    names = hot_path.module_names()
    for name in ("acd.pbx.framing", "acd.pbx.tracker", "acd.distributor", "acd.core", "acd.core.router"):
        assert name in names
    assert len(names) == len(set(names))
    # each is a module of its own that imports
    assert set(hot_path.compiled_modules(names)) <= set(names)


def test_a_compiled_module_older_than_its_source_is_named(tmp_path) -> None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    fresh, old = tmp_path / f"fresh{suffix}", tmp_path / f"old{suffix}"
    for compiled in (fresh, old):
        compiled.write_bytes(b"")
        compiled.with_name(compiled.name.split(".")[0] + ".py").write_text("")
    os.utime(tmp_path / "fresh.py", (1_000, 1_000))  # compiled after its last edit
    os.utime(old, (1_000, 1_000))  # its source edited since
    assert hot_path.stale_modules({"pkg.fresh": fresh, "pkg.old": old}) == ["pkg.old"]

