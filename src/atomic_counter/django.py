"""Django: a model field whose values are ids unique across the fleet, drawn from a FleetCounter.

    # settings.py: the store of the node leases (Redis, or the PostgreSQL you already have)
    ATOMIC_COUNTER = {"store": "redis://localhost:6379/0", "namespace": "orders"}

    # models.py
    from atomic_counter.django import FleetIdField

    class Order(models.Model):
        id = FleetIdField(primary_key=True)

``FleetIdField`` is a BigIntegerField (a ``bigint`` column, ids of the INT64 layout by default)
whose default is the next id of a FleetCounter: the one ``settings.ATOMIC_COUNTER`` configures
(its keys are FleetCounter's arguments: ``store``, ``namespace``, and optionally ``layout`` (a
Layout or a preset name), ``ttl``, ``max_skew``, ``max_lead``, ``max_nodes``, ``wait``,
``trust_store``), or one named by import path: ``FleetIdField(counter="orders.ids.ORDER_IDS")``.
Migrations record the field and that path, never the counter, so they serialize and stay
unchanged. Every process (each gunicorn or uwsgi worker, each Celery child) leases a node of
its own at its first draw; ``warm()`` in gunicorn's post_worker_init hook starts that claim early.

Not imported by ``import atomic_counter``; importing this module imports Django.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings  # type: ignore[import-untyped, import-not-found, unused-ignore]
from django.core import checks  # type: ignore[import-untyped, import-not-found, unused-ignore]
from django.core.exceptions import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    ImproperlyConfigured,
)
from django.db import models  # type: ignore[import-untyped, import-not-found, unused-ignore]
from django.utils.module_loading import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    import_string,
)

from .fleet import FleetCounter, _shared
from .layout import Layout

__all__ = ["FleetIdField", "fleet_counter", "warm"]

# The keys settings.ATOMIC_COUNTER may hold besides "store" and "namespace".
_OPTIONS = ("layout", "ttl", "max_skew", "max_lead", "max_nodes", "wait", "trust_store")

_lock = threading.Lock()
_from_settings: tuple[object, FleetCounter] | None = None  # (the setting, its counter)


def fleet_counter() -> FleetCounter:
    """The FleetCounter that ``settings.ATOMIC_COUNTER`` configures: one object, made on first
    use (no I/O); a setting replaced (override_settings) gives the counter of its configuration,
    the same object whenever that configuration comes back. ImproperlyConfigured when the
    setting is missing or wrong."""
    global _from_settings
    config = getattr(settings, "ATOMIC_COUNTER", None)
    known = _from_settings
    if known is not None and known[0] is config:
        return known[1]
    if config is None:
        raise ImproperlyConfigured(
            "settings.ATOMIC_COUNTER is not set: give the store of the node leases and a "
            "namespace, e.g. ATOMIC_COUNTER = {'store': 'redis://localhost:6379/0', "
            "'namespace': 'orders'} (or name a FleetCounter: FleetIdField(counter='app.ids.IDS'))"
        )
    with _lock:
        known = _from_settings
        if known is None or known[0] != config:
            known = (config, _counter_from(config))
        else:
            known = (config, known[1])  # an equal setting: the same counter
        _from_settings = known
        return known[1]


def _counter_from(config: object) -> FleetCounter:
    if not isinstance(config, dict):
        raise ImproperlyConfigured(
            f"settings.ATOMIC_COUNTER must be a dict with 'store' and 'namespace', not "
            f"{type(config).__name__}"
        )
    missing = [key for key in ("store", "namespace") if key not in config]
    unknown = sorted(set(config) - {"store", "namespace", *_OPTIONS})
    if missing or unknown:
        raise ImproperlyConfigured(
            f"settings.ATOMIC_COUNTER: missing {missing}, unknown {unknown}; it takes 'store', "
            f"'namespace' and optionally {', '.join(repr(k) for k in _OPTIONS)}"
        )
    options = {key: config[key] for key in _OPTIONS if key in config}
    try:
        if isinstance(options.get("layout"), str):
            options["layout"] = Layout.preset(options["layout"].lower())
        # One counter per configuration in a process: a setting that goes back to an earlier
        # value (override_settings in tests) finds the counter, and the lease, it had.
        return _shared(FleetCounter(config["store"], config["namespace"], **options))
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"settings.ATOMIC_COUNTER: {exc}") from exc


def _fits_bigint(counter: FleetCounter, where: str) -> FleetCounter:
    layout = counter.layout
    if not layout.positive_int64:
        raise ImproperlyConfigured(
            f"{where}: the {layout.name} layout's ids pass 2**63 - 1, beyond a BigIntegerField; "
            f"use a layout with positive_int64 (Layout.INT64)"
        )
    return counter


class _Draw:
    """The field's default: the next id of its FleetCounter, found when first needed (so that
    models import before settings and the counter's module are ready)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._counter: FleetCounter | None = None

    def counter(self) -> FleetCounter:
        if self.path is None:
            return _fits_bigint(fleet_counter(), "settings.ATOMIC_COUNTER")
        if self._counter is None:
            where = f"FleetIdField(counter={self.path!r})"
            try:
                found = import_string(self.path)
            except ImportError as exc:
                raise ImproperlyConfigured(f"{where}: {exc}") from exc
            if not isinstance(found, FleetCounter):
                raise ImproperlyConfigured(
                    f"{where} must name an atomic_counter.FleetCounter, not an object of type "
                    f"{type(found).__name__}"
                )
            self._counter = _fits_bigint(found, where)
        return self._counter

    def __call__(self) -> int:
        return self.counter().next()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_counter": None}


class FleetIdField(models.BigIntegerField):  # type: ignore[misc, unused-ignore]
    """A BigIntegerField whose default is the next id of a FleetCounter: ids unique across every
    process of the fleet, increasing with time (sortable), drawn in Python before the INSERT.

    ``counter``: the import path of a FleetCounter (``"orders.ids.ORDER_IDS"``); by default the
    one ``settings.ATOMIC_COUNTER`` configures. Not editable and unique by default (a primary
    key is unique anyway); takes every other BigIntegerField argument but ``default``.

    Adding this field to a table that has rows: Django's AddField fills every existing row with
    one default value, as for any callable default, and does so with ``null=True`` too (a
    unique column then fails the migration; a column made with ``unique=False`` gets one id
    in every row). Add a plain ``BigIntegerField(null=True)`` first; then, with writes to the
    table stopped (rows inserted meanwhile by code that does not set the column would be
    filled with one value by the next step), fill the rows in a data migration (a ``RunPython``
    that saves one ``next()`` per row) and alter the field to ``FleetIdField()`` in the same
    migration.
    """

    description = "A 64-bit id unique across the fleet (atomic-counter)"

    def __init__(self, *args: Any, counter: str | None = None, **kwargs: Any) -> None:
        if "default" in kwargs:
            raise TypeError(
                "FleetIdField() takes no 'default': its values come from a FleetCounter "
                "(settings.ATOMIC_COUNTER, or counter='module.NAME')"
            )
        if counter is not None and not isinstance(counter, str):
            raise TypeError(
                f"FleetIdField() argument 'counter' must be the import path of a FleetCounter "
                f"(a str such as 'orders.ids.ORDER_IDS'), not {type(counter).__name__}"
            )
        if counter is not None and "." not in counter:
            raise ValueError(
                f"FleetIdField() argument 'counter' must be a dotted import path "
                f"('module.NAME'), got {counter!r}"
            )
        kwargs.setdefault("editable", False)
        if not kwargs.get("primary_key", False):
            kwargs.setdefault("unique", True)
        super().__init__(*args, **kwargs)
        self.counter = counter
        self.default = _Draw(counter)

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        # The default is the field's own: recorded as the counter's path, not as a callable.
        kwargs.pop("default", None)
        kwargs.pop("editable", None)
        if self.editable:
            kwargs["editable"] = True
        if not self.primary_key:
            kwargs.pop("unique", None)
            if not self._unique:
                kwargs["unique"] = False
        if self.counter is not None:
            kwargs["counter"] = self.counter
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[Any]:
        return [*super().check(**kwargs), *self._check_counter()]

    def _check_counter(self) -> list[Any]:
        try:
            self.default.counter()
        except ImproperlyConfigured as exc:
            return [checks.Error(str(exc), obj=self, id="atomic_counter.E001")]
        return []


def warm() -> None:
    """Starts the claims of this process now, in the background: the settings' counter and the
    counter of every FleetIdField of the installed models (when the app registry is ready).
    For gunicorn's post_worker_init hook (``def post_worker_init(worker): warm()``: after the
    worker has loaded Django and a gevent worker has monkey-patched), a Celery
    worker_process_init handler, or an AppConfig.ready()."""
    from django.apps import apps  # type: ignore[import-untyped, import-not-found, unused-ignore]

    counters: dict[int, FleetCounter] = {}
    if getattr(settings, "ATOMIC_COUNTER", None) is not None:
        counter = fleet_counter()
        counters[id(counter)] = counter
    if apps.ready:
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, FleetIdField):
                    counter = field.default.counter()
                    counters[id(counter)] = counter
    for counter in counters.values():
        counter.warm()
