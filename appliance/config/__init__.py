"""One settings object for the whole appliance.

Values come from pydantic-settings sources, highest first: the home (resolved from ``--home``,
else ``$APPLIANCE_HOME``, else ``./var/appliance``), ``APPLIANCE_*`` environment variables, then
``<home>/config.json`` (written by ``appliance init``), then the defaults. Unknown keys are refused
(``extra="forbid"``): a typo in config.json is a ``ConfigurationError`` naming the key, not a
setting silently left at its default. Environment variables are looked up by field name only, so
``APPLIANCE_TOKEN`` and other variables of the CLI are never mistaken for settings.
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from appliance.errors import ConfigurationError

CONFIG_FILE = "config.json"
DEFAULT_HOME = Path("var/appliance")


# The config file the next Settings() reads (set only inside load_settings).
_CONFIG_FILE: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "appliance_config_file", default=None)


class KdfParams(BaseModel):
    """scrypt parameters for a passphrase key source (RFC 7914), recorded at init."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["scrypt"] = "scrypt"
    salt_b64: str = ""
    n: int = 2**15
    r: int = 8
    p: int = 1


class Settings(BaseSettings):
    """Everything configurable. Saved in the home at init; env vars override per process."""

    model_config = SettingsConfigDict(env_prefix="APPLIANCE_", extra="forbid")

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
    ner_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the 'bundled' or 'hf' NER model runs: 'auto' uses a CUDA "
        "device when torch sees one, else the CPU.")
    segment_size: int = Field(1 << 20, description="Ciphertext bytes per encrypted segment (Tink).")
    auth_failures_per_client: str = Field(
        "10/minute", description="Failed sign-ins a client address may make in a moving window "
        "before its unknown tokens are refused unchecked (limits notation: N/second|minute|hour).")
    auth_failures_per_token: str = Field(
        "5/hour", description="Failed attempts one presented token may make before it is "
        "refused unchecked, from any address.")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Addresses or networks of reverse proxies whose "
        "forwarded header names the client; from anyone else the header is ignored.")
    forwarded_header: str = Field(
        "X-Forwarded-For", description="The header a trusted proxy puts the client address in.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Serve /metrics without a token on 127.0.0.1 at this "
        "port (the API port then needs the scrape token for /metrics).")
    models_dir: Path | None = Field(
        None, description="Where bundled base models are converted to Hugging Face directories "
        "(default: <home>/models); a directory shared by several homes converts once.")
    generation_guard: Literal["redact", "withhold", "off"] = Field(
        "redact", description="What happens to PII the analyzer finds in generated text: "
        "replaced by placeholders, the whole answer withheld, or (off) passed through.")
    metrics_token_hash: str | None = Field(
        None, description="SHA-256 of the scrape token for /metrics on the API port "
        "(`appliance metrics-token`); none: /metrics is not served on the API port.")

    @field_validator("auth_failures_per_client", "auth_failures_per_token")
    @classmethod
    def _check_limit(cls, value: str) -> str:
        from limits import parse  # checked here so that a bad limit stops the service at load

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a limit such as '10/minute'") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network") from None
        return value

    def path(self, *parts: str) -> Path:
        return self.home.joinpath(*parts)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the home's config.json (no .env, no secrets
        directory: nothing is read that the operator did not put in the home or the process)."""
        config_file = _CONFIG_FILE.get()
        if config_file is None:
            return init_settings, env_settings
        return init_settings, env_settings, JsonConfigSettingsSource(settings_cls, config_file)


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
        saved: Any = json.loads(config_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {config_path}: {exc}") from exc
    if not isinstance(saved, dict):
        raise ConfigurationError(f"{config_path}: expected a JSON object of settings")
    return _settings_from(root, config_path, config_path)


def _settings_from(root: Path, source: Path, named: Path) -> Settings:
    token = _CONFIG_FILE.set(source)
    try:
        return Settings(home=root)
    except ValidationError as exc:
        raise ConfigurationError(f"{named}: {_describe(exc)}") from exc
    finally:
        _CONFIG_FILE.reset(token)


def _describe(exc: ValidationError) -> str:
    """One clause per bad setting, named as it is spelled in the file."""
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(settings)"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown setting {key!r}")
        else:
            problems.append(f"setting {key!r}: {error['msg']}")
    return "; ".join(problems)


def update_saved_settings(home: str | Path | None, **changes: Any) -> Settings:
    """Change keys of the home's config.json only (not what the environment overrides), after
    checking the result loads; returns the settings as loaded."""
    root = resolve_home(home)
    config_path = root / CONFIG_FILE
    load_settings(root)  # refuse a home that is missing or already unreadable
    saved = json.loads(config_path.read_text("utf-8"))
    saved.update(changes)
    staged = config_path.with_name(CONFIG_FILE + ".new")
    staged.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n", "utf-8")
    os.chmod(staged, 0o600)
    try:
        settings = _settings_from(root, staged, config_path)
    except ConfigurationError:
        staged.unlink()
        raise
    os.replace(staged, config_path)
    return settings


def save_settings(settings: Settings) -> None:
    data = settings.model_dump(mode="json", exclude={"home"})
    target = settings.path(CONFIG_FILE)
    target.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.chmod(target, 0o600)
