"""Secrets written on first run: private, and byte for byte what was made, on every OS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from toy_platform import security
from toy_platform.config import load_settings

WINDOWS_O_BINARY = 0x8000


def test_the_signing_key_file_is_opened_binary_where_the_os_has_text_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows opens an fd in text mode unless told O_BINARY: the PEM's \\n became \\r\\n."""
    opened: list[int] = []
    real_open = os.open

    def windows_open(path: Any, flags: int, mode: int = 0o777) -> int:
        opened.append(flags)
        return real_open(path, flags & ~WINDOWS_O_BINARY, mode)

    monkeypatch.setattr(security, "O_BINARY", WINDOWS_O_BINARY)  # as os.O_BINARY is there
    monkeypatch.setattr(os, "open", windows_open)
    settings = load_settings(home=tmp_path)
    security.load_signing_key(settings)
    assert opened and all(flags & WINDOWS_O_BINARY for flags in opened)
    pem = (settings.config_dir / security.SIGNING_KEY_FILE).read_bytes()
    assert b"\r\n" not in pem and pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")


def test_os_binary_is_the_systems_own() -> None:
    assert getattr(os, "O_BINARY", 0) == security.O_BINARY
