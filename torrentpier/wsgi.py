"""WSGI entry point (gunicorn torrentpier.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "torrentpier.settings")

django_application = get_wsgi_application()

# Announce and scrape skip the middleware stack (tracker/announce/wsgi.py);
# imported only now, once get_wsgi_application() has set Django up.
from tracker.announce.wsgi import TrackerFastPath  # noqa: E402

application = TrackerFastPath(django_application)
