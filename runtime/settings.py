"""One settings tree for the whole product, read from ``CRM_AGENTS_*`` environment variables.

Load it once at the edge (CLI, Serve app, actor constructor) with ``Settings()`` and pass the
groups down. Groups are nested models; their variables use a double underscore, e.g.
``CRM_AGENTS_DB__POOL_MAX_SIZE``. A ``.env`` file in the working directory is read too.
``.env.example`` is rendered from this module (``crm-agents config env-example``) and a test
keeps it in sync.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.writes.budget import RateLimitOverrides, RateLimits

__all__ = [
    "ENCRYPTION_KEY_BYTES",
    "ENV_PREFIX",
    "KEY_ID_PATTERN",
    "RESOURCE_NAME_PATTERN",
    "ApiSettings",
    "AutomationSettings",
    "ClusterSettings",
    "DatabaseSettings",
    "EnvVariable",
    "HubSpotSettings",
    "LlmSettings",
    "SecretsSettings",
    "Settings",
    "WriteSettings",
    "default_home",
    "env_variables",
    "parse_encryption_keys",
    "render_env_example",
]

ENV_PREFIX = "CRM_AGENTS_"
ROOT_DEFAULT_HOME = Path("/var/lib/crm-agents")
ENCRYPTION_KEY_BYTES = 32  # AES-256
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
"""Key ids travel in every sealed blob (length-prefixed) and in ``crm_connections.key_id``."""
RESOURCE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""A large tenant's custom Ray resource: one lower-case word that YAML, JSON and a shell take
unquoted, and never one of Ray's upper-case resources (CPU, GPU, TPU, ...)."""
# Ray's own lower-case resources, which the pattern alone would let through.
_RAY_LOWER_CASE_RESOURCES = frozenset({"memory", "object_store_memory", "neuron_cores"})


def default_home(
    *, cwd: Path | None = None, euid: int | None = None, user_home: Path | None = None
) -> Path:
    """Where state lives when ``CRM_AGENTS_HOME`` is unset.

    A project-local ``.crm-agents/`` in the working directory, except for root inside root's
    home: the embedded PostgreSQL then runs as a separate system user and makes every parent
    of its data directory world-readable, which must not happen to ``/root``.
    """
    cwd = cwd or Path.cwd()
    euid = os.geteuid() if euid is None else euid
    user_home = user_home or Path.home()
    local = cwd / ".crm-agents"
    if euid == 0 and local.is_relative_to(user_home):
        return ROOT_DEFAULT_HOME
    return local


class DatabaseSettings(BaseModel):
    """How the product talks to PostgreSQL."""

    pool_min_size: int = Field(
        default=1, ge=0, description="Connections each process keeps open in its pool."
    )
    pool_max_size: int = Field(
        default=10, ge=1, description="Most connections one process opens at once."
    )
    command_timeout_s: float = Field(
        default=60.0, gt=0, description="Seconds a single SQL statement may run before it fails."
    )
    connect_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds to wait for a new database connection."
    )


class HubSpotSettings(BaseModel):
    """How crm-agents reaches HubSpot (or the local emulator)."""

    base_url: str = Field(
        default="https://api.hubapi.com",
        description="HubSpot API base URL; point it at `crm-agents emulator hubspot` locally.",
    )
    authorize_url: str = Field(
        default="https://app.hubspot.com/oauth/authorize",
        description="Where the browser is sent to grant the OAuth app access.",
    )
    client_id: str | None = Field(default=None, description="OAuth app client id.")
    client_secret: SecretStr | None = Field(default=None, description="OAuth app client secret.")
    redirect_uri: str | None = Field(
        default=None, description="OAuth redirect URI registered with the app."
    )
    scopes: list[str] = Field(
        default=[
            "oauth",
            "crm.objects.deals.read",
            "crm.objects.deals.write",
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.objects.companies.read",
            "crm.objects.companies.write",
            "crm.schemas.deals.read",
        ],
        description="OAuth scopes requested when connecting (a JSON list).",
    )
    timeout_s: float = Field(default=30.0, gt=0, description="Seconds one HTTP request may take.")
    max_retries: int = Field(
        default=5, ge=0, description="Retries of a request answered with 429 or 5xx, or dropped."
    )
    retry_base_delay_s: float = Field(
        default=0.5, gt=0, description="First backoff delay; it doubles per retry, with jitter."
    )
    retry_max_delay_s: float = Field(
        default=30.0, gt=0, description="Longest single wait between retries."
    )
    token_refresh_margin_s: float = Field(
        default=300.0,
        ge=0,
        description="Refresh an OAuth access token this long before it expires.",
    )
    oauth_state_ttl_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "Seconds an OAuth authorize URL handed out by `startCrmOAuth` stays usable; its"
            " state works once, within this time."
        ),
    )
    oauth_return_url: str | None = Field(
        default=None,
        description=(
            "Where the OAuth callback page sends the browser afterwards (e.g. the app's"
            " settings page), with `?oauth=<outcome>` added. Unset: the page stays."
        ),
    )


class LlmSettings(BaseModel):
    """The OpenAI-compatible chat-completions endpoint of the LLM extractor."""

    base_url: str | None = Field(
        default=None,
        description=(
            "Base URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1;"
            " /chat/completions is appended. Unset: `--extractor llm` is refused."
        ),
    )
    api_key: SecretStr | None = Field(
        default=None, description="Bearer token sent to the endpoint; unset sends none."
    )
    model: str | None = Field(
        default=None, description="Model name sent with each request, e.g. gpt-4o-mini."
    )
    timeout_s: float = Field(
        default=60.0, gt=0, description="Seconds one chat-completions request may take."
    )
    max_output_tokens: int = Field(
        default=4096, ge=1, description="Most tokens the model may answer with (max_tokens)."
    )
    temperature: float = Field(
        default=0.0, ge=0, le=2, description="Sampling temperature; 0 for repeatable answers."
    )


class WorkerSettings(BaseModel):
    """How a process claims and executes agent runs (`crm-agents worker`, later `serve`)."""

    concurrency: int = Field(default=4, ge=1, le=256, description="Runs executed at once.")
    batch_size: int = Field(
        default=8,
        ge=1,
        le=100,
        description=(
            "Runs handed to an executor together; their outcomes are recorded in one"
            " transaction (with --ray, one Ray task each)."
        ),
    )
    lease_s: float = Field(
        default=60.0,
        ge=1.0,
        description=(
            "Seconds a claimed run stays with its process without a heartbeat; a run whose"
            " process died is claimed again after this."
        ),
    )
    poll_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between looks at the queue when no notification wakes it.",
    )
    grace_s: float = Field(
        default=30.0,
        ge=0,
        description="Seconds running runs may finish on shutdown before they are handed back.",
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Claims of one run before it is given up as failed."
    )
    crm_cache_ttl_s: float = Field(
        default=300.0,
        ge=0,
        description="Seconds a workspace's CRM records and schema are served from memory.",
    )
    crm_lookup_ttl_s: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Seconds a CRM search answer (contacts by email, companies by domain) or an"
            " association list is served from memory; a new contact is found that much later"
            " at most. HubSpot allows 5 searches per second per account."
        ),
    )
    expiry_sweep_s: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Seconds between sweeps that apply the agents' expiry policies (reject, approve"
            " or remind) to the inbox items nobody decided in time."
        ),
    )


class ApiSettings(BaseModel):
    """The GraphQL API (`crm-agents serve`): where it listens, its limits, its replicas."""

    host: str = Field(default="127.0.0.1", description="Address `crm-agents serve` listens on.")
    port: int = Field(
        default=8000, ge=1, le=65535, description="Port `crm-agents serve` listens on."
    )
    replicas: int = Field(default=1, ge=1, le=64, description="Serve replicas of the API.")
    replica_cpus: float = Field(
        default=0.25,
        gt=0,
        le=64,
        description=(
            "CPUs Ray reserves for each API replica. A replica mostly waits on the database;"
            " reserving a whole core would leave a 2-core machine one core for agent runs."
        ),
    )
    max_ongoing_requests: int = Field(
        default=100,
        ge=1,
        description=(
            "Requests one replica works on at once (Serve's default of 5 queues everything"
            " behind five slow ones)."
        ),
    )
    rate_limit_per_s: float = Field(
        default=20.0, gt=0, description="Requests per second each token may make, on average."
    )
    rate_limit_burst: int = Field(
        default=60, ge=1, description="Requests a token may make at once before it is slowed."
    )
    auth_cache_s: float = Field(
        default=5.0,
        ge=0,
        description=(
            "Seconds a replica trusts a token it has checked; a revoked token stops working"
            " within this time."
        ),
    )
    max_query_depth: int = Field(default=10, ge=2, description="Deepest selection allowed.")
    max_query_tokens: int = Field(
        default=2000, ge=100, description="Longest query document allowed, in GraphQL tokens."
    )
    max_aliases: int = Field(default=30, ge=1, description="Most aliases one query may use.")
    webhook_tolerance_s: float = Field(
        default=300.0,
        ge=1,
        le=3600,
        description=(
            "Seconds a signed meeting webhook's timestamp may be off the server's clock,"
            " either way; older or newer deliveries are refused (401)."
        ),
    )


class SecretsSettings(BaseModel):
    """How secrets at rest (CRM credentials) are encrypted."""

    # pydantic prints the offending input in its errors; here that would be a key.
    model_config = ConfigDict(hide_input_in_errors=True)

    encryption_keys: SecretStr | None = Field(
        default=None,
        description=(
            "AES-256-GCM keys as comma-separated key_id:key entries, each key 32 random bytes"
            " in base64url; the first encrypts, all decrypt (rotate: put a new key first, run"
            " `crm-agents crm rotate-key`, then drop the old one). A new key, in Python:"
            " base64.urlsafe_b64encode(os.urandom(32)). Unset: a key is generated in"
            " CRM_AGENTS_HOME/secrets/encryption.key, usable on that machine only."
        ),
    )

    @field_validator("encryption_keys")
    @classmethod
    def _entries_are_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_encryption_keys(value.get_secret_value())
        return value

    def key_entries(self) -> list[tuple[str, bytes]]:
        """The configured (key id, key) pairs, current key first; empty when unset."""
        if self.encryption_keys is None:
            return []
        return parse_encryption_keys(self.encryption_keys.get_secret_value())


def parse_encryption_keys(text: str) -> list[tuple[str, bytes]]:
    """Parse ``id:base64url,id:base64url``; errors name the entry, never the key material.

    Raises:
        ValueError: an empty list or entry, a bad or repeated key id, or a key that is not
            32 bytes of base64url.
    """
    entries: list[tuple[str, bytes]] = []
    if not text.strip():
        raise ValueError("lists no key; unset it to use a local key file instead")
    for number, raw in enumerate(text.split(","), start=1):
        entry = raw.strip()
        key_id, colon, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not colon:
            raise ValueError(f"entry {number} is not key_id:key")
        if not KEY_ID_PATTERN.match(key_id):
            raise ValueError(
                f"entry {number}: the key id must be 1 to 64 letters, digits, '.', '_' or '-'"
            )
        if any(key_id == known for known, _ in entries):
            raise ValueError(f"entry {number}: the key id {key_id!r} is listed twice")
        key = _decode_key(encoded.strip())
        if key is None:
            raise ValueError(
                f"entry {number} ({key_id!r}): the key must be {ENCRYPTION_KEY_BYTES} bytes"
                " in base64url"
            )
        entries.append((key_id, key))
    return entries


def _decode_key(encoded: str) -> bytes | None:
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == ENCRYPTION_KEY_BYTES else None


class WriteSettings(BaseModel):
    """How a workspace's CRM writes are batched and paced within HubSpot's limits.

    The figures are HubSpot's (reference/hubspot.md §6). ``large_tenant_limits`` overrides
    them per workspace, e.g. ``{"<workspace uuid>": {"burst": 250, "daily": 2000000}}`` for
    an account with the API limit increase pack; ``limits_for`` merges the two.
    """

    burst_per_10s: int = Field(
        default=190,
        ge=1,
        description=(
            "Calls one HubSpot app may make per rolling 10 seconds, reads and writes together"
            " (HubSpot: 100 on Free and Starter, 190 on Professional and Enterprise, 250 with"
            " the API limit increase)."
        ),
    )
    daily_limit: int | None = Field(
        default=625_000,
        ge=1,
        description=(
            "Calls per account per day, search included (HubSpot: 250000 on Free and Starter,"
            " 625000 on Professional, 1000000 on Enterprise, +1000000 per limit increase"
            " pack). `none` when unknown, as for marketplace OAuth apps."
        ),
    )
    search_per_s: int = Field(
        default=5,
        ge=1,
        description=(
            "CRM search requests per second per account (HubSpot: 5); they count toward the"
            " daily limit, not the 10-second burst."
        ),
    )
    headroom: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description=(
            "Fraction of the burst left unused for other clients of the same HubSpot app,"
            " e.g. 0.2 keeps 38 of 190 calls per 10 seconds free."
        ),
    )
    batch_size: int = Field(
        default=100, ge=1, le=100, description="Inputs per batch write; HubSpot refuses over 100."
    )
    flush_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds a partial batch waits for more inputs before it is sent anyway.",
    )
    max_in_flight: int = Field(
        default=16,
        ge=1,
        le=64,
        description=(
            "Batch requests on their way at once per workspace. The budget decides how many"
            " may start; this only caps them. At HubSpot's ~0.3 s per batch, 19 requests a"
            " second (190 per 10 s) need about 6 in flight."
        ),
    )
    large_tenant_limits: dict[UUID, RateLimitOverrides] = Field(
        default_factory=dict,
        description=(
            "Per-workspace limits overriding the ones above, as JSON: workspace id to any of"
            " burst, window_s, daily, search_per_s, headroom, e.g."
            ' {"<workspace uuid>": {"burst": 250, "daily": 2000000}}.'
        ),
    )

    @field_validator("daily_limit", mode="before")
    @classmethod
    def _none_is_unlimited(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "null"}:
            return None
        return value

    @model_validator(mode="after")
    def _limits_hold_together(self) -> Self:
        try:
            self._default_limits()
        except ValidationError as exc:
            raise ValueError(_reasons(exc)) from exc
        for workspace_id in self.large_tenant_limits:
            try:
                self.limits_for(workspace_id)
            except ValidationError as exc:
                raise ValueError(f"large_tenant_limits.{workspace_id}: {_reasons(exc)}") from exc
        return self

    def limits_for(self, workspace_id: UUID) -> RateLimits:
        """The limits of one workspace: its ``large_tenant_limits`` entry over the defaults."""
        limits = self._default_limits()
        overrides = self.large_tenant_limits.get(workspace_id)
        return limits if overrides is None else overrides.apply(limits)

    def _default_limits(self) -> RateLimits:
        return RateLimits(
            burst=self.burst_per_10s,
            window_s=10.0,
            daily=self.daily_limit,
            search_per_s=self.search_per_s,
            headroom=self.headroom,
        )


def _reasons(exc: ValidationError) -> str:
    reasons = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        path = ".".join(str(part) for part in error["loc"])
        reasons.append(f"{path}: {message}" if path else message)
    return "; ".join(reasons)


def _custom_resource_name(name: str) -> str:
    if not RESOURCE_NAME_PATTERN.match(name):
        raise ValueError(
            "a custom resource name must be 1 to 63 lower-case letters, digits or '_',"
            " starting with a letter"
        )
    if name in _RAY_LOWER_CASE_RESOURCES:
        raise ValueError(f"{name!r} is one of Ray's own resources, not a custom one")
    return name


class ClusterSettings(BaseModel):
    """Where workspace actors run on a Ray cluster of several nodes (``cluster.yaml``).

    A large tenant's workspace actor is pinned to nodes that offer a custom Ray resource, and
    every other workspace actor keeps off those nodes (``actors.options``). The map goes from
    workspace id to resource name because placement is decided one workspace at a time, by the
    id the runtime holds, and several workspaces of one customer may share a node type by
    naming the same resource. Ops name the resource (it is not derived from the id) so that
    ``cluster.yaml`` says in words whom a node type serves.
    """

    large_tenants: dict[UUID, Annotated[str, AfterValidator(_custom_resource_name)]] = Field(
        default_factory=dict,
        description=(
            "Workspaces pinned to nodes of their own, as JSON: workspace id to the custom Ray"
            " resource those nodes offer (a node type of cluster.yaml), e.g."
            ' {"<workspace uuid>": "tenant_acme"}. Other workspaces never run on such nodes.'
        ),
    )


class AutomationSettings(BaseModel):
    """Users' own automations (triggers and actions, ``runtime.automations``)."""

    allow_private_webhook_hosts: bool = Field(
        default=False,
        description=(
            "Let webhook automations target loopback, private and local hosts. Only for tests"
            " and emulators: otherwise a user could make the service call into its own network."
        ),
    )


class Settings(BaseSettings):
    """Everything crm-agents can be told through its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
        # Values such as DATABASE_URL and the encryption keys are secrets: a validation
        # error names the field and the reason, never the value.
        hide_input_in_errors=True,
    )

    home: Path = Field(
        default_factory=default_home,
        description=(
            "Directory for local state, such as the embedded PostgreSQL data directory"
            " (pgdata/). Default: .crm-agents/ in the working directory; as root"
            " inside root's home, /var/lib/crm-agents, because the embedded server makes every"
            " parent of its data directory world-readable."
        ),
    )
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CRM_AGENTS_DATABASE_URL", "DATABASE_URL"),
        description=(
            "DSN of an external PostgreSQL (postgresql://user:password@host:5432/db). Also read"
            " from DATABASE_URL. Unset: the embedded server in CRM_AGENTS_HOME is used."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severe log level that is printed."
    )
    db: DatabaseSettings = Field(
        default_factory=DatabaseSettings, description="Connection pool and timeouts."
    )
    hubspot: HubSpotSettings = Field(
        default_factory=HubSpotSettings, description="The HubSpot API and OAuth app."
    )
    llm: LlmSettings = Field(
        default_factory=LlmSettings, description="The LLM endpoint of `--extractor llm`."
    )
    secrets: SecretsSettings = Field(
        default_factory=SecretsSettings, description="Encryption of secrets at rest."
    )
    worker: WorkerSettings = Field(
        default_factory=WorkerSettings, description="The run dispatcher of long-running processes."
    )
    writes: WriteSettings = Field(
        default_factory=WriteSettings, description="Batching and pacing of CRM writes."
    )
    cluster: ClusterSettings = Field(
        default_factory=ClusterSettings, description="Placement of workspaces on a Ray cluster."
    )
    api: ApiSettings = Field(
        default_factory=ApiSettings, description="The GraphQL API served by `crm-agents serve`."
    )
    automations: AutomationSettings = Field(
        default_factory=AutomationSettings, description="Users' own automations."
    )

    @property
    def pgdata(self) -> Path:
        """The embedded server's data directory."""
        return self.home / "pgdata"


@dataclass(frozen=True)
class EnvVariable:
    """One environment variable of the tree and the field it sets."""

    name: str
    path: tuple[str, ...]
    info: FieldInfo

    def value(self, settings: BaseModel) -> Any:
        current: Any = settings
        for part in self.path:
            current = getattr(current, part)
        return current


def env_variables(model: type[BaseModel] = Settings) -> list[EnvVariable]:
    """Every environment variable the tree reads, in declaration order."""
    found: list[EnvVariable] = []

    def walk(cls: type[BaseModel], prefix: str, path: tuple[str, ...]) -> None:
        for name, info in cls.model_fields.items():
            annotation: Any = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name.upper()}__", (*path, name))
                continue
            alias = info.validation_alias
            env_name = (
                str(alias.choices[0])
                if isinstance(alias, AliasChoices)
                else f"{prefix}{name.upper()}"
            )
            found.append(EnvVariable(env_name, (*path, name), info))

    walk(model, ENV_PREFIX, ())
    return found


def render_env_example() -> str:
    """The text of ``.env.example``: every variable, its description and its default."""
    lines = [
        "# crm-agents settings. Copy to .env (read from the working directory) or export them.",
        "# Generated by `crm-agents config env-example`; a test keeps this file in sync.",
        "",
    ]
    for variable in env_variables():
        lines.extend(f"# {line}" for line in textwrap.wrap(variable.info.description or "", 94))
        lines.append(f"# {variable.name}={_render_default(variable.info)}")
        lines.append("")
    return "\n".join(lines)


def _render_default(info: FieldInfo) -> str:
    if info.default_factory is not None or info.default is None:
        return ""
    if isinstance(info.default, list | dict):
        return json.dumps(info.default)
    return str(info.default)
