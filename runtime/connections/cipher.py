"""Sealing secrets with AES-256-GCM under named keys, so that keys can rotate.

A sealed blob (format version 1) is::

    0x01 | len(key_id) (1 byte) | key_id (ASCII) | nonce (12 bytes) | ciphertext + tag (16 bytes)

The header (version and key id) is authenticated together with the caller's associated data,
which names where the blob is stored (for a CRM connection: its workspace and CRM type); so a
blob that is altered, relabelled with another key id, or copied to another row fails to
open. Failures are ``StorageError``: the stored data, or the configured keys, are not what
this code expects. Neither keys nor plaintexts ever reach a log line, a repr or an error.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from runtime.errors import StorageError
from runtime.settings import (
    ENCRYPTION_KEY_BYTES,
    KEY_ID_PATTERN,
    Settings,
    parse_encryption_keys,
)

__all__ = ["FORMAT_VERSION", "LOCAL_KEY_ID", "NONCE_BYTES", "KeyRing", "local_key_path"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
NONCE_BYTES = 12  # GCM's native nonce size; random nonces are safe for 2^32 seals per key.
LOCAL_KEY_ID = "local"
_TAG_BYTES = 16
_KEYS_VARIABLE = "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS"


class KeyRing:
    """Named AES-256 keys: the first seals, each opens the blobs that name it."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """A ring of (key id, 32-byte key) pairs, the current key first.

        Raises:
            ValueError: no key, a repeated or unusable key id, or a key of the wrong size.
        """
        if not keys:
            raise ValueError("a key ring needs at least one key")
        ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not KEY_ID_PATTERN.match(key_id):
                raise ValueError(
                    f"key id {key_id!r} must be 1 to 64 letters, digits, '.', '_' or '-'"
                )
            if key_id in ciphers:
                raise ValueError(f"key id {key_id!r} is listed twice")
            if len(key) != ENCRYPTION_KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {ENCRYPTION_KEY_BYTES} bytes")
            # Only the AESGCM objects keep the key bytes, and their repr does not show them.
            ciphers[key_id] = AESGCM(key)
        self._ciphers = ciphers
        self._current = keys[0][0]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """The keys of ``CRM_AGENTS_SECRETS__ENCRYPTION_KEYS``, else the local key file.

        The local file (``<home>/secrets/encryption.key``, key id ``local``) is created on
        first use; it suits one machine only, and losing it makes the credentials sealed
        with it unreadable. Its one line is a valid entry of the setting: to move off it, set
        the setting to a new key followed by that line and run ``crm-agents crm rotate-key``.

        Raises:
            StorageError: the local key file is unreadable, malformed or open to others.
        """
        entries = settings.secrets.key_entries()
        if entries:
            return cls(entries)
        return cls([(LOCAL_KEY_ID, _local_key(local_key_path(settings)))])

    @property
    def current_key_id(self) -> str:
        """The key that seals."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key that opens, the current one first."""
        return tuple(self._ciphers)

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, str]:
        """Seal ``plaintext`` under the current key, bound to ``aad``; the blob and key id."""
        header = _header(self._current)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext, header + aad)
        return header + nonce + sealed, self._current

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Open a blob sealed by ``encrypt`` with the same ``aad``, under whichever key it names.

        Raises:
            StorageError: not a sealed blob, a key id this ring does not hold, or a blob that
                fails authentication (altered, or sealed for other associated data).
        """
        key_id, header_size = _read_header(blob)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(repr(k) for k in self._ciphers)
            raise StorageError(
                f"the secret was sealed with key {key_id!r}, which is not configured"
                f" (configured: {known}); add that key to {_KEYS_VARIABLE}"
            )
        nonce = blob[header_size : header_size + NONCE_BYTES]
        sealed = blob[header_size + NONCE_BYTES :]
        if len(nonce) != NONCE_BYTES or len(sealed) < _TAG_BYTES:
            raise StorageError("the sealed secret is truncated")
        try:
            return cipher.decrypt(nonce, sealed, blob[:header_size] + aad)
        except InvalidTag:
            # "from None": the chained InvalidTag says nothing more and tracebacks stay short.
            raise StorageError(
                f"the secret sealed with key {key_id!r} fails authentication: it was altered,"
                " copied from another row, or that key id now names different key bytes"
            ) from None

    def __repr__(self) -> str:
        return f"KeyRing(current_key_id={self._current!r}, key_ids={self.key_ids!r})"


def local_key_path(settings: Settings) -> Path:
    """Where the single-machine key lives when no key is configured."""
    return settings.home / "secrets" / "encryption.key"


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return bytes([FORMAT_VERSION, len(encoded)]) + encoded


def _read_header(blob: bytes) -> tuple[str, int]:
    """The key id a blob names and the size of its header."""
    if len(blob) < 2:
        raise StorageError("the sealed secret is truncated")
    if blob[0] != FORMAT_VERSION:
        raise StorageError(f"the sealed secret has an unknown format version {blob[0]}")
    size = 2 + blob[1]
    raw_id = blob[2:size]
    if len(raw_id) != blob[1] or not raw_id:
        raise StorageError("the sealed secret is truncated")
    try:
        return raw_id.decode("ascii"), size
    except UnicodeDecodeError:
        raise StorageError("the sealed secret names a key id that is not ASCII") from None


def _local_key(path: Path) -> bytes:
    if not path.exists():
        _create_local_key(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StorageError(f"{path} is open to other users; run: chmod 600 {path}")
    try:
        entries = parse_encryption_keys(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise StorageError(f"{path}: {reason}") from None
    if [key_id for key_id, _ in entries] != [LOCAL_KEY_ID]:
        raise StorageError(f"{path}: must hold exactly one entry, {LOCAL_KEY_ID}:<key>")
    return entries[0][1]


def _create_local_key(path: Path) -> None:
    """Write a fresh key to ``path`` unless another process got there first.

    The key is written to a private temporary file and hard-linked into place, so a
    concurrent reader never sees a half-written file and a concurrent writer never replaces
    a key that may already have sealed something.
    """
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # mkdir's mode passes through the umask
    key = AESGCM.generate_key(bit_length=ENCRYPTION_KEY_BYTES * 8)
    line = f"{LOCAL_KEY_ID}:{_b64url(key)}\n"
    # mkstemp creates the file with mode 0600.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".encryption.key.")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
    finally:
        os.unlink(temporary)
    logger.warning(
        "generated the key that encrypts CRM credentials at %s: it works on this machine only"
        " and the credentials sealed with it are lost with it. For several machines, set %s"
        " (see .env.example).",
        path,
        _KEYS_VARIABLE,
    )


def _b64url(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")
