"""Everything an app instance holds while it runs, built by the lifespan and closed with it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from offerengine.auth import users
from offerengine.auth.service import KeyCache
from offerengine.auth.sessions import Passwords, SessionCodec
from offerengine.auth.throttle import LoginGuard, MemoryFailures
from offerengine.auth.throttle_redis import RedisFailures
from offerengine.commerce.cache import QuoteCache
from offerengine.db.engine import create_engine, create_writer_engine
from offerengine.decisioning.learning import StatsCache
from offerengine.decisioning.recount import CapRecount
from offerengine.forwarded import TrustedProxies
from offerengine.learning.store import ModelCache
from offerengine.learning.trainer import Trainer
from offerengine.observability.metrics import Metrics
from offerengine.orders.sweeper import OrderSweeper
from offerengine.profiles.service import ProfileCache
from offerengine.recording import Recording
from offerengine.recording.consumer import Consumer
from offerengine.recording.store import RecordStore
from offerengine.recording.stream import StreamRecorder
from offerengine.recording.writer import Recorder
from offerengine.redis_line import RedisLine
from offerengine.settings import Settings
from offerengine.shopping.service import ShopRuntime
from offerengine.snapshots.compiler import Compiler
from offerengine.snapshots.feed import ChangeFeed, channel_name
from offerengine.snapshots.store import SnapshotStore
from offerengine.webhooks.delivery import Deliverer, Retention, Retries, lease_seconds
from offerengine.webhooks.sending import Sender


class AdminSessions:
    """The admin UI's session codec (its key read or made on first use), login throttle,
    password checks off the event loop, and the proxies whose forwarded headers it believes."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        redis: Redis | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        self._max_age = int(settings.session_hours * 3600)
        self._codec: SessionCodec | None = None
        # Counted in Redis when there is one, so that every worker sees the same counts.
        failures = RedisFailures(redis, settings.redis_prefix) if redis else MemoryFailures()
        self.guard = LoginGuard(failures)
        self.passwords = Passwords()
        self.proxies = TrustedProxies.parse(settings.trusted_proxies)
        self.secure_cookies = settings.secure_cookies  # Secure even over plain HTTP

    async def codec(self) -> SessionCodec:
        if self._codec is None:
            secret = self._secret
            if secret is None:
                async with self._session_factory() as session:
                    secret = await users.session_secret(session)
            self._codec = SessionCodec(secret, self._max_age)
        return self._codec


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis | None
    line: RedisLine | None  # the hot path's commands (cap counters), pipelined
    snapshots: SnapshotStore
    keys: KeyCache
    feed: ChangeFeed
    metrics: Metrics
    shop: ShopRuntime
    sweeper: OrderSweeper
    webhooks: Deliverer  # sends the outbox's webhook deliveries
    learned: StatsCache
    models: ModelCache
    profiles: ProfileCache
    trainer: Trainer
    quotes: QuoteCache
    admin: AdminSessions
    recorder: Recording  # what run time answered: written behind, or onto Redis streams
    consumer: Consumer | None = None  # the embedded consumer of the record streams
    consumer_task: asyncio.Task[None] | None = None
    consumer_stop: asyncio.Event | None = None
    recount: CapRecount | None = None  # with Redis: rebuilds cap counts Redis lost

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def close(self) -> None:
        """Stop the background work, then close what it used, the engine last. Every step runs
        even when one before it failed (the first failure is raised at the end): the engine's
        connections are always closed here, on the loop that opened them, rather than left to
        the garbage collector, which would close them later on whatever loop then runs."""
        steps: list[Callable[[], Awaitable[object]]] = [
            self.sweeper.stop,
            self.trainer.stop,
            self.recorder.stop,
            self._stop_consumer,
            lambda: self.webhooks.stop(grace_seconds=self.settings.webhook_timeout_seconds + 5),
            self.feed.stop,
            self.snapshots.close,
        ]
        if self.recount is not None:
            steps.append(self.recount.close)
        if self.redis is not None:
            steps.append(self.redis.aclose)
        if self.line is not None:
            steps.append(self.line.close)
        steps.append(self.engine.dispose)
        failure: BaseException | None = None
        for step in steps:
            try:
                await step()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    async def _stop_consumer(self) -> None:
        if self.consumer is None or self.consumer_task is None:
            return
        # Told to stop, not cancelled: redis-py can swallow a cancellation that arrives during
        # a blocking read (XREADGROUP … BLOCK) and never return; the read ends within a second.
        assert self.consumer_stop is not None
        self.consumer_stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.consumer_task), timeout=10)
        except TimeoutError:
            self.consumer_task.cancel()
            await asyncio.wait({self.consumer_task}, timeout=5)  # bounded, for the same reason
        self.consumer.close()


async def open_context(settings: Settings, metrics: Metrics) -> AppContext:
    """Open everything a worker holds while it runs, and start its background tasks."""
    engine = create_engine(
        settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
    )
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    redis = (
        Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        if settings.redis_url
        else None
    )
    is_sqlite = engine.dialect.name == "sqlite"
    store = SnapshotStore(
        Compiler(
            session_factory,
            thread=settings.snapshot_build_thread,
            full_every=settings.snapshot_full_build_seconds,
        )
    )
    platform = settings.platform_key.get_secret_value() if settings.platform_key else None
    keys = KeyCache(session_factory, platform)
    feed = ChangeFeed(
        store=store,
        session_factory=session_factory,
        redis=redis,
        channel=channel_name(settings.redis_prefix),
        poll_seconds=(
            settings.snapshot_backstop_seconds
            if redis is not None
            else settings.snapshot_poll_seconds
        ),
        on_auth=keys.observe_auth,
    )
    line = RedisLine(settings.redis_url) if settings.redis_url else None
    recorder, consumer = _recording(settings, metrics, session_factory, redis, line, is_sqlite)
    models = ModelCache(session_factory, settings.learning_refresh_seconds)
    profiles = ProfileCache(session_factory)
    shop = ShopRuntime(
        session_factory,
        recorder,
        stock_seconds=settings.availability_cache_seconds,
        result_seconds=settings.shop_result_seconds,
        conversion_seconds=settings.conversion_refresh_seconds,
        models=models,
        profiles=profiles,
    )
    context = AppContext(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        redis=redis,
        line=line,
        snapshots=store,
        keys=keys,
        feed=feed,
        metrics=metrics,
        shop=shop,
        sweeper=OrderSweeper(
            session_factory,
            seconds=settings.order_sweep_seconds,
            is_sqlite=is_sqlite,
            on_release=shop.forget_all,
            decision_retention=timedelta(days=settings.decision_retention_days),
        ),
        webhooks=_deliverer(settings, session_factory, is_sqlite),
        learned=StatsCache(session_factory, settings.conversion_refresh_seconds),
        models=models,
        profiles=profiles,
        trainer=Trainer(
            session_factory, store, seconds=settings.learning_train_seconds, is_sqlite=is_sqlite
        ),
        quotes=QuoteCache(),
        admin=AdminSessions(session_factory, settings, redis),
        recorder=recorder,
        consumer=consumer,
    )
    if line is not None:
        context.recount = CapRecount(
            line=line,
            prefix=settings.redis_prefix,
            session_factory=session_factory,
            snapshots=store,
            recorder=recorder,
        )
    await _start(context)
    return context


def _deliverer(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], is_sqlite: bool
) -> Deliverer:
    """The worker's webhook deliverer (started by :func:`_start` unless turned off)."""
    timeout = settings.webhook_timeout_seconds
    return Deliverer(
        session_factory,
        is_sqlite=is_sqlite,
        sender=Sender(
            timeout=timeout,
            allow_private=settings.webhook_allow_private_networks,
            ca_bundle=settings.webhook_ca_bundle,
        ),
        retries=Retries(settings.webhook_retry_seconds, settings.webhook_retry_max_seconds),
        poll_seconds=settings.webhook_poll_seconds,
        lease_seconds=lease_seconds(timeout),
        retention=Retention(
            delivered_seconds=settings.webhook_keep_delivered_days * 86_400,
            failed_seconds=settings.webhook_keep_failed_days * 86_400,
        ),
    )


def _recording(
    settings: Settings,
    metrics: Metrics,
    session_factory: async_sessionmaker[AsyncSession],
    redis: Redis | None,
    line: RedisLine | None,
    is_sqlite: bool,
) -> tuple[Recording, Consumer | None]:
    """The recorder of what run time answers (onto Redis streams, or written behind into the
    database), and the embedded consumer of the streams if this worker runs one."""
    if not settings.streams_records:
        recorder = Recorder(
            session_factory,
            is_sqlite=is_sqlite,
            engine=create_writer_engine(settings.database_url),
            metrics=metrics,
        )
        return recorder, None
    if line is None or redis is None:
        raise ValueError("OFFERENGINE_RECORDS=stream needs OFFERENGINE_REDIS_URL")
    streams = StreamRecorder(
        line,
        prefix=settings.redis_prefix,
        shards=settings.records_shards,
        young_seconds=settings.young_records_seconds,
        metrics=metrics,
    )
    if not settings.embedded_consumer:
        return streams, None
    consumer = Consumer(
        redis,
        RecordStore(
            session_factory,
            engine=create_writer_engine(settings.database_url),
            is_sqlite=is_sqlite,
            source="stream",
        ),
        prefix=settings.redis_prefix,
        shards=settings.records_shards,
        batch=settings.consumer_batch,
        claim_seconds=settings.consumer_claim_seconds,
        metrics=metrics,
    )
    return streams, consumer


async def _start(context: AppContext) -> None:
    """Start the worker's background tasks: the change feed, the order sweeper, the trainer,
    the recorder, the embedded consumer and the webhook deliverer."""
    await context.feed.start()
    context.sweeper.start()
    context.trainer.start()
    context.recorder.start()
    if context.recount is not None:  # an empty Redis is rebuilt before decisions need it
        context.recount.ensure()
    if context.settings.webhook_deliverer:
        context.webhooks.start()
    if context.consumer is not None:
        context.consumer_stop = asyncio.Event()
        context.consumer_task = asyncio.create_task(
            context.consumer.run(context.consumer_stop), name="records-consumer"
        )
