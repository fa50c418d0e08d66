"""The Users page: static files of pipeline/ui/ served by the worker's HTTP app at /ui/.

The page is plain HTML, CSS and ES modules written for chatlens; it talks only to the public JSON API
with the bot's key (kept in the browser's sessionStorage), so it needs no routes of its own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parent.parent / "ui"


def add_ui_routes(api: FastAPI) -> None:
    @api.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @api.get("/ui", include_in_schema=False)
    async def ui_without_slash() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    api.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")
