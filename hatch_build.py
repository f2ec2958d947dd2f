"""Hatchling build hook: ship the built React app inside the wheel and the sdist.

``toy_platform/web_dist/`` is produced by ``npm run build`` in ``frontend_react/``
and is gitignored, so hatchling would leave it out; this hook builds it when it
is missing and force-includes it. An sdist therefore carries the built files,
and a machine without Node can ``pip install`` it.

Set ``TOY_PLATFORM_SKIP_WEB_BUILD=1`` to skip all of this (editable installs
for development, where ``npm run dev`` or a manual build is used instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WEB_DIST = "toy_platform/web_dist"
FRONTEND = "frontend_react"


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
        if not (dist / "index.html").is_file():
            self._build(root / FRONTEND, dist)

        build_data.setdefault("force_include", {})[str(dist)] = WEB_DIST

    def _build(self, frontend: Path, dist: Path) -> None:
        if not (frontend / "package.json").is_file():
            raise RuntimeError(
                f"{dist} is missing and there is no {frontend}/package.json to build it from"
            )
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                f"The web app is not built ({dist / 'index.html'} is missing) and npm was not "
                f"found: install Node.js 20+ and run `npm ci && npm run build` in {frontend}, "
                "or set TOY_PLATFORM_SKIP_WEB_BUILD=1 to build without it"
            )
        for args in (["ci"], ["run", "build"]):
            self.app.display_info(f"Running npm {' '.join(args)} in {frontend}")
            subprocess.run([npm, *args], cwd=frontend, check=True)
        if not (dist / "index.html").is_file():
            raise RuntimeError(f"npm run build finished but {dist / 'index.html'} is missing")
