"""When the build hook rebuilds the web app: missing, or older than any of its sources."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest


def _hook_module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "hatch_build.py"
    spec = importlib.util.spec_from_file_location("hatch_build", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hatch_build = _hook_module()
BUILT_AT = 1_700_000_000


def _touch(path: Path, when: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path, (when, when))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A checkout whose web build is newer than every source."""
    front = tmp_path / "frontend_react"
    for name in (
        "src/app/app.tsx",
        "src/main.tsx",
        "public/favicon.svg",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
    ):
        _touch(front / name, BUILT_AT - 100)
    _touch(front / "node_modules" / "react" / "index.js", BUILT_AT + 100)  # not a source
    _touch(tmp_path / "toy_platform" / "web_dist" / "index.html", BUILT_AT)
    return tmp_path


def test_a_current_build_is_kept(root: Path) -> None:
    assert hatch_build.web_build_reason(root) is None


def test_a_missing_build_is_made(root: Path) -> None:
    index = root / "toy_platform" / "web_dist" / "index.html"
    index.unlink()
    assert hatch_build.web_build_reason(root) == f"{index} is missing"


@pytest.mark.parametrize(
    "source",
    [
        "src/app/app.tsx",
        "src/features/new-file.ts",
        "public/favicon.svg",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
    ],
)
def test_a_source_changed_after_the_build_rebuilds_it(root: Path, source: str) -> None:
    _touch(root / "frontend_react" / source, BUILT_AT + 1)
    assert hatch_build.web_build_reason(root) == (
        f"frontend_react/{source} changed after the last build"
    )


def test_the_newest_change_is_named_with_how_many_more(root: Path) -> None:
    _touch(root / "frontend_react" / "src" / "main.tsx", BUILT_AT + 5)
    _touch(root / "frontend_react" / "index.html", BUILT_AT + 9)
    assert hatch_build.web_build_reason(root) == (
        "frontend_react/index.html (and 1 more) changed after the last build"
    )


def test_an_unpacked_sdist_with_one_time_for_all_files_is_not_rebuilt(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (BUILT_AT, BUILT_AT))
    assert hatch_build.web_build_reason(root) is None


def test_without_frontend_sources_the_build_is_kept(root: Path) -> None:
    """A package that carries the build but not the app's sources."""
    shutil.rmtree(root / "frontend_react")
    assert hatch_build.web_build_reason(root) is None
