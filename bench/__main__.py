"""Every benchmark, one after the other: ``python -m bench`` (full figures, several
minutes) or ``python -m bench --quick`` (each in its quick mode, as CI runs them).
Each prints its figures and saves them as JSON in bench/results/."""

from __future__ import annotations

import subprocess
import sys

from acd import hot_path

BENCHMARKS = ("core", "scale", "ami_ingest", "first_ring", "e2e_calls", "http_assign", "widget_posts", "widget_chats",
              "demo_soak", "reports", "takeover")


def main() -> int:
    extra = sys.argv[1:]
    failed = []
    print("acd's hot path:", hot_path.describe(), flush=True)  # compiled or not (README, Compiled build)
    for name in BENCHMARKS:
        print(f"== bench.{name} {' '.join(extra)}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}", *extra]).returncode != 0:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
