"""This checkout against another revision, under the same load, in one run.

    python examples/benchmarks/versions.py main~5 --rounds 3 --jobs 2000 --clients 16

Each round starts the platform (`toy-platform serve`, no web app, no dashboard, job delay 0,
a temporary home) from each version in turn, runs examples/load.py against it and stops it.
The other revision is checked out in a temporary git worktree and run from there (PYTHONPATH
ahead of this checkout's editable install). The versions alternate, so a machine that gets
busier or quieter weighs on both; the medians and their ratio are printed at the end.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from services import Services, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "jobs/s": r"completed jobs/s:\s+([\d.]+)",
    "submits/s": r"submits/s:\s+([\d.]+)",
}


def run_round(source: Path | None, jobs: int, clients: int) -> dict[str, float]:
    """One load run against the platform from SOURCE (None: this checkout)."""
    services = Services("sqlite", "--job-delay", "0")
    if source is not None:
        services.env["PYTHONPATH"] = str(source)
    services.start("serve", "--no-web", "--no-dashboard")
    try:
        wait_for(f"{services.url('middleware')}/readyz", timeout=90)
        wait_for(f"{services.url('core')}/readyz", timeout=90)
        out = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "load.py"),
                "--jobs",
                str(jobs),
                "--clients",
                str(clients),
                "--auth-url",
                services.url("auth"),
                "--middleware-url",
                services.url("middleware"),
                "--password",
                services.password,
            ],
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=True,
            timeout=600,
        ).stdout
    finally:
        services.stop()
    figures = {}
    for name, pattern in FIGURES.items():
        found = re.search(pattern, out)
        if found is None:
            raise RuntimeError(f"load.py printed no {name}:\n{out}")
        figures[name] = float(found.group(1))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the other version: a commit, branch or tag")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toy-bench-rev-") as tmp:
        other = Path(tmp) / "other"
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "worktree",
                "add",
                "--detach",
                "-q",
                str(other),
                args.revision,
            ],
            check=True,
        )
        try:
            results: dict[str, list[dict[str, float]]] = {args.revision: [], "this": []}
            for n in range(args.rounds):
                for name, source in ((args.revision, other), ("this", None)):
                    figures = run_round(source, args.jobs, args.clients)
                    results[name].append(figures)
                    print(f"round {n + 1} {name:>12}: {figures['jobs/s']:8.1f} jobs/s", flush=True)
                    time.sleep(1)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)])
    for figure in FIGURES:
        old = statistics.median(r[figure] for r in results[args.revision])
        new = statistics.median(r[figure] for r in results["this"])
        ratio = new / old
        print(f"median {figure:>9}: {args.revision} {old:8.1f}, this {new:8.1f}, ratio {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
