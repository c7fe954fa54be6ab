"""An encrypted file of environment variables (name -> value) and where its key comes from.

The file is one Fernet token (AES-128-CBC with an HMAC-SHA256 over the whole token, from
``cryptography``) of a small JSON document. A wrong key and a changed byte fail the same way: the HMAC
does not verify and nothing is decrypted.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path
from types import ModuleType

from cryptography.fernet import Fernet, InvalidToken

KEY_ENV = "MLC_SECRETS_KEY"
KEY_FILE_ENV = "MLC_SECRETS_KEY_FILE"
FILE_ENV = "MLC_SECRETS_FILE"
DEFAULT_FILE = ".secrets/credentials.enc"
KEYRING_SERVICE = "ml-connector"
KEYRING_USER = "mlc-secrets-key"
FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class VaultError(Exception):
    """What went wrong, said without any secret value in it."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise VaultError(
            f"{name!r} is not an environment variable name (letters, digits and _; "
            "e.g. TAP_ACUMATICA_CLIENT_SECRET)"
        )
    return name


def _keyring() -> ModuleType | None:
    try:
        import keyring
        import keyring.errors
    except ImportError:
        return None
    return keyring


def _key_from_keyring() -> str | None:
    """The stored key, or None when keyring is not installed, has no usable backend (a server without
    a desktop session) or holds no key: the caller then names every place a key can come from."""
    keyring = _keyring()
    if keyring is None:
        return None
    try:
        key: str | None = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
        return key
    except keyring.errors.KeyringError:
        return None


def store_key_in_keyring(key: str) -> None:
    keyring = _keyring()
    if keyring is None:
        raise VaultError(
            "the OS keyring needs the 'keyring' package: pip install 'ml-connector-secrets[keyring]'"
        )
    try:
        keyring.set_password(KEYRING_SERVICE, KEYRING_USER, key)
    except keyring.errors.KeyringError as exc:
        raise VaultError(
            f"the OS keyring refused the key ({exc}); keep it in {KEY_ENV} or a key file instead"
        ) from None


def load_key(key_file: str | os.PathLike[str] | None = None) -> bytes:
    """The key from ``MLC_SECRETS_KEY``, a key file (``--key-file``, ``MLC_SECRETS_KEY_FILE``) or keyring."""
    source, key = None, None
    if os.environ.get(KEY_ENV):
        source, key = KEY_ENV, os.environ[KEY_ENV]
    else:
        path = key_file or os.environ.get(KEY_FILE_ENV)
        if path:
            source, key = f"key file {path}", _read_key_file(Path(path))
        else:
            stored = _key_from_keyring()
            if stored:
                source, key = "the OS keyring", stored
    if key is None:
        raise VaultError(
            f"no key: set {KEY_ENV}, pass --key-file (or {KEY_FILE_ENV}), or store one in "
            "the OS keyring with `mlc-secrets keygen --keyring`"
        )
    key_bytes = key.strip().encode()
    try:
        Fernet(key_bytes)
    except ValueError:
        raise VaultError(
            f"the key from {source} is not a valid key (32 url-safe base64-encoded bytes); "
            "make one with `mlc-secrets keygen`"
        ) from None
    return key_bytes


def _read_key_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise VaultError(f"key file {path} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise VaultError(f"key file {path} can be read by other users; run: chmod 600 {path}")
    return path.read_text()


class Vault:
    """The encrypted file at ``path``; ``read()`` and ``write()`` the whole name -> value mapping."""

    def __init__(self, path: str | os.PathLike[str], key: bytes) -> None:
        self.path = Path(path)
        self._fernet = Fernet(key)

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> dict[str, str]:
        if not self.exists():
            return {}
        try:
            plain = self._fernet.decrypt(self.path.read_bytes().strip())
        except InvalidToken:
            raise VaultError(
                f"cannot decrypt {self.path}: the key is wrong or the file was altered; nothing was decrypted"
            ) from None
        document = json.loads(plain)
        secrets = document.get("secrets") if isinstance(document, dict) else None
        if document.get("version") != FORMAT_VERSION or not isinstance(secrets, dict):
            raise VaultError(f"{self.path} is not a version-{FORMAT_VERSION} secrets file")
        return {check_name(k): str(v) for k, v in secrets.items()}

    def write(self, secrets: dict[str, str]) -> None:
        for name in secrets:
            check_name(name)
        token = self._fernet.encrypt(
            json.dumps({"version": FORMAT_VERSION, "secrets": secrets}, sort_keys=True).encode()
        )
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:  # mkstemp creates the file 0600
                out.write(token + b"\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
