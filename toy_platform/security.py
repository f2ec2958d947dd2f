"""Secrets on disk, and the signatures services put on calls to each other.

Internal calls (middleware -> core, core -> middleware callbacks) are signed with
HMAC-SHA256 over the method, path, a timestamp and the body, as webhook providers do:
the shared key never travels, and a signature is only good for a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from toy_platform.config import Settings

SIGNATURE_HEADER = "X-Toy-Signature"
TIMESTAMP_HEADER = "X-Toy-Timestamp"
MAX_CLOCK_SKEW_S = 300
SIGNING_KEY_FILE = "jwt_signing_key.pem"
SERVICE_KEY_FILE = "service.key"
# On Windows, os.replace fails with PermissionError while another process has the target
# open (a service reading users.json); readers hold it for a moment, so a few tries do.
REPLACE_TRIES = 6
REPLACE_BACKOFF_S = 0.05


def write_private(path: Path, data: bytes) -> None:
    """Write atomically (temp file + replace) with owner-only permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _replace(source: str, target: Path) -> None:
    """os.replace, tried again after a short wait while the target is held open (Windows)."""
    for attempt in range(REPLACE_TRIES):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if attempt + 1 == REPLACE_TRIES:
                raise
            time.sleep(REPLACE_BACKOFF_S * 2**attempt)


O_BINARY = getattr(os, "O_BINARY", 0)  # Windows only


def _create_once(path: Path, data: bytes) -> None:
    """Create a secret file unless another process just did; the first writer wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_BINARY: on Windows an fd is opened in text mode, and the PEM's \n would be \r\n
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The auth service's Ed25519 key for signing tokens; generated on first use."""
    path = settings.config_dir / SIGNING_KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _create_once(path, pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_service_key(settings: Settings) -> bytes:
    """The key shared by the services: TOY_PLATFORM_SERVICE_KEY, else --service-key-file,
    else config_dir/service.key (generated on first use)."""
    if settings.service_key:
        return settings.service_key.encode()
    if settings.service_key_file is not None:
        return _read_key_file(settings.service_key_file)
    path = settings.config_dir / SERVICE_KEY_FILE
    if not path.exists():
        _create_once(path, secrets.token_urlsafe(32).encode())
    return path.read_bytes().strip()


def _read_key_file(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the service key file {path}: {exc.strerror or exc}") from exc
    if not key:
        raise ValueError(f"the service key file {path} is empty")
    return key


def service_key_fingerprint(key: bytes) -> str:
    """A short, safe-to-show hash of the service key, to compare keys across services."""
    return hashlib.sha256(b"toy-platform-fingerprint:" + key).hexdigest()[:12]


def _signature(key: bytes, method: str, path: str, timestamp: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join([method.upper(), path, timestamp, digest]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_signature(
    key: bytes, method: str, path: str, headers: dict[str, str] | object, body: bytes
) -> bool:
    """True when the request carries a fresh, valid signature made with KEY.

    PATH is the decoded path plus '?' and the raw query string when there is one.
    """
    get = getattr(headers, "get")  # noqa: B009 - works for dicts and werkzeug Headers
    timestamp, signature = get(TIMESTAMP_HEADER), get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        return False
    try:
        age = abs(time.time() - float(timestamp))
    except ValueError:
        return False
    if age > MAX_CLOCK_SKEW_S:
        return False
    expected = _signature(key, method, path, timestamp, body)
    return hmac.compare_digest(expected, str(signature))


def signature_headers(key: bytes, method: str, url: str, body: bytes) -> dict[str, str]:
    """The headers that sign a call of METHOD to URL with BODY, made now with KEY."""
    timestamp = f"{time.time():.3f}"
    parts = urlsplit(url)
    path = unquote(parts.path) + (f"?{parts.query}" if parts.query else "")
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: _signature(key, method, path, timestamp, body),
    }
