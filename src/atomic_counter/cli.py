"""The ``atomic-counter`` command line (also ``python -m atomic_counter``).

    atomic-counter next [-n N] [--kind KIND] [...]   print ids, one a line
    atomic-counter decode ID... [--layout NAME]      print each id's time (and node, sequence)
    atomic-counter bench                             time this package beside its peers
    atomic-counter --version

Every subcommand takes ``--json``. A bad argument or id prints one line on stderr and exits
with status 2; there is never a traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from . import (
    Counter,
    Layout,
    SharedCounter,
    SharedTimeCounter,
    SnowflakeCounter,
    TimeCounter,
    __version__,
    daily,
)

KINDS = ("counter", "daily", "time", "shared", "shared-time", "snowflake")


class UsageError(Exception):
    """A mistake in the command line or its input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _count(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"must be in [0, 10000000], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="atomic-counter",
        description="Unique, monotonically increasing 64-bit ids: draw, decode and benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    nxt = sub.add_parser("next", help="print ids, one a line",
                         description="Draw ids and print them, one a line.")
    nxt.add_argument("--kind", choices=KINDS, default="time",
                     help="which counter (default: time, a TimeCounter)")
    nxt.add_argument("-n", type=_count, default=1, help="how many ids (default 1)")
    nxt.add_argument("--base", type=_int, help="counter/shared: the base, ns since 1970")
    nxt.add_argument("--now", type=_int, help="counter/shared: the start time, ns since 1970")
    nxt.add_argument("--interval", type=_int, help="counter/shared: the step (default 1)")
    nxt.add_argument("--tz", help="daily: the time zone whose midnight starts the day "
                                  "(an IANA name such as America/New_York; default UTC)")
    nxt.add_argument("--name", help="shared/shared-time: the region's name or path")
    nxt.add_argument("--layout", default="twitter", help="snowflake: a preset layout "
                     f"({', '.join(Layout.PRESETS)}; default twitter)")
    nxt.add_argument("--node", type=_int, default=0, help="snowflake: this node's id")
    nxt.add_argument("--json", action="store_true", help="print one JSON document")

    dec = sub.add_parser("decode", help="print the time (and node, sequence) of ids",
                         description="Decode ids; with no ID (or '-'), read ids from stdin.")
    dec.add_argument("ids", nargs="*", metavar="ID", help="ids (decimal or 0x hex)")
    dec.add_argument("--layout", default="time_counter", help="the ids' layout "
                     f"({', '.join(Layout.PRESETS)}; default time_counter)")
    dec.add_argument("--json", action="store_true", help="print one JSON document")

    bench = sub.add_parser("bench", help="time this package beside its peers",
                           description="Time one id per call from this package and from the "
                                       "peers that are installed; print a table.")
    bench.add_argument("--rounds", type=_count, default=7, help="interleaved rounds (median)")
    bench.add_argument("--number", type=_count, default=100_000, help="calls per round")
    bench.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _draw(args: argparse.Namespace) -> tuple[list[int], dict[str, Any]]:
    kind = args.kind
    allowed = {
        "counter": {"base", "now", "interval"},
        "shared": {"base", "now", "interval", "name"},
        "daily": {"tz"},
        "shared-time": {"name"},
        "snowflake": {"layout", "node"},
        "time": set(),
    }[kind]
    for option in ("base", "now", "interval", "tz", "name"):
        if getattr(args, option) is not None and option not in allowed:
            raise UsageError(f"--{option} does not apply to --kind {kind}")
    info: dict[str, Any] = {"kind": kind}
    counter: Any
    if kind == "counter":
        counter = Counter(args.base, args.now, args.interval)
    elif kind == "daily":
        tz = None
        if args.tz is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                tz = ZoneInfo(args.tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise UsageError(f"unknown time zone {args.tz!r}") from None
        counter = daily(tz)
        info["base"] = counter.base
    elif kind in ("shared", "shared-time"):
        if not args.name:
            raise UsageError(f"--kind {kind} needs --name")
        if kind == "shared":
            counter = SharedCounter(args.name, args.base, args.now, args.interval)
        else:
            counter = SharedTimeCounter(args.name)
        info["name"] = args.name
    elif kind == "snowflake":
        layout = _layout(args.layout)
        counter = SnowflakeCounter(layout, args.node)
        info.update(layout=layout.name, node=args.node)
    else:
        counter = TimeCounter()
    return ([counter.next() for _ in range(args.n)] if args.n else []), info


def _layout(name: str) -> Layout:
    try:
        return Layout.preset(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _parse_ids(texts: Iterable[str]) -> Iterable[int]:
    for text in texts:
        for word in text.split():
            try:
                yield int(word, 0)
            except ValueError:
                raise UsageError(f"not an id: {word!r}") from None


def _decode(args: argparse.Namespace, out: Any) -> None:
    layout = _layout(args.layout)
    source: Iterable[str] = args.ids if args.ids and args.ids != ["-"] else sys.stdin
    records = []
    for value in _parse_ids(source):
        try:
            decoded = layout.decode(value)
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from None
        record: dict[str, Any] = {"id": value, "datetime": decoded.datetime.isoformat()}
        if layout.node_bits:
            record["node"] = decoded.node
        record["sequence"] = decoded.sequence
        if args.json:
            records.append(record)
        else:
            fields = [str(value), record["datetime"]]
            if layout.node_bits:
                fields.append(f"node={decoded.node}")
            fields.append(f"sequence={decoded.sequence}")
            print(" ".join(fields), file=out, flush=False)
    if args.json:
        json.dump({"layout": layout.name, "ids": records}, out)
        out.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "next":
            ids, info = _draw(args)
            if args.json:
                json.dump({**info, "ids": ids}, out)
                out.write("\n")
            else:
                out.write("".join(f"{v}\n" for v in ids))
        elif args.command == "decode":
            _decode(args, out)
        else:
            from .bench import main as bench_main

            bench_main(rounds=max(1, args.rounds), number=max(1, args.number),
                       as_json=args.json, out=out)
    except UsageError as exc:
        parser.exit(2, f"atomic-counter {args.command}: error: {exc}\n")
    except BrokenPipeError:  # pragma: no cover - `| head`
        return 0
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        # What the library refuses (a bad base, a region of the other kind, a read-only file):
        # the user's input, so one line and status 2.
        parser.exit(2, f"atomic-counter {args.command}: error: {exc}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
