"""``acd demo`` under a soak: simulated minutes of traffic, resident memory sampled each
simulated minute. Growth after warm-up is what matters. Run: python -m bench.demo_soak
[--minutes 30] [--speed 20] [--quick]"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
from pathlib import Path

from acd import event_loop
from acd.clock import Clock
from acd.demo import rss_mib, run_demo

from .common import save


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def soak(minutes: float, speed: float, database: str) -> dict[str, object]:
    samples: list[float] = []
    clock = Clock(speed)

    async def sample() -> None:
        while True:
            samples.append(round(rss_mib(), 1))
            await clock.sleep(60)

    sampler = asyncio.create_task(sample())
    report = await run_demo(port=free_port(), speed=speed, minutes=minutes, database=database, seed=1)
    sampler.cancel()
    half = samples[len(samples) // 2:]
    return {**report, "rss_samples_mib": samples, "growth_second_half_mib": round(half[-1] - half[0], 1) if half else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--speed", type=float, default=20)
    parser.add_argument("--quick", action="store_true", help="2 simulated minutes, for CI")
    args = parser.parse_args()
    minutes = 2 if args.quick else args.minutes
    with tempfile.TemporaryDirectory() as tmp:
        figures = event_loop.run(soak(minutes, args.speed, f"sqlite:///{Path(tmp) / 'soak.db'}"))
    print(f"demo soak: {minutes:g} simulated minutes, {figures['calls']} calls, {figures['errors']} errors, "
          f"RSS per minute {figures['rss_samples_mib']} MiB, "
          f"second-half growth {figures['growth_second_half_mib']} MiB")
    print("saved", save("demo_soak" + ("-quick" if args.quick else ""), figures))


if __name__ == "__main__":
    main()
