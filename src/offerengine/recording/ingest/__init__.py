"""External events from brokers: a NATS JetStream subject and a Redis stream, read by
`offerengine consume` and stored as `POST /v1/events` stores them.

A message holds what `POST /v1/events` takes (one event, or ``{"events": [...]}``) for one tenant:
a NATS message's subject ends with the tenant's code or id (``offerengine.events.OE``); a Redis
entry has the fields ``tenant`` and ``event``. Each batch of messages taken from a broker is
settled so:

1. Each message is read: its tenant's snapshot found, its text checked as a request body is
   (:func:`text.check_json`), its events validated by the same schemas and rules
   (:func:`events.service.parse`). An event without ``event_id`` gets one from the broker's own
   id for the message (``nats:<stream>:<stream sequence>``, or ``nats:<stream>:msg:<Nats-Msg-Id>``
   when the publisher set that header; ``redis:<stream>:<entry id>``; ``:<i>`` appended for the
   i-th event of a batch), so that a message delivered again carries the same ids.
2. The messages of one tenant are stored together through :func:`events.service.ingest`, in one
   transaction: an event whose id is stored already is skipped, and only the new ones count
   (learning, profiles' aggregates, caps). Should the events be refused (a decision that was not
   made, a time in the future), each message is stored on its own to find the ones at fault.
3. A message that cannot be stored whatever the retries (not JSON, invalid, an unknown or
   suspended tenant) is kept in ``dead_letters`` (kind ``event``, its broker id, the error, and
   ``{"tenant": …, "event": …}`` as ASCII JSON) and acknowledged; so is one that failed
   ``events_max_deliveries`` times for an unexpected reason.
4. Only then are messages acknowledged: stored or dead-lettered. A database outage leaves them
   unacknowledged (NATS: a nak with a delay; Redis: pending), so they come again.

Delivery is at least once, storage exactly once: a consumer that dies between the commit and the
acknowledgement has its messages delivered again (JetStream after its ack wait, Redis when another
consumer claims the idle entries), and their event ids are found stored.

The parts, behind this facade: :mod:`._ingestor` (the broker-neutral settling, steps 1 to 3),
:mod:`._nats` and :mod:`._redis` (each broker's consumer, step 4), :mod:`._run` (the entry point
``offerengine consume`` calls).
"""

from offerengine.recording.ingest._ingestor import (
    KIND,
    RETRY_SECONDS,
    EventIngestor,
    Message,
    Outcome,
)
from offerengine.recording.ingest._nats import NatsConsumer
from offerengine.recording.ingest._redis import RedisStreamConsumer
from offerengine.recording.ingest._run import events_stream, open_ingestor, run

__all__ = [
    "KIND",
    "RETRY_SECONDS",
    "EventIngestor",
    "Message",
    "NatsConsumer",
    "Outcome",
    "RedisStreamConsumer",
    "events_stream",
    "open_ingestor",
    "run",
]
