"""One lock on the root network namespace's interfaces, shared by the test processes running at once.

Chromium aborts its requests in flight with net::ERR_NETWORK_CHANGED when an
interface of its network namespace appears, changes or goes, and the
end-to-end labs (tests/e2e/netns.py) add and remove a bridge and veth ends in
the root namespace. CI runs its two passes of the suite at once, so one's
browser tests and the other's labs overlap. A lab changes interfaces only
while it holds this lock exclusively; a browser test holds it shared while it
runs (tests/browser/conftest.py), so neither waits for more than the other's
step.
"""

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK = Path(tempfile.gettempdir()) / "torrentpier-test-interfaces.lock"


@contextmanager
def interfaces_steady(*, changing: bool) -> Iterator[None]:
    """Hold the lock for the block: exclusively to change interfaces (`changing`), else shared."""
    with LOCK.open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if changing else fcntl.LOCK_SH)
        yield
