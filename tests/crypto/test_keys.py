"""Master-key sources, the keyring, and the key-permission check."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from appliance.config import KdfParams, Settings
from appliance.crypto.keys import (
    FileKeySource,
    Keyring,
    KeySource,
    PassphraseKeySource,
    check_key_permissions,
    derive_kek,
)
from appliance.errors import ConfigurationError, Conflict

FAST_KDF = KdfParams(salt_b64=base64.b64encode(b"s" * 16).decode(), n=2**14, r=8, p=1)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def passphrase_settings(kdf: KdfParams = FAST_KDF) -> Settings:
    return Settings(key_source="passphrase", passphrase_env="TEST_PASSPHRASE", kdf=kdf)


# -- permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o606, 0o610])
def test_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "master-v1.key"
    key.write_bytes(b"k" * 32)
    key.chmod(mode)
    with pytest.raises(ConfigurationError) as caught:
        check_key_permissions(key)
    assert str(key) in str(caught.value)
    assert f"chmod 600 {key}" in str(caught.value)


@pytest.mark.parametrize("mode", [0o750, 0o705, 0o755, 0o770])
def test_keys_dir_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    keys.chmod(mode)
    with pytest.raises(ConfigurationError, match=f"chmod 700 {keys}"):
        check_key_permissions(keys)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_file_is_accepted(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "k"
    key.write_bytes(b"k")
    key.chmod(mode)
    check_key_permissions(key)


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="missing"):
        check_key_permissions(tmp_path / "nope.key")


def test_file_source_refuses_to_load_a_readable_key(home: Path) -> None:
    source = FileKeySource(home / "keys")
    source.create(1)
    source.path(1).chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        Keyring(source).key(1)


def test_file_source_refuses_an_open_keys_dir(home: Path) -> None:
    source = FileKeySource(home / "keys")
    source.create(1)
    (home / "keys").chmod(0o755)
    with pytest.raises(ConfigurationError, match="chmod 700"):
        source.load(1)


# -- file source ---------------------------------------------------------------------------


def test_file_source_creates_private_32_byte_keys(home: Path) -> None:
    old_umask = os.umask(0o022)  # even under a permissive umask
    try:
        source = FileKeySource(home / "keys")
        key = source.create(1)
    finally:
        os.umask(old_umask)
    path = home / "keys" / "master-v1.key"
    assert path.read_bytes() == key and len(key) == 32
    assert mode_of(path) == 0o600
    assert source.versions() == [1]
    assert source.load(1) == key
    assert [p.name for p in (home / "keys").iterdir()] == ["master-v1.key"]  # no temp left


def test_file_source_never_overwrites_a_key(home: Path) -> None:
    source = FileKeySource(home / "keys")
    key = source.create(1)
    with pytest.raises(Conflict, match="refusing to overwrite"):
        source.create(1)
    assert source.load(1) == key


def test_damaged_key_file_is_refused(home: Path) -> None:
    source = FileKeySource(home / "keys")
    source.create(1)
    source.path(1).write_bytes(b"short")
    with pytest.raises(ConfigurationError, match="damaged"):
        source.load(1)


def test_destroy_removes_the_key_for_good(home: Path) -> None:
    source = FileKeySource(home / "keys")
    source.create(1)
    source.destroy(1)
    source.destroy(1)  # idempotent
    assert source.versions() == []
    with pytest.raises(ConfigurationError, match="master key v1 is missing"):
        source.load(1)


def test_sources_satisfy_the_protocol(home: Path) -> None:
    sources: list[KeySource] = [
        FileKeySource(home / "keys"),
        PassphraseKeySource(home / "keys", passphrase_settings(), environ={}),
    ]
    assert all(callable(getattr(s, "versions", None)) for s in sources)


# -- keyring -------------------------------------------------------------------------------


def test_keyring_versions_and_rotation(home: Path) -> None:
    ring = Keyring(FileKeySource(home / "keys"))
    with pytest.raises(ConfigurationError, match="appliance init"):
        _ = ring.current_version
    assert ring.ensure_initial_key() == 1
    assert ring.ensure_initial_key() == 1  # idempotent
    first = ring.key(1)
    assert ring.rotate() == 2
    assert ring.current_version == 2
    assert ring.key(2) != first
    assert ring.versions() == [1, 2]


def test_keyring_sees_rotation_by_another_process(home: Path) -> None:
    ours, theirs = Keyring(FileKeySource(home / "keys")), Keyring(FileKeySource(home / "keys"))
    ours.ensure_initial_key()
    theirs.rotate()
    assert ours.current_version == 2


def test_keyring_refuses_to_destroy_the_current_key(home: Path) -> None:
    ring = Keyring(FileKeySource(home / "keys"))
    ring.ensure_initial_key()
    with pytest.raises(Conflict, match="current key"):
        ring.destroy(1)


# -- passphrase source ---------------------------------------------------------------------


def test_passphrase_source_round_trip(home: Path) -> None:
    env = {"TEST_PASSPHRASE": "correct horse battery staple"}
    source = PassphraseKeySource(home / "keys", passphrase_settings(), environ=env)
    key = source.create(1)
    path = home / "keys" / "master-v1.key.enc"
    assert mode_of(path) == 0o600
    assert key not in path.read_bytes()  # stored wrapped, never in the clear
    again = PassphraseKeySource(home / "keys", passphrase_settings(), environ=env)
    assert again.versions() == [1]
    assert again.load(1) == key
    assert FileKeySource(home / "keys").versions() == []  # the two layouts never mix


def test_passphrase_source_reads_the_named_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_PASSPHRASE", "from the environment")
    key = PassphraseKeySource(home / "keys", passphrase_settings()).create(1)
    assert PassphraseKeySource(home / "keys", passphrase_settings()).load(1) == key


def test_wrong_passphrase_is_refused(home: Path) -> None:
    settings = passphrase_settings()
    PassphraseKeySource(home / "keys", settings, environ={"TEST_PASSPHRASE": "right"}).create(1)
    wrong = PassphraseKeySource(home / "keys", settings, environ={"TEST_PASSPHRASE": "wrong"})
    with pytest.raises(ConfigurationError, match=r"passphrase in \$TEST_PASSPHRASE is wrong"):
        wrong.load(1)


def test_changed_salt_is_refused(home: Path) -> None:
    env = {"TEST_PASSPHRASE": "right"}
    PassphraseKeySource(home / "keys", passphrase_settings(), environ=env).create(1)
    other = FAST_KDF.model_copy(update={"salt_b64": base64.b64encode(b"t" * 16).decode()})
    with pytest.raises(ConfigurationError, match="wrong, or the file was changed"):
        PassphraseKeySource(home / "keys", passphrase_settings(other), environ=env).load(1)


def test_wrapped_master_key_is_bound_to_its_version(home: Path) -> None:
    env = {"TEST_PASSPHRASE": "right"}
    source = PassphraseKeySource(home / "keys", passphrase_settings(), environ=env)
    source.create(1)
    os.link(source.path(1), source.path(2))  # an old key presented as a new version
    with pytest.raises(ConfigurationError, match="cannot unlock master key v2"):
        source.load(2)


@pytest.mark.parametrize("value", [None, ""])
def test_missing_passphrase_names_the_variable(home: Path, value: str | None) -> None:
    env = {} if value is None else {"TEST_PASSPHRASE": value}
    source = PassphraseKeySource(home / "keys", passphrase_settings(), environ=env)
    with pytest.raises(ConfigurationError, match=r"\$TEST_PASSPHRASE"):
        source.create(1)


def test_initial_settings_record_a_fresh_salt() -> None:
    first = PassphraseKeySource.initial_settings(passphrase_settings(KdfParams()))
    second = PassphraseKeySource.initial_settings(passphrase_settings(KdfParams()))
    assert len(base64.b64decode(first.kdf.salt_b64)) == 16
    assert first.kdf.salt_b64 != second.kdf.salt_b64
    assert (first.kdf.n, first.kdf.r, first.kdf.p) == (2**15, 8, 1)


@pytest.mark.parametrize(
    "update",
    [{"salt_b64": ""}, {"salt_b64": "not base64!"}, {"n": 2**10}, {"n": 3 * 2**14}, {"r": 1},
     {"p": 0}],
)
def test_weak_or_missing_kdf_parameters_are_refused(update: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="scrypt"):
        derive_kek("passphrase", FAST_KDF.model_copy(update=update))


def test_kek_is_scrypt_of_the_normalised_passphrase() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert derive_kek(composed, FAST_KDF) == derive_kek(decomposed, FAST_KDF)
    assert derive_kek("other", FAST_KDF) != derive_kek(composed, FAST_KDF)
    assert len(derive_kek(composed, FAST_KDF)) == 32
