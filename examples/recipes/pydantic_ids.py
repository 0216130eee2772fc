"""Pydantic: an id type that travels as a string in JSON (JavaScript numbers are exact only below
2**53, and Snowflake ids are far above it) and is an int in Python. It reads back every form a
client may send: the decimal string, a base32 one, or a number.

    python examples/recipes/pydantic_ids.py
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, PlainSerializer

from atomic_counter import Layout, SnowflakeCounter, format_id, parse_id


def _read(value: Any) -> Any:
    if isinstance(value, str):
        return int(value) if value.isdigit() else parse_id(value, "base32")
    return value


# In JSON a decimal string, as Twitter's id_str and Discord's ids; base32 (13 characters that
# sort like the ids) is the other choice: format_id(v, "base32").
Id = Annotated[int, BeforeValidator(_read), PlainSerializer(str, return_type=str, when_used="json")]

ids = SnowflakeCounter(Layout.INT64, node=2)


class Event(BaseModel):
    id: Id
    kind: str


def main() -> None:
    event = Event(id=ids.next(), kind="click")
    text = event.model_dump_json()
    print(text.replace(str(event.id), "<id>"))
    assert Event.model_validate_json(text) == event
    assert Event.model_validate({"id": format_id(event.id, "base32"), "kind": "click"}) == event
    print("round trip: decimal string, base32 and int all read back as", type(event.id).__name__)


if __name__ == "__main__":
    main()
