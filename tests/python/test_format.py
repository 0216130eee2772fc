"""Ids as strings: format_id and parse_id in every form (base32, base62, hex, decimal), fixed
widths that sort like the ids, and clear errors for malformed text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomic_counter import (
    TimeCounter,
    format_id,
    parse_id,
)

FORMS = {"base32": 13, "base62": 11, "hex": 16}


u64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(u64, st.sampled_from(sorted(FORMS)))
def test_every_form_round_trips_at_its_fixed_width(value, form):
    text = format_id(value, form)
    assert len(text) == FORMS[form]
    assert parse_id(text, form) == value
    assert parse_id(format_id(value, "decimal"), "decimal") == value


@given(u64, u64, st.sampled_from(sorted(FORMS)))
def test_string_order_is_numeric_order(a, b, form):
    assert (format_id(a, form) < format_id(b, form)) == (a < b)


def test_sorted_strings_of_drawn_ids_come_back_in_draw_order():
    ids = TimeCounter().next_many(1000).tolist()
    for form in FORMS:
        texts = [format_id(v, form) for v in ids]
        assert sorted(texts) == texts


def test_known_values_and_the_default_form():
    assert format_id(2**64 - 1) == "FZZZZZZZZZZZZ"  # base32 by default
    assert format_id(12345, "base62") == "000000003D7"
    assert parse_id("0000000000c1s") == 12345  # lowercase and Crockford's aliases
    assert parse_id("000000000000L") == parse_id("000000000000I") == 1


@pytest.mark.parametrize(
    "text, form, message",
    [
        ("ZZZZZZZZZZZZZ", "base32", "above 2**64 - 1"),
        ("000000000000U", "base32", "outside the alphabet"),
        ("123", "base62", "wrong length"),
        ("g000000000000000", "hex", "outside the alphabet"),
        ("", "decimal", "wrong length"),
    ],
)
def test_malformed_strings_are_value_errors_naming_the_form(text, form, message):
    with pytest.raises(ValueError) as info:
        parse_id(text, form)
    assert str(info.value).startswith(f"parse_id(): '{text}' is not a {form} id")
    assert message in str(info.value)


def test_bad_form_and_types():
    with pytest.raises(ValueError, match="'form' must be 'base32', 'base62', 'hex' or 'decimal'"):
        format_id(1, "octal")
    with pytest.raises(TypeError, match="'text' must be a str"):
        parse_id(12, "hex")
    with pytest.raises(OverflowError, match="format_id\\(\\) argument 'value'"):
        format_id(-1)
