"""Settings for the Django recipe: one app, PostgreSQL from DATABASE_URL."""

import os
from urllib.parse import urlparse

_url = urlparse(os.environ["DATABASE_URL"])

SECRET_KEY = "recipe-only"
INSTALLED_APPS = ["orders"]
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
