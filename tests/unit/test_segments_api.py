"""The segments routes with the publisher's in-memory twin: what reaches the segments topic, and the answers.

Member counts need the store (tests/e2e/test_segments.py); a worker without one answers `members: null`.
"""

import json

from pipeline.kafka.codecs import decode_segment
from schemas.filters import Group
from tests.unit.conftest import DEMO_AUTH as AUTH
from tests.unit.test_segments import Record

PRO = {"filters": [{"column": "attributes.plan", "function": "equals", "value": "pro"}]}
URL = "/v1/bots/demo/segments"


def records(services) -> list:
    return [decode_segment(Record(key, value)) for key, value in services.publisher.segments]


def test_creating_a_dynamic_segment_writes_its_definition_and_answers_201(client, services):
    response = client.post(URL, json={"name": "Pro users", "kind": "dynamic", "filter": PRO}, headers=AUTH)
    assert response.status_code == 201 and response.headers["Location"] == f"{URL}/pro-users"
    body = response.json()
    assert {k: body[k] for k in ("segment_id", "segment", "name", "kind", "members")} == {
        "segment_id": "pro-users", "segment": "pro-users", "name": "Pro users", "kind": "dynamic", "members": None}
    assert body["filter"]["filters"][0]["value"] == "pro" and body["created_at"] == body["updated_at"]
    [change] = records(services)
    assert (change.bot_id, change.segment_id, change.segment.name) == ("demo", "pro-users", "Pro users")
    assert services.segments.get("demo", "pro-users") == change.segment    # read your writes
    listed = client.get(URL, headers=AUTH).json()["segments"]
    assert [(s["segment_id"], s["kind"]) for s in listed] == [("pro-users", "dynamic")]


def test_a_second_segment_with_the_same_id_is_409(client):
    assert client.post(URL, json={"name": "Newsletter"}, headers=AUTH).status_code == 201
    again = client.post(URL, json={"name": "newsletter!"}, headers=AUTH)
    assert again.status_code == 409 and "'newsletter' exists" in again.json()["detail"]


def test_a_name_that_makes_no_id_or_a_bad_filter_is_400_and_nothing_is_written(client, services):
    assert client.post(URL, json={"name": "😀"}, headers=AUTH).status_code == 400
    bad = client.post(URL, json={"name": "X", "kind": "dynamic",
                                 "filter": {"filters": [{"column": "nope", "function": "equals", "value": "1"}]}},
                      headers=AUTH)
    assert bad.status_code == 400 and "unknown column 'nope'" in bad.json()["detail"][0]
    assert client.post(URL, json={"name": "X", "kind": "dynamic"}, headers=AUTH).status_code == 422
    assert services.publisher.segments == []


def test_a_filter_change_that_makes_a_cycle_is_400_naming_it(client, services):
    client.post(URL, json={"name": "A", "kind": "dynamic", "filter": PRO}, headers=AUTH)
    refers_to_a = {"filters": [{"column": "segments", "function": "has", "value": "a"}]}
    assert client.post(URL, json={"name": "B", "kind": "dynamic", "filter": refers_to_a}, headers=AUTH).status_code == 201
    refers_to_b = {"filters": [{"column": "segments", "function": "has_not", "value": "b"}]}
    cycle = client.patch(f"{URL}/a", json={"filter": refers_to_b}, headers=AUTH)
    assert cycle.status_code == 400 and "cycle: a -> b -> a" in cycle.json()["detail"][0]
    assert services.segments.get("demo", "a").filter == Group.model_validate(PRO)   # unchanged


def test_renaming_keeps_the_id_and_a_static_segment_takes_no_filter(client, services):
    client.post(URL, json={"name": "Newsletter"}, headers=AUTH)
    renamed = client.patch(f"{URL}/newsletter", json={"name": "Weekly letter"}, headers=AUTH)
    assert renamed.status_code == 200
    assert (renamed.json()["segment_id"], renamed.json()["name"]) == ("newsletter", "Weekly letter")
    first, second = records(services)
    assert second.segment.created_at == first.segment.created_at and second.at > first.at
    assert client.patch(f"{URL}/newsletter", json={"filter": PRO}, headers=AUTH).status_code == 400
    assert client.patch(f"{URL}/unknown", json={"name": "x"}, headers=AUTH).status_code == 404
    assert client.get(f"{URL}/unknown", headers=AUTH).status_code == 404


def test_deleting_a_dynamic_segment_writes_a_deletion_record(client, services):
    client.post(URL, json={"name": "Pro", "kind": "dynamic", "filter": PRO}, headers=AUTH)
    deleted = client.delete(f"{URL}/pro", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "pro", "users": 0}
    assert json.loads(services.publisher.segments[-1][1])["deleted"] is True
    assert services.segments.get("demo", "pro") is None and client.get(URL, headers=AUTH).json() == {"segments": []}


def test_kafka_down_is_503_and_the_registry_is_unchanged(client, services):
    services.publisher.available = False
    response = client.post(URL, json={"name": "Newsletter"}, headers=AUTH)
    assert response.status_code == 503 and response.json()["error"] == "kafka_unavailable"
    assert services.segments.list("demo") == []


def test_users_cannot_be_added_to_a_dynamic_segment(client):
    client.post(URL, json={"name": "Pro", "kind": "dynamic", "filter": PRO}, headers=AUTH)
    response = client.post("/v1/bots/demo/users/actions", headers=AUTH,
                           json={"action": "add_to_segment", "segment": "pro", "user_ids": ["web:a"]})
    assert response.status_code == 400 and response.json()["error"] == "dynamic_segment"


def test_one_bot_never_sees_another_bots_segments(client):
    client.post(URL, json={"name": "Newsletter"}, headers=AUTH)
    acme = {"Authorization": "Bearer acme-api-key-change-me-too"}
    assert client.get("/v1/bots/acme/segments", headers=acme).json() == {"segments": []}
    assert client.get("/v1/bots/acme/segments/newsletter", headers=acme).status_code == 404


def test_a_segment_deleted_and_created_again_at_once_is_there(client, services):
    for _ in range(3):
        client.post(URL, json={"name": "Pro", "kind": "dynamic", "filter": PRO}, headers=AUTH)
        assert client.delete(f"{URL}/pro", headers=AUTH).status_code == 200
    assert client.post(URL, json={"name": "Pro", "kind": "dynamic", "filter": PRO}, headers=AUTH).status_code == 201
    assert client.get(f"{URL}/pro", headers=AUTH).json()["name"] == "Pro"
    times = [change.at for change in records(services)]
    assert times == sorted(times) and len(set(times)) == len(times)   # every record later than the one before
