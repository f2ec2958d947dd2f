"""The user store: users.json with password hashes only, written atomically, owner-only."""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from toy_platform.security import write_private

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD_LENGTH = 8
ROLES = ("user", "admin")
# Checked when the user does not exist, so that unknown users take as long as wrong passwords.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class UserError(ValueError):
    """A user operation that cannot be done, with a message for a person."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    created_at: str


class UserStore:
    """Reads users.json again whenever it changes on disk, so CLI edits apply at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, Any]] = {}
        self._mtime: float | None = None

    def _records(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                return {}
            if mtime != self._mtime:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._cache = dict(data.get("users", {}))
                self._mtime = mtime
            return dict(self._cache)

    def _save(self, records: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps({"users": records}, indent=2, sort_keys=True).encode()
        write_private(self.path, payload)

    def exists(self) -> bool:
        return self.path.exists()

    def all(self) -> list[User]:
        return [
            User(name, rec["role"], rec.get("created_at", ""))
            for name, rec in sorted(self._records().items())
        ]

    def get(self, username: str) -> User | None:
        rec = self._records().get(username)
        return User(username, rec["role"], rec.get("created_at", "")) if rec else None

    def add(self, username: str, password: str, role: str = "user") -> User:
        _check_username(username)
        _check_password(password)
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        records = self._records()
        if username in records:
            raise UserError(f"user '{username}' already exists")
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        records[username] = {
            "password_hash": generate_password_hash(password),
            "role": role,
            "created_at": created,
        }
        self._save(records)
        return User(username, role, created)

    def remove(self, username: str) -> None:
        records = self._records()
        if records.pop(username, None) is None:
            raise UserError(f"no user '{username}'")
        self._save(records)

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        records = self._records()
        if username not in records:
            raise UserError(f"no user '{username}'")
        records[username]["password_hash"] = generate_password_hash(password)
        self._save(records)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches; None otherwise, in similar time either way."""
        rec = self._records().get(username)
        stored = rec["password_hash"] if rec else _DUMMY_HASH
        matches = check_password_hash(stored, password)
        if rec and matches:
            return User(username, rec["role"], rec.get("created_at", ""))
        return None

    def ensure_admin(self, password: str | None = None) -> str | None:
        """Create user 'admin' when there are no users; return its password if created."""
        if self._records():
            return None
        password = password or secrets.token_urlsafe(12)
        self.add("admin", password, role="admin")
        return password


def _check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise UserError("username must be 1-64 letters, digits, '.', '_' or '-'")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
