"""Settings: environment variables + one TOML file, validated once (pydantic-settings).

Precedence: explicit arguments > environment (`COMPANION_*`, nested with `__`) > TOML file
(`$COMPANION_CONFIG` or `<user config dir>/companion.toml`) > defaults.
Secrets (API keys, bot token, MT5 password, API tokens) are never read from the TOML file:
only from the environment or the OS keyring, through `secret()`, and they are `SecretStr` so
that no repr, log line or error message shows them.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "trading-companion"
KEYRING_SERVICE = APP_NAME

#: Environment variable of each secret the companion may use (keyring entries use the same name).
SECRET_ENV = {
    "openai_api_key": "OPENAI_API_KEY",
    "telegram_token": "COMPANION_TELEGRAM_TOKEN",
    "mt5_password": "COMPANION_MT5_PASSWORD",
    "api_token": "COMPANION_API_TOKEN",
    "api_token_read": "COMPANION_API_TOKEN_READ",
    "bridge_token": "COMPANION_BRIDGE_TOKEN",
    "web_auth_secret": "CHAINLIT_AUTH_SECRET",
    "web_password": "COMPANION_WEB_PASSWORD",
}


def secret(name: str) -> SecretStr | None:
    """A secret from the environment, else from the OS keyring; None when neither has it."""
    env = SECRET_ENV[name]
    value = os.environ.get(env)
    if not value:
        try:
            import keyring

            value = keyring.get_password(KEYRING_SERVICE, env)
        except Exception:  # no keyring backend on this machine: environment only
            value = None
    return SecretStr(value) if value else None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskLimits(_Frozen):
    """Limits the risk engine enforces. Deterministic arithmetic; no limit is negotiable."""

    require_stop_loss: bool = Field(True, description="Deny orders without a stop-loss.")
    max_risk_per_trade_pct: float = Field(
        1.0, gt=0, le=10, description="Money lost at the SL, as % of equity, at most."
    )
    min_reward_risk: float = Field(
        1.0, ge=0, le=20, description="Minimum reward:risk when a TP is given (0 disables)."
    )
    max_volume_lots: float = Field(10.0, gt=0, le=1000, description="Absolute lot cap per order.")
    max_open_positions: int = Field(5, ge=0, le=500, description="Open positions, all symbols.")
    max_positions_per_symbol: int = Field(2, ge=0, le=100, description="Open positions per symbol.")
    max_margin_used_pct: float = Field(
        30.0, gt=0, le=100, description="Margin in use after the trade, as % of equity."
    )
    min_margin_level_pct: float = Field(
        300.0, ge=0, le=100_000, description="Margin level (equity/margin) after the trade."
    )
    max_daily_loss_pct: float = Field(
        3.0, gt=0, le=100, description="Loss since the day's start (incl. floating) -> HALTED."
    )
    reduce_at_daily_loss_pct: float = Field(
        2.0, gt=0, le=100, description="Loss since the day's start that switches to REDUCING."
    )
    max_drawdown_pct: float = Field(
        10.0, gt=0, le=100, description="Drawdown that switches to HALTED."
    )
    drawdown_mode: Literal["peak", "static"] = Field(
        "peak", description="Measure drawdown from the equity peak (trailing) or starting balance."
    )
    max_spread_points: float = Field(30.0, gt=0, le=100_000, description="Widest spread allowed.")
    max_spread_points_by_symbol: dict[str, float] = Field(
        default_factory=lambda: {"GOOGL": 50.0, "BTCUSD": 2_000.0},
        description="Widest spread per symbol, in that symbol's points, where the one limit does "
        "not fit: a stock or crypto CFD is quoted in cents (BTCUSD's $10 spread is 1,000 points).")
    max_orders_per_minute: int = Field(5, ge=1, le=1000, description="Order rate limit.")
    allowed_symbols: tuple[str, ...] = Field((), description="Symbol allow-list; empty allows all.")
    trading_hours_utc: str | None = Field(
        None, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$", description="e.g. '07:00-20:00' (UTC)."
    )
    trading_weekdays: tuple[int, ...] = Field(
        (0, 1, 2, 3, 4), description="Weekdays allowed, Monday=0."
    )
    max_consecutive_losses: int = Field(
        3, ge=0, le=100, description="Losing trades in a row before a cooldown (0 disables)."
    )
    loss_cooldown_minutes: int = Field(60, ge=0, le=10_080, description="Cooldown length.")
    max_currency_exposure_x: float = Field(
        10.0, gt=0, le=1000, description="Net notional per currency, as a multiple of equity."
    )
    max_price_drift_points: float = Field(
        20.0, ge=0, le=100_000, description="Price move between approval and send, at most."
    )
    ticket_ttl_seconds: int = Field(120, ge=5, le=86_400, description="How long a ticket lives.")

    @model_validator(mode="after")
    def _reduce_before_halt(self) -> RiskLimits:
        if self.reduce_at_daily_loss_pct > self.max_daily_loss_pct:
            raise ValueError("reduce_at_daily_loss_pct must not exceed max_daily_loss_pct")
        return self

    @field_validator("allowed_symbols")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(s.upper() for s in v)

    @field_validator("max_spread_points_by_symbol")
    @classmethod
    def _spread_limits(cls, v: dict[str, float]) -> dict[str, float]:
        if not all(0 < x <= 1_000_000 for x in v.values()):
            raise ValueError("each spread limit must be above 0 and at most 1,000,000 points")
        return {k.upper(): x for k, x in v.items()}

    def spread_limit(self, symbol: str) -> float:
        """Widest spread allowed on `symbol`, in its points."""
        return self.max_spread_points_by_symbol.get(symbol.upper(), self.max_spread_points)


#: Prop-firm style rule sets, applied over the defaults with `[risk] preset = "..."`.
RISK_PRESETS: dict[str, dict[str, Any]] = {
    "conservative": {"max_risk_per_trade_pct": 0.5, "max_daily_loss_pct": 2.0,
                     "reduce_at_daily_loss_pct": 1.0, "max_drawdown_pct": 6.0},
    "prop_static": {"max_daily_loss_pct": 5.0, "reduce_at_daily_loss_pct": 4.0,
                    "max_drawdown_pct": 10.0, "drawdown_mode": "static"},
    "prop_trailing": {"max_daily_loss_pct": 4.0, "reduce_at_daily_loss_pct": 3.0,
                      "max_drawdown_pct": 6.0, "drawdown_mode": "peak"},
}


class PaperSettings(_Frozen):
    """The embedded paper terminal."""

    start_balance: float = Field(10_000.0, gt=0, le=1e9)
    currency: str = "USD"
    leverage: int = Field(100, ge=1, le=3000)
    speed: float = Field(
        1.0, ge=0, le=1e6, description="Replay speed: 1 = live pace (the default: a ticket "
        "confirmed a minute later meets a minute of market, as on a real terminal), N > 1 = "
        "accelerated (60 = a minute per second), 0 = stepped (time moves only on "
        "`companion paper step`)."
    )
    warmup_bars: int = Field(500, ge=50, le=100_000, description="History before the clock start.")
    data_dir: Path | None = Field(None, description="Extra bar files imported by the trader.")


class BrokerSettings(_Frozen):
    """Which terminal the broker talks to."""

    kind: Literal["paper", "mt5", "mt5linux", "rest"] = "paper"
    magic: int = Field(250_001, ge=0, description="Magic number stamped on our orders.")
    deviation_points: int = Field(10, ge=0, le=10_000, description="Max slippage on market orders.")
    mt5_path: str | None = None
    mt5_login: int | None = None
    mt5_server: str | None = None
    mt5linux_host: str = "127.0.0.1"
    mt5linux_port: int = 18812
    rest_url: str = "http://127.0.0.1:8765"
    rest_ca_file: Path | None = Field(
        None, description="CA certificate (PEM) the bridge's TLS certificate is checked "
        "against, e.g. its self-signed certificate; default: this machine's trust store.")


class OpenAICompatibleServer(_Frozen):
    name: str
    base_url: str
    api_key_env: str | None = None


class LocalModelSettings(_Frozen):
    """The managed llama.cpp servers: which GGUF files, and when they run."""

    capable_model: Path | None = Field(
        None, description="GGUF for tool planning and analysis; default: the bundled "
        "Qwen2.5-Coder-1.5B-Instruct (the `local` extra).")
    quick_model: Path | None = Field(
        None, description="GGUF for quick replies and intent classification; default: the "
        "bundled Qwen2.5-Coder-0.5B-Instruct.")
    models_dir: Path | None = Field(None, description="Where bundled models are assembled; "
                                    "default <data_dir>/models.")
    server_path: Path | None = Field(None, description="Your own llama-server binary.")
    n_ctx: int = Field(8192, ge=2048, le=131_072, description="Context window per server.")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads; default: all.")
    auto_start: bool = Field(False, description="Start the local servers on first need.")
    idle_stop_s: float = Field(900.0, ge=0, le=86_400,
                               description="Stop an auto-started server idle this long; 0: never.")


class ModelSettings(_Frozen):
    """Where to look for models and which to prefer per task."""

    ollama_host: str = Field(default_factory=lambda: os.environ.get(
        "OLLAMA_HOST", "http://127.0.0.1:11434"))
    openai_base_url: str = "https://api.openai.com/v1"
    openai_compatible: tuple[OpenAICompatibleServer, ...] = ()
    preferred: str | None = Field(None, description="Model to use for every task when reachable.")
    detect_timeout_s: float = Field(1.5, gt=0, le=30)
    call_timeout_s: float = Field(60.0, gt=0, le=600)
    local: LocalModelSettings = LocalModelSettings()
    plan_reads: bool = Field(True, description="Make the read-only calls the trader's words "
                             "fully name (quote EURUSD, analyze EURUSD H4) before asking the "
                             "model; off: the model plans every call itself.")


class TelegramSettings(_Frozen):
    allowed_chat_ids: tuple[int, ...] = ()
    allowed_user_ids: tuple[int, ...] = Field(
        (), description="Users who may use the bot in a group chat of allowed_chat_ids (press "
        "Approve or Reject, /halt, ask, read). A private chat needs only its chat id (its "
        "user's id); in a group every update from anyone not listed is ignored, so with this "
        "empty the bot answers nobody in a group.")
    base_url: str | None = Field(None, description="Bot API base URL (tests use a local server).")
    digest_time_utc: str | None = Field(None, pattern=r"^\d{2}:\d{2}$")


class WebSettings(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    login: Literal["auto", "password"] = Field(
        "auto", description="auto: on a loopback bind the local trader is signed in by itself, "
        "elsewhere COMPANION_WEB_PASSWORD is asked; password: always ask (a machine shared "
        "with other users).")


class AccessSettings(_Frozen):
    """Who may reach the servers the companion runs (REST API, web chat, MT5 bridge)."""

    max_auth_failures: int = Field(
        10, ge=1, le=1000, description="Wrong tokens or passwords from one client within "
        "auth_window_s that lock it out.")
    auth_window_s: float = Field(60.0, gt=0, le=86_400,
                                 description="Window the failures are counted in (seconds).")
    auth_lockout_s: float = Field(
        300.0, ge=1, le=86_400, description="How long a locked-out client gets 429 for every "
        "sign-in, right or wrong (seconds).")
    trusted_proxies: tuple[str, ...] = Field(
        (), description="Addresses (or networks) of reverse proxies whose X-Forwarded-For / "
        "X-Forwarded-Proto headers name the client; empty: nobody's are believed, the peer "
        "address is the client.")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or "
                                 "network") from None
        return v


class Settings(BaseSettings):
    """All settings of the companion."""

    model_config = SettingsConfigDict(
        env_prefix="COMPANION_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    db_path: Path | None = Field(None, description="Journal path; default <data_dir>/journal.db")
    log_dir: Path | None = None
    log_level: str = "INFO"
    risk_preset: Literal["conservative", "prop_static", "prop_trailing"] | None = None
    risk: RiskLimits = RiskLimits()
    broker: BrokerSettings = BrokerSettings()
    paper: PaperSettings = PaperSettings()
    models: ModelSettings = ModelSettings()
    telegram: TelegramSettings = TelegramSettings()
    web: WebSettings = WebSettings()
    access: AccessSettings = AccessSettings()

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("risk_preset"):
            risk = dict(RISK_PRESETS[data["risk_preset"]])
            given = data.get("risk") or {}
            risk.update(given if isinstance(given, dict) else given.model_dump())
            data = {**data, "risk": risk}
        return data

    @property
    def journal_path(self) -> Path:
        return self.db_path or self.data_dir / "journal.db"

    @property
    def logs_path(self) -> Path:
        return self.log_dir or self.data_dir / "logs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )


def config_file() -> Path:
    """The TOML file settings are read from (it need not exist)."""
    return Path(
        os.environ.get("COMPANION_CONFIG")
        or Path(platformdirs.user_config_dir(APP_NAME)) / "companion.toml"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return Settings()
