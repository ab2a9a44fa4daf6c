"""gunicorn settings shared by both services (the site and the tracker): `gunicorn -c deploy/gunicorn.conf.py ...`.

With PROMETHEUS_MULTIPROC_DIR set, each worker writes its metrics to files
there and /metrics sums them; when a worker exits, its live gauges (pool
connections) must stop counting, which this hook tells prometheus-client.
"""

import os
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
