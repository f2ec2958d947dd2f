"""Where each service's CPU goes per job: py-spy samples every service under load.

    python examples/benchmarks/profile_services.py --jobs 4000 --clients 16
    python examples/benchmarks/profile_services.py --store-url postgresql://... --keep /tmp/prof

Starts `toy-platform serve` (no web app, no dashboard, job delay 0, a fresh home), attaches
`py-spy record` to auth, middleware and core, runs examples/load.py against it, and prints
for each service its CPU per completed job and the functions that CPU went to: inclusive
(the function and what it called) and self, each as milliseconds per job (its share of the
samples times the service's CPU per job). Only the thread holding the GIL is sampled (py-spy
--gil): a thread waiting for a lock or sleeping is not working, though py-spy's own idle
check often counts it; C code that runs without the GIL (SQLite's, say) counts only in the
CPU figure. With --keep, py-spy's raw stacks are kept there
(collapsed format: open them with speedscope or flamegraph.pl).

Needs py-spy (pip install "toy-platform[examples]"), allowed to read other processes' memory
(root, or kernel.yama.ptrace_scope 0 on Linux).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil
from services import Services, service_processes, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "middleware", "core")
STEPS = {
    "token check": ("TokenVerifier.verify",),
    "service signatures": ("verify_signature", "signature_headers"),
    "logging": ("Logger._log",),
    "JSON": ("json/", "jsonify", "get_json", "JsonFormatter", "answers_json", "orjson"),
    "store and queue (SQLite)": ("/stores/", "toy_platform/db.py", "embedded/store.py"),
    "HTTP client (forward, callbacks)": ("requests/", "urllib3/", "service_http.py"),
    "HTTP server (waitress)": ("waitress/channel", "waitress/task", "waitress/parser"),
    "Flask and werkzeug": ("flask/", "werkzeug/"),
    "metrics": ("prometheus_client/",),
}
"""Each step's markers: a sample counts for the step when a frame of its stack holds one."""
SKIP = ("threading.py", "<module>", "waitress/", "run_loop", "_bootstrap")
"""Frames every stack shares (thread start-up, the server's loop): not worth a line."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--store-url", default="sqlite")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every thread, not only the one holding the GIL (lock waits then count)",
    )
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="keep py-spy's raw stacks in this directory")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="toy-bench-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    services = Services(args.store_url, "--job-delay", "0")
    serve = services.start("serve", "--no-web", "--no-dashboard")
    try:
        wait_for(f"{services.url('middleware')}/readyz", timeout=90)
        wait_for(f"{services.url('core')}/readyz", timeout=90)
        pids = {name: pid for pid, name in service_processes(serve.pid).items() if name in SERVICES}
        spies = {
            name: subprocess.Popen(
                [py_spy(), "record", "--pid", str(pid), "--rate", str(args.rate), "--format"]
                + ["raw", "--output", str(out / f"{name}.txt"), "--nonblocking"]
                + ([] if args.all_threads else ["--gil"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in pids.items()
        }
        cpu_before = {name: cpu(pid) for name, pid in pids.items()}
        report = run_load(services, args.jobs, args.clients)
        cpu_used = {name: cpu(pid) - cpu_before[name] for name, pid in pids.items()}
        for spy in spies.values():
            spy.send_signal(signal.SIGINT)
        for spy in spies.values():
            spy.wait(60)
    finally:
        services.stop()
    print(report)
    done = completed(report) or args.jobs
    for name in SERVICES:
        per_job = cpu_used[name] / done * 1000
        print(f"\n{name}: {per_job:.3f} ms CPU per job")
        show(out / f"{name}.txt", per_job, args.top)
    if args.keep:
        print(f"\nraw stacks in {out}")
    return 0


def py_spy() -> str:
    """py-spy on the PATH, or beside this Python (a virtualenv not activated)."""
    return shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))


def cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def run_load(services: Services, jobs: int, clients: int) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "load.py"), "--jobs", str(jobs)]
        + ["--clients", str(clients), "--auth-url", services.url("auth")]
        + ["--middleware-url", services.url("middleware"), "--password", services.password],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=900,
    ).stdout


def completed(report: str) -> int:
    for line in report.splitlines():
        if line.startswith("completed jobs/s:") and "(" in line:
            return int(line.split("(", 1)[1].split()[0])
    return 0


def show(stacks_file: Path, per_job_ms: float, top: int) -> None:
    """The functions with the most samples, inclusive and self, in ms per job."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    steps: Counter[str] = Counter(dict.fromkeys(STEPS, 0))
    total = 0
    if not stacks_file.exists():
        print("  (no samples: could py-spy attach?)")
        return
    for line in stacks_file.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame and not frame.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        for step, markers in STEPS.items():
            if any(marker in stack for marker in markers):
                steps[step] += count
        if frames:
            own[frames[-1]] += count
    if not total:
        print("  (no samples)")
        return
    print(f"  by step (inclusive, overlapping; of {total} samples):")
    for step, count in steps.items():
        print(f"    {count / total * per_job_ms:7.3f} ms  {count / total:5.1%}  {step}")
    print("  inclusive:")
    shown = [(f, n) for f, n in inclusive.most_common() if not any(s in f for s in SKIP)]
    for frame, count in shown[:top]:
        print(f"    {count / total * per_job_ms:7.3f} ms  {count / total:5.1%}  {frame}")
    print("  self:")
    for frame, count in own.most_common(top):
        print(f"    {count / total * per_job_ms:7.3f} ms  {count / total:5.1%}  {frame}")


if __name__ == "__main__":
    sys.exit(main())
