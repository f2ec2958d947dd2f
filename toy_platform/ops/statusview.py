"""The `toy-platform status` screen: gathered from /healthz, /readyz and /metrics, no login.

The `--json` shape (stable; fields are added, never renamed or removed)::

    {
      "ok": bool,                     # every component ready; also the exit code (0 / 1)
      "checked_at": "ISO-8601 UTC",
      "components": {
        "<auth|middleware|core|web|dashboard>": {
          "state": "ok" | "not_ready" | "down",
          "up": bool, "ready": bool, "reason": str | null, "url": str,
          "latency_ms": float | null, "version": str | null, "uptime_s": float | null,
          "service_key_fingerprint": str | null,  # services: differing keys = not ready
          "supervisor_state": str | null,     # from `toy-platform serve`, when it runs
          "restarts": int | null, "last_exit_code": int | null, "last_exit_at": str | null
        }
      },
      "supervisor": {"running": bool, "pid": int | null, "updated_at": str | null,
                     "state": "running" | "frozen" | "gone",
                     "reason": str | null,          # why it is not running
                     "orphans": [str]} | null,      # its children still running after it went
                                                    # null: no `serve` ever ran on this home
      "queue": {"size", "oldest_age_s", "running", "callbacks_pending",
                "callbacks_waiting_retry", "callbacks_parked", "workers_alive",
                "callback_senders_alive", "thread_restarts",
                "celery_workers_online", "broker_up"},  # numbers or null (core down; the
                                                       # last two: with the Celery queue only)
      "jobs": {"by_status": {status: int} | null, "submitted_total", "waiting_for_core",
               "oldest_queued_age_s"}                           # numbers or null (middleware down)
    }

"ok" is also false while the supervisor is frozen (it exists, but restarts nothing), or gone
with its services left running.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import click
import requests
from prometheus_client.parser import text_string_to_metric_families

from toy_platform.clock import parse_time
from toy_platform.config import SERVICES_BY_PATH, Settings
from toy_platform.health import (
    PROBE_TIMEOUT_S,
    direct_session,
    probe,
    read_supervisor,
    supervisor_facts,
)
from toy_platform.ops import serve_record

# Each front-end's liveness and readiness paths (the dashboard has no readiness check).
FRONTENDS: dict[str, tuple[str, str | None]] = {
    "web": ("/healthz", "/readyz"),
    "dashboard": ("/_stcore/health", None),
}
MARKS = {"ok": ("OK", "green"), "not_ready": ("NOT READY", "yellow"), "down": ("DOWN", "red")}

Metrics = dict[str, float]


# -- gathering -----------------------------------------------------------------


def supervisor_record(settings: Settings) -> dict[str, Any] | None:
    """The supervisor's record, with what it is doing right now added.

    `running` (alive and rewriting its record), `state` and `state_reason` (why it is not
    running), `orphans` (its children still running after it went) and `in_use` (serve or
    one of its children still runs: they may answer).
    """
    record = read_supervisor(settings)
    if record is None:
        return None
    state = serve_record.serve_state(record)
    left = [] if state.alive else list(serve_record.children_running(record))
    record.update(
        running=state.running,
        in_use=state.alive or bool(left),
        state=state.state,
        state_reason=state.reason,
        orphans=left,
    )
    return record


def component_urls(settings: Settings, record: dict[str, Any] | None) -> dict[str, str]:
    """Where each component answers: the three services, and the front-ends serve runs."""
    urls = {name: settings.url_of(name) for name in SERVICES_BY_PATH}
    children = serve_record.children(record) if (record or {}).get("in_use") else {}
    for name in FRONTENDS:
        if name in children:
            urls[name] = str(children[name].get("url") or getattr(settings, f"{name}_url"))
    return urls


def probe_frontend(name: str, url: str, timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """A front-end: its own liveness path, and readiness where it has one."""
    health_path, ready_path = FRONTENDS[name]
    return probe(url, timeout=timeout, health_path=health_path, ready_path=ready_path)


def fetch_metrics(url: str, timeout: float = PROBE_TIMEOUT_S) -> Metrics | None:
    """A service's /metrics as {"name{label=value,...}": value}; None when unavailable."""
    try:
        with direct_session() as http:
            response = http.get(f"{url}/metrics", timeout=timeout)
            response.raise_for_status()
            return parse_metrics(response.text)
    except (requests.RequestException, ValueError):
        return None


def fetch_job_types(url: str, timeout: float = PROBE_TIMEOUT_S) -> list[dict[str, Any]] | None:
    """The job types core's workers offer, from its /queue_size; None when unavailable."""
    try:
        with direct_session() as http:
            response = http.get(f"{url}/queue_size", timeout=timeout)
            response.raise_for_status()
            types = response.json().get("job_types")
            return list(types) if isinstance(types, list) else None
    except (requests.RequestException, ValueError, AttributeError):
        return None


def job_types_text(types: list[dict[str, Any]] | None) -> str:
    """`reverse (core), wordcount (w1@h, w2@h); not offered: hash` (yellow when some are)."""
    if types is None:
        return click.style("unknown (core does not answer)", fg="yellow")
    offered = [
        f"{t['name']} ({', '.join(t['offered_by'])})" if t["offered_by"] else t["name"]
        for t in types
        if t["available"]
    ]
    missing = [t["name"] for t in types if not t["available"]]
    text = ", ".join(offered) or "none offered"
    if missing:
        text += click.style(f"; no worker offers: {', '.join(missing)}", fg="yellow")
    return text


def parse_metrics(text: str) -> Metrics:
    """Prometheus text as a flat dict keyed by sample name and sorted labels."""
    flat: Metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            flat[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return flat


def gather(settings: Settings) -> dict[str, Any]:
    """Everything the status screen shows, in the documented `--json` shape."""
    record = supervisor_record(settings)
    urls = component_urls(settings, record)
    with ThreadPoolExecutor(max_workers=len(urls) + 2) as pool:
        probes = {name: pool.submit(_run, _probe_one, name, url) for name, url in urls.items()}
        metrics = {
            name: pool.submit(_run, fetch_metrics, urls[name]) for name in ("core", "middleware")
        }
        types = pool.submit(_run, fetch_job_types, urls["core"])
        components = {name: future.result() for name, future in probes.items()}
        core_metrics, mw_metrics = metrics["core"].result(), metrics["middleware"].result()
    flag_other_service_keys(components)
    _add_supervisor(components, record)
    unsupervised = (record or {}).get("state") == "frozen" or bool((record or {}).get("orphans"))
    return {
        "ok": all(c["ready"] for c in components.values()) and not unsupervised,
        "checked_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "components": components,
        "supervisor": _supervisor_summary(record),
        "queue": queue_figures(core_metrics),
        "jobs": job_figures(mw_metrics),
        "job_types": types.result(),
    }


def _run(function: Any, *args: Any) -> Any:
    return contextvars.copy_context().run(function, *args)


def _probe_one(name: str, url: str) -> dict[str, Any]:
    if name in FRONTENDS:
        status = probe_frontend(name, url)
    else:
        status = probe(url, keep=("service_key_fingerprint",))
    state = "ok" if status["ready"] else "not_ready" if status["up"] else "down"
    return {"state": state, **status}


def flag_other_service_keys(components: dict[str, dict[str, Any]]) -> None:
    """A service whose key differs from the others' is not ready, even before its first call.

    Their calls to each other would be refused (401): no job could run. The services that
    share the most common key are right; on a tie, every one is flagged.
    """
    prints = {
        name: str(c["service_key_fingerprint"])
        for name, c in components.items()
        if c.get("service_key_fingerprint")
    }
    counts = {value: list(prints.values()).count(value) for value in set(prints.values())}
    if len(counts) < 2:
        return
    most = max(counts.values())
    usual = [value for value, count in counts.items() if count == most]
    for name, value in prints.items():
        if len(usual) == 1 and value == usual[0]:
            continue
        others = sorted(n for n, v in prints.items() if v != value)
        theirs = ", ".join(f"{n} {prints[n]}" for n in others)
        components[name].update(
            state="not_ready",
            ready=False,
            reason=f"uses another service key (fingerprint {value}) than {theirs}: their calls"
            " to each other are refused (401); give every service the same key",
        )


def _add_supervisor(components: dict[str, dict[str, Any]], record: dict[str, Any] | None) -> None:
    children = serve_record.children(record) if (record or {}).get("running") else {}
    for name, component in components.items():
        child = children.get(name, {})
        component["supervisor_state"] = child.get("state")
        component.update(supervisor_facts(child))


def _supervisor_summary(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "running": record["running"],
        "pid": record.get("pid"),
        "updated_at": record.get("updated_at"),
        "state": record["state"],
        "reason": record["state_reason"],
        "orphans": record["orphans"],
    }


def queue_figures(metrics: Metrics | None) -> dict[str, float | None]:
    """The core's queue figures, or nulls when its metrics could not be read.

    A figure an older core does not report is null too.
    """
    names = {
        "size": "toy_platform_queue_size",
        "oldest_age_s": "toy_platform_queue_oldest_age_seconds",
        "running": "toy_platform_jobs_running",
        "callbacks_pending": "toy_platform_callbacks_pending",
        "callbacks_waiting_retry": "toy_platform_callbacks_waiting_retry",
        "callbacks_parked": "toy_platform_callbacks_parked",
        "workers_alive": "toy_platform_workers_alive",
        "callback_senders_alive": "toy_platform_callback_senders_alive",
        "celery_workers_online": "toy_platform_celery_workers_online",
        "broker_up": "toy_platform_broker_up",
    }
    figures = {key: _number(metrics, name) for key, name in names.items()}
    figures["thread_restarts"] = _total(metrics, "toy_platform_thread_restarts_total")
    return figures


def job_figures(metrics: Metrics | None) -> dict[str, Any]:
    """The middleware's job figures, or nulls when its metrics could not be read."""
    by_status = None
    if metrics is not None:
        prefix = "toy_platform_jobs{status="
        by_status = {
            key[len(prefix) : -1]: int(value)
            for key, value in metrics.items()
            if key.startswith(prefix)
        }
    return {
        "by_status": by_status,
        "submitted_total": _number(metrics, "toy_platform_jobs_submitted_total"),
        "waiting_for_core": _number(metrics, "toy_platform_jobs_waiting_for_core"),
        "oldest_queued_age_s": _number(metrics, "toy_platform_jobs_oldest_queued_age_seconds"),
    }


def _total(metrics: Metrics | None, name: str) -> float | None:
    """The sum of NAME's samples over all labels (0 when none was counted yet)."""
    if metrics is None:
        return None
    total = sum(value for key, value in metrics.items() if key.split("{", 1)[0] == name)
    return int(total) if float(total).is_integer() else round(total, 3)


def _number(metrics: Metrics | None, name: str) -> float | None:
    if metrics is None or name not in metrics:
        return None
    value = metrics[name]
    return int(value) if value.is_integer() else round(value, 3)


# -- rendering -----------------------------------------------------------------


def render(status: dict[str, Any]) -> list[str]:
    """The status screen as lines (styled; click.echo drops the colour when not a TTY)."""
    checked = _local_clock(status["checked_at"])
    verdict = (
        click.style("all components ready", fg="green")
        if status["ok"]
        else click.style("NOT OK", fg="red", bold=True)
    )
    lines = [f"toy-platform status at {checked}: {verdict}", ""]
    lines += [component_line(name, c) for name, c in status["components"].items()]
    lines += _supervisor_lines(status.get("supervisor"))
    lines += ["", *figure_lines(status["queue"], status["jobs"])]
    if "job_types" in status:
        lines.append(f"{'job types':<11} {job_types_text(status['job_types'])}")
    if not status["ok"]:
        lines += ["", "Why, and what to do: `toy-platform doctor`"]
    return lines


def component_line(name: str, component: dict[str, Any]) -> str:
    """`core        DOWN       connection refused (not running?) — restarted 3 times, ...`."""
    mark, colour = MARKS[component["state"]]
    detail = component["reason"] if component["state"] != "ok" else _ok_detail(component)
    history = supervisor_note(name, component)
    if history:
        detail = f"{detail} — {history}" if detail else history
    return f"{name:<11} {click.style(f'{mark:<10}', fg=colour, bold=True)} {detail or ''}".rstrip()


def _ok_detail(component: dict[str, Any]) -> str:
    words = [component["url"]]
    if component.get("version"):
        words.append(f"v{component['version']}")
    if component.get("uptime_s") is not None:
        words.append(f"up {human_duration(component['uptime_s'])}")
    if component.get("latency_ms") is not None:
        words.append(f"{component['latency_ms']:g} ms")
    return ", ".join(words)


def supervisor_note(name: str, component: dict[str, Any]) -> str:
    """What the supervisor knows: held on purpose, restarts and the last exit."""
    notes = []
    if component.get("supervisor_state") == "held":
        notes.append(f"held down by `chaos stop` (undo: `toy-platform chaos start {name}`)")
    restarts = component.get("restarts") or 0
    if restarts:
        notes.append(f"restarted {restarts} time{'s' if restarts != 1 else ''}")
    if component.get("last_exit_at"):
        notes.append(
            f"last exit code {component.get('last_exit_code')}"
            f" at {_local_clock(component['last_exit_at'])}"
        )
    return ", ".join(notes)


def _supervisor_lines(supervisor: dict[str, Any] | None) -> list[str]:
    if supervisor is None or supervisor["running"]:
        return []
    updated = _local_clock(supervisor.get("updated_at"))
    if supervisor.get("state") == "frozen":
        head = click.style("the supervisor (`toy-platform serve`) is not running", fg="red")
    else:
        head = click.style("the supervisor (`toy-platform serve`) is not running", fg="yellow")
    orphans = supervisor.get("orphans")
    left = f" Its services still run without it: {', '.join(orphans)}." if orphans else ""
    return [
        "",
        f"{head}: its record is stale (last updated at {updated};"
        f" {supervisor.get('reason') or 'it is gone'}). Nothing restarts a component that"
        f" stops or hangs.{left}",
    ]


def figure_lines(queue: dict[str, Any], jobs: dict[str, Any]) -> list[str]:
    """Queue size, threads, jobs by status, oldest queued age and callbacks."""
    unknown = click.style("unknown (core metrics unavailable)", fg="yellow")
    if queue.get("broker_up") == 0:
        unknown = click.style("unknown (the Celery broker does not answer)", fg="yellow")
    if queue["size"] is None:
        queue_text = unknown
    else:
        queue_text = f"{queue['size']} queued, {queue['running']} running"
        queue_text += f", oldest waiting {human_duration(queue['oldest_age_s'] or 0)}"
    lines = [f"{'queue':<11} {queue_text}"]
    celery = queue.get("celery_workers_online") is not None
    if queue["size"] is not None or celery:
        lines.append(f"{'workers' if celery else 'threads':<11} {threads_text(queue)}")
    lines.append(f"{'jobs':<11} {_jobs_text(jobs)}")
    lines.append(
        f"{'callbacks':<11} {callbacks_text(queue) if queue['size'] is not None else unknown}"
    )
    return lines


def threads_text(queue: dict[str, Any]) -> str:
    """`1 worker alive, 1 callback sender alive, restarted 2 times` (red when none alive)."""
    parts = [_alive(queue["workers_alive"], "worker")]
    if queue.get("celery_workers_online") is not None:
        online = queue["celery_workers_online"]
        text = f"{online} Celery worker{'s' if online != 1 else ''} online"
        parts = [click.style(text, fg="red", bold=True) if online == 0 else text]
        parts.append(f"concurrency {queue['workers_alive'] or 0} (jobs they can run at once)")
    if queue.get("callback_senders_alive") is not None:
        parts.append(_alive(queue["callback_senders_alive"], "callback sender"))
    restarts = queue.get("thread_restarts")
    if restarts:
        parts.append(click.style(f"restarted {_times(restarts)} after dying", fg="yellow"))
    return ", ".join(parts)


def _alive(count: Any, what: str) -> str:
    if count is None:
        return f"{what}s: unknown"
    text = f"{count} {what}{'s' if count != 1 else ''} alive"
    return click.style(text, fg="red", bold=True) if count == 0 else text


def _times(count: Any) -> str:
    return f"{count} time{'s' if count != 1 else ''}"


def callbacks_text(queue: dict[str, Any]) -> str:
    """`2 waiting for retry, 0 pending, 1 parked (cannot be delivered)`."""
    if queue["callbacks_waiting_retry"] is None:
        return click.style("unknown", fg="yellow")
    waiting = queue["callbacks_waiting_retry"]
    text = f"{waiting} waiting for retry, {queue['callbacks_pending']} pending"
    parked = queue.get("callbacks_parked")
    if parked:
        return click.style(f"{text}, {parked} parked (cannot be delivered)", fg="yellow")
    return click.style(text, fg="yellow") if waiting else text


def _jobs_text(jobs: dict[str, Any]) -> str:
    if jobs["by_status"] is None:
        return click.style("unknown (middleware metrics unavailable)", fg="yellow")
    counts = ", ".join(f"{status} {n}" for status, n in sorted(jobs["by_status"].items()))
    text = counts or "none yet"
    oldest = jobs.get("oldest_queued_age_s")
    if oldest:
        text += f"; oldest queued {human_duration(oldest)} ago"
    if jobs.get("waiting_for_core"):
        text += click.style(f"; {jobs['waiting_for_core']} waiting for the core", fg="yellow")
    return text


def human_duration(seconds: float) -> str:
    """3.2 s, 4m05s, 2h03m, 3d04h."""
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours < 1:
        return f"{minutes}m{secs:02d}s"
    days, hours = divmod(hours, 24)
    return f"{hours}h{minutes:02d}m" if days < 1 else f"{days}d{hours:02d}h"


def _local_clock(value: Any) -> str:
    """An ISO time as HH:MM:SS local time (or the text itself when it is not one)."""
    moment = parse_time(value)
    return moment.astimezone().strftime("%H:%M:%S") if moment else str(value)
