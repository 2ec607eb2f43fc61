"""How the HubSpot emulator behaves: who may call, its limits, latency and injected faults."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["EmulatorConfig", "FaultShares", "LatencyConfig", "LatencyKind", "OAuthAppConfig"]

LatencyKind = Literal["read", "write", "batch_write"]

_MODEL = ConfigDict(extra="forbid", frozen=True)


class LatencyConfig(BaseModel):
    """Delay before each answer, drawn uniformly from a range per kind, then scaled."""

    model_config = _MODEL

    read_ms: tuple[float, float] = Field(
        default=(50.0, 100.0), description="GET, batch read, search, association reads."
    )
    write_ms: tuple[float, float] = Field(
        default=(100.0, 200.0), description="Single-record create, update and archive."
    )
    batch_write_ms: tuple[float, float] = Field(
        default=(200.0, 400.0), description="Batch create, update and archive."
    )
    scale: float = Field(default=1.0, ge=0.0, description="Multiplies every delay; 0 = none.")

    def range_ms(self, kind: LatencyKind) -> tuple[float, float]:
        return {"read": self.read_ms, "write": self.write_ms, "batch_write": self.batch_write_ms}[
            kind
        ]


class FaultShares(BaseModel):
    """Shares (0..1) of API calls that fail on purpose; drawn from the seeded generator.

    ``rate_limited``, ``server_error`` and ``dropped`` exclude each other (their sum is at
    most 1); ``slow`` is drawn separately and adds ``slow_extra_ms`` before the answer.
    """

    model_config = _MODEL

    rate_limited: float = Field(
        default=0.0, ge=0.0, le=1.0, description="429 TEN_SECONDLY_ROLLING."
    )
    server_error: float = Field(default=0.0, ge=0.0, le=1.0, description="502 or 503.")
    dropped: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Connection closed without an answer."
    )
    slow: float = Field(default=0.0, ge=0.0, le=1.0, description="Answer delayed further.")
    slow_extra_ms: tuple[float, float] = (2000.0, 5000.0)
    drop_after_apply: bool = Field(
        default=True,
        description=(
            "A dropped call is handled first (a write is applied, its answer lost), the case"
            " that makes blind retries duplicate writes; False drops it unhandled."
        ),
    )

    @model_validator(mode="after")
    def _exclusive_shares_fit(self) -> FaultShares:
        if self.rate_limited + self.server_error + self.dropped > 1.0:
            raise ValueError("rate_limited + server_error + dropped must not exceed 1")
        return self

    @property
    def any(self) -> bool:
        return bool(self.rate_limited or self.server_error or self.dropped or self.slow)


class OAuthAppConfig(BaseModel):
    """The one OAuth app the emulator knows (reference §1)."""

    model_config = _MODEL

    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    access_token_ttl_s: int = Field(default=1800, gt=0)
    auth_code_ttl_s: int = Field(default=300, gt=0, description="Codes are short-lived.")
    app_id: int = 1000001


class EmulatorConfig(BaseModel):
    """Everything that shapes the emulator; ``create_app`` takes one."""

    model_config = _MODEL

    tokens: tuple[str, ...] | None = Field(
        default=None,
        description="Accepted private-app tokens; None accepts any token starting 'pat-'.",
    )
    ten_second_limit: int = Field(
        default=190, ge=1, description="Calls per rolling 10 s per app (each token is an app)."
    )
    daily_limit: int = Field(default=1_000_000, ge=1, description="Calls per day per account.")
    search_per_second: int = Field(default=5, ge=1, description="Search calls per second.")
    account_timezone: str = Field(
        default="UTC", description="The daily limit resets at midnight here (IANA name)."
    )
    hub_id: int = 9990001
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    faults: FaultShares = Field(default_factory=FaultShares)
    oauth: OAuthAppConfig = Field(default_factory=OAuthAppConfig)
    seed: int | None = Field(default=None, description="Seeds latency jitter and faults.")

    @field_validator("account_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name") from None
        return value
