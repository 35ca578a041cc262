"""Typed settings: where state lives, which regions exist and which backend serves each.

Settings are built once by the CLI (or a test) and handed to the app factory; nothing reads them
from a global.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from interstack.errors import BadRequest

DEFAULT_PORT = 5000
DEFAULT_REGION = "RegionOne"
RESERVED_REGION_NAMES = frozenset({"v3", "identity", "metrics", "healthcheck"})
_REGION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ConfigError(BadRequest):
    """The configuration file or options cannot be used."""


SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def backend_settings(
    model: type[SettingsModel], backend: str, region: str, raw: Mapping[str, Any]
) -> SettingsModel:
    """A region's ``settings:`` mapping validated as ``model``; the first error becomes a
    ConfigError naming the region and the setting, with the message only (pydantic's input echo
    could carry a secret)."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"region {region}: invalid {backend} backend setting {where}: {first['msg']}"
        ) from None


def external_cidr(value: str, *, ipv4_only: bool) -> str:
    """A backend setting's external network range in its normal form, refused when it is not a
    network address with a prefix length or too small for a gateway and floating IPs."""
    try:
        network = ipaddress.IPv4Network(value) if ipv4_only else ipaddress.ip_network(value)
    except ValueError as exc:
        kind = "an IPv4 network" if ipv4_only else "a network address with a prefix length"
        raise ValueError(f"{value!r} is not {kind} such as 172.24.4.0/24") from exc
    if network.num_addresses < 8:
        raise ValueError(f"{value} is too small for a gateway and floating IPs")
    return str(network)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "interstack"


class RegionConfig(BaseModel):
    """One region of the catalog, served by one backend."""

    model_config = ConfigDict(extra="forbid")

    name: str
    backend: str
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _REGION_NAME.match(value) or value in RESERVED_REGION_NAMES:
            raise ValueError(
                f"region name {value!r} must be 1-64 letters, digits, '.', '_' or '-' "
                f"and not one of {sorted(RESERVED_REGION_NAMES)}"
            )
        return value


#: argon2's own cost defaults (RFC 9106's second recommended option): 3 passes over 64 MiB
DEFAULT_PASSWORD_HASH_TIME_COST = 3
DEFAULT_PASSWORD_HASH_MEMORY_KIB = 64 * 1024
#: the accepted argon2 costs: below them a stolen hash is cheap to crack (8 MiB is the test
#: gateways' cost); above them every login would take seconds or GiBs (a value in bytes)
PASSWORD_HASH_TIME_COSTS = range(1, 11)
PASSWORD_HASH_MEMORY_KIBS = range(8 * 1024, 1024 * 1024 + 1)


class Settings(BaseModel):
    """Everything the gateway needs to start."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_url: str | None = None
    regions: list[RegionConfig] = Field(default_factory=list)
    token_expiration_seconds: int = 3600
    #: how long a validated token is reused at most before the store is read again (0:
    #: never; it is never reused past its expiry); this process's own identity changes take
    #: effect at once, another replica's revocations within ``revocation_check_seconds``, its
    #: changes that revoke nothing (a role granted) within this time
    token_cache_seconds: float = 300.0
    #: how often the store's revocation events are looked at, on demand, for another
    #: replica's: at most this long a token revoked there is still accepted here
    revocation_check_seconds: float = Field(default=1.0, ge=0)
    max_request_body_bytes: int = 114_688
    fernet_max_active_keys: int = 3
    task_workers: int = 2
    #: seconds between comparisons of the store's servers with the backends' (also run at
    #: start-up); 0 compares only at start-up
    reconcile_interval_seconds: float = Field(default=600.0, ge=0)
    #: the largest image upload accepted (Glance's ``image_size_cap``, 1 TiB by default)
    image_size_cap_bytes: int = Field(default=1024**4, gt=0)
    #: how long a user message of the block storage API is kept (Cinder's ``message_ttl``,
    #: 30 days): past it the message is neither shown nor listed
    message_ttl: int = Field(default=2_592_000, gt=0)
    #: seconds between deletions of each region's expired user messages (Cinder's
    #: ``message_reap_interval``, a day)
    message_reap_interval: int = Field(default=86_400, gt=0)
    #: serve Prometheus metrics at ``/metrics`` (request counts and latencies, task counts)
    metrics_enabled: bool = False
    #: the argon2id cost of newly hashed passwords and secrets: passes and memory (KiB); lower
    #: costs are for throwaway test gateways, which log in thousands of times
    password_hash_time_cost: int = DEFAULT_PASSWORD_HASH_TIME_COST
    password_hash_memory_kib: int = DEFAULT_PASSWORD_HASH_MEMORY_KIB

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'interstack.db'}"

    @property
    def base_url(self) -> str:
        """The URL clients use to reach the gateway (what the catalog advertises)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::"):  # noqa: S104 - a listen address, not a bind here
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @field_validator("password_hash_time_cost")
    @classmethod
    def _hash_passes(cls, value: int) -> int:
        if value not in PASSWORD_HASH_TIME_COSTS:
            raise ValueError(
                f"{value} argon2 passes is outside {PASSWORD_HASH_TIME_COSTS.start}-"
                f"{PASSWORD_HASH_TIME_COSTS.stop - 1}; leave it out for argon2's default "
                f"({DEFAULT_PASSWORD_HASH_TIME_COST})"
            )
        return value

    @field_validator("password_hash_memory_kib")
    @classmethod
    def _hash_memory(cls, value: int) -> int:
        if value not in PASSWORD_HASH_MEMORY_KIBS:
            raise ValueError(
                f"{value} KiB is outside {PASSWORD_HASH_MEMORY_KIBS.start}-"
                f"{PASSWORD_HASH_MEMORY_KIBS.stop - 1} KiB (8 MiB to 1 GiB; the value is in "
                f"KiB, not bytes or MiB); leave it out for argon2's default "
                f"({DEFAULT_PASSWORD_HASH_MEMORY_KIB} KiB, 64 MiB)"
            )
        return value

    @field_validator("regions")
    @classmethod
    def _unique_regions(cls, value: list[RegionConfig]) -> list[RegionConfig]:
        names = [r.name for r in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"region names must be unique; repeated: {', '.join(duplicates)}")
        return value


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message, shortened to one line: what and where."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML config file (if any) and apply command-line overrides on top."""
    raw: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"config file {config_file} is not valid YAML: {_yaml_problem(exc)}"
            ) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {config_file} must hold a mapping at the top level")
        raw.update(loaded)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc
