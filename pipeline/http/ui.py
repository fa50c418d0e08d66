"""The Users page: static files of pipeline/ui/ served by the worker's HTTP app at /ui/.

The page is plain HTML, CSS and ES modules written for chatlens; it talks only to the public JSON API
with the bot's key (kept in the browser's sessionStorage), so it needs no routes of its own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
router = APIRouter()


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui", include_in_schema=False)
async def ui_without_slash() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


def static_files() -> StaticFiles:
    """The page's files. A router cannot carry a mount (include_router copies routes only), so the app
    factory mounts this at /ui itself."""
    return StaticFiles(directory=UI_DIR, html=True)
