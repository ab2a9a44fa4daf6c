"""ASGI entry point (gunicorn -k uvicorn_worker.UvicornWorker torrentpier.asgi).

Announce and scrape run on the event loop (tracker/announce/asgi.py); every
other request goes to Django's ASGI handler.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "torrentpier.settings")
# Read by the settings: Django's connections are per request under ASGI (see DB_POOL_MAX_SIZE there).
os.environ.setdefault("TORRENTPIER_INTERFACE", "asgi")

django_application = get_asgi_application()

# Imported only now, once get_asgi_application() has set Django up.
from tracker.announce.asgi import TrackerASGI  # noqa: E402

application = TrackerASGI(django_application)
