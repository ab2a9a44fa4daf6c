"""WSGI entry point (gunicorn torrentpier.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "torrentpier.settings")

application = get_wsgi_application()
