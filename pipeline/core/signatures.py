"""Webhook authentication, one pure check per channel, exactly as each platform documents it.

Every ``verify_*`` takes the request headers (any mapping; names are matched case-insensitively),
the raw body bytes as received (never re-serialized: Meta signs its escaped-unicode bytes), the
bot's channel secrets, and ``now`` where the scheme has a replay window. It returns None or
raises :class:`Unauthenticated` (answer 401) or :class:`ChannelNotConfigured` (the bot has no
secret for that channel: a configuration problem, not the caller's fault). Every comparison is
constant-time. The ``sign_*`` helpers build what the platform would send, for tests and the
demo traffic generator.

Secrets per channel (the keys of ``pipeline.core.bots.Bot.channel_secrets``, which gives None for an
unconfigured channel): telegram ``secret_token``; messenger ``app_secret``; livechat
``secret_key``; slack ``signing_secret``; web ``signing_key`` (``whsec_<base64 key>``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets as _random
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

REPLAY_WINDOW_SECONDS = 5 * 60  # Slack's and Standard Webhooks' documented tolerance
SECRET_KEYS = {"telegram": "secret_token", "messenger": "app_secret", "livechat": "secret_key",
               "slack": "signing_secret", "web": "signing_key"}


class Unauthenticated(Exception):
    """The request is not from the platform (or is a replay): answer 401 with ``reason``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class ChannelNotConfigured(Exception):
    """The bot has no (usable) secret for this channel, so nothing can be authenticated."""

    def __init__(self, channel: str, detail: str | None = None):
        self.channel = channel
        super().__init__(detail or f"no {SECRET_KEYS.get(channel, 'secret')} configured for channel {channel!r}")


def _secret(secrets: Mapping[str, Any] | None, channel: str) -> str:
    value = secrets.get(SECRET_KEYS[channel]) if secrets else None
    if not isinstance(value, str) or not value:
        raise ChannelNotConfigured(channel)
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name.lower())
    if value is None:  # a plain dict with the platform's own capitalisation
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == name.lower()), None)
    return value if isinstance(value, str) else None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _equal(a: str | bytes, b: str | bytes) -> bool:
    return hmac.compare_digest(_bytes(a) if isinstance(a, str) else a, _bytes(b) if isinstance(b, str) else b)


def _hmac_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- Telegram: the secret_token given to setWebhook comes back verbatim in a header.
def verify_telegram(headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Any] | None) -> None:
    expected = _secret(secrets, "telegram")
    given = _header(headers, "X-Telegram-Bot-Api-Secret-Token")
    if not given:
        raise Unauthenticated("missing X-Telegram-Bot-Api-Secret-Token header")
    if not _equal(given, expected):
        raise Unauthenticated("X-Telegram-Bot-Api-Secret-Token does not match")


def sign_telegram(body: bytes, secrets: Mapping[str, Any] | None) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": _secret(secrets, "telegram")}


# --- Messenger: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(app_secret, raw body).
def verify_messenger(headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Any] | None) -> None:
    key = _secret(secrets, "messenger")
    given = _header(headers, "X-Hub-Signature-256")
    if not given:
        raise Unauthenticated("missing X-Hub-Signature-256 header (sha1 X-Hub-Signature alone is not accepted)")
    if not given.startswith("sha256="):
        raise Unauthenticated("X-Hub-Signature-256 must look like sha256=<hex>")
    if not _equal(given[len("sha256="):].lower(), _hmac_hex(key.encode(), body)):
        raise Unauthenticated("X-Hub-Signature-256 does not match the body")


def sign_messenger(body: bytes, secrets: Mapping[str, Any] | None) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + _hmac_hex(_secret(secrets, "messenger").encode(), body)}


# --- LiveChat: no signature; the registration's secret_key travels inside every JSON body.
# Where the platforms put a secret in a request (not signatures: those are keyed hashes, not keys).
SECRET_HEADERS = frozenset({"x-telegram-bot-api-secret-token"})
SECRET_BODY_FIELDS = ("secret_key",)  # LiveChat's, in its JSON body
REDACTED = "[redacted]"
_SECRET_FIELD = re.compile(rb'("(?:' + b"|".join(f.encode() for f in SECRET_BODY_FIELDS) + rb')"\s*:\s*")((?:[^"\\]|\\.)*)"')


def redact_body(body: bytes) -> bytes:
    """The body with the value of every known secret field replaced, JSON or not (a malformed body too)."""
    return _SECRET_FIELD.sub(lambda m: m.group(1) + REDACTED.encode() + b'"', body)


def _number(_digits: str) -> int:
    return 0  # the value is never needed to find secret_key


def verify_livechat(headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Any] | None) -> None:
    expected = _secret(secrets, "livechat")
    try:
        # numbers are not converted: a body with an integer too long to convert is still authenticated, then
        # refused (400, dead-lettered) by the parser like any other malformed payload
        given = json.loads(body, parse_int=_number).get("secret_key")
    except (ValueError, UnicodeDecodeError, RecursionError, AttributeError):
        raise Unauthenticated("body is not a JSON object carrying secret_key") from None
    if not isinstance(given, str) or not given:
        raise Unauthenticated("body has no secret_key")
    if not _equal(given, expected):
        raise Unauthenticated("secret_key does not match")


def sign_livechat(payload: Mapping[str, Any], secrets: Mapping[str, Any] | None) -> dict[str, Any]:
    """The webhook body with ``secret_key`` set, as LiveChat sends it (it signs nothing else)."""
    return {**payload, "secret_key": _secret(secrets, "livechat")}


# --- Slack v0: hex HMAC-SHA256(signing_secret, "v0:<timestamp>:<raw body>"), 5-minute window.
def verify_slack(headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Any] | None, *, now: datetime) -> None:
    key = _secret(secrets, "slack")
    timestamp = _header(headers, "X-Slack-Request-Timestamp")
    given = _header(headers, "X-Slack-Signature")
    if not timestamp or not given:
        raise Unauthenticated("missing X-Slack-Request-Timestamp or X-Slack-Signature header")
    _check_fresh(timestamp, now, "X-Slack-Request-Timestamp")
    expected = "v0=" + _hmac_hex(key.encode(), b"v0:" + timestamp.encode() + b":" + body)
    if not _equal(given, expected):
        raise Unauthenticated("X-Slack-Signature does not match")


def sign_slack(body: bytes, secrets: Mapping[str, Any] | None, *, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    signature = _hmac_hex(_secret(secrets, "slack").encode(), b"v0:" + timestamp.encode() + b":" + body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + signature}


def _check_fresh(timestamp: str, now: datetime, header: str) -> None:
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise Unauthenticated(f"{header} is not Unix seconds")
    if abs(now.timestamp() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        raise Unauthenticated(f"{header} is more than 5 minutes from now (replay?)")


# --- Web widget, Standard Webhooks v1: base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>").
def _web_key(secrets: Mapping[str, Any] | None) -> bytes:
    secret = _secret(secrets, "web").removeprefix("whsec_")
    try:
        key = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ChannelNotConfigured("web", "signing_key must be whsec_<base64>") from None
    if not key:
        raise ChannelNotConfigured("web", "signing_key decodes to an empty key")
    return key


def _web_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, _bytes(msg_id) + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()


def verify_web(headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Any] | None, *, now: datetime) -> None:
    key = _web_key(secrets)
    msg_id, timestamp = _header(headers, "webhook-id"), _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise Unauthenticated("missing webhook-id, webhook-timestamp or webhook-signature header")
    if "." in msg_id:  # the spec forbids it: "a.1" + "2" would sign like "a" + "1" + "2.<body>"
        raise Unauthenticated("webhook-id must not contain '.'")
    _check_fresh(timestamp, now, "webhook-timestamp")
    expected = _web_signature(key, msg_id, timestamp, body)
    for candidate in signatures.split(" "):  # several during key rotation; v1a etc. are not ours
        version, _, encoded = candidate.partition(",")
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if version == "v1" and hmac.compare_digest(given, expected):
            return
    raise Unauthenticated("no webhook-signature matches")


def sign_web(body: bytes, secrets: Mapping[str, Any] | None, *, now: datetime, msg_id: str | None = None) -> dict[str, str]:
    msg_id = msg_id or "msg_" + _random.token_urlsafe(16)
    timestamp = str(int(now.timestamp()))
    signature = base64.b64encode(_web_signature(_web_key(secrets), msg_id, timestamp, body)).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": f"v1,{signature}"}


# --- One entry point for the web layer and one for the demo traffic generator.
def verify(channel: str, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Any] | None, *,
           now: datetime) -> None:
    if channel not in SECRET_KEYS:
        raise ChannelNotConfigured(channel, f"unknown channel {channel!r}")
    if channel in ("slack", "web"):
        (verify_slack if channel == "slack" else verify_web)(headers, body, secrets, now=now)
    else:
        {"telegram": verify_telegram, "messenger": verify_messenger, "livechat": verify_livechat}[channel](
            headers, body, secrets)


def signed_request(channel: str, payload: Mapping[str, Any], secrets: Mapping[str, Any] | None, *,
                   now: datetime) -> tuple[bytes, dict[str, str]]:
    """Body bytes and headers as the platform would POST them (Meta-style ``\\uXXXX`` JSON;
    Slack interactivity payloads form-encoded as ``payload=<json>``)."""
    if channel not in SECRET_KEYS:
        raise ChannelNotConfigured(channel, f"unknown channel {channel!r}")
    if channel == "livechat":
        payload = sign_livechat(payload, secrets)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if channel == "slack" and payload.get("type") not in ("event_callback", "url_verification", "app_rate_limited"):
        body = urlencode({"payload": body.decode()}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if channel in ("slack", "web"):
        return body, headers | (sign_slack if channel == "slack" else sign_web)(body, secrets, now=now)
    if channel == "livechat":
        return body, headers
    return body, headers | (sign_telegram if channel == "telegram" else sign_messenger)(body, secrets)
