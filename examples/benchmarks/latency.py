"""Submit to result at half the top throughput: the embedded default, and Celery + PostgreSQL.

    python examples/benchmarks/latency.py --rounds 3

Each setup runs in a new home, with --job-delay 0. First a closed-loop run of examples/load.py
(--jobs from --clients, as fast as they go) finds its top throughput; then --rounds open-loop
runs (`load.py --rate`, half of that top, --seconds long each) give the submit latency and the
time from submit to result as the middleware recorded it, p50 and p99. Prints each run, then
the medians.

Another job type than `reverse`: --job-type NAME --data JSON, with --job-module MODULE for
where it is declared (importable from examples/job_types, or installed), e.g.
    --job-type wordcount --data '{"text": "a b c"}' --job-module toy_platform_example_jobs.types

- embedded: auth, core with its embedded workers and one middleware on SQLite, as
  `toy-platform serve` runs them.
- celery+postgres: a PostgreSQL cluster of the benchmark's own (fsync and synchronous_commit
  on) and a redis-server of its own (appendonly, appendfsync always, as the README recommends);
  auth, core (--workers 0) and one middleware on PostgreSQL, and one `toy-platform worker`
  (prefork, --worker-concurrency processes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from services import PostgresCluster, RedisProcess, Services, wait_for

EXAMPLES = Path(__file__).resolve().parents[1]
LOAD = EXAMPLES / "load.py"
FIGURES = {
    "jobs/s": r"completed jobs/s: +([\d.]+)",
    "submit p50": r"submit latency: +p50 (\d+) ms",
    "submit p99": r"submit latency: +p50 \d+ ms, p99 (\d+) ms",
    "result p50": r"submit to result: p50 (\d+) ms",
    "result p99": r"submit to result: p50 \d+ ms, p99 (\d+) ms",
}
SETUPS = ("embedded", "celery+postgres")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=SETUPS, action="append", help="(default: both)")
    parser.add_argument("--rounds", type=int, default=3, help="open-loop runs of each setup")
    parser.add_argument("--jobs", type=int, default=2000, help="jobs of the closed-loop run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--job-type", help="the jobs' type (default: reverse)")
    parser.add_argument("--data", help="the jobs' data, as JSON (default: a text per job)")
    parser.add_argument("--job-module", help="where --job-type is declared")
    return parser.parse_args()


@contextlib.contextmanager
def platform(setup: str, args: argparse.Namespace) -> Iterator[Services]:
    """The services of SETUP started and ready; everything stopped afterwards."""
    with contextlib.ExitStack() as stack:
        if setup == "embedded":
            services, queue = Services("sqlite", "--job-delay", "0"), None
        else:
            cluster = PostgresCluster(durable=True).start()
            stack.callback(cluster.stop, keep=False)
            redis_dir = Path(tempfile.mkdtemp(prefix="toy-bench-redis-"))
            stack.callback(shutil.rmtree, redis_dir, ignore_errors=True)
            redis_server = RedisProcess(redis_dir).start()
            stack.callback(redis_server.stop)
            queue = ["--queue-url", redis_server.url]
            services = Services(cluster.url(), *queue, "--job-delay", "0")
        stack.callback(services.stop)
        types = ["--job-module", args.job_module] if args.job_module else []
        if types:  # the example package, importable without installing it
            path = os.pathsep.join(
                filter(None, [str(EXAMPLES / "job_types"), os.getenv("PYTHONPATH")])
            )
            services.env["PYTHONPATH"] = path
        services.start("auth")
        services.start("core", *(["--workers", "0"] if queue else []), *types)
        services.start_middleware()
        if queue:
            worker = [*queue, *types, "--job-delay", "0", "--pool", "prefork"]
            worker += ["--concurrency", str(args.worker_concurrency)]
            services.start_worker("bench@latency", services.middleware_urls[0], *worker)
        for name in ("auth", "core"):
            wait_for(f"{services.url(name)}/readyz", timeout=90)
        yield services


def load(
    services: Services, args: argparse.Namespace, jobs: int, rate: float | None
) -> dict[str, float]:
    command = [sys.executable, str(LOAD), "--auth-url", services.url("auth")]
    command += ["--middleware-url", services.middleware_urls[0]]
    command += ["--password", services.password, "--jobs", str(jobs)]
    command += ["--clients", str(args.clients)]
    if args.job_type:
        command += ["--job-type", args.job_type, "--data", args.data or "null"]
    if rate:
        command += ["--rate", f"{rate:g}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {}
    for name, pattern in FIGURES.items():
        match = re.search(pattern, out)
        figures[name] = float(match.group(1)) if match else float("nan")
    return figures


def main() -> None:
    args = parse_args()
    medians = {}
    for setup in args.setup or SETUPS:
        with platform(setup, args) as services:
            top = load(services, args, args.jobs, None)["jobs/s"]
            rate = round(top / 2)
            print(f"{setup}: top {top:g} jobs/s; runs at {rate} jobs/s", flush=True)
            runs = []
            for round_ in range(args.rounds):
                figures = load(services, args, int(rate * args.seconds), rate)
                runs.append(figures)
                shown = ", ".join(f"{k} {v:g}" for k, v in figures.items())
                print(f"  run {round_ + 1}: {shown} (ms)", flush=True)
        medians[setup] = (top, rate, {k: statistics.median(r[k] for r in runs) for k in FIGURES})
    kind, each = args.job_type or "reverse", f"{args.seconds:g} s each, {args.clients} clients"
    print(f"\n{kind} jobs, medians of {args.rounds} runs ({each}):")
    print(f"{'setup':16} {'top':>6} {'rate':>6} " + " ".join(f"{k:>11}" for k in FIGURES))
    for setup, (top, rate, figures) in medians.items():
        shown = " ".join(f"{figures[k]:>11g}" for k in FIGURES)
        print(f"{setup:16} {top:>6g} {rate:>6} {shown}")


if __name__ == "__main__":
    main()
