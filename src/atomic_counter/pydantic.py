"""Pydantic v2: an id type that is an int in Python and a string in JSON.

    from atomic_counter.pydantic import Id

    class Event(BaseModel):
        id: Id                  # JSON: {"id": "384131137536000000"}; Python: an int

JavaScript numbers (and so many JSON readers) are exact only below 2**53: a Snowflake or
TimeCounter id sent as a JSON number arrives rounded, another id. ``Id`` is written to JSON as a
decimal string (as Twitter's ``id_str``) and stays an int in Python (``model_dump()``); it reads
an int or a string in any form of format_id(): decimal, base32, base62 or hex. The fixed-width
forms are told apart by their length (base62 11 characters, base32 13, hex 16); a string of
digits alone of one of those lengths reads as two different ids (decimal and that form): it is
read in the type's own form, so that every type reads what it writes (``Id``: decimal, and a
JS_SAFE id is up to 16 digits), and refused as ambiguous when neither reading is the type's.
So a writer and a reader of different forms disagree on such strings: a hex id made only of
digits (about 1 in 1,100 ids) that a client sends to ``Id`` reads as decimal, another id. Where
clients send another form, read it with that form's type (``IdString("hex")``) or accept only
it (``IdString(accept=("hex",))``).
``IdString(form, accept=...)`` makes a type that writes another form or reads fewer
(``Annotated[int, IdString("base32")]``).

Not imported by ``import atomic_counter``; Pydantic is imported when a model uses the type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from ._core import format_id, parse_id

if TYPE_CHECKING:
    from pydantic import (  # type: ignore[import-not-found, unused-ignore]
        GetCoreSchemaHandler,
        GetJsonSchemaHandler,
    )
    from pydantic_core import CoreSchema  # type: ignore[import-not-found, unused-ignore]

__all__ = ["FORMS", "Id", "IdString"]

FORMS = ("decimal", "base32", "base62", "hex")

_MAX = 2**64 - 1
# What each form writes (format_id's output, for the serialization schema) and what it reads.
_WRITES = {
    "decimal": "^(0|[1-9][0-9]{0,19})$",
    "base32": "^[0-9A-HJKMNP-TV-Z]{13}$",
    "base62": "^[0-9A-Za-z]{11}$",
    "hex": "^[0-9a-f]{16}$",
}
_READS = {
    "decimal": "[0-9]{1,20}",
    "base32": "[0-9A-Za-z]{13}",
    "base62": "[0-9A-Za-z]{11}",
    "hex": "[0-9A-Fa-f]{16}",
}


class IdString:
    """The annotation behind ``Id``: ``Annotated[int, IdString(form="decimal", accept=FORMS)]``.

    ``form``: the string form written to JSON. ``accept``: the string forms read (ints are
    always read). A string is read in every accepted form; it must read as exactly one value,
    else it is refused (not an id in any of them, or ambiguous between two)."""

    __slots__ = ("accept", "form")

    def __init__(self, form: str = "decimal", *, accept: tuple[str, ...] = FORMS) -> None:
        if not isinstance(form, str) or form not in FORMS:
            raise ValueError(f"IdString() argument 'form' must be one of {FORMS}, got {form!r}")
        if (
            not isinstance(accept, tuple)
            or not accept
            or any(not isinstance(a, str) or a not in FORMS for a in accept)
        ):
            raise ValueError(
                f"IdString() argument 'accept' must be a non-empty tuple of forms from {FORMS}, "
                f"got {accept!r}"
            )
        self.form = form
        self.accept = tuple(dict.fromkeys(accept))

    def __repr__(self) -> str:
        return f"IdString({self.form!r}, accept={self.accept!r})"

    # -- values ------------------------------------------------------------------------------

    def read(self, value: Any) -> int:
        """An id from an int or a string in an accepted form; ValueError otherwise."""
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= _MAX:
                raise ValueError(f"an id must be in [0, 2**64 - 1], got {value}")
            return int(value)
        if not isinstance(value, str):
            raise ValueError(
                f"an id must be an int or a string ({', '.join(self.accept)}), not "
                f"{type(value).__name__}"
            )
        readings: dict[str, int] = {}
        for form in self.accept:
            try:
                readings[form] = parse_id(value, form)
            except ValueError:
                continue
        if len(set(readings.values())) == 1:
            return next(iter(readings.values()))
        if self.form in readings:  # what this type writes reads back as it was written
            return readings[self.form]
        if not readings:
            raise ValueError(f"{value!r} is not an id in any of the forms {', '.join(self.accept)}")
        seen = ", ".join(f"{form} {number}" for form, number in readings.items())
        raise ValueError(
            f"{value!r} is ambiguous: it reads as {seen}; send the id as a number, or accept "
            f"fewer forms (IdString(accept=...))"
        )

    def write(self, value: int) -> str:
        """The id as a string in this type's form."""
        return format_id(value, self.form)

    # -- Pydantic's hooks --------------------------------------------------------------------

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema  # type: ignore[import-not-found, unused-ignore]

        schema: CoreSchema = core_schema.no_info_plain_validator_function(
            self.read,
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.write, when_used="json", return_schema=core_schema.str_schema()
            ),
        )
        return schema

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        written = {
            "type": "string",
            "pattern": _WRITES[self.form],
            "format": f"id-{self.form}",
            "description": f"A 64-bit id as a {self.form} string (atomic_counter.format_id)",
        }
        if handler.mode == "serialization":
            return written
        reads = "|".join(_READS[form] for form in self.accept)
        return {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": _MAX},
                {"type": "string", "pattern": f"^({reads})$"},
            ],
            "description": (
                f"A 64-bit id: an integer, or a string in one of the forms "
                f"{', '.join(self.accept)} (atomic_counter.parse_id)"
            ),
        }


# An id: an int in Python, a decimal string in JSON; reads ints and every string form.
Id = Annotated[int, IdString()]
