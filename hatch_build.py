"""Hatchling build hook: ship the built React app inside the wheel and the sdist.

``toy_platform/web_dist/`` is produced by ``npm run build`` in ``frontend_react/``
and is gitignored, so hatchling would leave it out; this hook builds it when it
is missing or older than the app's sources, and force-includes it. An sdist
therefore carries the built files, and a machine without Node can ``pip install`` it.

Set ``TOY_PLATFORM_SKIP_WEB_BUILD=1`` to skip all of this (editable installs
for development, where ``npm run dev`` or a manual build is used instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WEB_DIST = "toy_platform/web_dist"
FRONTEND = "frontend_react"
# What `npm run build` reads, relative to FRONTEND: a change to any of them needs a new build.
WEB_SOURCES = (
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
)
NODE_VERSION = "20.19"


def _source_files(frontend: Path) -> Iterator[Path]:
    for name in WEB_SOURCES:
        path = frontend / name
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def web_build_reason(root: Path) -> str | None:
    """Why the web app in ROOT must be built (again), or None when its build is current.

    The build is current when ``web_dist/index.html`` exists and no source is newer. An
    unpacked sdist gives every file the same time, so it is never rebuilt.
    """
    index = root / WEB_DIST / "index.html"
    if not index.is_file():
        return f"{index} is missing"
    built_at = index.stat().st_mtime
    newer = [p for p in _source_files(root / FRONTEND) if p.stat().st_mtime > built_at]
    if newer:
        newest = max(newer, key=lambda p: p.stat().st_mtime)
        more = f" (and {len(newer) - 1} more)" if len(newer) > 1 else ""
        return f"{newest.relative_to(root).as_posix()}{more} changed after the last build"
    return None


class WebBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if os.environ.get("TOY_PLATFORM_SKIP_WEB_BUILD") == "1":
            self.app.display_info("TOY_PLATFORM_SKIP_WEB_BUILD=1: not building the web app")
            return
        if self.target_name == "wheel" and version == "editable":
            # An editable install imports from the source tree, web_dist included.
            return

        root = Path(self.root)
        dist = root / WEB_DIST
        reason = web_build_reason(root)
        if reason is not None:
            self._build(root / FRONTEND, dist, reason)

        build_data.setdefault("force_include", {})[str(dist)] = WEB_DIST

    def _build(self, frontend: Path, dist: Path, reason: str) -> None:
        missing = not (dist / "index.html").is_file()
        npm = shutil.which("npm")
        if not (frontend / "package.json").is_file() or npm is None:
            if not missing:
                self.app.display_warning(
                    f"The web app's build may be out of date ({reason}), but it cannot be"
                    f" rebuilt here (no npm, or no {frontend}); packaging the existing build"
                )
                return
            raise RuntimeError(
                f"The web app is not built ({reason}) and cannot be built here: install"
                f" Node.js >= {NODE_VERSION} (with npm) and build again, or run"
                f" `npm ci && npm run build` in {frontend}; or set TOY_PLATFORM_SKIP_WEB_BUILD=1"
                " to build a package without the web app"
            )
        self.app.display_info(f"Building the web app: {reason}")
        for args in (["ci"], ["run", "build"]):
            self.app.display_info(f"Running npm {' '.join(args)} in {frontend}")
            subprocess.run([npm, *args], cwd=frontend, check=True)
        if not (dist / "index.html").is_file():
            raise RuntimeError(f"npm run build finished but {dist / 'index.html'} is missing")
