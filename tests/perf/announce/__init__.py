"""Announce benchmark: the tracker under gunicorn vs opentracker, both loaded by wrk. Run `python -m tests.perf.announce`."""
