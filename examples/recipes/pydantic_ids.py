"""Pydantic: ids that are ints in Python and strings in JSON (JavaScript numbers are exact only
below 2**53, and these ids are far above it), read back from any string form a client may send.

    ATOMIC_COUNTER_STORE=redis://localhost:6379/0 python examples/recipes/pydantic_ids.py
"""

from __future__ import annotations

import json
import os

from pydantic import BaseModel, ValidationError

from atomic_counter import FleetCounter, format_id
from atomic_counter.pydantic import Id

# The tests shorten the lease's timings through ATOMIC_COUNTER_OPTIONS.
EVENT_IDS = FleetCounter(
    os.environ["ATOMIC_COUNTER_STORE"],
    "events",
    **json.loads(os.environ.get("ATOMIC_COUNTER_OPTIONS", "{}")),
)


class Event(BaseModel):
    id: Id  # JSON: a decimal string, as Twitter's id_str; Python: an int
    kind: str


def main() -> None:
    event = Event(id=EVENT_IDS.next(), kind="click")
    text = event.model_dump_json()
    print(text.replace(str(event.id), "<id>"))
    print("in Python:", type(event.model_dump()["id"]).__name__)
    forms = [event.id] + [format_id(event.id, f) for f in ("decimal", "base32", "base62", "hex")]
    same = all(Event(id=form, kind="click") == event for form in forms)
    print("an int, decimal, base32, base62 and hex all read back:", same)
    # Digits alone read as decimal (Id's own form), even where they also spell a base32 id.
    print("digits are decimal:", Event(id="1234567890123", kind="click").id == 1234567890123)
    try:
        Event(id="12345678901234567890123", kind="click")  # above 2**64 - 1
    except ValidationError as exc:
        print("refused:", exc.errors()[0]["msg"].split(":")[0])
    schema = Event.model_json_schema(mode="serialization")["properties"]["id"]
    print("schema:", schema["type"], schema["pattern"])


if __name__ == "__main__":
    main()
