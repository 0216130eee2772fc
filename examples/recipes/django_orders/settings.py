"""Settings for the Django recipe: one app, PostgreSQL from DATABASE_URL, and ATOMIC_COUNTER:
where the processes lease their node ids (the same PostgreSQL unless ATOMIC_COUNTER_STORE names
a Redis), for the ids of orders.models.Order."""

import json
import os
from urllib.parse import urlparse

_url = urlparse(os.environ["DATABASE_URL"])

SECRET_KEY = "recipe-only"
INSTALLED_APPS = ["orders"]
ROOT_URLCONF = "urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "",
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
    }
}

# Every process (each gunicorn worker, each script) leases a node of this namespace at its first
# id; atomic_counter.FleetCounter's other arguments may be given here too. The tests shorten the
# lease's timings through ATOMIC_COUNTER_OPTIONS ({"ttl": 1, "max_skew": 0.2, ...}).
ATOMIC_COUNTER = {
    "store": os.environ.get("ATOMIC_COUNTER_STORE", os.environ["DATABASE_URL"]),
    "namespace": "orders",
    **json.loads(os.environ.get("ATOMIC_COUNTER_OPTIONS", "{}")),
}
