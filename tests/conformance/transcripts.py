"""The recorded AMI sessions (tests/fixtures/ami, format: its README), read by acd.sim.recordings."""

from __future__ import annotations

from pathlib import Path

from acd.sim.recordings import Frame, Recording, find, read

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
Transcript = Recording

__all__ = ["TRANSCRIPTS", "Frame", "Transcript", "load"]


def load(name: str) -> Recording:
    return read(find(TRANSCRIPTS, name))
