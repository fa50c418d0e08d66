"""The README's shell examples, run as written against a real worker (only the port differs)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

README_PATH = Path(__file__).resolve().parents[2] / "README.md"
README = README_PATH.read_text()


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def run(block: str, worker) -> list[dict]:
    script = block.replace("127.0.0.1:8080", f"127.0.0.1:{worker.port}")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in re.findall(r"\{.*?\}(?=\{|$)", result.stdout.strip(), flags=re.M)]


def test_webhook_curl_examples_are_accepted(kafka_broker, make_worker):
    worker = make_worker(kafka_broker, bot_id="demo").start()
    [block] = [b for b in shell_blocks() if "/webhooks/telegram/demo" in b]
    answers = run(block, worker)
    assert [a["accepted"] for a in answers] == [2, 1, 1]
    assert answers[2]["event_ids"] == ["slack:D1:1700000000.000100"]


def test_event_ingestion_curl_example_is_accepted(kafka_broker, make_worker):
    worker = make_worker(kafka_broker, bot_id="demo", api_key="demo-api-key-change-me").start()
    [block] = [b for b in shell_blocks() if "/v1/bots/demo/events" in b]
    block = "\n".join(line for line in block.splitlines() if "chatlens sql" not in line)
    assert run(block, worker)[-1] == {"accepted": 1, "event_ids": ["m1"]}


def test_window_change_curl_example_is_applied(kafka_broker, make_worker):
    worker = make_worker(kafka_broker, bot_id="demo", api_key="demo-api-key-change-me").start()
    [block] = [b for b in shell_blocks() if "/v1/bots/demo/settings" in b]
    assert run(block, worker) == [{"inactivity_minutes": 30.0}]


def test_analyst_sql_examples_run_through_the_worker(kafka_broker, make_worker):
    worker = make_worker(kafka_broker, bot_id="demo").start()
    [block] = [b for b in shell_blocks() if "daily_active_users" in b]
    env = {**os.environ, "CHATLENS_HTTP_PORT": str(worker.port)}
    result = subprocess.run(["bash", "-c", block.replace("local-admin-key", worker.admin_key)], env=env,
                            capture_output=True, text=True, timeout=120, cwd=README_PATH.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("┏") == 3 and result.stdout.count(" row(s)") == 3, result.stdout
    assert "active_users" in result.stdout and "scored_messages" in result.stdout  # headers even when empty


def test_user_search_curl_example_answers_a_page(kafka_broker, make_worker):
    worker = make_worker(kafka_broker, bot_id="demo", api_key="demo-api-key-change-me").start()
    [block] = [b for b in shell_blocks() if "/users/search" in b]
    script = block.replace("127.0.0.1:8080", f"127.0.0.1:{worker.port}")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    page = json.loads(result.stdout)
    assert set(page) == {"users", "total", "next_cursor"} and page["total"] == len(page["users"])


def run_demo_block(worker, marker: str) -> str:
    """Run the README's shell block that mentions `marker` against the worker; its standard output."""
    [block] = [b for b in shell_blocks() if marker in b]
    script = block.replace("127.0.0.1:8080", f"127.0.0.1:{worker.port}")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_segments_curl_examples_create_rename_and_list(kafka_broker, make_worker):
    output = run_demo_block(make_worker(kafka_broker, bot_id="demo", api_key="demo-api-key-change-me").start(),
                            "/v1/bots/demo/segments")
    created, dynamic, renamed, listed = [json.loads(line) for line in output.splitlines()]
    assert (created["segment_id"], dynamic["segment_id"], dynamic["kind"]) == ("newsletter", "engaged-pros", "dynamic")
    assert renamed["name"] == "Weekly letter"
    assert [(s["segment_id"], s["name"], s["members"]) for s in listed["segments"]] == [
        ("engaged-pros", "Engaged pros", 0), ("newsletter", "Weekly letter", 0)]


def test_schedule_curl_examples_create_and_list_a_schedule(kafka_broker, make_worker):
    output = run_demo_block(make_worker(kafka_broker, bot_id="demo", api_key="demo-api-key-change-me").start(),
                            "/v1/bots/demo/schedules")
    decoder, text = json.JSONDecoder(), output.strip()
    created, end = decoder.raw_decode(text)
    listed, _ = decoder.raw_decode(text[end:].lstrip())
    assert (created["segment"], created["cron"], created["destination"]) == ("newsletter", "0 6 * * MON",
                                                                             "weekly/newsletter")
    assert listed == {"schedules": [{**created, "latest_run": None}]}


def test_demo_console_example_runs_as_written_with_the_default_bots_file(kafka_broker, make_worker):
    """`chatlens demo` from the repository root with no CHATLENS_BOTS_FILE: the CLI reads bots.toml if there is
    one, else bots.example.toml, the same file `make run` serves (a fresh clone has only the example)."""
    worker = make_worker(kafka_broker, bot_id="demo", api_key="demo-api-key-change-me").start()
    [command] = [line.removeprefix("$ ") for block in re.findall(r"```console\n(.*?)```", README, flags=re.S)
                 for line in block.splitlines() if line.startswith("$ ") and "chatlens demo" in line]
    env = {k: v for k, v in os.environ.items() if k != "CHATLENS_BOTS_FILE"} | {"CHATLENS_HTTP_PORT": str(worker.port)}
    result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=300,
                            cwd=README_PATH.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    accepted = re.search(r"(\d+) of (\d+) events accepted", result.stdout)
    assert accepted and accepted[1] == accepted[2] and int(accepted[1]) > 100, result.stdout
