"""The hot path's modules, and what acd serve says of them at start-up."""

import importlib.machinery
import os

import pytest

from acd import hot_path
from acd.pbx import framing


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


def test_a_module_written_in_c_is_stale_when_its_c_source_is_newer(tmp_path) -> None:
    built = tmp_path / f"_reader{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    built.write_bytes(b"")
    (tmp_path / "_reader.c").write_text("")
    os.utime(tmp_path / "_reader.c", (1_000, 1_000))
    assert hot_path.stale_modules({"pkg._reader": built}) == []
    os.utime(built, (500, 500))  # the .c edited after the build
    assert hot_path.stale_modules({"pkg._reader": built}) == ["pkg._reader"]


def test_the_compiled_build_reads_header_lines_in_c_and_the_interpreted_one_in_python() -> None:
    compiled = hot_path.compiled_modules(hot_path.module_names())
    if compiled:  # a compiled build is whole: the C reader too (tests/pbx/test_framing.py)
        assert set(compiled) == set(hot_path.module_names()) and hot_path.describe() == hot_path.COMPILED
        assert framing._lines_of is not framing.read_lines
        assert framing._lines_of("Event: Hangup\r\nCause: 16") == {"Event": "Hangup", "Cause": "16"}
        with pytest.raises(TypeError, match="wants a str"):
            framing._lines_of(b"Event: Hangup")  # type: ignore[arg-type]
    else:
        assert framing._lines_of is framing.read_lines and hot_path.describe() == "interpreted"
