"""The ``atomic-counter`` command line (also ``python -m atomic_counter``).

    atomic-counter next [-n N] [--kind KIND] [--format FORM] [...]   print ids, one a line
    atomic-counter decode [ID...] [--layout NAME] [--format FORM]    each id's time, node, sequence
    atomic-counter bench                                             this package beside its peers
    atomic-counter --version

Every subcommand takes ``--json``: one JSON object a line (JSON Lines), so a stream of ids stays a
stream. Ids are JSON strings there (``{"id": "7355046520290336768"}``): as numbers, readers that
hold JSON numbers as doubles (jq 1.6, JavaScript) would round every id above 2**53 to another
id. ``--json-numbers`` writes them as numbers for readers that keep 64-bit integers. A bad
argument or id prints one line on stderr and exits with status 2; there is never a traceback for
a user's mistake. ``--`` ends the options: every word after it is an id.

The options are one table (COMMANDS) that both the parser and the help read. The parser is
written here rather than taken from argparse, which with ``re`` and ``gettext`` costs more than
the whole package, and JSON Lines are written here rather than by the json module (with ``re``
and ``enum``, 8 ms): ``atomic-counter next`` starts as fast as ``python -c`` drawing one id,
with or without ``--json``.
"""

from __future__ import annotations

import sys

from . import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing costs more to import than this whole module
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Any, NoReturn, TextIO

KINDS = ("time", "counter", "daily", "shared", "shared-time", "snowflake")
FORMATS = ("decimal", "base32", "base62", "hex")
PRESETS = ("time_counter", "twitter", "discord", "int64", "js_safe")
PROG = "atomic-counter"
JSON_HELP = 'one JSON object a line (JSON Lines), ids as strings: {"id": "7355046520290336768"}'
JSON_NUMBERS_HELP = (
    "with --json: ids as JSON numbers, for readers that keep 64-bit integers (jq 1.6 and "
    "JavaScript round numbers above 2**53 to other ids)"
)


class UsageError(Exception):
    """A mistake in the command line or its input: reported in one line, exit status 2."""


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise UsageError(f"not an integer: {text!r}") from None


def _count(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 10_000_000:
        raise UsageError(f"must be in [0, 10000000], got {value}")
    return value


def _choice(choices: Sequence[str], *, any_case: bool = False) -> Callable[[str], str]:
    def convert(text: str) -> str:
        word = text.lower() if any_case else text
        if word not in choices:
            raise UsageError(f"invalid choice {text!r} (choose from {', '.join(choices)})")
        return word

    return convert


# --------------------------------------------------------------------------------------------
# JSON Lines, written here: the records are flat, of str and int only.

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _json_string(text: str) -> str:
    """text as a JSON string, byte for byte what json.dumps writes (ASCII only: any other
    character, a lone surrogate from a file name included, as a \\u escape)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def _json_line(record: dict[str, str | int]) -> str:
    """One JSON object and a newline, as json.dumps(record) + "\\n" writes it."""
    fields = (
        f"{_json_string(key)}: {_json_string(value) if isinstance(value, str) else int(value)}"
        for key, value in record.items()
    )
    return "{" + ", ".join(fields) + "}\n"


def _json_id(value: int, numbers: bool) -> str | int:
    """An id (or another 64-bit value) for a JSON record: a string unless asked for numbers."""
    return value if numbers else str(value)


class Option:
    """One option of a subcommand: a flag (no value) when convert is None."""

    def __init__(
        self,
        flag: str,
        help: str,
        convert: Callable[[str], Any] | None = str,
        default: Any = None,
        metavar: str = "",
        needs: str = "",
    ) -> None:
        self.flag = flag
        self.needs = needs  # another flag this one only modifies
        self.dest = flag.lstrip("-").replace("-", "_")
        self.help = help
        self.convert = convert
        self.default = False if convert is None else default
        self.metavar = metavar or self.dest.upper()


class Command:
    def __init__(
        self,
        name: str,
        summary: str,
        options: list[Option],
        run: Callable[[dict[str, Any], TextIO], None],
        positional: tuple[str, str] | None = None,
    ) -> None:
        self.name = name
        self.summary = summary
        self.options = {o.flag: o for o in options}
        self.run = run
        self.positional = positional  # (name, help): any number of words

    def usage(self) -> str:
        parts = [f"usage: {PROG} {self.name} [-h]"]
        for o in self.options.values():
            parts.append(f"[{o.flag}]" if o.convert is None else f"[{o.flag} {o.metavar}]")
        if self.positional:
            parts.append(f"[{self.positional[0]} ...]")
        return " ".join(parts)

    def help(self) -> str:
        lines = [
            self.usage(),
            "",
            self.summary,
            "",
            "options:",
            "  -h, --help            show this help and exit",
        ]
        for o in self.options.values():
            head = o.flag if o.convert is None else f"{o.flag} {o.metavar}"
            lines.append(f"  {head:<21} {o.help}")
        if self.positional:
            lines += ["", f"  {self.positional[0]:<21} {self.positional[1]}"]
        return "\n".join(lines) + "\n"

    def parse(self, argv: Sequence[str]) -> dict[str, Any]:
        values: dict[str, Any] = {o.dest: o.default for o in self.options.values()}
        words: list[str] = []
        i = 0
        while i < len(argv):
            word = argv[i]
            i += 1
            if word in ("-h", "--help"):
                sys.stdout.write(self.help())
                raise SystemExit(0)
            if word == "--":  # the end of the options: every word after it is an argument
                if self.positional is None and i < len(argv):
                    raise UsageError(f"unexpected argument {argv[i]!r}")
                words += argv[i:]
                break
            if word == "-" or not word.startswith("-") or _looks_negative(word):
                if self.positional is None:
                    raise UsageError(f"unexpected argument {word!r}")
                words.append(word)
                continue
            flag, has_value, value = word.partition("=")
            if flag not in self.options and flag.startswith("-n") and flag != "-n":
                flag, has_value, value = "-n", "=", flag[2:]  # -n5
            option = self.options.get(flag)
            if option is None:
                raise UsageError(f"unrecognized option {flag!r}")
            if option.convert is None:
                if has_value:
                    raise UsageError(f"{flag} takes no value")
                values[option.dest] = True
                continue
            if not has_value:
                if i >= len(argv):
                    raise UsageError(f"{flag} needs a value ({option.metavar})")
                value = argv[i]
                i += 1
            try:
                values[option.dest] = option.convert(value)
            except UsageError as exc:
                raise UsageError(f"{flag}: {exc}") from None
        if self.positional:
            values[self.positional[0]] = words
        for option in self.options.values():
            needs = option.needs
            if needs and values[option.dest] and not values[needs.lstrip("-").replace("-", "_")]:
                raise UsageError(f"{option.flag} needs {needs}")
        return values


def _looks_negative(word: str) -> bool:
    """-5, -0x5: a negative number, read as an argument (and refused as an id) rather than as
    an unknown option."""
    return len(word) > 1 and word[0] == "-" and word[1].isdigit()


# --------------------------------------------------------------------------------------------
# next


def _counter(args: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    kind = args["kind"]
    allowed = {
        "counter": {"base", "now", "interval"},
        "shared": {"base", "now", "interval", "name", "create"},
        "daily": {"tz"},
        "shared-time": {"name", "create"},
        "snowflake": {"layout", "node"},
        "time": set(),
    }[kind]
    for option in ("base", "now", "interval", "tz", "name", "layout", "node", "create"):
        if args[option] not in (None, False) and option not in allowed:
            raise UsageError(f"--{option} does not apply to --kind {kind}")
    from . import Counter, SnowflakeCounter, TimeCounter, daily

    info: dict[str, Any] = {"kind": kind}
    if kind == "counter":
        return Counter(args["base"], args["now"], args["interval"]), info
    if kind == "daily":
        tz = None
        if args["tz"] is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                tz = ZoneInfo(args["tz"])
            except (ZoneInfoNotFoundError, ValueError):
                raise UsageError(f"unknown time zone {args['tz']!r}") from None
        counter = daily(tz)
        info["base"] = _json_id(counter.base, args["json_numbers"])
        return counter, info
    if kind in ("shared", "shared-time"):
        if not args["name"]:
            raise UsageError(f"--kind {kind} needs --name")
        info["name"] = args["name"]
        return _shared(kind, args), info
    if kind == "snowflake":
        layout = _layout(args["layout"] or "twitter")
        node = 0 if args["node"] is None else args["node"]
        info.update(layout=layout.name, node=node)
        return SnowflakeCounter(layout, node), info
    return TimeCounter(), info


def _shared(kind: str, args: dict[str, Any]) -> Any:
    """The shared counter named by --name. Only --create makes a new region: a region is the
    applications' (they choose its base and interval, and a region created here with other
    ones would refuse their SharedCounter(name, base=...)), so a name with none is an error
    rather than a region made up on the spot."""
    from . import SharedCounter, SharedTimeCounter

    cls = SharedCounter if kind == "shared" else SharedTimeCounter
    name = args["name"]
    if not args["create"] and not _region_exists(cls, name):
        raise UsageError(
            f"no {cls.__name__} named {name!r} on this host; --create makes one"
            + (" (from --base, --now and --interval)" if kind == "shared" else "")
        )
    if kind == "shared":
        return SharedCounter(name, args["base"], args["now"], args["interval"])
    return SharedTimeCounter(name)


def _region_exists(cls: Any, name: str) -> bool:
    """Whether a region has the name: the open that unpickling uses, which never creates one,
    asked for a region id no region has. FileNotFoundError means no region; anything else
    (the id refused, a permission) means there is one, which the real open then reports on.
    A region unlinked between this and the open is created by the open as --create would."""
    try:
        cls._attach(name, "0" * 32, 0, 1, 0, 0o600, False).close()
    except FileNotFoundError:
        return False
    except (ValueError, OSError):
        return True
    return True  # pragma: no cover - a region whose id is 0: it exists


def _lead_ns(counter: Any) -> int:
    """How far the last value drawn runs ahead of the clock, in ns (0 for the shared kinds,
    whose value outlives this process)."""
    import time

    from . import Counter, SnowflakeCounter, TimeCounter

    if isinstance(counter, SnowflakeCounter):
        return int(counter.lead_ns())
    if isinstance(counter, TimeCounter):
        return int(counter.lead_us()) * 1000
    if isinstance(counter, Counter):
        return max(0, counter.current() - (time.time_ns() - counter.base))
    return 0


def _next(args: dict[str, Any], out: TextIO) -> None:
    counter, info = _counter(args)
    ids = [counter.next() for _ in range(args["n"])]
    # A burst runs ahead of the clock (more ids than a tick holds borrow from the next ticks),
    # and the next run of this command starts a new counter from the clock: it would repeat
    # these ids. So nothing is printed before the clock has passed the last one.
    import time

    while (lead := _lead_ns(counter)) > 0:
        time.sleep(min(lead / 1e9 + 0.001, 1.0))
    form = args["format"]
    if form == "decimal":
        texts = [str(v) for v in ids]
    else:
        from . import format_id

        texts = [format_id(v, form) for v in ids]
    if args["json"]:
        numbers = args["json_numbers"]
        for value, text in zip(ids, texts, strict=True):
            record = {"id": _json_id(value, numbers), **({} if form == "decimal" else {form: text})}
            out.write(_json_line({**record, **info}))
    else:
        out.write("".join(f"{t}\n" for t in texts))


# --------------------------------------------------------------------------------------------
# decode


def _layout(name: str) -> Any:
    from .layout import Layout

    try:
        return Layout.preset(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _read_id(word: str, form: str | None) -> int:
    """An id in any of its forms. With no form: digits (or 0x...) are decimal (or hex); other
    words are read by their length: 13 characters base32, 11 base62, 16 hex."""
    from . import parse_id

    if _looks_negative(word):
        raise UsageError(
            f"not an id: {word!r} (ids are never negative: they are in [0, 2**64 - 1])"
        )
    if form is None:
        if word.isdigit() or word[:2].lower() in ("0x", "0o", "0b"):
            try:
                return int(word, 10 if word.isdigit() else 0)  # leading zeros are decimal too
            except ValueError:
                raise UsageError(f"not an id: {word!r}") from None
        form = {13: "base32", 11: "base62", 16: "hex"}.get(len(word))
        if form is None:
            raise UsageError(
                f"not an id: {word!r} (ids are decimal, or 13 characters of "
                f"base32, 11 of base62 or 16 of hex)"
            )
    try:
        return parse_id(word, form)
    except ValueError as exc:
        raise UsageError(str(exc).replace("parse_id(): ", "")) from None


def _words(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        yield from text.split()


def _decode(args: dict[str, Any], out: TextIO) -> None:
    layout = _layout(args["layout"])
    form = None if args["format"] == "auto" else args["format"]
    source: Iterable[str] = args["ids"] if args["ids"] and args["ids"] != ["-"] else sys.stdin
    as_json, numbers = args["json"], args["json_numbers"]
    for word in _words(source):
        value = _read_id(word, form)
        try:
            decoded = layout.decode(value)
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from None
        when = decoded.datetime.isoformat()
        if as_json:
            record: dict[str, str | int] = {"id": _json_id(value, numbers), "datetime": when}
            if layout.node_bits:
                record["node"] = decoded.node
            record["sequence"] = decoded.sequence
            out.write(_json_line(record))
        else:
            node = f" node={decoded.node}" if layout.node_bits else ""
            out.write(f"{value} {when}{node} sequence={decoded.sequence}\n")
        if source is sys.stdin:
            out.flush()  # a stream in, a stream out


def _bench(args: dict[str, Any], out: TextIO) -> None:
    from .bench import main as bench_main

    bench_main(
        rounds=max(1, args["rounds"]), number=max(1, args["number"]), as_json=args["json"], out=out
    )


COMMANDS = {
    c.name: c
    for c in (
        Command(
            "next",
            "Draw ids and print them, one a line.",
            [
                Option(
                    "--kind", "which counter (default time, a TimeCounter)", _choice(KINDS), "time"
                ),
                Option("-n", "how many ids (default 1)", _count, 1, "N"),
                Option(
                    "--format",
                    "decimal (default), base32, base62 or hex: fixed-width strings that "
                    "sort like the ids",
                    _choice(FORMATS),
                    "decimal",
                    "FORM",
                ),
                Option("--base", "counter/shared: the base, ns since 1970", _int),
                Option("--now", "counter/shared: the start time, ns since 1970", _int),
                Option("--interval", "counter/shared: the step (default 1)", _int),
                Option(
                    "--tz",
                    "daily: the time zone whose midnight starts the day (an IANA name such "
                    "as America/New_York; default UTC)",
                ),
                Option("--name", "shared/shared-time: the region's name or path"),
                Option(
                    "--create",
                    "shared/shared-time: create the region if the name has none (without it, "
                    "only an existing region is drawn from)",
                    None,
                ),
                Option(
                    "--layout",
                    f"snowflake: a preset layout ({', '.join(PRESETS)}, in any case; "
                    "default twitter)",
                    _choice(PRESETS, any_case=True),
                ),
                Option("--node", "snowflake: this node's id (default 0)", _int),
                Option("--json", JSON_HELP, None),
                Option("--json-numbers", JSON_NUMBERS_HELP, None, needs="--json"),
            ],
            _next,
        ),
        Command(
            "decode",
            "Decode ids; with no ID (or '-'), read them from stdin, a line at a time.",
            [
                Option(
                    "--layout",
                    f"the ids' layout ({', '.join(PRESETS)}, in any case; default time_counter)",
                    _choice(PRESETS, any_case=True),
                    "time_counter",
                ),
                Option(
                    "--format",
                    "how the ids are written: auto (default: digits are decimal, other "
                    "words base32, base62 or hex by their length), decimal, base32, "
                    "base62, hex",
                    _choice(("auto", *FORMATS)),
                    "auto",
                    "FORM",
                ),
                Option("--json", JSON_HELP, None),
                Option("--json-numbers", JSON_NUMBERS_HELP, None, needs="--json"),
            ],
            _decode,
            ("ids", "ids in any form; '--' before ids that start with '-'"),
        ),
        Command(
            "bench",
            "Time one id per call from this package and from the peers that are "
            "installed; print a table.",
            [
                Option("--rounds", "interleaved rounds (median; default 7)", _count, 7),
                Option("--number", "calls per round (default 100000)", _count, 100_000),
                Option(
                    "--json",
                    "one JSON object a line (JSON Lines), one per measurement: what, "
                    "ns_per_id, and the version, Python, machine, rounds and number",
                    None,
                ),
            ],
            _bench,
        ),
    )
}


def _usage() -> str:
    lines = [
        f"usage: {PROG} [-h] [--version] {{{','.join(COMMANDS)}}} ...",
        "",
        "Unique, monotonically increasing 64-bit ids: draw, decode and benchmark.",
        "",
        "commands:",
    ]
    lines += [f"  {c.name:<8} {c.summary}" for c in COMMANDS.values()]
    lines += ["", f"'{PROG} COMMAND --help' shows a command's options."]
    return "\n".join(lines) + "\n"


def _fail(where: str, message: str, usage: str | None = None) -> NoReturn:
    if usage:
        sys.stderr.write(usage + "\n")
    sys.stderr.write(f"{where}: error: {message}\n")
    raise SystemExit(2)


def _arguments(argv: Sequence[str] | None) -> list[str]:
    if argv is None:
        return sys.argv[1:]
    if not isinstance(argv, (str, bytes)):
        try:
            words = list(argv)
        except TypeError:
            pass
        else:
            odd = next((w for w in words if not isinstance(w, str)), None)
            if odd is None:
                return words
            raise TypeError(
                "atomic_counter.cli.main() argument 'argv' must be a sequence of str, "
                f"not one holding {type(odd).__name__}"
            )
    raise TypeError(
        "atomic_counter.cli.main() argument 'argv' must be a sequence of str (the words "
        f"after the program's name) or None, not {type(argv).__name__}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line on argv (default: sys.argv[1:]); returns the exit status."""
    argv = _arguments(argv)
    if not argv:
        sys.stderr.write(_usage())
        return 2
    first = argv[0]
    if first in ("-h", "--help"):
        sys.stdout.write(_usage())
        return 0
    if first == "--version":
        sys.stdout.write(f"{PROG} {__version__}\n")
        return 0
    command = COMMANDS.get(first)
    if command is None:
        _fail(
            PROG,
            f"unknown command {first!r} (choose from {', '.join(COMMANDS)})",
            _usage().splitlines()[0],
        )
    where = f"{PROG} {command.name}"
    try:
        args = command.parse(argv[1:])
    except UsageError as exc:
        _fail(where, str(exc), command.usage())
    try:
        command.run(args, sys.stdout)
    except UsageError as exc:
        _fail(where, str(exc))
    except BrokenPipeError:  # pragma: no cover - `| head`
        return 0
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        # What the library refuses (a bad base, a region of the other kind, a read-only file):
        # the user's input, so one line and status 2.
        _fail(where, str(exc))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
