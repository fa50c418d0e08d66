"""Size limits that agree: every record chatlens writes to Kafka fits the broker's message limit.

Kafka refuses a record larger than the broker's `message.max.bytes` (1,048,588 by default, set
explicitly on the local broker) or the producer's `max_request_size` (1,048,576). A record that
does not fit can never be written, so each limit below is chosen so that what it bounds fits:

* an event (its canonical JSON) is at most MAX_EVENT_BYTES, which a text of MAX_TEXT_CHARS
  characters of any script fits into; it reaches the rows topic as one message row, so a rows
  record holds at least two;
* a user's state (the changelog record of the stream's table, and the users row) is at most
  MAX_STATE_BYTES: an admin or profile event that would grow it further is dead-lettered;
* a dead letter keeps at most MAX_RECORD_BYTES in all, truncating the body it keeps (and saying so).
"""

from __future__ import annotations

from datetime import timedelta

BROKER_MESSAGE_MAX_BYTES = 1_048_588  # Kafka's default `message.max.bytes`, written into the local broker's config
PRODUCER_MAX_REQUEST_BYTES = 1_048_576  # aiokafka's default `max_request_size`, passed explicitly
MAX_RECORD_BYTES = 1_000_000  # what chatlens puts in one record's value; the rest is left for key and framing

MAX_TEXT_CHARS = 65_536  # a message text, a button title or payload
MAX_EVENT_BYTES = 393_216  # 384 KiB: a canonical event as JSON
MAX_STATE_BYTES = 600_000  # one user's folded state as JSON
MAX_WEBHOOK_BYTES = 1_048_576  # 1 MiB: one webhook request body
MAX_EVENTS_BODY_BYTES = 5 * 1_048_576  # 5 MiB: one request to the events API
MAX_EVENTS_PER_REQUEST = 1000
MAX_ATTACHMENTS = 100  # per message
MAX_JSON_DEPTH = 64  # nesting of untrusted JSON (webhooks, events, cursors): far above any platform's payloads
MAX_CLOCK_AHEAD = timedelta(hours=24)  # how far after its receipt an event may say it happened
