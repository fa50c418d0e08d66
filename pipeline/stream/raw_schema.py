"""Keys and values of our topics exactly as Kafka carries them (our codecs decode them, in the agents).

Faust passes every key and value through its codec registry, even for the "raw" codec that returns what it
is given: 1.7 % of a worker's time holding the GIL (py-spy --gil). This schema skips the registry.
"""

from __future__ import annotations

from typing import Any

import faust


class RawBytes(faust.Schema):
    def __init__(self) -> None:
        super().__init__(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    def loads_key(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> bytes | None:
        return message.key

    def loads_value(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> bytes | None:
        return message.value

    def dumps_key(self, app: Any, key: Any, *, serializer: Any = None, headers: Any) -> tuple[Any, Any]:
        return key, headers

    def dumps_value(self, app: Any, value: Any, *, serializer: Any = None, headers: Any) -> tuple[Any, Any]:
        return value, headers
