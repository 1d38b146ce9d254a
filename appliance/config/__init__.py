"""One settings object for the whole appliance.

Values come from ``<home>/config.json`` (written by ``appliance init``), then from ``APPLIANCE_*``
environment variables. The home directory itself is resolved from ``--home``, else
``$APPLIANCE_HOME``, else ``./var/appliance``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from appliance.errors import ConfigurationError

CONFIG_FILE = "config.json"
DEFAULT_HOME = Path("var/appliance")


class KdfParams(BaseModel):
    """scrypt parameters for a passphrase key source (RFC 7914), recorded at init."""

    algorithm: Literal["scrypt"] = "scrypt"
    salt_b64: str = ""
    n: int = 2**15
    r: int = 8
    p: int = 1


class Settings(BaseSettings):
    """Everything configurable. Saved in the home at init; env vars override per process."""

    model_config = SettingsConfigDict(env_prefix="APPLIANCE_", extra="ignore")

    home: Path = Field(DEFAULT_HOME, description="Home directory: keys, database, vault, audit.")
    key_source: Literal["file", "passphrase"] = Field(
        "file", description="Where the master key comes from: a key file, or a passphrase."
    )
    passphrase_env: str = Field(
        "APPLIANCE_PASSPHRASE", description="Environment variable holding the passphrase."
    )
    kdf: KdfParams = Field(default_factory=KdfParams)
    policy_backend: Literal["embedded", "opa"] = Field(
        "embedded", description="Embedded Rego engine (regopy), or an OPA server."
    )
    opa_url: str = Field("http://127.0.0.1:8181", description="OPA server, for backend 'opa'.")
    policy_dir: Path | None = Field(
        None, description="Rego policies and data; default: the policies/ shipped with the code."
    )
    policy_cache_size: int = Field(
        4096, ge=0, description="Embedded engine: decisions kept for repeated requests; 0 = none."
    )
    max_record_bytes: int = Field(1_000_000, gt=0, description="Largest single record accepted.")
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, description="Largest upload accepted.")
    token_ttl_days: int = Field(90, gt=0, description="Lifetime of new API tokens.")
    ner_backend: Literal["bundled", "hf", "spacy", "none"] = Field(
        "bundled", description="Named-entity model for PERSON/LOCATION/ORGANIZATION."
    )
    ner_model_path: Path | None = Field(None, description="Local model for 'hf' or 'spacy'.")
    segment_size: int = Field(1 << 20, description="Ciphertext bytes per encrypted segment (Tink).")

    def path(self, *parts: str) -> Path:
        return self.home.joinpath(*parts)


def resolve_home(home: str | Path | None = None) -> Path:
    """--home, else $APPLIANCE_HOME, else ./var/appliance; always absolute."""
    chosen = home or os.environ.get("APPLIANCE_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def load_settings(home: str | Path | None = None) -> Settings:
    """Read the home's config file; refuse a home that was never initialised."""
    root = resolve_home(home)
    config_path = root / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigurationError(
            f"{root} is not an appliance home (no {CONFIG_FILE}); "
            f"run 'appliance init --home {root}'"
        )
    try:
        saved: dict[str, Any] = json.loads(config_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {config_path}: {exc}") from exc
    saved["home"] = root
    env_overrides = Settings().model_dump(exclude_unset=True)  # APPLIANCE_* only
    env_overrides.pop("home", None)
    return Settings(**{**saved, **env_overrides})


def save_settings(settings: Settings) -> None:
    data = settings.model_dump(mode="json", exclude={"home"})
    target = settings.path(CONFIG_FILE)
    target.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.chmod(target, 0o600)
