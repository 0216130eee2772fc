"""The integrations against the real thing: Django's FleetIdField through makemigrations, migrate
and the system checks, SQLAlchemy 2.0's fleet_id columns and Pydantic v2's Id type on a
PostgreSQL server the test starts (support/postgres_server.py), and the issue's proof: the
Django recipe under gunicorn with 4 workers and --preload, 100,000 rows from concurrent HTTP
clients, no id twice, drawn on as many nodes as workers served.

Leases use short timings (ttl 1 s, max_skew 0.2 s, max_lead 0.5 s): a claim waits ~1.45 s."""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import linux_only, needs_redis_server

from atomic_counter import FleetCounter, Layout, SnowflakeCounter, TimeCounter, format_id, parse_id

pytestmark = linux_only

RECIPES = Path(__file__).resolve().parents[2] / "examples" / "recipes"
FAST = {"ttl": 1.0, "max_skew": 0.2, "max_lead": 0.5}


@pytest.fixture
def database(pg):
    return pg.create_database(f"integ_{uuid.uuid4().hex[:8]}")


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env={**os.environ, **env}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


# -- Django -------------------------------------------------------------------------------------

SETTINGS = """
import json, os
from urllib.parse import urlparse

_url = urlparse(os.environ["DATABASE_URL"])
SECRET_KEY = "test"
INSTALLED_APPS = ["shop"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": _url.path.lstrip("/"),
    "USER": _url.username, "HOST": _url.hostname, "PORT": str(_url.port),
}}
if os.environ.get("ATOMIC_COUNTER"):
    ATOMIC_COUNTER = json.loads(os.environ["ATOMIC_COUNTER"])
"""

IDS = """
import json, os
from atomic_counter import FleetCounter

PAYMENT_REFS = FleetCounter(os.environ["DATABASE_URL"], "payments", ttl=1.0, max_skew=0.2,
                            max_lead=0.5)
NOT_A_COUNTER = object()
"""

MODELS = """
import os
from django.db import models
from atomic_counter.django import FleetIdField


class Customer(models.Model):
    id = FleetIdField(primary_key=True)
    name = models.CharField(max_length=40)


class Payment(models.Model):
    # An ordinary BigAutoField key, and a unique id column from a FleetCounter named by path.
    ref = FleetIdField(counter=os.environ.get("PAYMENT_COUNTER", "shop.ids.PAYMENT_REFS"))
    memo = FleetIdField(counter="shop.ids.PAYMENT_REFS", editable=True, unique=False, null=True)
"""

DRAW = """
import json, threading
import django
django.setup()
from django.db import connection
from shop.models import Customer, Payment
from shop.ids import PAYMENT_REFS
from atomic_counter import Layout
from atomic_counter.django import fleet_counter

def make(n):
    for i in range(n):
        Customer.objects.create(name=f"c{i}")
    connection.close()

threads = [threading.Thread(target=make, args=(50,)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
Customer.objects.bulk_create([Customer(name=f"b{i}") for i in range(300)])
Payment.objects.bulk_create([Payment() for _ in range(100)])
customers = list(Customer.objects.values_list("id", flat=True))
refs = list(Payment.objects.values_list("ref", flat=True))
memos = list(Payment.objects.values_list("memo", flat=True))
with connection.cursor() as cursor:
    cursor.execute(
        "SELECT a.attname, i.indisunique, i.indisprimary FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid IN ('shop_customer'::regclass, 'shop_payment'::regclass)"
    )
    indexes = sorted([list(row) for row in cursor.fetchall()])
    cursor.execute(
        "SELECT table_name, column_name, data_type, column_default FROM "
        "information_schema.columns WHERE column_name IN ('id', 'ref', 'memo') "
        "AND table_name LIKE 'shop_%' ORDER BY 1, 2"
    )
    columns = [list(row) for row in cursor.fetchall()]
print(json.dumps({
    "customers": customers, "refs": refs, "memos": memos,
    "customer_nodes": sorted({Layout.INT64.decode(i).node for i in customers}),
    "settings_node": fleet_counter().node,
    "ref_nodes": sorted({Layout.INT64.decode(i).node for i in refs + memos}),
    "refs_node": PAYMENT_REFS.node,
    "indexes": indexes, "columns": columns,
}))
"""

FIELDS = """
import json
import django
django.setup()
from django.db.migrations.writer import MigrationWriter
from atomic_counter.django import FleetIdField

out = {}
for kwargs in (
    {"primary_key": True},
    {},
    {"counter": "shop.ids.PAYMENT_REFS", "editable": True, "unique": False, "null": True},
    {"db_index": True, "verbose_name": "order id"},
):
    name, path, args, written = FleetIdField(**kwargs).deconstruct()
    again = FleetIdField(*args, **written).deconstruct()[3]
    text, imports = MigrationWriter.serialize(FleetIdField(**kwargs))
    out[json.dumps(kwargs)] = [path, written, again == written, text]
for bad in ({"default": 1}, {"counter": 5}, {"counter": "nodots"}):
    try:
        FleetIdField(**bad)
        out[json.dumps(bad)] = "accepted"
    except (TypeError, ValueError) as exc:
        out[json.dumps(bad)] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


@pytest.fixture
def shop(tmp_path, pg, database):
    pytest.importorskip("django")
    project = tmp_path / "project"
    (project / "shop").mkdir(parents=True)
    (project / "settings.py").write_text(SETTINGS)
    (project / "shop" / "__init__.py").write_text("")
    (project / "shop" / "ids.py").write_text(IDS)
    (project / "shop" / "models.py").write_text(MODELS)
    (project / "draw.py").write_text(DRAW)
    (project / "fields.py").write_text(FIELDS)
    url = pg.url_for(database)
    env = {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(project),
        "ATOMIC_COUNTER": json.dumps({"store": url, "namespace": "customers", **FAST}),
    }
    return project, env


def django(project: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "django", *command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
        env={**os.environ, **env},
    )


def test_django_field_migrates_round_trips_and_draws_unique_ids(shop):
    project, env = shop
    for command in (["makemigrations", "shop"], ["migrate"], ["makemigrations", "--check"]):
        proc = django(project, env, *command)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No changes detected" in proc.stdout
    migration = next((project / "shop" / "migrations").glob("0001_*.py")).read_text()
    assert "atomic_counter.django.FleetIdField(primary_key=True, serialize=False)" in migration
    assert "atomic_counter.django.FleetIdField(counter='shop.ids.PAYMENT_REFS')" in migration
    assert "default=" not in migration  # the counter is the field's, not written down

    out = json.loads(run([sys.executable, "draw.py"], project, env))
    assert len(out["customers"]) == len(set(out["customers"])) == 500
    everything = out["refs"] + out["memos"]
    assert len(everything) == len(set(everything)) == 200
    # Each column drew on the node its own counter leased in this process.
    assert out["customer_nodes"] == [out["settings_node"]]
    assert out["ref_nodes"] == [out["refs_node"]]
    assert out["indexes"] == [["id", True, True], ["id", True, True], ["ref", True, False]]
    # bigint columns with no default in the database: the ids are drawn in Python.
    assert [c for c in out["columns"] if c[:2] != ["shop_payment", "id"]] == [
        ["shop_customer", "id", "bigint", None],
        ["shop_payment", "memo", "bigint", None],
        ["shop_payment", "ref", "bigint", None],
    ]


def test_django_field_deconstructs_to_what_builds_it_again(shop):
    project, env = shop
    out = json.loads(run([sys.executable, "fields.py"], project, env))
    path, written, same, text = out['{"primary_key": true}']
    assert path == "atomic_counter.django.FleetIdField"
    assert written == {"primary_key": True} and same  # (a model's pk adds serialize=False)
    assert text == "atomic_counter.django.FleetIdField(primary_key=True)"
    assert out["{}"][1:3] == [{}, True]
    path, written, same, text = out[
        '{"counter": "shop.ids.PAYMENT_REFS", "editable": true, "unique": false, "null": true}'
    ]
    assert written == {
        "counter": "shop.ids.PAYMENT_REFS",
        "editable": True,
        "unique": False,
        "null": True,
    }
    assert same
    assert out['{"db_index": true, "verbose_name": "order id"}'][1:3] == [
        {"db_index": True, "verbose_name": "order id"},
        True,
    ]
    assert out['{"default": 1}'].startswith("TypeError: FleetIdField() takes no 'default'")
    assert out['{"counter": 5}'].startswith("TypeError: FleetIdField() argument 'counter'")
    assert out['{"counter": "nodots"}'].startswith(
        "ValueError: FleetIdField() argument 'counter' must be a dotted import path"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ATOMIC_COUNTER": ""}, "settings.ATOMIC_COUNTER is not set"),
        (
            {"PAYMENT_COUNTER": "shop.ids.NOT_A_COUNTER"},
            "must name an atomic_counter.FleetCounter, not an object of type object",
        ),
        ({"PAYMENT_COUNTER": "shop.ids.MISSING"}, "FleetIdField(counter='shop.ids.MISSING')"),
        (
            {"ATOMIC_COUNTER": json.dumps({"store": "redis://h/0", "namespace": "c", "tll": 1})},
            "unknown ['tll']",
        ),
        (
            {"ATOMIC_COUNTER": json.dumps({"store": "redis://h/0", "namespace": "c", "ttl": "1"})},
            "settings.ATOMIC_COUNTER: FleetCounter() argument 'ttl'",
        ),
        (
            {"ATOMIC_COUNTER": json.dumps({"store": "redis://h/0", "namespace": "c", "layout": 5})},
            "argument 'layout' must be a Layout",
        ),
    ],
)
def test_django_system_checks_name_what_is_wrong(shop, change, message):
    project, env = shop
    proc = django(project, {**env, **change}, "check")
    assert proc.returncode != 0
    assert "atomic_counter.E001" in proc.stderr and message in proc.stderr, proc.stderr


def test_django_settings_take_a_preset_name_and_refuse_ids_beyond_bigint(shop):
    project, env = shop
    config = {"store": "redis://h/0", "namespace": "c", "layout": "INT64"}
    assert django(project, {**env, "ATOMIC_COUNTER": json.dumps(config)}, "check").returncode == 0
    # A layout whose ids use all 64 bits does not fit a BigIntegerField: refused by the checks.
    (project / "shop" / "ids.py").write_text(
        IDS
        + "from datetime import datetime, timezone\nfrom atomic_counter import Layout\n"
        + "WIDE = FleetCounter('redis://h/0', 'w', layout=Layout.create("
        + "datetime(2024, 1, 1, tzinfo=timezone.utc), 'ms', 42, 10, 12, positive_int64=False))\n"
    )
    proc = django(project, {**env, "PAYMENT_COUNTER": "shop.ids.WIDE"}, "check")
    assert proc.returncode != 0 and "pass 2**63 - 1, beyond a BigIntegerField" in proc.stderr


# -- SQLAlchemy ---------------------------------------------------------------------------------


def test_sqlalchemy_columns_draw_unique_bigint_ids(pg, database):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    from sqlalchemy import MetaData, String, Table, insert, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    from atomic_counter.sqlalchemy import fleet_id, fleet_id_column

    ids = FleetCounter(pg.url_for(database), f"sa-{uuid.uuid4().hex[:6]}", **FAST)

    class Base(DeclarativeBase):
        pass

    class Order(Base):
        __tablename__ = "orders"
        id: Mapped[int] = fleet_id(ids)
        item: Mapped[str] = mapped_column(String(20))

    events = Table(
        "events", MetaData(), fleet_id_column("id", ids), sqlalchemy.Column("kind", String(20))
    )
    engine = sqlalchemy.create_engine(pg.url_for(database, "psycopg"))
    Base.metadata.create_all(engine)
    events.metadata.create_all(engine)

    def orm_rows(n: int) -> None:
        with Session(engine) as session:
            session.add_all(Order(item=f"i{k}") for k in range(n))
            session.commit()

    threads = [threading.Thread(target=orm_rows, args=(250,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.begin() as conn:
        conn.execute(insert(events), [{"kind": "click"}] * 1000)  # executemany: one id a row
        orders = conn.scalars(select(Order.id)).all()
        event_ids = conn.scalars(select(events.c.id)).all()
        columns = conn.execute(
            sqlalchemy.text(
                "SELECT table_name, data_type, column_default FROM information_schema.columns "
                "WHERE column_name = 'id' AND table_name IN ('orders', 'events') ORDER BY 1"
            )
        ).all()
    # INSERT ... FROM SELECT computes a Python default once for all its rows: refused, on a
    # column without a unique constraint too (where one id in every row would go unnoticed).
    copies = Table(
        "event_copies",
        MetaData(),
        fleet_id_column("copy_id", ids, primary_key=False),
        sqlalchemy.Column("kind", String(20)),
    )
    copies.metadata.create_all(engine)
    with (
        engine.begin() as conn,
        pytest.raises(sqlalchemy.exc.StatementError, match="every row would get the same") as no,
    ):
        conn.execute(insert(copies).from_select(["kind"], select(events.c.kind)))
    assert isinstance(no.value.orig, ValueError)
    # The same inside a CTE: the statement SQLAlchemy compiles is the SELECT around it.
    inside = insert(copies).from_select(["kind"], select(events.c.kind)).returning(copies.c.copy_id)
    with (
        engine.begin() as conn,
        pytest.raises(sqlalchemy.exc.StatementError, match="every row would get the same") as no,
    ):
        conn.execute(select(inside.cte("copied").c.copy_id)).all()
    assert isinstance(no.value.orig, ValueError)
    with engine.begin() as conn:
        assert conn.scalar(select(sqlalchemy.func.count()).select_from(copies)) == 0
    everything = list(orders) + list(event_ids)
    assert len(orders) == 1000 and len(event_ids) == 1000
    assert len(set(everything)) == 2000
    assert {Layout.INT64.decode(i).node for i in everything} == {ids.node}
    assert [tuple(c) for c in columns] == [("events", "bigint", None), ("orders", "bigint", None)]
    engine.dispose()
    ids.close()


def test_sqlalchemy_helpers_refuse_what_would_not_fit():
    pytest.importorskip("sqlalchemy")
    from datetime import datetime, timezone

    from atomic_counter.sqlalchemy import fleet_id, fleet_id_column

    ids = FleetCounter("redis://h/0", "o")
    with pytest.raises(TypeError, match=r"fleet_id\(\) argument 'counter' must be an atomic_c"):
        fleet_id(ids.next)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"fleet_id\(\) takes no 'default'"):
        fleet_id(ids, default=1)
    with pytest.raises(TypeError, match=r"fleet_id_column\(\) takes no 'autoincrement'"):
        fleet_id_column("id", ids, autoincrement=True)
    with pytest.raises(TypeError, match=r"fleet_id_column\(\) argument 'name' must be a str"):
        fleet_id_column(ids, ids)  # type: ignore[arg-type]
    wide = Layout.create(datetime(2024, 1, 1, tzinfo=timezone.utc), "ms", 42, 10, 12, False)
    with pytest.raises(ValueError, match=r"pass 2\*\*63 - 1, beyond a BIGINT"):
        fleet_id(FleetCounter("redis://h/0", "o", layout=wide))


# -- Pydantic -----------------------------------------------------------------------------------


def test_pydantic_ids_from_postgres_travel_as_strings_and_come_back_as_ints(pg, database):
    pytest.importorskip("pydantic")
    psycopg = pytest.importorskip("psycopg")
    from pydantic import BaseModel

    from atomic_counter.pydantic import Id

    class Event(BaseModel):
        id: Id
        kind: str

    ids = FleetCounter(pg.url_for(database), "events", **FAST)
    with psycopg.connect(pg.url_for(database), autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text)")
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO events VALUES (%s, %s)", [(ids.next(), "click") for _ in range(500)]
            )
        rows = conn.execute("SELECT id, kind FROM events ORDER BY id").fetchall()
    events = [Event(id=i, kind=k) for i, k in rows]  # from the database: ints
    assert [e.model_dump()["id"] for e in events] == [i for i, _ in rows]
    payload = json.dumps([e.model_dump(mode="json") for e in events])
    assert all(isinstance(item["id"], str) for item in json.loads(payload))
    # Far above 2**53, where a JSON number read by JavaScript would be rounded to another id.
    assert all(i > 2**53 for i, _ in rows)
    back = [Event.model_validate(item) for item in json.loads(payload)]
    assert back == events
    ids.close()


def test_pydantic_id_reads_what_it_writes_and_nothing_two_ways():
    pytest.importorskip("pydantic")
    from itertools import combinations
    from typing import Annotated

    from pydantic import BaseModel, TypeAdapter, ValidationError

    from atomic_counter.pydantic import FORMS, Id, IdString

    adapter = TypeAdapter(Id)
    js_safe = SnowflakeCounter(Layout.JS_SAFE, node=3).next()  # 16 digits from 2031 on
    # A Snowflake id of December 2026 whose hex form is digits alone (about 1 in 700 INT64 ids of
    # 2026 are, in stretches: 1 in 5 of those the recipe drew at one moment), and ids whose
    # base32 and base62 forms are digits alone.
    digits_hex = parse_id("0563425725570001", "hex")
    digits_32, digits_62 = parse_id("0123456789012", "base32"), parse_id("12345678901", "base62")
    values = [0, 1, 384131137536000123, 2**53 + 1, 2**63 - 1, 2**64 - 1, TimeCounter().next()]
    values += [js_safe, 1234567890123456, 2**53 - 1, digits_hex, digits_32, digits_62]
    values += [SnowflakeCounter(Layout.INT64, node=n).next() for n in range(0, 1024, 9)]
    for value in values:
        assert adapter.validate_python(value) == value
        assert adapter.dump_python(value) == value  # Python mode: the int
        assert adapter.dump_json(value) == f'"{value}"'.encode()  # JSON mode: a string
        assert adapter.validate_json(adapter.dump_json(value)) == value  # its own output
        assert adapter.validate_python(str(value)) == value
    # Every type that can be made reads each accepted form of every id as that id; the ones that
    # cannot be made are those that would read digits alone two ways, or not read their output.
    made = 0
    for form in FORMS:
        for size in range(1, len(FORMS) + 1):
            for accept in combinations(FORMS, size):
                if form not in accept or ("decimal" in accept and size > 1):
                    with pytest.raises(ValueError, match=r"IdString\(\) argument 'accept' must"):
                        IdString(form, accept=accept)
                    continue
                own = TypeAdapter(Annotated[int, IdString(form, accept=accept)])
                made += 1
                for value in values:
                    assert own.validate_json(own.dump_json(value)) == value, (value, form)
                    for other in accept:
                        text = format_id(value, other)
                        assert own.validate_python(text) == value, (value, form, other)
    assert made == 1 + 3 * 4  # decimal alone; each fixed-width form with any of the other two
    # Decimal is read as written: a zero-padded fixed-width id is refused, not read as another.
    for text in ("0563425725570001", "0123456789012", "00", "007"):
        with pytest.raises(ValidationError, match="is not an id in the form decimal"):
            adapter.validate_python(text)
    assert adapter.validate_python("0") == 0
    assert TypeAdapter(Annotated[int, IdString("hex")]).validate_python("0563425725570001") == (
        digits_hex
    )
    for bad, why in (
        (1.5, "must be an int or a string"),
        (True, "must be an int or a string"),
        (b"123", "must be an int or a string"),
        (-1, "must be in [0, 2**64 - 1]"),
        (2**64, "must be in [0, 2**64 - 1]"),
        ("zz", "'zz' is not an id in the form decimal"),
        ("18446744073709551616", "is not an id in the form decimal"),
        (format_id(384131137536000123, "base32"), "is not an id in the form decimal"),
    ):
        with pytest.raises(ValidationError) as caught:
            adapter.validate_python(bad)
        assert why in str(caught.value), (bad, str(caught.value))
    several = TypeAdapter(Annotated[int, IdString("hex", accept=("hex", "base32"))])
    with pytest.raises(ValidationError, match="is not an id in any of the forms hex, base32"):
        several.validate_python("12345678901")

    class Ref(BaseModel):
        ref: Annotated[int, IdString("base32")]

    ref = Ref(ref=384131137536000123)
    assert ref.model_dump_json() == '{"ref":"0AN5N7G00003V"}' and ref.model_dump() == {
        "ref": 384131137536000123
    }
    assert Ref.model_validate_json(ref.model_dump_json()) == ref
    schema = Ref.model_json_schema(mode="serialization")["properties"]["ref"]
    assert schema["type"] == "string" and schema["pattern"] == "^[0-9A-HJKMNP-TV-Z]{13}$"
    schema = Ref.model_json_schema()["properties"]["ref"]
    assert schema["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
    assert schema["anyOf"][1]["type"] == "string"
    for args, kwargs in (
        (("b64",), {}),
        ((), {"accept": ()}),
        ((), {"accept": ("decimal", "octal")}),
        ((), {"accept": ("hex",)}),
        ((), {"accept": ("decimal", "hex")}),
        (("hex",), {"accept": ("decimal", "hex")}),
    ):
        with pytest.raises(ValueError, match=r"IdString\(\) argument '(form|accept)' must"):
            IdString(*args, **kwargs)
    for args, kwargs in (((1,), {}), ((), {"accept": ["decimal"]}), ((), {"accept": "decimal"})):
        with pytest.raises(TypeError, match=r"IdString\(\) argument '(form|accept)' must be a"):
            IdString(*args, **kwargs)
    # A refusal says why each accepted form did not read the string.
    for text, why in (
        ("0123", "no leading zero"),
        ("12a", "a character outside the alphabet"),
        ("1" * 21, "wrong length"),
    ):
        with pytest.raises(ValidationError, match=why):
            adapter.validate_python(text)


def test_pydantic_id_keeps_the_fields_constraints_and_refuses_json_numbers_rounded_on_the_way():
    pytest.importorskip("pydantic")
    from typing import Annotated

    from pydantic import BaseModel, Field, TypeAdapter, ValidationError

    from atomic_counter.pydantic import Id, IdString

    # A JSON number above 2**53 - 1 may be another id rounded by a JavaScript client
    # (Number("384131137536000001") is 384131137536000000): refused, never read as that id.
    adapter = TypeAdapter(Id)
    for sent in (384131137536000000, 2**53, 2**64 - 1):
        with pytest.raises(ValidationError, match=r"as a JSON number must be at most 2\*\*53 - 1"):
            adapter.validate_json(str(sent))
        assert adapter.validate_json(f'"{sent}"') == sent  # as the type writes it: a string
        assert adapter.validate_python(sent) == sent  # a Python int is exact
    assert adapter.validate_json(str(2**53 - 1)) == 2**53 - 1
    # A framework that decodes the JSON first (FastAPI's request bodies) hands Pydantic Python
    # ints, which cannot be told from the counter's: ints="exact" reads ints only up to 2**53 - 1.
    from_clients = TypeAdapter(dict[str, Annotated[int, IdString(ints="exact")]])
    body = '{"id": 384131137536000000}'  # JavaScript's JSON.stringify of Number(id)
    assert adapter.validate_python(json.loads(body)["id"]) == 384131137536000000  # as documented
    with pytest.raises(ValidationError, match=r"at most 2\*\*53 - 1"):
        from_clients.validate_python(json.loads(body))
    with pytest.raises(ValidationError, match=r"at most 2\*\*53 - 1"):
        from_clients.validate_json(body)
    assert from_clients.validate_python({"id": "384131137536000001"}) == {"id": 384131137536000001}
    assert from_clients.validate_python({"id": 2**53 - 1}) == {"id": 2**53 - 1}
    with pytest.raises(TypeError, match=r"IdString\(\) argument 'ints' must be a str"):
        IdString(ints=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"IdString\(\) argument 'ints' must be 'any' or 'exact'"):
        IdString(ints="all")

    # Constraints of the field hold whichever side of the annotation they are written on.
    class Order(BaseModel):
        id: Id = Field(ge=10)
        parent: Annotated[int, Field(gt=0), IdString("hex")]
        child: Annotated[Id, Field(le=2**53 - 1)]

    good = Order(id=10, parent=1, child=2**53 - 1)
    assert Order.model_validate_json(good.model_dump_json()) == good
    for bad, field in (
        ({"id": 5, "parent": 1, "child": 1}, "id"),
        ({"id": "5", "parent": 1, "child": 1}, "id"),
        ({"id": 10, "parent": 0, "child": 1}, "parent"),
        ({"id": 10, "parent": "0000000000000000", "child": 1}, "parent"),
        ({"id": 10, "parent": 1, "child": 2**53}, "child"),
    ):
        with pytest.raises(ValidationError) as caught:
            Order.model_validate(bad)
        assert [e["loc"] for e in caught.value.errors()] == [(field,)], (bad, caught.value)
    properties = Order.model_json_schema()["properties"]
    assert properties["id"]["anyOf"][0] == {"type": "integer", "minimum": 10, "maximum": 2**53 - 1}
    assert properties["parent"]["anyOf"][0]["exclusiveMinimum"] == 0
    even = TypeAdapter(Annotated[int, Field(multiple_of=2), IdString()])
    assert even.json_schema()["anyOf"][0]["multipleOf"] == 2
    with pytest.raises(ValidationError):
        even.validate_python("3")

    # An int subclass is read as the int it is, whatever it says its int is.
    class Lying(int):
        def __int__(self) -> int:
            return -1

        def __index__(self) -> int:
            return 2**70

    assert type(adapter.validate_python(Lying(5))) is int
    assert adapter.validate_python(Lying(5)) == 5 and adapter.dump_json(Lying(5)) == b'"5"'
    # IdString annotates an int; anything else is refused when the model is defined.
    with pytest.raises(TypeError, match=r"IdString annotates int"):
        TypeAdapter(Annotated[str, IdString()])
    # Once: a second IdString over the first would read its own output as a JSON number.
    for stacked in (Annotated[Id, IdString("hex")], Annotated[Id, Field(ge=1), IdString("hex")]):
        with pytest.raises(TypeError, match=r"IdString annotates int, once"):
            TypeAdapter(stacked)


def test_fastapi_request_bodies_refuse_rounded_ids_with_exact_ints():
    """FastAPI decodes a request body with json.loads and validates Python ints, so the type's
    JSON-number check cannot run there: Id reads a rounded number (documented), and
    IdString(ints="exact") refuses it; the string the type wrote reads back in both."""
    pytest.importorskip("pydantic")
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from typing import Annotated

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from pydantic import BaseModel

    from atomic_counter.pydantic import Id, IdString

    class Loose(BaseModel):
        id: Id

    class FromClients(BaseModel):
        id: Annotated[int, IdString(ints="exact")]

    app = FastAPI()

    @app.post("/loose")
    def loose(order: Loose) -> Loose:
        return order

    @app.post("/exact")
    def exact(order: FromClients) -> FromClients:
        return order

    meant = 384131137536000001
    rounded = int(float(meant))  # what JavaScript's Number(id) makes of it
    assert rounded != meant
    headers = {"content-type": "application/json"}
    with TestClient(app) as client:
        got = client.post("/loose", content=f'{{"id": {rounded}}}', headers=headers)
        assert got.status_code == 200 and got.json() == {"id": str(rounded)}  # another id
        got = client.post("/exact", content=f'{{"id": {rounded}}}', headers=headers)
        assert got.status_code == 422, got.text
        assert "at most 2**53 - 1" in got.json()["detail"][0]["msg"]
        for path in ("/loose", "/exact"):
            got = client.post(path, content=f'{{"id": "{meant}"}}', headers=headers)
            assert got.status_code == 200 and got.json() == {"id": str(meant)}, got.text
            got = client.post(path, content=f'{{"id": {2**53 - 1}}}', headers=headers)
            assert got.status_code == 200 and got.json() == {"id": str(2**53 - 1)}, got.text


# -- the proof: the Django recipe under gunicorn, 4 workers, --preload ---------------------------

ROWS, PER_REQUEST, CLIENTS = 100_000, 50, 8


def post(port: int, items: list[str]) -> tuple[int, list[int]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST", "/orders", json.dumps({"items": items}), {"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        return response.status, []
    return 200, [int(i) for i in json.loads(body)["ids"]]


@needs_redis_server
def test_gunicorn_without_preload_warms_each_worker_before_any_request(pg, database, tmp_path):
    """The recipe's gunicorn.conf.py without --preload, as wsgi.py sets DJANGO_SETTINGS_MODULE:
    each worker's claim starts once it has loaded Django (post_worker_init; in post_fork the
    settings are not known yet) and both workers hold a node before any request comes."""
    pytest.importorskip("django")
    pytest.importorskip("gunicorn")
    from redis_server import RedisServer, free_port

    redis = RedisServer(tmp_path / "redis")
    redis.start()
    project = tmp_path / "django_orders"
    shutil.copytree(RECIPES / "django_orders", project)
    env = {
        "DATABASE_URL": pg.url_for(database),
        "ATOMIC_COUNTER_STORE": redis.url,
        "ATOMIC_COUNTER_OPTIONS": json.dumps(FAST),
        "PYTHONPATH": str(project),
    }
    environ = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--workers", "2"),
            *("--bind", f"127.0.0.1:{free_port()}", "--config", "gunicorn.conf.py"),
            "wsgi:application",
        ],
        cwd=project,
        env={**environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        client = redis.client()
        deadline = time.monotonic() + 60
        while True:
            fields = client.hgetall("atomic_counter:{orders}")
            confirmed = [k for k in fields if k.startswith(b"owner:")]
            if len(confirmed) == 2 and fields.get(b"incarnation"):
                break  # two nodes held, the namespace confirmed: the claims' waits are done
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()[-3000:]
            time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
        redis.stop()
    logged = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in logged, logged[-3000:]


def test_gunicorn_with_preload_and_four_workers_never_repeats_an_id(pg, database, tmp_path):
    pytest.importorskip("django")
    pytest.importorskip("gunicorn")
    psycopg = pytest.importorskip("psycopg")
    from redis_server import RedisServer, free_port

    redis = RedisServer(tmp_path / "redis")
    redis.start()
    project = tmp_path / "django_orders"
    shutil.copytree(RECIPES / "django_orders", project)
    env = {
        "DATABASE_URL": pg.url_for(database),
        "ATOMIC_COUNTER_STORE": redis.url,
        "ATOMIC_COUNTER_OPTIONS": json.dumps(FAST),
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(project),
    }
    for command in (["makemigrations", "orders"], ["migrate"]):
        run([sys.executable, "-m", "django", *command], project, env)
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--preload", "--workers", "4"),
            *("--bind", f"127.0.0.1:{port}", "--config", "gunicorn.conf.py"),
            "wsgi:application",
        ],
        cwd=project,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn never listened"
                time.sleep(0.1)
        start = time.monotonic()
        results: list[tuple[int, list[int]]] = []
        lock = threading.Lock()
        requests = iter(range(ROWS // PER_REQUEST))

        def client() -> None:
            for r in requests:  # shared: the clients take the requests in turn
                got = post(port, [f"item {r}.{k}" for k in range(PER_REQUEST)])
                with lock:
                    results.append(got)

        clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=600)
        took = time.monotonic() - start
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
        redis.stop()
    failed = [status for status, _ in results if status != 200]
    ids = [i for _, got in results for i in got]
    with psycopg.connect(pg.url_for(database)) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT id) FROM orders_order"
        ).fetchone()
    nodes = {Layout.INT64.decode(i).node for i in ids}
    duplicates = len(ids) - len(set(ids))
    print(
        f"\ngunicorn --preload -w 4: {len(ids)} ids in {rows} rows from {len(results)} requests "
        f"of {CLIENTS} clients in {took:.1f} s; {duplicates} duplicates; nodes {sorted(nodes)}"
    )
    assert not failed, f"{len(failed)} requests failed: {sorted(set(failed))}"
    assert len(ids) == rows == distinct == ROWS
    assert duplicates == 0
    assert len(nodes) >= 2, nodes  # the workers leased apart (one node each)
    logged = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in logged, logged[-3000:]
