"""The Users page's files as the HTTP app serves them, and the page's own wiring (imports, element ids)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumers.memory import MemoryEventStore
from pipeline.core.bots import load_bots
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.http.ui import UI_DIR
from pipeline.http.app import create_api

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((UI_DIR / "js").glob("*.js"))


@pytest.fixture
def client(tmp_path):
    services = Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path), bots=load_bots(ROOT / "bots.example.toml"),
                        publisher=MemoryPublisher(), store=MemoryEventStore())
    with TestClient(create_api(services), follow_redirects=False) as client:
        yield client


def test_root_redirects_to_the_users_page(client):
    for path in ("/", "/ui"):
        response = client.get(path)
        assert response.status_code == 307 and response.headers["location"] == "/ui/"


def test_the_page_and_its_modules_are_served_with_their_types(client):
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in page.text
    for module in MODULES:
        response = client.get(f"/ui/js/{module.name}")
        assert response.status_code == 200, module.name
        assert response.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert client.get("/ui/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/ui/js/nothing.js").status_code == 404


def test_the_page_is_not_part_of_the_api_documentation(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/ui")]


def test_every_import_of_a_module_names_a_file_of_the_page():
    for module in MODULES:
        for target in re.findall(r"""(?:from|import\()\s*['"](\./[^'"]+)['"]""", module.read_text()):
            assert (module.parent / target).is_file(), f"{module.name} imports {target}"


def test_every_element_the_scripts_look_up_by_id_exists():
    html = (UI_DIR / "index.html").read_text()
    static_ids = set(re.findall(r'\bid="([^"]+)"', html))
    scripts = "\n".join(m.read_text() for m in MODULES)
    made_by_scripts = set(re.findall(r"\bid: [`']([\w-]+)", scripts))
    looked_up = set(re.findall(r"""\$\(['"]#([\w-]+)""", scripts))
    assert looked_up and looked_up - static_ids - made_by_scripts == set()


def test_the_page_ships_with_the_package():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["pipeline"]
    shipped = {p.relative_to(UI_DIR.parent) for pattern in data for p in UI_DIR.parent.glob(pattern) if p.is_file()}
    assert {p.relative_to(UI_DIR.parent) for p in UI_DIR.rglob("*") if p.is_file()} <= shipped
