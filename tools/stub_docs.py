"""Copies the extension's docstrings into its type stubs, so that they have one source.

The docstrings of atomic_counter._core are written once, in the C++ sources (PyDoc_STRVAR and the
getset tables), where help() and pydoc read them. Editors read src/atomic_counter/_core.pyi
instead, so this writes each public name's runtime docstring into the stub, in place of whatever
the stub had. The stub's own part is the types.

    python tools/stub_docs.py          # rewrites the stub (with the package built and installed)
    python tools/stub_docs.py --check  # exits 1 and names what differs (the test suite runs this)
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
from pathlib import Path

STUB = Path(__file__).resolve().parents[1] / "src" / "atomic_counter" / "_core.pyi"


def runtime_doc(owner: object, name: str) -> str | None:
    """The docstring help() shows for owner.name, or None for what has none of its own."""
    if name.startswith("_"):
        return None  # private and dunder: the stub's types are enough
    try:
        obj = inspect.getattr_static(owner, name)
    except AttributeError:
        return None
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else None


def render(doc: str, indent: int) -> list[str]:
    pad = " " * indent
    lines = doc.splitlines()
    if len(lines) == 1:
        return [f'{pad}"""{lines[0]}"""\n']
    out = [f'{pad}"""{lines[0]}\n']
    out += [f"{pad}{line}\n" if line else "\n" for line in lines[1:]]
    out.append(f'{pad}"""\n')
    return out


def edits(tree: ast.Module, core: object) -> list[tuple[int, int, list[str], bool]]:
    """(first line, end line, new docstring lines, replace) for every documented definition:
    replace the existing docstring's lines, or insert after a one-line `...` body."""
    found = []

    def visit(node: ast.AST, owner: object) -> None:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return
        doc = runtime_doc(owner, node.name)
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                visit(child, getattr(owner, node.name, None))
        if doc is None:
            return
        indent = node.col_offset + 4
        first = node.body[0]
        has_doc = (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        )
        if has_doc:
            found.append(
                (first.lineno, first.end_lineno or first.lineno, render(doc, indent), True)
            )
        elif (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and first.value.value is Ellipsis
            and first.lineno == node.body[-1].end_lineno
        ):
            found.append((first.lineno, first.lineno, render(doc, indent), False))

    for node in tree.body:
        visit(node, core)
    return sorted(found, key=lambda edit: edit[0], reverse=True)


def apply(text: str, core: object) -> str:
    lines = text.splitlines(keepends=True)
    for first, end, doc, replace in edits(ast.parse(text), core):
        if replace:
            lines[first - 1 : end] = doc
        else:
            # `def f(self) -> int: ...` becomes the signature, then the docstring as its body.
            line = lines[first - 1]
            head = line.rstrip("\n")
            assert head.endswith(": ..."), head
            lines[first - 1 : first] = [head[: -len(" ...")] + "\n", *doc]
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    args = parser.parse_args()
    import atomic_counter._core as core

    text = STUB.read_text(encoding="utf-8")
    wanted = apply(text, core)
    if wanted == text:
        return 0
    if args.check:
        import difflib

        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                str(STUB),
                "from the extension's docstrings",
                n=1,
            )
        )
        print(f"\n{STUB} differs from the extension's docstrings: run python tools/stub_docs.py")
        return 1
    STUB.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
