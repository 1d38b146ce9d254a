"""Master keys: where they come from (key sources), which one is current (the keyring).

Key hierarchy: a master key (versioned, ``v1``, ``v2``, ...) wraps each object's random data key
(see ``wrapping.py``); data keys encrypt objects (``streaming.py``). Only master keys live in
``<home>/keys``; rotating adds a version, and the vault destroys the old ones once nothing needs
them.

A key source is a small interface (:class:`KeySource`: four methods) so that an HSM holding the
master keys behind PKCS#11 can be added later without touching the keyring, the vault or callers.
Two sources exist today:

- :class:`FileKeySource`: ``keys/master-v<N>.key``, 32 random bytes, mode 0600.
- :class:`PassphraseKeySource`: random master keys stored wrapped (AES-256-GCM) under a
  key-encryption key derived from a passphrase with scrypt (RFC 7914), as
  ``keys/master-v<N>.key.enc``. The passphrase comes from an environment variable and is never
  stored; the scrypt salt and cost parameters are recorded in the config.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from appliance.config import KdfParams, Settings
from appliance.crypto._files import destroy_file, write_new_file
from appliance.crypto._primitives import AES_KEY_BYTES, derive_scrypt, random_bytes
from appliance.crypto.binding import encode_binding
from appliance.crypto.wrapping import unwrap_key, wrap_key
from appliance.errors import ConfigurationError, Conflict, IntegrityError

MASTER_KEY_BYTES = AES_KEY_BYTES
KDF_SALT_BYTES = 16
# Floors for the recorded scrypt cost, so an edited config cannot quietly weaken the KEK.
# N=2^14, r=8 is the interactive-login cost of the scrypt paper and RFC 7914's examples.
MIN_SCRYPT_N = 1 << 14
MIN_SCRYPT_R = 8


class KeySource(Protocol):
    """Where master keys live. Versions are positive integers; a version's key never changes."""

    def versions(self) -> list[int]:
        """The versions that exist now, ascending."""
        ...

    def load(self, version: int) -> bytes:
        """The 32-byte master key of ``version``; :class:`ConfigurationError` if unavailable."""
        ...

    def create(self, version: int) -> bytes:
        """Make a new random master key ``version``; :class:`Conflict` if it already exists."""
        ...

    def destroy(self, version: int) -> None:
        """Destroy master key ``version`` for good (idempotent)."""
        ...


def check_key_permissions(path: Path) -> None:
    """Refuse a key file or keys directory that group or others can read, write or enter."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        raise ConfigurationError(f"{path} is missing") from None
    if mode & 0o077:
        fix = "700" if path.is_dir() else "600"
        raise ConfigurationError(
            f"{path} is accessible by group or others (mode {mode:04o}); "
            f"the appliance will not use it until you run: chmod {fix} {path}"
        )


class FileKeySource:
    """Master keys as raw 32-byte files, ``<keys_dir>/master-v<N>.key`` (0600)."""

    SUFFIX = ".key"

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = Path(keys_dir)

    def path(self, version: int) -> Path:
        return self.keys_dir / f"master-v{_check_version(version)}{self.SUFFIX}"

    def versions(self) -> list[int]:
        return _list_versions(self.keys_dir, self.SUFFIX)

    def load(self, version: int) -> bytes:
        data = _read_key_file(self.keys_dir, self.path(version), version)
        if len(data) != MASTER_KEY_BYTES:
            raise ConfigurationError(
                f"{self.path(version)} is damaged: a master key is {MASTER_KEY_BYTES} bytes, "
                f"this file has {len(data)}"
            )
        return data

    def create(self, version: int) -> bytes:
        key = random_bytes(MASTER_KEY_BYTES)
        _create_key_file(self.keys_dir, self.path(version), version, key)
        return key

    def destroy(self, version: int) -> None:
        destroy_file(self.path(version))


class PassphraseKeySource:
    """Random master keys wrapped under a scrypt-derived key, ``master-v<N>.key.enc`` (0600).

    The passphrase is read from the environment variable named by ``settings.passphrase_env``;
    the scrypt salt and cost come from ``settings.kdf``. The derived key is computed once, on first
    use, and kept only in memory.
    """

    SUFFIX = ".key.enc"

    def __init__(
        self, keys_dir: Path, settings: Settings, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self.keys_dir = Path(keys_dir)
        self._env_name = settings.passphrase_env
        self._kdf = settings.kdf
        self._environ = os.environ if environ is None else environ
        self._kek: bytes | None = None

    @staticmethod
    def initial_settings(settings: Settings) -> Settings:
        """``settings`` with a fresh random scrypt salt recorded, for a new home."""
        salt = base64.b64encode(random_bytes(KDF_SALT_BYTES)).decode("ascii")
        kdf = settings.kdf.model_copy(update={"salt_b64": salt})
        return settings.model_copy(update={"kdf": kdf})

    def path(self, version: int) -> Path:
        return self.keys_dir / f"master-v{_check_version(version)}{self.SUFFIX}"

    def versions(self) -> list[int]:
        return _list_versions(self.keys_dir, self.SUFFIX)

    def load(self, version: int) -> bytes:
        wrapped = _read_key_file(self.keys_dir, self.path(version), version)
        try:
            return unwrap_key(self._derive_kek(), wrapped, _master_binding(version))
        except IntegrityError:
            raise ConfigurationError(
                f"cannot unlock master key v{version} ({self.path(version)}): the passphrase in "
                f"${self._env_name} is wrong, or the file was changed"
            ) from None

    def create(self, version: int) -> bytes:
        key = random_bytes(MASTER_KEY_BYTES)
        wrapped = wrap_key(self._derive_kek(), key, _master_binding(version))
        _create_key_file(self.keys_dir, self.path(version), version, wrapped)
        return key

    def destroy(self, version: int) -> None:
        destroy_file(self.path(version))

    def _derive_kek(self) -> bytes:
        if self._kek is None:
            self._kek = derive_kek(self._read_passphrase(), self._kdf)
        return self._kek

    def _read_passphrase(self) -> str:
        passphrase = self._environ.get(self._env_name, "")
        if not passphrase:
            raise ConfigurationError(
                f"the passphrase key source needs the passphrase in ${self._env_name}, "
                "which is not set or empty"
            )
        return passphrase


def derive_kek(passphrase: str, kdf: KdfParams) -> bytes:
    """scrypt(passphrase, salt, N, r, p) -> 32 bytes (RFC 7914), with the recorded parameters.

    The passphrase is NFC-normalised first so the same passphrase typed on different systems
    (composed or decomposed accents) yields the same key.
    """
    try:
        salt = base64.b64decode(kdf.salt_b64, validate=True)
    except ValueError:
        salt = b""
    if len(salt) < KDF_SALT_BYTES:
        raise ConfigurationError(
            "the config records no valid scrypt salt (kdf.salt_b64); the home was not initialised "
            "for a passphrase key source"
        )
    n_is_power_of_two = kdf.n > 1 and kdf.n & (kdf.n - 1) == 0
    if not n_is_power_of_two or kdf.n < MIN_SCRYPT_N or kdf.r < MIN_SCRYPT_R or kdf.p < 1:
        raise ConfigurationError(
            f"scrypt parameters in the config are too weak or invalid (n={kdf.n}, r={kdf.r}, "
            f"p={kdf.p}); n must be a power of two >= {MIN_SCRYPT_N}, r >= {MIN_SCRYPT_R}, p >= 1"
        )
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return derive_scrypt(secret, salt, kdf.n, kdf.r, kdf.p, MASTER_KEY_BYTES)


class Keyring:
    """The versioned master keys of one source: which is current, and each key by version.

    ``current_version`` is re-read from the source on every call (it is one directory listing), so
    a process never keeps wrapping under a version that another process rotated away.
    """

    def __init__(self, source: KeySource) -> None:
        self.source = source
        self._cache: dict[int, bytes] = {}

    def versions(self) -> list[int]:
        return self.source.versions()

    @property
    def current_version(self) -> int:
        versions = self.source.versions()
        if not versions:
            raise ConfigurationError("no master key found; run 'appliance init' to create one")
        return versions[-1]

    def key(self, version: int) -> bytes:
        if version not in self._cache:
            self._cache[version] = self.source.load(version)
        return self._cache[version]

    def ensure_initial_key(self) -> int:
        """Create master key v1 if there is none yet; return the current version."""
        if not self.source.versions():
            self._cache[1] = self.source.create(1)
        return self.current_version

    def rotate(self) -> int:
        """Create the next master-key version and make it current; return it."""
        versions = self.source.versions()
        new_version = versions[-1] + 1 if versions else 1
        self._cache[new_version] = self.source.create(new_version)
        return new_version

    def destroy(self, version: int) -> None:
        """Destroy an old master key; the current one cannot be destroyed."""
        if version == self.current_version:
            raise Conflict(f"master key v{version} is the current key and cannot be destroyed")
        self._cache.pop(version, None)
        self.source.destroy(version)


def _master_binding(version: int) -> bytes:
    return encode_binding("appliance.master-key.v1", version)


def _check_version(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"a key version is a positive integer, got {version!r}")
    return version


def _list_versions(keys_dir: Path, suffix: str) -> list[int]:
    pattern = re.compile(rf"master-v([1-9][0-9]*){re.escape(suffix)}")
    try:
        names = os.listdir(keys_dir)
    except FileNotFoundError:
        return []
    found = (pattern.fullmatch(name) for name in names)
    return sorted(int(match.group(1)) for match in found if match)


def _read_key_file(keys_dir: Path, path: Path, version: int) -> bytes:
    check_key_permissions(keys_dir)
    try:
        check_key_permissions(path)
        return path.read_bytes()
    except (ConfigurationError, FileNotFoundError):
        if path.exists():
            raise
        raise ConfigurationError(f"master key v{version} is missing ({path})") from None


def _create_key_file(keys_dir: Path, path: Path, version: int, data: bytes) -> None:
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_key_permissions(keys_dir)
    try:
        write_new_file(path, data)
    except FileExistsError:
        raise Conflict(
            f"master key v{version} already exists ({path}); refusing to overwrite it"
        ) from None
