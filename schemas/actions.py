"""What a person does to users: one request, on explicit user ids or on everyone matching a filter."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.filters import Group

Action = Literal["add_tag", "remove_tag", "set_attribute", "remove_attribute", "add_to_segment",
                 "remove_from_segment", "edit_name", "edit_email", "ban", "unban", "delete"]

# Which request field each action needs (the event's own field has the same name).
NEEDS: dict[str, tuple[str, ...]] = {
    "add_tag": ("tag",), "remove_tag": ("tag",), "set_attribute": ("key", "value"), "remove_attribute": ("key",),
    "add_to_segment": ("segment",), "remove_from_segment": ("segment",), "edit_name": ("name",),
    "edit_email": ("email",), "ban": (), "unban": (), "delete": (),
}
MAX_IDS = 10_000


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    user_ids: list[str] | None = Field(default=None, max_length=MAX_IDS, description="these users…")
    filter: Group | None = Field(default=None, description="…or every user matching this filter")
    tag: str | None = Field(default=None, min_length=1, max_length=256)
    key: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    value: str | None = Field(default=None, max_length=4096)
    segment: str | None = Field(default=None, min_length=1, max_length=256)
    name: str | None = Field(default=None, max_length=1024)
    email: str | None = Field(default=None, max_length=1024)
    actor: str | None = Field(default=None, max_length=256, description="who did it, kept on every event")

    @model_validator(mode="after")
    def _complete(self) -> ActionRequest:
        if (self.user_ids is None) == (self.filter is None):
            raise ValueError("give either user_ids or filter")
        missing = [f for f in NEEDS[self.action] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{self.action} needs {', '.join(missing)}")
        extra = [f for f in ("tag", "key", "value", "segment", "name", "email")
                 if getattr(self, f) is not None and f not in NEEDS[self.action]]
        if extra:
            raise ValueError(f"{self.action} takes no {', '.join(extra)}")
        return self
