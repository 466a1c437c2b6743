"""Typed settings, read from the environment with the prefix ``OFFERENGINE_``.

Settings are split by concern into mixins so that each group is documented next to its fields, while
the environment names stay flat (``OFFERENGINE_DATABASE_URL``, ``OFFERENGINE_REDIS_URL`` …). Nothing
reads the environment at import time: ``Settings()`` is built by the CLI or by ``create_app``'s caller,
and tests pass their own instance.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CONFIG = SettingsConfigDict(env_prefix="OFFERENGINE_", extra="ignore", env_file=None)


class DatabaseSettings(BaseSettings):
    model_config = _CONFIG

    database_url: str = Field(
        default="sqlite:///./var/offerengine.db",
        description=(
            "SQLAlchemy URL of the database. `sqlite:///path` (the zero-setup default, a file under ./var/) "
            "or `postgresql://user@host:port/db` for production. The async driver is chosen for you."
        ),
    )
    database_pool_size: int = Field(default=10, ge=1, le=200, description="Connections per worker.")
    database_echo: bool = Field(
        default=False, description="Log every SQL statement (debugging only)."
    )


class RedisSettings(BaseSettings):
    model_config = _CONFIG

    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis URL (`redis://127.0.0.1:6379/0`). Optional: when set, workers learn of configuration "
            "changes through Redis pub/sub, and counters live in Redis."
        ),
    )
    redis_prefix: str = Field(
        default="offerengine",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of every Redis key and channel, so several deployments can share a server.",
    )


class RecordSettings(BaseSettings):
    """Where run-time records (searches, decisions, quotes, exposures) go; see docs/operations.md,
    "Records"."""

    model_config = _CONFIG

    records: Literal["auto", "database", "stream"] = Field(
        default="auto",
        description="`database`: an in-process write-behind writes them every 50 ms (a `kill -9` "
        "loses at most that). `stream`: each is appended to a Redis stream before the answer is "
        "sent, and consumers (`offerengine consume`, or the embedded one) store them. `auto`: "
        "`stream` when `redis_url` is set, else `database`.",
    )
    embedded_consumer: bool = Field(
        default=True,
        description="With `stream` records, each `offerengine serve` worker also runs a consumer "
        "(one-box deployments). Turn it off where `offerengine consume` processes run elsewhere.",
    )
    records_shards: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Redis streams the records are spread over (by record key); every consumer "
        "reads them all as one consumer group.",
    )
    young_records_seconds: int = Field(
        default=900,
        ge=60,
        le=86_400,
        description="How long a short-lived copy of each search, decision and quote stays in "
        "Redis, so that any worker finds it before a consumer has stored it.",
    )
    consumer_batch: int = Field(
        default=2000, ge=1, le=20_000, description="Records a consumer takes per read."
    )
    consumer_claim_seconds: float = Field(
        default=30.0,
        ge=0.5,
        le=3600,
        description="A record delivered to a consumer that has not acknowledged it for this "
        "long (it died) is claimed by another.",
    )

    @property
    def streams_records(self) -> bool:
        """Whether records go onto Redis streams (``stream``, or ``auto`` with Redis)."""
        if self.records == "auto":
            return getattr(self, "redis_url", None) is not None
        return self.records == "stream"


class AuthSettings(BaseSettings):
    model_config = _CONFIG

    platform_key: SecretStr | None = Field(
        default=None,
        description=(
            "A platform key given by the environment. It creates tenants and acts as owner on any tenant; "
            "every use is audited. Platform keys can also be created with `offerengine create-key --platform`."
        ),
    )


class AdminUiSettings(BaseSettings):
    model_config = _CONFIG

    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Signs the admin UI's session cookies. Unset: a random key made on first start and kept in "
            "the database, shared by every worker. Changing it ends every session."
        ),
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="How long an admin UI login lasts."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark the admin UI's cookies Secure (set it when the UI is served over HTTPS).",
    )


class HttpSettings(BaseSettings):
    model_config = _CONFIG

    host: str = Field(default="127.0.0.1", description="Address `offerengine serve` binds to.")
    port: int = Field(
        default=8000, ge=1, le=65535, description="Port `offerengine serve` binds to."
    )
    workers: int = Field(
        default=1, ge=1, le=64, description="Worker processes of `offerengine serve`."
    )
    max_body_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; larger ones get 413.",
    )
    import_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest file a bulk import (`/imports/`, `/import-jobs/`) accepts; larger "
        "ones get 413.",
    )
    bench_endpoints: bool = Field(
        default=False,
        description="Serve /bench/empty (GET and POST, no work, no key) for benchmarks to compare with.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a key (for a scraper on a private network); else platform key.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed, "
        "comma-separated addresses or networks (`10.0.0.0/8, ::1`): the client address that "
        "admin logins are throttled by, and HTTPS for Secure cookies and HSTS. Empty: nobody's.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError as exc:
                raise ValueError(f"{part!r} is not an address or network") from exc
        return value


class OverloadSettings(BaseSettings):
    """How run time protects itself and its callers under load (docs/operations.md, "Overload")."""

    model_config = _CONFIG

    max_in_flight: int = Field(
        default=32,
        ge=1,
        le=100_000,
        description="Run-time requests one worker serves at once; one more is answered 503 at "
        "once (with Retry-After) instead of queueing behind them.",
    )
    time_budget_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How long a run-time request may take before it writes anything; past it, "
        "it answers 503 and has changed nothing. Operations in `time_budgets` have their own.",
    )
    time_budgets: dict[str, Annotated[float, Field(gt=0, le=600)]] = Field(
        default_factory=lambda: {"quote": 2.0},
        description="Budgets of particular run-time operations, by operation id (JSON: "
        '`{"quote": 2, "searchOffers": 1}`; it replaces the default, a quote\'s 2 s, seed '
        "002's timeout).",
    )
    key_rate_limit_per_second: float | None = Field(
        default=None,
        gt=0,
        description="Default rate limit of every API key on run time (requests a second); a "
        "key's own `rate_limit` overrides it. Unset: keys have no limit of their own.",
    )
    key_rate_limit_burst: int | None = Field(
        default=None, ge=1, description="Burst of the default key limit (default: its rate)."
    )
    tenant_rate_limit_per_second: float | None = Field(
        default=None,
        gt=0,
        description="Default rate limit of each tenant on run time, all its keys together; a "
        "tenant's `settings.rate_limit` overrides it. Unset: no tenant-wide limit.",
    )
    tenant_rate_limit_burst: int | None = Field(
        default=None, ge=1, description="Burst of the default tenant limit (default: its rate)."
    )


class SnapshotSettings(BaseSettings):
    model_config = _CONFIG

    snapshot_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description=(
            "Without Redis, how often each worker polls the database for configuration changes: the bound on "
            "how stale another worker's snapshot can be (plus the rebuild time)."
        ),
    )
    snapshot_backstop_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="With Redis, how often each worker still polls the database, in case a notice was missed.",
    )
    snapshot_build_thread: bool = Field(
        default=True,
        description=(
            "Read and compile snapshots in a thread of the worker's own, with an event loop and database "
            "connections of its own, so that no request waits for a build (false: on the serving loop)."
        ),
    )
    snapshot_full_build_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description=(
            "A tenant whose snapshot is patched change by change is still built whole at least this often: "
            "the periodic check that patches never drift from a whole build."
        ),
    )


class ShoppingSettings(BaseSettings):
    model_config = _CONFIG

    availability_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "How long a worker reuses inventory counters it read for shop results (0: read every "
            "time). Orders never use them: a hold is an atomic update of the live counters."
        ),
    )
    shop_result_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description=(
            "How long a worker may reuse the ranked offers of an identical search while the "
            "counters of its flights read the same at every availability refresh: the prices' "
            "time-based facts (hours until departure, rule schedules) are at most this old "
            "(0: rank every search afresh)."
        ),
    )
    conversion_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How often a worker reloads the feedback counts that rank offers: shown/"
        "ordered for shop results, impressions/clicks/accepts for model-ranked decisions.",
    )
    order_sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often a worker releases the holds of orders that expired.",
    )


class QuoteSettings(BaseSettings):
    model_config = _CONFIG

    quote_validity_seconds: int = Field(
        default=900,
        ge=60,
        le=86_400,
        description="How long a quote is valid (an identical request gets it back meanwhile); a "
        "tenant's settings.quotes.validity_seconds overrides it.",
    )


class LearningSettings(BaseSettings):
    model_config = _CONFIG

    learning_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often a worker reloads what the contextual bandits learnt.",
    )
    decision_retention_days: int = Field(
        default=90,
        ge=31,
        le=3650,
        description="How long decisions and the bandits' logs are kept (longer than any reward "
        "window); the order sweeper deletes older ones a share at a time. Feedback about a "
        "deleted decision is refused as about an unknown one.",
    )
    learning_train_seconds: float = Field(
        default=10.0,
        ge=0,
        le=86_400,
        description="How often each worker runs a training round for the tenants it serves "
        "(0: only `offerengine train` and the train endpoint). Rounds of several workers never "
        "learn a decision twice.",
    )
    uplift_retrain_seconds: float = Field(
        default=0,
        ge=0,
        le=30 * 86_400,
        description="How often the server retrains the uplift models of running campaigns from "
        "their own outcomes (as `offerengine retrain-uplift` does; one worker at a time on "
        "PostgreSQL); 0: never, only the command and the campaign's retrain endpoint.",
    )


class RevenueSettings(BaseSettings):
    model_config = _CONFIG

    forecast_interval_seconds: float = Field(
        default=0,
        ge=0,
        le=7 * 86_400,
        description="How often the server forecasts every airline tenant's flights yet to leave "
        "(as `offerengine forecast` does; one worker at a time on PostgreSQL); 0: never, only "
        "the command and the flight's forecast endpoint.",
    )


class EventIngestSettings(BaseSettings):
    """External events for `offerengine consume`, in the `POST /v1/events` shape (see
    docs/operations.md, "Events from a broker")."""

    model_config = _CONFIG

    nats_url: str | None = Field(
        default=None,
        description="NATS server URL (`nats://127.0.0.1:4222`, JetStream enabled). Unset: no events "
        "are read from NATS.",
    )
    nats_stream: str = Field(
        default="OFFERENGINE_EVENTS",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The JetStream stream holding the events; created (on `nats_subject`) when "
        "missing.",
    )
    nats_subject: str = Field(
        default="offerengine.events.>",
        pattern=r"^[A-Za-z0-9_.*>-]{1,200}$",
        description="The subjects consumed; an event's tenant (code or id) is its subject's last "
        "token: `offerengine.events.OE`.",
    )
    nats_durable: str = Field(
        default="offerengine-events",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The durable pull consumer every `offerengine consume` process shares.",
    )
    events_stream: str | None = Field(
        default=None,
        description="The Redis stream of external events (entries with fields `tenant` and "
        "`event`); default `<redis_prefix>:events:in`. Read when `redis_url` is set.",
    )
    events_group: str = Field(
        default="offerengine-events",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="The Redis consumer group every `offerengine consume` process joins.",
    )
    events_batch: int = Field(
        default=100, ge=1, le=1000, description="Broker messages taken per fetch."
    )
    events_redeliver_seconds: float = Field(
        default=30.0,
        ge=0.1,
        le=3600,
        description="A message taken but not acknowledged for this long (its consumer died) is "
        "delivered again: JetStream's ack wait, and how idle a Redis entry is before it is "
        "claimed.",
    )
    events_max_deliveries: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="A message that failed this many times for a reason other than the database "
        "being away goes to the dead letters.",
    )


class WebhookSettings(BaseSettings):
    """Outgoing webhooks (low-inventory notices); see docs/operations.md, "Webhooks"."""

    model_config = _CONFIG

    webhook_allow_private_networks: bool = Field(
        default=False,
        description="Let webhooks go to loopback, private, link-local and other non-public "
        "addresses. Off, such destinations are refused when saved and when delivered (after "
        "DNS resolution): a tenant's URL is no way into the deployment's own network.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long one delivery attempt may take."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Attempts at a delivery before it is failed."
    )
    webhook_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        le=86_400,
        description="The wait after a delivery's first failed attempt; doubled after each "
        "further one, up to `webhook_retry_max_seconds`.",
    )
    webhook_retry_max_seconds: float = Field(
        default=3600.0, gt=0, le=86_400, description="The longest wait between two attempts."
    )
    webhook_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="How often each worker's deliverer looks for due deliveries (a worker "
        "that writes one starts at once).",
    )
    webhook_deliverer: bool = Field(
        default=True,
        description="Run a deliverer in each `offerengine serve` worker. Off, this worker only "
        "writes deliveries to the outbox, for other workers to send.",
    )
    webhook_keep_delivered_days: float = Field(
        default=14.0,
        gt=0,
        le=3650,
        description="How long a delivered webhook delivery and its attempts stay in the outbox "
        "(for the deliveries page and re-sends); deliverers then delete them.",
    )
    webhook_keep_failed_days: float = Field(
        default=30.0,
        gt=0,
        le=3650,
        description="How long a failed webhook delivery and its attempts stay in the outbox: "
        "longer than delivered ones, so that someone can look into them and send them again.",
    )
    webhook_ca_bundle: FilePath | None = Field(
        default=None,
        description="A PEM file of the certificate authorities that https webhook receivers' "
        "certificates are checked against, instead of the default ones (certifi's). "
        "Certificates are always checked; this is for receivers with a private CA.",
    )


class LoggingSettings(BaseSettings):
    model_config = _CONFIG

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of log lines written."
    )
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="`json`: one JSON object per line; `console`: coloured, for humans.",
    )
    access_log: bool = Field(default=True, description="Write one log line per HTTP request.")
    log_identifiers: Literal["hash", "redact"] = Field(
        default="hash",
        description="How a log line shows a customer's identifier (a profile id, an email): "
        "`hash`, a keyed hash (`h:` and 16 hex digits of HMAC-SHA256 under `log_key`), so that "
        "lines about one customer can be matched; `redact`, `[redacted]`. See "
        'docs/operations.md, "Logs and personal data".',
    )
    log_key: SecretStr | None = Field(
        default=None,
        description="Key of the identifiers' hashes in logs. Unset: derived from `secret_key`; "
        "without that either, random per worker process (hashes then match within one "
        "worker's lines only).",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Settings(
    DatabaseSettings,
    RedisSettings,
    RecordSettings,
    AuthSettings,
    AdminUiSettings,
    HttpSettings,
    OverloadSettings,
    SnapshotSettings,
    ShoppingSettings,
    QuoteSettings,
    LearningSettings,
    RevenueSettings,
    EventIngestSettings,
    WebhookSettings,
    LoggingSettings,
):
    """All settings of a deployment."""

    model_config = _CONFIG

    var_dir: Path = Field(
        default=Path("./var"),
        description="Where local state lives: the SQLite file, demo credentials.",
    )
