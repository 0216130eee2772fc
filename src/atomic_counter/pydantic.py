"""Pydantic v2: an id type that is an int in Python and a string in JSON.

    from atomic_counter.pydantic import Id

    class Event(BaseModel):
        id: Id                  # JSON: {"id": "384131137536000000"}; Python: an int

JavaScript numbers (and so many JSON readers) are exact only below 2**53: a Snowflake or
TimeCounter id sent as a JSON number arrives rounded, another id. ``Id`` is written to JSON as a
decimal string (as Twitter's ``id_str``) and stays an int in Python (``model_dump()``); it reads
an int or a decimal string, exactly what it writes. A number in a JSON document
(``model_validate_json``) is read only up to 2**53 - 1: above, a JavaScript sender may have
rounded it to another id, and nothing here can tell, so it is refused (send the string the type
wrote). A framework that decodes the JSON before Pydantic sees it (FastAPI's request bodies,
``model_validate(json.loads(...))``) hands over Python ints, which cannot be told from the
counter's: for models read from clients there, ``Annotated[int, IdString(ints="exact")]``
reads ints only up to 2**53 - 1 in every mode.

``IdString(form, accept=...)`` makes a type that writes another form of format_id() (base32,
base62, hex) or reads several: ``Annotated[int, IdString("hex", accept=("hex", "base32"))]``.
A type reads what it writes, and nothing it reads can be read two ways, by construction:
- ``accept`` holds ``form``;
- ``accept`` never holds decimal together with another form. Digits alone, 11, 13 or 16 of
  them, spell two different ids (decimal and base62, base32 or hex). That is not rare: about
  one INT64 or Discord id of 2026 in 700 has a hex form of digits alone, and they come in
  stretches (at one moment of December 2026, one in five of the ids drawn). A type that
  guessed would read another id, silently; so such a type cannot be made (ValueError).
  base32, base62 and hex have different lengths (13, 11, 16) and may be accepted together;
- decimal is read only as written (no leading zeros), so a zero-padded fixed-width id sent to
  a decimal type is refused rather than read as a smaller number.
Two such types in a ``Union`` (``Id | Annotated[int, IdString("hex")]``) rebuild the guess a
type refuses to make (Pydantic tries each in turn): don't. And a type cannot tell another
type's output from its own: an id's writer and reader use the same type.

Constraints on the field (``id: Id = Field(ge=1)``, ``Annotated[int, Field(gt=0),
IdString()]``) apply to the id read, on either side of the annotation. A type has one IdString
(``Annotated[Id, IdString("hex")]`` is refused: TypeError). Strict mode does not narrow what a
type reads: an int, or a string in its forms, is the type's one contract in every mode.

Not imported by ``import atomic_counter``; Pydantic is imported when a model uses the type.
"""

from __future__ import annotations

import re
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
_LEADING_ZERO = re.compile(r"0.")
# A JSON number above 2**53 - 1 may have been rounded by its sender (JavaScript's numbers are
# doubles): a number is read only up to there; the type itself writes strings.
_JSON_EXACT = 2**53 - 1
# The int constraints carried into the JSON schema's integer branch.
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_MARK = "atomic_counter.pydantic.IdString"
_READS = {
    "decimal": "0|[1-9][0-9]{0,19}",
    "base32": "[0-9A-Za-z]{13}",
    "base62": "[0-9A-Za-z]{11}",
    "hex": "[0-9A-Fa-f]{16}",
}


class IdString:
    """The annotation behind ``Id``: ``Annotated[int, IdString(form="decimal")]``.

    ``form``: the string form written to JSON. ``accept``: the string forms read (default:
    ``form`` alone); it holds ``form``, and decimal only alone. ``ints``: "any" (the default)
    reads a Python int of any size and a number in a JSON document up to 2**53 - 1; "exact"
    reads ints only up to 2**53 - 1 in every mode, for models validated from JSON decoded
    beforehand (FastAPI's request bodies, ``model_validate(json.loads(...))``), where a
    rounded JSON number arrives as a Python int."""

    __slots__ = ("accept", "form", "ints")

    def __init__(
        self, form: str = "decimal", *, accept: tuple[str, ...] | None = None, ints: str = "any"
    ) -> None:
        if not isinstance(form, str):
            raise TypeError(
                f"IdString() argument 'form' must be a str, one of {FORMS}, not "
                f"{type(form).__name__}"
            )
        if form not in FORMS:
            raise ValueError(f"IdString() argument 'form' must be one of {FORMS}, got {form!r}")
        if accept is None:
            accept = (form,)
        if not isinstance(accept, tuple) or any(not isinstance(a, str) for a in accept):
            raise TypeError(
                f"IdString() argument 'accept' must be a tuple of str (forms from {FORMS}), "
                f"got {accept!r}"
            )
        if not accept or any(a not in FORMS for a in accept):
            raise ValueError(
                f"IdString() argument 'accept' must be a non-empty tuple of forms from {FORMS}, "
                f"got {accept!r}"
            )
        accept = tuple(dict.fromkeys(accept))
        if form not in accept:
            raise ValueError(
                f"IdString() argument 'accept' must hold the form the type writes ({form!r}), "
                f"got {accept!r}: a type reads what it writes"
            )
        if "decimal" in accept and len(accept) > 1:
            raise ValueError(
                f"IdString() argument 'accept' must not hold decimal with another form, got "
                f"{accept!r}: digits alone (11, 13 or 16 of them) spell a different id in each, "
                f"so some ids would be read as others; accept decimal alone, or any of "
                f"base32, base62 and hex"
            )
        if not isinstance(ints, str):
            raise TypeError(
                f"IdString() argument 'ints' must be a str, 'any' or 'exact', not "
                f"{type(ints).__name__}"
            )
        if ints not in ("any", "exact"):
            raise ValueError(f"IdString() argument 'ints' must be 'any' or 'exact', got {ints!r}")
        self.form = form
        self.accept = accept
        self.ints = ints

    def __repr__(self) -> str:
        return f"IdString({self.form!r}, accept={self.accept!r}, ints={self.ints!r})"

    # -- values ------------------------------------------------------------------------------

    def read(self, value: Any, *, json: bool = False) -> int:
        """An id from an int or a string in an accepted form; ValueError otherwise.

        ``json``: the value is a number from a JSON document, read only up to 2**53 - 1 (above,
        a JavaScript sender has rounded it to another id before we see it)."""
        if isinstance(value, int) and not isinstance(value, bool):
            number: int = int.__index__(value)  # the int itself, whatever a subclass overrides
            if not 0 <= number <= _MAX:
                raise ValueError(f"an id must be in [0, 2**64 - 1], got {number}")
            # ints="exact": every int may be a JSON number decoded before Pydantic saw it.
            if number > _JSON_EXACT and (json or self.ints == "exact"):
                raise ValueError(
                    f"an id sent as a JSON number must be at most 2**53 - 1, got {number}: "
                    f"JavaScript and other JSON readers round larger numbers to another id "
                    f"before sending; send the id as a string (the form {self.form})"
                )
            return number
        if not isinstance(value, str):
            raise ValueError(
                f"an id must be an int or a string ({', '.join(self.accept)}), not "
                f"{type(value).__name__}"
            )
        reasons = []
        for form in self.accept:
            if form == "decimal" and _LEADING_ZERO.match(value):
                reasons.append("decimal is read as written: no leading zero")
                continue
            try:
                return parse_id(value, form)
            except ValueError as error:
                reasons.append(str(error).removeprefix("parse_id(): "))
        forms = (
            f"the form {self.accept[0]}"
            if len(self.accept) == 1
            else (f"any of the forms {', '.join(self.accept)}")
        )
        raise ValueError(f"{value!r} is not an id in {forms} ({'; '.join(reasons)})")

    def write(self, value: int) -> str:
        """The id as a string in this type's form."""
        return format_id(value, self.form)

    # -- Pydantic's hooks --------------------------------------------------------------------

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema  # type: ignore[import-not-found, unused-ignore]

        if source is not int:
            raise TypeError(
                f"IdString annotates int (Annotated[int, IdString(...)]), not {source!r}"
            )
        # The int schema as annotated so far: constraints written before this annotation
        # (Field(ge=1) on the field, Annotated[int, Field(gt=0), IdString()]) apply to the id
        # read, never dropped.
        inner = handler(source)
        if _MARK in repr(inner):
            raise TypeError(
                "IdString annotates int, once: this type already has an IdString (as in "
                "Annotated[Id, IdString('hex')]); write Annotated[int, IdString('hex')]"
            )

        def validate(value: Any, info: Any) -> int:
            return self.read(value, json=info.mode == "json")

        schema: CoreSchema = core_schema.chain_schema(
            [core_schema.with_info_plain_validator_function(validate), inner],
            metadata={_MARK: True},
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
        integer: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": _JSON_EXACT}
        steps = schema.get("steps") if schema.get("type") == "chain" else None
        inner: Any = steps[-1] if steps else {}
        for key, name in _BOUNDS.items():
            if key in inner:
                bound = inner[key]
                if name in ("minimum", "exclusiveMinimum") and bound >= 0:
                    integer[name] = bound
                if name in ("maximum", "exclusiveMaximum") and bound <= _JSON_EXACT:
                    integer[name] = bound
        if "multiple_of" in inner:
            integer["multipleOf"] = inner["multiple_of"]
        return {
            "anyOf": [
                integer,
                {"type": "string", "pattern": f"^({reads})$"},
            ],
            "description": (
                f"A 64-bit id: an integer, or a string in one of the forms "
                f"{', '.join(self.accept)} (atomic_counter.parse_id)"
            ),
        }


# An id: an int in Python, a decimal string in JSON; reads ints and decimal strings.
Id = Annotated[int, IdString()]
