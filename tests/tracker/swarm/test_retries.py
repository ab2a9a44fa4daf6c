"""How often an announce statement runs again (tracker.swarm.announce.retries_exhausted), on both fronts' loops."""

from tracker.swarm.announce import DEADLOCK_RETRIES, GATE_CONFLICT_RETRIES, retries_exhausted


def test_a_lock_wait_cut_short_or_a_deadlock_ends_the_announce_at_the_third():
    failures = [0, 0]
    assert [retries_exhausted(failures, False) for _ in range(DEADLOCK_RETRIES)] == [False, False, True]


def test_gate_conflicts_are_outlived_longer_and_counted_apart_from_lock_failures():
    failures = [0, 0]
    assert [retries_exhausted(failures, True) for _ in range(GATE_CONFLICT_RETRIES - 1)] == [False] * 7
    assert [retries_exhausted(failures, False) for _ in range(DEADLOCK_RETRIES)] == [False, False, True]
    assert retries_exhausted(failures, True)
