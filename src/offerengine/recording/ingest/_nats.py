"""The NATS JetStream broker: a durable pull consumer of the events' stream, its messages' ids
made from the stream sequence (or the publisher's ``Nats-Msg-Id``), the tenant read from the
subject's last token; acknowledged (ack), terminated (dead-lettered) or nak'd with a delay."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

from offerengine.observability.logging import get_logger
from offerengine.recording.ingest._ingestor import RETRY_SECONDS, EventIngestor, Message, Outcome

log = get_logger("offerengine.ingest")


class NatsConsumer:
    """A durable pull consumer of the events' JetStream stream (created when missing)."""

    def __init__(
        self,
        ingestor: EventIngestor,
        *,
        url: str,
        stream: str,
        subject: str,
        durable: str,
        batch: int = 100,
        ack_wait: float = 30.0,
    ) -> None:
        self._ingestor = ingestor
        self._url = url
        self._stream = stream
        self._subject = subject
        self._durable = durable
        self._batch = batch
        self._ack_wait = ack_wait

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (or cancelled); connect again after NATS was away."""
        stop = stop or asyncio.Event()
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._consume(stop)
                return
            except (OSError, nats.errors.Error) as exc:
                log.warning("nats_unavailable", url=self._url, error=repr(exc), retry_in=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        client = await nats.connect(
            self._url, name="offerengine-consume", connect_timeout=2, max_reconnect_attempts=-1
        )
        try:
            js = client.jetstream()
            try:
                await js.stream_info(self._stream)
            except nats.js.errors.NotFoundError:
                await js.add_stream(name=self._stream, subjects=[self._subject])
            subscription = await js.pull_subscribe(
                self._subject,
                durable=self._durable,
                stream=self._stream,
                config=ConsumerConfig(ack_wait=self._ack_wait, max_ack_pending=10 * self._batch),
            )
            while not stop.is_set():
                try:
                    taken = await subscription.fetch(self._batch, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):  # nothing came
                    continue
                outcomes = await self._ingestor.settle([self._message(m) for m in taken])
                for message, outcome in zip(taken, outcomes, strict=True):
                    await self.acknowledge(message, outcome)
        finally:
            with contextlib.suppress(Exception):
                await client.flush(timeout=2)
            await client.close()

    async def acknowledge(self, message: Msg, outcome: Outcome) -> None:
        """Tell JetStream what became of the message."""
        if outcome is Outcome.STORED:
            await message.ack()
        elif outcome is Outcome.DEAD:
            await message.term()
        else:
            await message.nak(delay=RETRY_SECONDS)

    def _message(self, message: Msg) -> Message:
        sequence = message.metadata.sequence.stream
        broker_id = f"nats:{self._stream}:{sequence}"
        msg_id = (message.headers or {}).get("Nats-Msg-Id")
        return Message(
            broker_id=broker_id,
            ids=f"nats:{self._stream}:msg:{msg_id}" if msg_id else broker_id,
            source=f"nats:{message.subject}",
            tenant=message.subject.rsplit(".", 1)[-1],
            body=message.data,
            deliveries=message.metadata.num_delivered or 1,
        )
