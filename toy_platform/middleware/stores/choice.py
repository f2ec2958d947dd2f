"""The middleware's job store, chosen once from settings.store_url: `sqlite` (one file
beside one middleware, the default) or `postgresql://...` (one store for several
middlewares). The routes and the forwarder know only the JobStore interface."""

from __future__ import annotations

from toy_platform.config import Settings
from toy_platform.extras import missing_extra
from toy_platform.middleware.stores.base import JobStore, StoreSetupError
from toy_platform.urls import mask_url

POSTGRES_SCHEMES = ("postgresql", "postgres")


def store_kind(url: str) -> str:
    """'sqlite' or 'postgresql'; StoreSetupError for anything else (naming the URL masked)."""
    if url in ("", "sqlite"):
        return "sqlite"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in POSTGRES_SCHEMES:
        missing = missing_extra("postgres", f"--store-url {mask_url(url)}")
        if missing:
            raise StoreSetupError(missing)
        return "postgresql"
    raise StoreSetupError(
        f"--store-url {mask_url(url)!r} is not a job store this toy-platform knows: use"
        " 'sqlite' (the default) or postgresql://USER:PASSWORD@HOST:5432/DATABASE"
    )


def open_store(settings: Settings) -> JobStore:
    """The job store settings.store_url names, its schema created or brought up to date."""
    if store_kind(settings.store_url) == "postgresql":
        from toy_platform.middleware.stores.postgres import PostgresJobStore

        return PostgresJobStore(settings.store_url)
    from toy_platform.middleware.stores.sqlite import SqliteJobStore

    return SqliteJobStore(settings.data_dir / "middleware.sqlite3")
