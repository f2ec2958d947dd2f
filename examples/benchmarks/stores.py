"""examples/load.py on 1 and 2 middlewares, over SQLite and over PostgreSQL, runs alternated.

    python examples/benchmarks/stores.py --postgres-url postgresql://toy:PASS@127.0.0.1:5432/postgres

Each run starts auth, core (--job-delay 0) and the middlewares in a new home; on PostgreSQL
the middlewares share a new database (the user of --postgres-url must be allowed to create
databases), on SQLite each middleware has its own file (a SQLite store serves one
middleware). Prints each run, then the medians: completed jobs/s, submit p50/p99, the
middlewares' CPU per job and, on PostgreSQL, the database server's (every `postgres`
process on this machine: run it on a machine with no other PostgreSQL at work).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
from services import Services, wait_for

LOAD = Path(__file__).resolve().parents[1] / "load.py"
FIGURES = {
    "jobs/s": r"completed jobs/s: +([\d.]+)",
    "submit p50 ms": r"submit latency: +p50 (\d+) ms",
    "submit p99 ms": r"submit latency: +p50 \d+ ms, p99 (\d+) ms",
    "mw CPU ms/job": r"CPU per job: +([\d.]+) ms",
}
DONE = r"completed jobs/s: +[\d.]+ +\((\d+) of"


def postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL server process on this machine."""
    used = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] == "postgres" and process.info["cpu_times"]:
            used[process.pid] = sum(process.info["cpu_times"][:2])
    return used


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", help="a PostgreSQL server (without it: SQLite only)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each setup")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    return parser.parse_args()


def new_database(server_url: str) -> tuple[str, str]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(store: str, middlewares: int, args: argparse.Namespace) -> dict[str, float]:
    database = None
    store_url = "sqlite"
    if store == "postgresql":
        database, store_url = new_database(args.postgres_url)
    services = Services(store_url, "--job-delay", "0")
    try:
        services.start("auth")
        services.start("core")
        for n in range(middlewares):
            own = ["--data-dir", str(services.home / f"data-{n}")] if store == "sqlite" else []
            services.start_middleware(*own)
        for name in ("auth", "core"):
            wait_for(f"{services.url(name)}/readyz")
        command = [sys.executable, str(LOAD), "--auth-url", services.url("auth")]
        command += ["--password", services.password, "--jobs", str(args.jobs)]
        command += ["--clients", str(args.clients)]
        for url in services.middleware_urls:
            command += ["--middleware-url", url]
        for pid in services.middleware_pids:
            command += ["--cpu-pid", str(pid)]
        if store == "sqlite" and middlewares > 1:
            command.append("--separate-stores")
        db_before = postgres_cpu()
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        db_after = postgres_cpu()
    finally:
        services.stop()
        if database:
            drop_database(args.postgres_url, database)
    figures = {}
    for name, pattern in FIGURES.items():
        match = re.search(pattern, out)
        figures[name] = float(match.group(1)) if match else float("nan")
    if store == "postgresql":  # what the database server spent, beside the middlewares
        done = re.search(DONE, out)
        spent = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items())
        figures["db CPU ms/job"] = spent / int(done.group(1)) * 1000 if done else float("nan")
    else:
        figures["db CPU ms/job"] = 0.0
    return figures


def main() -> None:
    args = parse_args()
    stores = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    setups = [(store, n) for n in (1, 2) for store in stores]
    results: dict[tuple[str, int], list[dict[str, float]]] = {s: [] for s in setups}
    for round_ in range(args.runs):
        for setup in setups if round_ % 2 == 0 else setups[::-1]:  # alternate the order
            figures = run(*setup, args)
            results[setup].append(figures)
            shown = ", ".join(f"{k} {v:g}" for k, v in figures.items())
            print(f"run {round_ + 1}: {setup[0]:10} x{setup[1]}: {shown}", flush=True)
    print(f"\nmedians of {args.runs} runs, {args.jobs} jobs from {args.clients} clients:")
    names = [*FIGURES, "db CPU ms/job"]
    print(f"{'store':12} {'mw':>3} " + " ".join(f"{k:>14}" for k in names))
    for (store, n), runs in results.items():
        medians = [statistics.median(r[k] for r in runs) for k in names]
        print(f"{store:12} {n:>3} " + " ".join(f"{m:>14g}" for m in medians))


if __name__ == "__main__":
    main()
