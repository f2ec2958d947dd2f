"""The user store: users.json with password hashes only, written atomically, owner-only."""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
import time
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


ADMIN_PASSWORD_VARIABLE = "TOY_PLATFORM_ADMIN_PASSWORD"
PASSWORD_ALPHABET = string.ascii_letters + string.digits
GENERATED_PASSWORD_LENGTH = 16
"""About 95 bits. Letters and digits only: a password that began with '-' (token_urlsafe
makes one in 64) was taken for an option by every command it was given to (--password
-x...), and one with '-' or '_' inside is cut short by a double-click."""


def generated_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


# A writer on Windows replaces users.json while readers may hold it open (and a reader may
# meet the file mid-replace): a few quick tries ride over that.
_READ_TRIES = 4
_READ_BACKOFF_S = 0.05


class UserError(ValueError):
    """A user operation that cannot be done, with a message for a person."""


class UsersFileError(UserError):
    """users.json exists but cannot be used: unreadable, not JSON, or not a users file."""


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
        """The users by name; UsersFileError when the file exists but cannot be used."""
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                return {}
            except NotADirectoryError as exc:
                raise _config_dir_error(self.path, "read", exc) from exc
            except OSError as exc:
                raise _unusable(self.path, f"cannot be read ({_os_reason(exc)})") from exc
            if mtime != self._mtime:
                self._cache = _parse(self.path, _read(self.path))
                self._mtime = mtime
            return dict(self._cache)

    def _save(self, records: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps({"users": records}, indent=2, sort_keys=True).encode()
        try:
            write_private(self.path, payload)
        except OSError as exc:
            raise _config_dir_error(self.path, "written", exc) from exc

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

    def remove(self, username: str, force: bool = False) -> None:
        """Remove USERNAME; the last admin only with FORCE (nobody could administer then)."""
        records = self._records()
        record = records.pop(username, None)
        if record is None:
            raise UserError(f"no user '{username}'")
        others = [rec for rec in records.values() if rec["role"] == "admin"]
        if record["role"] == "admin" and not others and not force:
            raise UserError(
                f"'{username}' is the last admin: without one, nobody can see every user's"
                " jobs or reset the platform. Add another admin first"
                " (`toy-platform user add NAME --admin`), or remove it anyway with --force"
            )
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
        """Create user 'admin' when there are no users; return its password if created.

        PASSWORD comes from TOY_PLATFORM_ADMIN_PASSWORD (empty: unset). One too short is
        refused at once, whether or not it is needed, so a wrong setting never goes unnoticed.
        """
        if password and len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(
                f"{ADMIN_PASSWORD_VARIABLE} is {len(password)} characters long; the admin"
                f" password must be at least {MIN_PASSWORD_LENGTH}. Set a longer one, or unset"
                " it to have a random password made and shown on the first start"
            )
        if self._records():
            return None
        password = password or generated_password()
        self.add("admin", password, role="admin")
        return password


def _read(path: Path) -> str:
    """The file's text, opened, read and closed at once (a writer may be waiting for it)."""
    for attempt in range(_READ_TRIES):
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except PermissionError as exc:
            if attempt + 1 == _READ_TRIES:
                raise _unusable(path, f"cannot be read ({_os_reason(exc)})") from exc
            time.sleep(_READ_BACKOFF_S * 2**attempt)
        except UnicodeDecodeError as exc:
            raise _unusable(path, f"is not UTF-8 text (byte {exc.start})") from exc
        except OSError as exc:
            raise _unusable(path, f"cannot be read ({_os_reason(exc)})") from exc
    raise AssertionError("unreachable")


def _parse(path: Path, text: str) -> dict[str, dict[str, Any]]:
    """The records in users.json's text, checked enough that every method can use them."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise _unusable(path, f"is not valid JSON ({where}: {exc.msg})") from exc
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise _unusable(path, 'is not a users file (it must be a JSON object {"users": {...}})')
    for name, rec in users.items():
        if not (
            isinstance(rec, dict)
            and isinstance(rec.get("password_hash"), str)
            and rec.get("role") in ROLES
        ):
            raise _unusable(
                path, f"has a broken entry for user '{name}' (it needs a password_hash and a role)"
            )
    return dict(users)


def _unusable(path: Path, problem: str) -> UsersFileError:
    return UsersFileError(
        f"{path} {problem}. Restore it from a backup, or move it aside (for example rename it"
        f" to {path.name}.broken) and start the platform again to create a new user 'admin'"
    )


def _config_dir_error(path: Path, what: str, exc: OSError) -> UserError:
    return UserError(
        f"{path} cannot be {what} ({_os_reason(exc)}): {path.parent} must be a directory"
        " this user can write to; fix it, or choose another with --config-dir DIR"
    )


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise UserError("username must be 1-64 letters, digits, '.', '_' or '-'")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
