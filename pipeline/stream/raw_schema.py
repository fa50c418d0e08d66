"""Keys and values of our topics exactly as Kafka carries them (our codecs decode them, in the agents).

Faust passes every key and value through its codec registry, even for the "raw" codec that returns what it
is given: 1.7 % of a worker's time holding the GIL (py-spy --gil). This schema skips the registry, and its
decode makes the event at once (Faust's calls the loaders and looks the event class up in its settings for
every message: 1.9 % of the GIL).
"""

from __future__ import annotations

from typing import Any

import faust


class RawBytes(faust.Schema):
    def __init__(self) -> None:
        super().__init__(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    def compile(self, app: Any, **options: Any) -> Any:
        """The decode Faust's consumer calls per message: nothing to decode, so no decode error to handle."""
        event_type = app.conf.Event

        async def decode(message: Any, *, propagate: bool = False) -> Any:
            return event_type(app, message.key, message.value, message.headers, message)
        return decode

    def loads_key(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> bytes | None:
        return message.key

    def loads_value(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> bytes | None:
        return message.value

    def dumps_key(self, app: Any, key: Any, *, serializer: Any = None, headers: Any) -> tuple[Any, Any]:
        return key, headers

    def dumps_value(self, app: Any, value: Any, *, serializer: Any = None, headers: Any) -> tuple[Any, Any]:
        return value, headers
