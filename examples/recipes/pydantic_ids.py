"""Pydantic: ids that are ints in Python and strings in JSON (JavaScript numbers are exact only
below 2**53, and these ids are far above it), read back from the form each type writes.

    ATOMIC_COUNTER_STORE=redis://localhost:6379/0 python examples/recipes/pydantic_ids.py
"""

from __future__ import annotations

import json
import os
from typing import Annotated

from pydantic import BaseModel, ValidationError

from atomic_counter import FleetCounter, format_id
from atomic_counter.pydantic import Id, IdString

# The tests shorten the lease's timings through ATOMIC_COUNTER_OPTIONS.
EVENT_IDS = FleetCounter(
    os.environ["ATOMIC_COUNTER_STORE"],
    "events",
    **json.loads(os.environ.get("ATOMIC_COUNTER_OPTIONS", "{}")),
)


class Event(BaseModel):
    id: Id  # JSON: a decimal string, as Twitter's id_str; Python: an int
    kind: str


class Link(BaseModel):
    # For clients that send short ids: written as base62, read as base62 or hex (never decimal
    # too: digits alone would spell two different ids).
    target: Annotated[int, IdString("base62", accept=("base62", "hex"))]


def main() -> None:
    event = Event(id=EVENT_IDS.next(), kind="click")
    text = event.model_dump_json()
    print(text.replace(str(event.id), "<id>"))
    print("in Python:", type(event.model_dump()["id"]).__name__)
    same = all(Event(id=form, kind="click") == event for form in (event.id, str(event.id)))
    print("an int and its decimal string read back:", same)
    link = Link(target=event.id)
    written = json.loads(link.model_dump_json())["target"]
    forms = (event.id, written, format_id(event.id, "hex"))
    print("base62 and hex read back:", all(Link(target=form) == link for form in forms))
    print("written:", written == format_id(event.id, "base62"), len(written), "characters")
    try:
        Event(id="12345678901234567890123", kind="click")  # above 2**64 - 1
    except ValidationError as exc:
        print("refused:", exc.errors()[0]["msg"].split(" (")[0])
    # A JavaScript client that turned the id into a Number sends it rounded to another id.
    try:
        Event.model_validate_json(f'{{"id": {event.id}, "kind": "click"}}')
    except ValidationError as exc:
        print("a JSON number refused:", exc.errors()[0]["msg"].split(", got")[0])
    schema = Event.model_json_schema(mode="serialization")["properties"]["id"]
    print("schema:", schema["type"], schema["pattern"])


if __name__ == "__main__":
    main()
