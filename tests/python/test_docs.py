"""Help for users: a docstring on every public class, method, function and property, and
signatures that inspect can read."""

import inspect

import pytest

import atomic_counter

PUBLIC = [*sorted(atomic_counter.__all__), "to_datetime", "get_timedelta"]


def members(obj):
    for name, value in inspect.getmembers(obj):
        if name.startswith("_"):
            continue
        if callable(value) or isinstance(value, property) or inspect.isgetsetdescriptor(value):
            yield name, value


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_is_documented(name):
    obj = getattr(atomic_counter, name)
    assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
    if inspect.isclass(obj) and not issubclass(obj, BaseException) and name != "Decoded":
        for member, value in members(obj):
            doc = (
                inspect.getdoc(getattr(obj, member))
                if not isinstance(value, property)
                else value.__doc__
            )
            assert (doc or "").strip(), f"{name}.{member} has no docstring"


@pytest.mark.parametrize(
    "obj, signature",
    [
        (atomic_counter.Counter, "(base=None, now=None, interval=None)"),
        (atomic_counter.Counter.next, "(self, /)"),
        (atomic_counter.Counter.next_many, "(self, /, n, out=None)"),
        (atomic_counter.TimeCounter.lead_us, "(self, /)"),
        (
            atomic_counter.SharedCounter,
            "(name, base=None, now=None, interval=None, *, durable=None, block=None, mode=384, "
            "allow_other_owner=False)",
        ),
        (
            atomic_counter.SharedTimeCounter,
            "(name, *, durable=None, block=None, mode=384, allow_other_owner=False)",
        ),
        (atomic_counter.Counter.advance_to, "(self, /, value)"),
        (atomic_counter.SnowflakeCounter, "(layout, node, *, floor=None)"),
        (atomic_counter.TimeCounter.to_datetime, "(value)"),
        (atomic_counter.daily, "(tz: 'tzinfo | None' = None) -> 'Counter'"),
    ],
)
def test_signatures(obj, signature):
    assert str(inspect.signature(obj)) == signature


def test_help_renders():
    text = []
    import pydoc

    for name in ("TimeCounter", "SharedCounter", "SnowflakeCounter", "Layout"):
        text.append(pydoc.render_doc(getattr(atomic_counter, name), renderer=pydoc.plaintext))
    joined = "\n".join(text)
    assert "borrow" in joined and "shared memory" in joined and "node" in joined


def test_the_stub_carries_the_extensions_docstrings():
    # One source: the C++ sources. tools/stub_docs.py copies them into _core.pyi for editors.
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parents[2] / "tools" / "stub_docs.py"
    proc = subprocess.run(
        [sys.executable, str(tool), "--check"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
