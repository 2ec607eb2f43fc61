"""Sealing CRM credentials: round trips, tampering, key rotation, the settings and local key."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.connections.cipher import NONCE_BYTES, KeyRing, local_key_path
from runtime.connections.models import CrmCredentials
from runtime.errors import StorageError, invalid_from_pydantic
from runtime.settings import SecretsSettings, Settings, env_variables

AAD = b"crm_connections:workspace-1:hubspot"
KEY_A = os.urandom(32)
KEY_B = os.urandom(32)


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in env_variables():
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_a_sealed_secret_opens_to_the_same_bytes() -> None:
    ring = KeyRing([("a", KEY_A)])
    blob, key_id = ring.encrypt(b"pat-na1-secret", AAD)
    assert key_id == "a"
    assert b"pat-na1-secret" not in blob
    assert ring.decrypt(blob, AAD) == b"pat-na1-secret"


def test_each_seal_draws_a_new_nonce() -> None:
    ring = KeyRing([("a", KEY_A)])
    first, _ = ring.encrypt(b"same", AAD)
    second, _ = ring.encrypt(b"same", AAD)
    header = 2 + len("a")
    assert first[header : header + NONCE_BYTES] != second[header : header + NONCE_BYTES]
    assert first != second


@pytest.mark.parametrize(
    "offset",
    [0, 1, 2, 3, 10, -1, -17],
    ids=["version", "id-size", "id", "nonce", "body", "tag", "ct"],
)
def test_any_altered_byte_is_refused(offset: int) -> None:
    ring = KeyRing([("a", KEY_A)])
    blob = bytearray(ring.encrypt(b"pat-na1-secret", AAD)[0])
    blob[offset] ^= 0x01
    with pytest.raises(StorageError):
        ring.decrypt(bytes(blob), AAD)


def test_a_truncated_blob_is_refused() -> None:
    ring = KeyRing([("a", KEY_A)])
    blob, _ = ring.encrypt(b"pat-na1-secret", AAD)
    with pytest.raises(StorageError, match="truncated"):
        ring.decrypt(blob[:20], AAD)


def test_a_blob_opened_for_another_row_is_refused() -> None:
    ring = KeyRing([("a", KEY_A)])
    blob, _ = ring.encrypt(b"pat-na1-secret", AAD)
    with pytest.raises(StorageError, match="fails authentication"):
        ring.decrypt(blob, b"crm_connections:workspace-2:hubspot")


def test_a_blob_under_an_unknown_key_names_that_key() -> None:
    blob, _ = KeyRing([("a", KEY_A)]).encrypt(b"pat-na1-secret", AAD)
    with pytest.raises(StorageError, match=r"sealed with key 'a', which is not configured"):
        KeyRing([("b", KEY_B)]).decrypt(blob, AAD)


def test_the_same_key_id_with_other_key_bytes_is_refused() -> None:
    blob, _ = KeyRing([("a", KEY_A)]).encrypt(b"pat-na1-secret", AAD)
    with pytest.raises(StorageError, match="fails authentication"):
        KeyRing([("a", KEY_B)]).decrypt(blob, AAD)


def test_old_keys_still_open_after_a_new_current_key_is_added() -> None:
    old_blob, _ = KeyRing([("a", KEY_A)]).encrypt(b"pat-na1-secret", AAD)
    ring = KeyRing([("b", KEY_B), ("a", KEY_A)])
    assert ring.decrypt(old_blob, AAD) == b"pat-na1-secret"
    new_blob, key_id = ring.encrypt(b"pat-na1-secret", AAD)
    assert key_id == "b"
    with pytest.raises(StorageError, match="'b', which is not configured"):
        KeyRing([("a", KEY_A)]).decrypt(new_blob, AAD)


def test_the_ring_never_shows_its_keys() -> None:
    ring = KeyRing([("b", KEY_B), ("a", KEY_A)])
    shown = repr(ring) + str(ring)
    assert shown == "KeyRing(current_key_id='b', key_ids=('b', 'a'))" * 2
    for key in (KEY_A, KEY_B):
        assert _b64(key) not in shown
        assert key.hex() not in shown


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyRing([("a", KEY_A[:16])])


def test_keys_are_read_from_the_environment_current_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS", f" new:{_b64(KEY_B)} , old:{_b64(KEY_A)}="
    )
    settings = Settings()
    ring = KeyRing.from_settings(settings)
    assert ring.key_ids == ("new", "old")
    assert ring.decrypt(KeyRing([("old", KEY_A)]).encrypt(b"x", AAD)[0], AAD) == b"x"
    assert _b64(KEY_B) not in repr(settings)
    assert _b64(KEY_B) not in str(settings.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "lists no key"),
        (f"{_b64(KEY_A)}", "entry 1 is not key_id:key"),
        (f"a:{_b64(KEY_A)},bad id:{_b64(KEY_B)}", "entry 2: the key id must be"),
        (f"a:{_b64(KEY_A)},a:{_b64(KEY_B)}", "entry 2: the key id 'a' is listed twice"),
        (f"a:{_b64(KEY_A[:16])}", "entry 1 ('a'): the key must be 32 bytes in base64url"),
        (f"a:{_b64(KEY_A)}!!", "entry 1 ('a'): the key must be 32 bytes"),
        (f"a:{_b64(KEY_A)},", "entry 2 is not key_id:key"),
    ],
    ids=["empty", "no-id", "bad-id", "twice", "short", "not-base64", "trailing-comma"],
)
def test_bad_keys_are_refused_naming_the_field_never_the_key(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    monkeypatch.setenv("CRM_AGENTS_SECRETS__ENCRYPTION_KEYS", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    error = invalid_from_pydantic(caught.value, source="settings")
    assert error.field == "secrets.encryption_keys"
    assert reason in error.reason
    shown = f"{caught.value}{error}"
    for key in (KEY_A, KEY_B, KEY_A[:16]):
        assert _b64(key) not in shown


def test_a_directly_built_group_hides_its_input_too() -> None:
    with pytest.raises(ValidationError) as caught:
        SecretsSettings.model_validate({"encryption_keys": f"a:{_b64(KEY_A)[:-2]}"})
    assert _b64(KEY_A)[:-2] not in str(caught.value)


def test_without_keys_a_private_local_key_is_created_once_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(home=tmp_path / "home")
    path = local_key_path(settings)
    assert path == tmp_path / "home" / "secrets" / "encryption.key"
    with caplog.at_level(logging.WARNING, logger="runtime.connections.cipher"):
        first = KeyRing.from_settings(settings)
    assert first.key_ids == ("local",)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "this machine only" in warnings[0].getMessage()
    key_text = path.read_text().strip().removeprefix("local:")
    assert key_text not in caplog.text
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind

    blob, _ = first.encrypt(b"pat-na1-secret", AAD)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="runtime.connections.cipher"):
        again = KeyRing.from_settings(settings)
    assert caplog.records == []
    assert again.decrypt(blob, AAD) == b"pat-na1-secret"


def test_a_local_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    KeyRing.from_settings(settings)
    local_key_path(settings).chmod(0o644)
    with pytest.raises(StorageError, match="chmod 600"):
        KeyRing.from_settings(settings)


def test_a_malformed_local_key_file_is_named(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    path = local_key_path(settings)
    path.parent.mkdir(mode=0o700)
    path.write_text("local:tooshort\n")
    path.chmod(0o600)
    with pytest.raises(StorageError, match=f"{path}: entry 1 \\('local'\\)"):
        KeyRing.from_settings(settings)


def test_credentials_stay_masked_until_revealed() -> None:
    credentials = CrmCredentials.model_validate_json(
        CrmCredentials.model_validate(
            {"access_token": "access-123", "refresh_token": "refresh-456"}
        ).revealed_json()
    )
    shown = f"{credentials!r} {credentials} {credentials.model_dump(mode='json')}"
    assert "access-123" not in shown
    assert "refresh-456" not in shown
    assert credentials.access_token.get_secret_value() == "access-123"
    assert b"refresh-456" in credentials.revealed_json()
    with pytest.raises(ValidationError) as caught:
        CrmCredentials.model_validate({"access_token": "access-123", "extra": "refresh-456"})
    assert "refresh-456" not in str(caught.value)
