"""The schedules routes with the in-memory publisher: what reaches Kafka, read-your-writes, the errors."""

from tests.unit.conftest import DEMO_AUTH as AUTH

BODY = {"segment": "newsletter", "cron": "0 6 * * MON", "columns": ["user_id", "email"],
        "destination": "weekly/newsletter"}


def test_a_created_schedule_is_published_and_listed_by_this_worker_at_once(client, services):
    response = client.post("/v1/bots/demo/schedules", json=BODY, headers=AUTH)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in BODY} == BODY and created["bot_id"] == "demo" and created["schedule_id"]
    [(bot, schedule_id, definition)] = services.publisher.schedules
    assert (bot, schedule_id, definition) == ("demo", created["schedule_id"], created)
    listed = client.get("/v1/bots/demo/schedules", headers=AUTH).json()
    assert listed == {"schedules": [{**created, "latest_run": None}]}
    assert client.get("/v1/bots/acme/schedules", headers={"Authorization": "Bearer acme-api-key-change-me-too"}) \
        .json() == {"schedules": []}


def test_invalid_fields_are_400_naming_each_field_and_nothing_is_published(client, services):
    response = client.post("/v1/bots/demo/schedules", json={**BODY, "cron": "every day", "destination": "../x"},
                           headers=AUTH)
    assert response.status_code == 400
    problems = response.json()["detail"]
    assert response.json()["error"] == "invalid_schedule"
    assert [p.split(":")[0] for p in problems] == ["cron", "destination"]
    missing = client.post("/v1/bots/demo/schedules", json={"cron": "* * * * *", "colour": "red"}, headers=AUTH)
    assert missing.status_code == 400
    assert missing.json()["detail"] == ["segment: field required",
                                        "colour: Extra inputs are not permitted (got 'red')"]
    not_an_object = client.post("/v1/bots/demo/schedules", json=["newsletter"], headers=AUTH)
    assert not_an_object.status_code == 400 and not_an_object.json()["detail"][0].startswith("body: expected")
    assert services.publisher.schedules == []


def test_deleting_publishes_a_tombstone_and_unknown_ids_are_404(client, services):
    schedule_id = client.post("/v1/bots/demo/schedules", json=BODY, headers=AUTH).json()["schedule_id"]
    deleted = client.delete(f"/v1/bots/demo/schedules/{schedule_id}", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json() == {"schedule_id": schedule_id, "deleted": True}
    assert services.publisher.schedules[-1] == ("demo", schedule_id, None)
    assert client.get("/v1/bots/demo/schedules", headers=AUTH).json() == {"schedules": []}
    assert client.delete(f"/v1/bots/demo/schedules/{schedule_id}", headers=AUTH).status_code == 404


def test_run_now_publishes_a_manual_run_request_keyed_by_the_schedule(client, services):
    schedule_id = client.post("/v1/bots/demo/schedules", json=BODY, headers=AUTH).json()["schedule_id"]
    response = client.post(f"/v1/bots/demo/schedules/{schedule_id}/run", headers=AUTH)
    assert response.status_code == 202
    run = response.json()
    assert run["run_id"].startswith(f"{schedule_id}@") and "-manual-" in run["run_id"]
    [(key, request)] = services.publisher.schedule_runs
    assert key == schedule_id and request["run_id"] == run["run_id"] and request["manual"] is True
    assert request["file"] == run["file"] and request["schedule"]["segment"] == "newsletter"
    assert client.post("/v1/bots/demo/schedules/nope/run", headers=AUTH).status_code == 404


def test_kafka_down_is_503_and_the_registry_is_unchanged(client, services):
    services.publisher.available = False
    response = client.post("/v1/bots/demo/schedules", json=BODY, headers=AUTH)
    assert response.status_code == 503 and response.json()["error"] == "kafka_unavailable"
    assert services.schedules.all() == []


def test_history_needs_the_store_and_another_bots_key_sees_nothing(client):
    schedule_id = client.post("/v1/bots/demo/schedules", json=BODY, headers=AUTH).json()["schedule_id"]
    assert client.get(f"/v1/bots/demo/schedules/{schedule_id}/runs", headers=AUTH).status_code == 503
    assert client.get("/v1/bots/demo/schedules", headers={"Authorization": "Bearer wrong"}).status_code == 401
    acme = {"Authorization": "Bearer acme-api-key-change-me-too"}
    assert client.delete(f"/v1/bots/acme/schedules/{schedule_id}", headers=acme).status_code == 404
