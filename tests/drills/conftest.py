"""The drills' stack, started once for the folder: its own PostgreSQL 15 and Redis, four servers (issue 11).

They run in the PostgreSQL pass (DATABASE_URL is PostgreSQL) and skip
elsewhere; without initdb/pg_ctl or redis-server they skip, or fail where CI
sets REQUIRE_SYSTEM_TOOLS. The cluster and Redis are their own, on free
ports: the run's shared services are never touched.
"""

import os
from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.drills import harness

# Members and torrents of each drill (seeded once; each drill checks only its own).
GROUPS = {
    "storm": (12, 24),
    "restart": (6, 6),
    "stop": (6, 6),
    "redis": (4, 4),
    "lock": (4, 4),
    "soak": (6, 6),
}


@pytest.fixture(scope="session")
def drill_stack() -> Iterator[harness.Stack]:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the drills run in the PostgreSQL pass (DATABASE_URL=postgres://...); they start their own PostgreSQL 15 and Redis")
    missing = harness.missing_tools()
    if missing:
        message = f"the drills need {', '.join(missing)}"
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(message + " and REQUIRE_SYSTEM_TOOLS is set")
        pytest.skip(message)
    with harness.stack(GROUPS) as built:
        yield built


_FIGURES: dict[str, dict] = {}


@pytest.fixture(scope="session")
def drill_figures() -> dict[str, dict]:
    """Each drill records its figures here; they are printed at the end of the run (README, Reliability)."""
    return _FIGURES


def pytest_terminal_summary(terminalreporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("drills: figures")
    for name, figures in _FIGURES.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in figures.items():
            terminalreporter.write_line(f"    {key}: {value}")
