"""Channel webhook payloads -> canonical events, one pure module per platform.

Every parser has the same shape, ``parse(body, *, bot_id, received_at) -> list[Event]``:
* what the platform documents becomes events (several per request where it batches);
* unknown or irrelevant update types give ``[]``: platforms add types every release;
* a body that is structurally wrong for the platform raises :class:`PayloadError` naming the
  field, what was expected and what came; values the canonical schema refuses (e.g. a text over
  64 KiB) raise :class:`schemas.events.InvalidEvent`. Nothing else escapes a parser.

The parsers' shared helpers and errors are in common.py.
"""

from __future__ import annotations

from collections.abc import Callable

from schemas.channels import livechat, messenger, slack, telegram, web
from schemas.channels.common import HandshakeRejected, PayloadError
from schemas.events import Event, InvalidEvent

Parser = Callable[..., list[Event]]
PARSERS: dict[str, Parser] = {
    "telegram": telegram.parse,
    "messenger": messenger.parse,
    "livechat": livechat.parse,
    "slack": slack.parse,
    "web": web.parse,
}

__all__ = ["PARSERS", "HandshakeRejected", "PayloadError", "InvalidEvent"]
