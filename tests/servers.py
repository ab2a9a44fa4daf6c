"""Real server processes for the tests and benchmarks that need them: gunicorn on a port the OS picks."""

import re
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
ASGI = ["torrentpier.asgi:application", "-k", "uvicorn_worker.UvicornWorker"]
WSGI = ["torrentpier.wsgi:application"]


def gunicorn_start(
    app: list[str], *, env: dict[str, str], log: Path, workers: int = 1, cwd: Path = BASE_DIR, options: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `gunicorn <app>` (its application and worker-class arguments) and wait until it serves.

    Returns the process and its base URL. Its output goes to `log`; if it
    does not start within a minute (a loaded CI machine boots slowly), the
    error says what it printed. An ASGI server is ready once its application
    has started up, too.
    """
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *app, "--bind", "127.0.0.1:0", "--workers", str(workers), "--no-control-socket", *options],
            cwd=cwd,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    asgi = "uvicorn_worker.UvicornWorker" in app
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        output = log.read_text()
        match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", output)
        if match and (not asgi or "Application startup complete" in output):
            return process, match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"gunicorn {' '.join(app)} did not start:\n{log.read_text()}")


def process_stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Ask the server to stop; kill it if it has not within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
