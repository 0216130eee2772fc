"""The atomic-counter console script, driven in a subprocess as a user would."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from atomic_counter import Layout, TimeCounter, __version__


def script() -> list[str]:
    found = shutil.which("atomic-counter", path=str(Path(sys.executable).parent))
    assert found, "the console script is installed beside the interpreter"
    return [found]


def cli(*args: str, stdin: str | None = None, module: bool = False):
    command = [sys.executable, "-m", "atomic_counter"] if module else script()
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_version():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"atomic-counter {__version__}"


def test_help_lists_the_subcommands():
    proc = cli("--help")
    for word in ("next", "decode", "bench", "--version"):
        assert word in proc.stdout


def test_next_prints_increasing_time_ids():
    before = TimeCounter().next()
    proc = cli("next", "-n", "5")
    ids = [int(line) for line in proc.stdout.split()]
    assert len(ids) == 5 and ids == sorted(set(ids)) and ids[0] > before


def test_python_dash_m_is_the_same_program():
    proc = cli("next", "--kind", "counter", "--base", "0", "--now", "0", "-n", "3", module=True)
    assert proc.stdout.split() == ["1", "2", "3"]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_next_json_lines_and_kinds(tmp_path):
    proc = cli(
        "next",
        "--kind",
        "counter",
        "--base",
        "100",
        "--now",
        "150",
        "--interval",
        "5",
        "-n",
        "2",
        "--json",
    )
    assert json_lines(proc.stdout) == [{"id": 55, "kind": "counter"}, {"id": 60, "kind": "counter"}]
    proc = cli("next", "--kind", "daily", "--tz", "Asia/Tokyo", "--json")
    [doc] = json_lines(proc.stdout)
    assert doc["kind"] == "daily" and doc["id"] > 0 and doc["base"] > 0
    proc = cli("next", "--kind", "snowflake", "--layout", "discord", "--node", "33", "--json")
    assert Layout.DISCORD.decode(json_lines(proc.stdout)[0]["id"]).node == 33
    path = str(tmp_path / "region")
    first = cli("next", "--kind", "shared", "--name", path, "--base", "0", "--now", "0")
    second = cli("next", "--kind", "shared", "--name", path)
    assert (first.stdout.strip(), second.stdout.strip()) == ("1", "2")
    proc = cli("next", "--kind", "shared-time", "--name", str(tmp_path / "t"), "-n", "2")
    assert len(proc.stdout.split()) == 2


def test_decode_arguments_and_stdin():
    value = (1_795_662_617_814_075 << 12) | 9
    proc = cli("decode", str(value), hex(value))
    assert proc.stdout.splitlines() == [
        f"{value} 2026-11-26T03:10:17.814075+00:00 sequence=9",
        f"{value} 2026-11-26T03:10:17.814075+00:00 sequence=9",
    ]
    proc = cli("decode", "--layout", "discord", "--json", stdin="175928847299117063\n")
    assert json_lines(proc.stdout) == [
        {
            "id": 175928847299117063,
            "datetime": "2016-04-30T11:18:25.796000+00:00",
            "node": 32,
            "sequence": 7,
        }
    ]


def test_string_forms_in_and_out():
    for form, width in (("base32", 13), ("base62", 11), ("hex", 16)):
        texts = cli("next", "-n", "3", "--format", form).stdout.split()
        assert [len(t) for t in texts] == [width] * 3 and texts == sorted(texts)
        decoded = cli("decode", *texts).stdout.splitlines()  # every form read back, unasked
        assert [int(line.split()[0]) for line in decoded] == [
            int(line.split()[0])
            for line in cli("decode", "--format", form, *texts).stdout.splitlines()
        ]
        [record] = json_lines(cli("next", "--format", form, "--json").stdout)
        assert len(record[form]) == width and record["id"] > 0
    assert cli("decode", "--format", "hex", "0000000000003039").stdout.startswith("12345 ")


def test_a_stream_stays_a_stream():
    proc = subprocess.Popen(
        [*script(), "decode", "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    proc.stdin.write("7355046520290336768\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())  # answered before the input ends
    proc.stdin.write("7355046520290336769\n")
    proc.stdin.close()
    second = json.loads(proc.stdout.readline())
    assert (first["id"], second["id"]) == (7355046520290336768, 7355046520290336769)
    assert proc.wait(timeout=60) == 0


def test_a_bare_call_prints_the_usage():
    proc = cli()
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: atomic-counter")
    for command in ("next", "decode", "bench"):
        assert f"  {command} " in proc.stderr
    assert "--format" in cli("next", "--help").stdout


def test_next_piped_into_decode():
    ids = cli("next", "-n", "3").stdout
    proc = cli("decode", "-", stdin=ids)
    assert len(proc.stdout.splitlines()) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["decode", "abc"], "not an id: 'abc'"),
        (["decode", "-1"], "not an id: '-1'"),
        (["decode", str(2**64)], "must be in [0, 18446744073709551615]"),
        (["decode", "--format", "base32", "ZZZZZZZZZZZZZ"], "is not a base32 id (above 2**64"),
        (["decode", "--layout", "nope", "1"], "--layout: invalid choice 'nope'"),
        (["decode", "--layout", "twitter", str(2**63)], "must be in [0, 9223372036854775807]"),
        (
            ["next", "--kind", "counter", "--base", "10", "--now", "5"],
            "now (5) must be >= base (10)",
        ),
        (["next", "--kind", "counter", "--interval", "0"], "interval must be in [1, 2**64 - 1]"),
        (["next", "--kind", "counter", "--base", "-1"], "argument 'base' must be in"),
        (["next", "--kind", "daily", "--tz", "Nowhere/Else"], "unknown time zone 'Nowhere/Else'"),
        (["next", "--kind", "shared"], "--kind shared needs --name"),
        (["next", "--kind", "time", "--base", "1"], "--base does not apply to --kind time"),
        (["next", "--kind", "snowflake", "--node", "5000"], "node must be in [0, 1023]"),
        (["next", "-n", "x"], "not an integer: 'x'"),
        (["next", "-n", "-3"], "must be in [0, 10000000]"),
        (["next", "--kind", "nope"], "--kind: invalid choice 'nope'"),
        (["next", "--format", "octal"], "--format: invalid choice 'octal'"),
        (["next", "--json=yes"], "--json takes no value"),
        (["next", "stray"], "unexpected argument 'stray'"),
        (["frobnicate"], "unknown command 'frobnicate'"),
    ],
)
def test_user_errors_are_one_line_and_status_2(args, message):
    proc = cli(*args)
    assert proc.returncode == 2, proc
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") <= 1 or "usage:" in proc.stderr


def test_region_errors_are_user_errors(tmp_path):
    path = tmp_path / "not-a-region"
    path.write_bytes(b"x" * 100)
    proc = cli("next", "--kind", "shared", "--name", str(path))
    assert proc.returncode == 2 and "truncated" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_prints_a_table():
    proc = cli("bench", "--rounds", "1", "--number", "2000", "--json")
    doc = json.loads(proc.stdout)
    assert doc["atomic_counter"] == __version__
    for name in (
        "Counter.next",
        "TimeCounter.next",
        "SharedCounter.next",
        "time.time_ns",
        "uuid.uuid4",
    ):
        assert doc["ns_per_call"][name] > 0
    text = cli("bench", "--rounds", "1", "--number", "2000").stdout
    assert "ns per id" in text and "Counter.next" in text
    if os.path.isdir("/dev/shm"):
        assert not [n for n in os.listdir("/dev/shm") if n.startswith("atomic-counter-cli-bench")]
