"""Segments over HTTP: create, list with members, show, rename or re-filter, delete.

Definitions live on the compacted segments topic (written through the publisher, so Kafka down is a 503)
and in every worker's registry; this worker applies its own write at once. Static membership stays the
users' `segments` array, changed by admin events; a dynamic segment's members are the users its saved
filter matches now. A segment id that users carry but nothing defines lists as a static segment named
by its id. `members` is null on a worker that holds no store (CHATLENS_SINK=false).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse

from pipeline.core.actions import action_id, events_for
from pipeline.core.segments import SegmentChange, SegmentError, slug
from pipeline.http.deps import Authorized, ServicesDep, publish_events, run_store
from pipeline.http.errors import ApiError
from pipeline.services import Services
from queries import users as user_queries
from queries.columns import FilterError
from queries.compiler import compile_filter
from schemas.actions import ActionRequest
from schemas.events import utc_now
from schemas.filters import Group
from schemas.segments import Segment, SegmentCreate, SegmentPatch, members_filter

router = APIRouter(tags=["segments"])
NOT_FOUND = {404: {"description": "no such segment"}}
SegmentId = Annotated[str, Path(min_length=1, max_length=256, description="the segment's id")]


def describe(segment_id: str, segment: Segment | None, members: int | None) -> dict[str, Any]:
    """A segment as the API answers it; `segment` repeats the id for clients of the first segments list."""
    if segment is None:   # carried by users, defined nowhere: an implicit static segment
        return {"segment_id": segment_id, "segment": segment_id, "name": segment_id, "kind": "static",
                "filter": None, "created_at": None, "updated_at": None, "members": members}
    return {"segment_id": segment_id, "segment": segment_id, **segment.model_dump(mode="json", exclude={"segment_id"}),
            "members": members}


def _later(previous: datetime | None) -> datetime:
    """Now, but after the segment's last change, so the newest record always wins in every registry."""
    now = utc_now()
    return now if previous is None or now > previous else previous + timedelta(milliseconds=1)


def checked(services: Services, bot_id: str, segment_id: str, group: Group) -> None:
    """A dynamic filter the compiler takes, with this segment's new filter in place (cycles are a 400)."""
    dynamic = {**services.segments.dynamic_filters(bot_id), segment_id: group}
    compile_filter(members_filter(segment_id), bot_id, now=utc_now(), segments=dynamic)  # FilterError: a 400


async def counted(services: Services, bot_id: str, ids: list[str]) -> dict[str, int | None]:
    """Members of each segment id in one scan; None without a store or for a filter that no longer compiles."""
    if services.clickhouse is None or not ids:
        return dict.fromkeys(ids)
    dynamic = services.segments.dynamic_filters(bot_id)
    countable = []
    for segment_id in ids:
        try:
            compile_filter(members_filter(segment_id), bot_id, now=utc_now(), segments=dynamic)
            countable.append(segment_id)
        except FilterError:
            pass
    counts = await run_store(services, user_queries.count_matching, bot_id, [members_filter(i) for i in countable],
                             segments=dynamic)
    return {**dict.fromkeys(ids), **dict(zip(countable, counts))}


async def carried(services: Services, bot_id: str) -> set[str]:
    """Segment ids current users carry in their `segments` array (static memberships)."""
    if services.clickhouse is None:
        return set()
    return {row["segment"] for row in await run_store(services, user_queries.segment_counts, bot_id)}


async def one(services: Services, bot_id: str, segment_id: str) -> dict[str, Any]:
    segment = services.segments.get(bot_id, segment_id)
    members = (await counted(services, bot_id, [segment_id]))[segment_id]
    if segment is None and not members:
        raise ApiError.not_found("segment", segment_id, bot_id)
    return describe(segment_id, segment, members)


async def publish(services: Services, bot_id: str, segment: Segment) -> None:
    change = SegmentChange(bot_id, segment.segment_id, segment, segment.updated_at)
    await services.publisher.segment(change)
    services.segments.apply(change)


@router.post("/v1/bots/{bot_id}/segments", status_code=201,
             summary="Create a static segment (members added by actions) or a dynamic one (a saved filter)",
             responses={409: {"description": "a segment with this id exists"}})
async def create_segment(bot: Authorized, services: ServicesDep, request: SegmentCreate) -> JSONResponse:
    try:
        segment_id = slug(request.name)
    except SegmentError as e:
        raise ApiError(400, "invalid_segment", str(e)) from None
    if services.segments.get(bot.bot_id, segment_id) is not None:
        raise ApiError(409, "segment_exists", f"segment {segment_id!r} exists in bot {bot.bot_id!r}; "
                                              f"choose another name or rename that one")
    if request.kind == "dynamic":
        checked(services, bot.bot_id, segment_id, request.filter)
        if segment_id in await carried(services, bot.bot_id):
            raise ApiError(409, "segment_exists", f"users carry {segment_id!r} as a static segment; "
                                                  f"choose another name for the dynamic one")
    at = _later(services.segments.changed_at(bot.bot_id, segment_id))   # after a deletion of the same id
    segment = Segment(segment_id=segment_id, name=request.name.strip(), kind=request.kind,
                      filter=request.filter, created_at=at, updated_at=at)
    await publish(services, bot.bot_id, segment)
    members = (await counted(services, bot.bot_id, [segment_id]))[segment_id]
    return JSONResponse(describe(segment_id, segment, members), status_code=201,
                        headers={"Location": f"/v1/bots/{bot.bot_id}/segments/{segment_id}"})


@router.get("/v1/bots/{bot_id}/segments",
            summary="Every segment (defined or carried by users) with its current member count")
async def list_segments(bot: Authorized, services: ServicesDep) -> dict:
    defined = {s.segment_id: s for s in services.segments.list(bot.bot_id)}
    ids = sorted(set(defined) | await carried(services, bot.bot_id))
    members = await counted(services, bot.bot_id, ids)
    return {"segments": [describe(i, defined.get(i), members[i]) for i in ids]}


@router.get("/v1/bots/{bot_id}/segments/{segment_id}", responses=NOT_FOUND,
            summary="One segment with its current member count (members: filter `segments has <id>`)")
async def get_segment(bot: Authorized, services: ServicesDep, segment_id: SegmentId) -> dict:
    return await one(services, bot.bot_id, segment_id)


@router.patch("/v1/bots/{bot_id}/segments/{segment_id}", responses=NOT_FOUND,
              summary="Rename a segment (its id and members stay) or change a dynamic segment's filter")
async def patch_segment(bot: Authorized, services: ServicesDep, segment_id: SegmentId, request: SegmentPatch) -> dict:
    segment = services.segments.get(bot.bot_id, segment_id)
    if segment is None:
        await one(services, bot.bot_id, segment_id)   # 404 unless users carry it: then renaming defines it
        if request.filter is not None:
            raise ApiError(400, "static_segment", f"segment {segment_id!r} is static: it has no filter")
        at = utc_now()
        segment = Segment(segment_id=segment_id, name=segment_id, kind="static", created_at=at, updated_at=at)
    if request.filter is not None:
        if segment.kind == "static":
            raise ApiError(400, "static_segment", f"segment {segment_id!r} is static: it has no filter; "
                                                  f"create a dynamic segment instead")
        checked(services, bot.bot_id, segment_id, request.filter)
    changes = {"updated_at": _later(services.segments.changed_at(bot.bot_id, segment_id))}
    if request.name is not None:
        changes["name"] = request.name.strip()
    if request.filter is not None:
        changes["filter"] = request.filter
    await publish(services, bot.bot_id, segment.model_copy(update=changes))
    return await one(services, bot.bot_id, segment_id)


@router.delete("/v1/bots/{bot_id}/segments/{segment_id}", responses=NOT_FOUND,
               summary="Delete a segment: a static one's members leave it (segment_removed events), then the "
                       "definition goes")
async def delete_segment(bot: Authorized, services: ServicesDep, segment_id: SegmentId,
                         idempotency_key: Annotated[str | None, Header()] = None) -> dict:
    segment = services.segments.get(bot.bot_id, segment_id)
    members: list[str] = []
    if segment is None or segment.kind == "static":
        members = await run_store(services, user_queries.matching_users, bot.bot_id, members_filter(segment_id))
        if segment is None and not members:
            raise ApiError.not_found("segment", segment_id, bot.bot_id)
        request = ActionRequest(action="remove_from_segment", segment=segment_id, filter=members_filter(segment_id))
        action = action_id(idempotency_key, f"{uuid.uuid4()}")
        await publish_events(services, events_for(request, bot.bot_id, members, at=utc_now(), action=action))
    if segment is not None:   # after the memberships: Kafka down midway leaves the definition to retry with
        at = _later(services.segments.changed_at(bot.bot_id, segment_id))
        deleted = SegmentChange(bot.bot_id, segment_id, None, at)
        await services.publisher.segment(deleted)
        services.segments.apply(deleted)
    return {"deleted": segment_id, "users": len(members)}
