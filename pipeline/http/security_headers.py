"""Browser security headers on every response: the Users page runs only its own scripts and styles, no
page may frame it, and nothing is sniffed into another type.

The page's one inline script (its first requests leave before any module loads) is allowed by its
SHA-256, computed from index.html at start, so no 'unsafe-inline'. FastAPI's /docs is Swagger UI from
its CDN with an inline start-up script: that path alone allows both.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
CDN = "https://cdn.jsdelivr.net"
COMMON = {b"x-content-type-options": b"nosniff", b"x-frame-options": b"DENY", b"referrer-policy": b"no-referrer"}


def inline_script_hashes(html: str) -> list[str]:
    return ["'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
            for body in re.findall(r"<script>(.*?)</script>", html, re.S)]


def page_policy(index_html: Path) -> str:
    scripts = " ".join(["'self'", *inline_script_hashes(index_html.read_text())])
    return (f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


DOCS_POLICY = (f"default-src 'self'; script-src 'self' 'unsafe-inline' {CDN}; style-src 'self' {CDN}; "
               f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; object-src 'none'; "
               "base-uri 'none'; frame-ancestors 'none'")


class SecurityHeaders:
    """ASGI middleware: adds the headers to every HTTP response start."""

    def __init__(self, app, policy: str):
        self.app = app
        self.page = [*COMMON.items(), (b"content-security-policy", policy.encode())]
        self.docs = [*COMMON.items(), (b"content-security-policy", DOCS_POLICY.encode())]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self.docs if scope["path"] in DOCS_PATHS else self.page

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
