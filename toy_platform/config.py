"""Settings for every service and command, built in one place and passed in."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from toy_platform.urls import is_http_url

APP_NAME = "toy-platform"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_AUTH_PORT = 6300
DEFAULT_CORE_PORT = 6301
DEFAULT_MIDDLEWARE_PORT = 6302
DEFAULT_WEB_PORT = 3001
DEFAULT_DASHBOARD_PORT = 8501
DEFAULT_JOB_DELAY = 2.0
DEFAULT_MAX_DATA_BYTES = 1024 * 1024
DEFAULT_TOKEN_TTL = 30 * 60
DEFAULT_STALL_AFTER = 30.0
DEFAULT_THREADS = 8
"""Request threads per service. They share one GIL: with 16 instead of 8 under 16 busy
clients, the middleware spent a tenth more CPU a job handing the GIL between threads and
completed a tenth fewer jobs a second."""

SERVICES = ("auth", "core", "middleware")
"""The services with a URL of their own (auth_url, ...), in the order serve starts them: each
after what it needs."""
SERVICES_BY_PATH = ("auth", "middleware", "core")
"""The same, in the order a request meets them: how status pages show them."""
COMPONENTS = (*SERVICES, "web", "dashboard")
"""Everything `toy-platform serve` runs."""

ENV_PREFIX = "TOY_PLATFORM_"
"""Every setting X may be given as the variable TOY_PLATFORM_X (HOME for the three dirs)."""
DIR_SETTINGS = ("config_dir", "data_dir", "log_dir")
ENV_ONLY = ("service_key", "admin_password", "instance_id", "supervisor_pid")
"""Settings given only by a variable: secrets, and what serve tells each child."""
NOT_INHERITED = frozenset({"cors_origins", "job_modules", *DIR_SETTINGS, *ENV_ONLY})


@dataclass(frozen=True)
class Settings:
    """Everything a service or command needs to know; immutable once built."""

    config_dir: Path
    data_dir: Path
    log_dir: Path
    host: str = DEFAULT_HOST
    auth_port: int = DEFAULT_AUTH_PORT
    core_port: int = DEFAULT_CORE_PORT
    middleware_port: int = DEFAULT_MIDDLEWARE_PORT
    web_port: int = DEFAULT_WEB_PORT
    dashboard_port: int = DEFAULT_DASHBOARD_PORT
    auth_url: str = ""
    core_url: str = ""
    middleware_url: str = ""
    job_delay: float = DEFAULT_JOB_DELAY
    workers: int = 1
    failure_rate: float = 0.0
    max_data_bytes: int = DEFAULT_MAX_DATA_BYTES
    token_ttl: int = DEFAULT_TOKEN_TTL
    cors_origins: tuple[str, ...] = ()
    log_max_bytes: int = 5 * 1024 * 1024
    log_backup_count: int = 5
    log_level: str = "INFO"
    console_log_level: str | None = None
    service_key: str | None = field(default=None, repr=False)
    admin_password: str | None = field(default=None, repr=False)
    threads: int = DEFAULT_THREADS
    stall_after: float = DEFAULT_STALL_AFTER
    # "auto", "off" or a CPU number: where a service keeps its threads (see toy_platform.cpu)
    cpu: str = "auto"
    # A job handed to core that shows no sign of life this long is looked for there, and
    # handed over again if core no longer holds it (its broker lost it).
    reconcile_after: float | None = None  # None: each job type's time limit and a margin
    # Modules of job types (@job_type) the workers load, besides installed entry points.
    job_modules: tuple[str, ...] = ()
    # Where the core's queue and the middleware's jobs live: "sqlite" (the embedded default,
    # files in data_dir), or redis://... (Celery workers) and postgresql://... (several
    # middlewares over one store). callback_url: where core and workers report back
    # (default: middleware_url; a load balancer in front of several middlewares).
    queue_url: str = field(default="sqlite", repr=False)  # may hold a password
    # Celery queue: seconds after which a task a dead worker had taken runs again (None:
    # max(30 s, 10 x job_delay); see core/queues/celery.py).
    visibility_timeout: float | None = None
    # The service key in a file of its own (a worker on another machine): instead of
    # config_dir/service.key; TOY_PLATFORM_SERVICE_KEY still wins.
    service_key_file: Path | None = None
    store_url: str = field(default="sqlite", repr=False)  # may hold a password
    callback_url: str = ""
    # Given by `toy-platform serve` to each child (TOY_PLATFORM_INSTANCE_ID and
    # TOY_PLATFORM_SUPERVISOR_PID): the child shows the first in /healthz, so serve knows
    # the answer is its own child's, and exits when the second process is gone.
    instance_id: str | None = None
    supervisor_pid: int | None = None

    def url_of(self, service: str) -> str:
        """The base URL of a service, without a trailing slash."""
        return str(getattr(self, f"{service}_url"))

    @property
    def web_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.web_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.dashboard_port}"

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """The browser origins allowed by CORS: the two front-ends, plus any given."""
        hosts = [_url_host(self.host)]
        if self.host in ("127.0.0.1", "0.0.0.0", "::", "localhost"):
            hosts = ["127.0.0.1", "localhost"]
        origins = [f"http://{h}:{p}" for h in hosts for p in (self.web_port, self.dashboard_port)]
        return tuple(dict.fromkeys([*origins, *self.cors_origins]))

    @property
    def users_file(self) -> Path:
        return self.config_dir / "users.json"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def default_dirs(home: Path | None) -> tuple[Path, Path, Path]:
    """Config, data and log dirs: under HOME if given, else the platform's usual places."""
    if home is not None:
        return home / "config", home / "data", home / "logs"
    return (
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def load_settings(
    home: Path | str | None = None,
    config_dir: Path | str | None = None,
    data_dir: Path | str | None = None,
    log_dir: Path | str | None = None,
    **options: Any,
) -> Settings:
    """Build Settings from CLI options (None means: not given) and the defaults."""
    default_config, default_data, default_log = default_dirs(Path(home) if home else None)
    given = {k: v for k, v in options.items() if v is not None}
    if "cors_origins" in given:
        given["cors_origins"] = tuple(given["cors_origins"])
    if "job_modules" in given:
        given["job_modules"] = module_names(given["job_modules"])
    settings = Settings(
        config_dir=Path(config_dir) if config_dir else default_config,
        data_dir=Path(data_dir) if data_dir else default_data,
        log_dir=Path(log_dir) if log_dir else default_log,
        **given,
    )
    urls = {
        f"{name}_url": (settings.url_of(name) or _local_url(settings, name)).rstrip("/")
        for name in SERVICES
    }
    settings = settings.replace(**urls)
    return settings.replace(
        callback_url=(settings.callback_url or settings.middleware_url).rstrip("/")
    )


def module_names(value: str | Iterable[str]) -> tuple[str, ...]:
    """Module names from --job-module (repeated) or TOY_PLATFORM_JOB_MODULES ("a,b"), each
    once, in order."""
    items = [value] if isinstance(value, str) else list(value)
    names = (name.strip() for item in items for name in str(item).replace(" ", ",").split(","))
    return tuple(dict.fromkeys(name for name in names if name))


def address_problem(settings: Settings) -> str | None:
    """What is wrong with the services' URLs (None: nothing): each must be an http(s) URL
    with a host, or the first call to it fails far from where it was given."""
    given = {f"--{name}-url": settings.url_of(name) for name in SERVICES}
    given["--callback-url"] = settings.callback_url
    for option, url in given.items():
        if not is_http_url(url):
            return f"{option} {url!r} is not an http(s) URL with a host, e.g. http://10.0.0.2:6302"
    return None


def env_var(setting: str) -> str:
    """The environment variable of a setting: TOY_PLATFORM_<NAME>."""
    return ENV_PREFIX + setting.upper()


def settings_to_env(settings: Settings) -> dict[str, str]:
    """Environment variables that give a child process exactly these settings."""
    env = {env_var(name): str(getattr(settings, name)) for name in DIR_SETTINGS}
    for spec in dataclasses.fields(Settings):
        value = getattr(settings, spec.name)
        if spec.name not in NOT_INHERITED and value is not None:
            env[env_var(spec.name)] = str(value)
    env[env_var("cors_origins")] = " ".join(settings.cors_origins)
    env[env_var("job_modules")] = ",".join(settings.job_modules)
    if settings.service_key:
        env[env_var("service_key")] = settings.service_key
    return env


def settings_from_env(environ: Mapping[str, str], names: Iterable[str]) -> Settings:
    """Settings from the variables of NAMES (setting names, or "home") that ENVIRON sets;
    the others keep their defaults. A value of the wrong type is left out, not fatal."""
    given: dict[str, Any] = {}
    types = {spec.name: type(spec.default) for spec in dataclasses.fields(Settings)}
    for name in names:
        value = environ.get(env_var(name))
        if not value:
            continue
        kind = types.get(name, str)
        try:
            given[name] = kind(value) if kind in (int, float) else value
        except ValueError:
            continue
    if "log_level" in given:
        given["log_level"] = str(given["log_level"]).upper()
    return load_settings(**given)


def _local_url(settings: Settings, service: str) -> str:
    port = getattr(settings, f"{service}_port")
    return f"http://{_url_host(settings.host)}:{port}"
