"""Counting a list's rows within a time budget, or estimating them, and saying so.

An exact count of a common search on a million torrents reads every match
(165,000 rows for `ubuntu` in the benchmark: 160-280 ms), and a new search
is always counted cold. On PostgreSQL `budgeted_count` runs the count under
a statement timeout of LIST_COUNT_BUDGET_MS; a count that does not finish in
it is estimated from a sample of the table's pages instead (TABLESAMPLE
SYSTEM, about SAMPLE_ROWS rows, the same filters), some 20 milliseconds. The
figure is then an `Estimate`, an int that says it is one: the API's `meta`
carries `total_is_estimate: true` and the browse page says "about".

Only a count that cannot be had cheaply is ever an estimate: a count that
finishes in the budget, a sample that covers the whole table, and every
count on SQLite (the embedded default, no statement timeout and small
catalogues) are exact. If the sample too runs out of time (the table is
locked), the count is made without a budget, as it was before.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet

# Rows the sample should hold: enough for a few per cent on a common term, cheap on any table
# (about 20 ms on the benchmark's million torrents); the sample's own time limit only guards against a locked table.
SAMPLE_ROWS = 20_000
SAMPLE_BUDGET_MS = 250


class Estimate(int):
    """A count that is an estimate (budgeted_count)."""

    __slots__ = ()


def plus(count: int, more: int) -> int:
    """`count + more`, still an Estimate if `count` was one."""
    return Estimate(count + more) if isinstance(count, Estimate) else count + more


class _TimedOut(Exception):
    """The statement timeout of a budget cancelled the statement."""


class _Counted(Exception):
    """Leaves the budget's savepoint by rolling it back, which also undoes its SET LOCAL."""

    def __init__(self, value: int) -> None:
        self.value = value


def budgeted_count(queryset: QuerySet[Any], *, budget_ms: int | None = None) -> int:
    """`queryset.count()`, or on PostgreSQL an Estimate of it if it takes longer than `budget_ms` (LIST_COUNT_BUDGET_MS; 0: no budget)."""
    budget = settings.LIST_COUNT_BUDGET_MS if budget_ms is None else budget_ms
    connection = connections[queryset.db]
    if budget <= 0 or connection.vendor != "postgresql":
        return queryset.count()
    try:
        return _within(queryset, budget, queryset.count)
    except _TimedOut:
        pass
    try:
        return _within(queryset, max(budget, SAMPLE_BUDGET_MS), lambda: _sampled(queryset))
    except _TimedOut:
        return queryset.count()


def _within(queryset: QuerySet[Any], budget_ms: int, compute: Callable[[], int]) -> int:
    """compute() under a statement timeout of `budget_ms`, in a savepoint that is always rolled back."""
    connection = connections[queryset.db]
    try:
        with transaction.atomic(using=queryset.db):
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{int(budget_ms)}ms"])
            raise _Counted(compute())
    except _Counted as counted:
        return counted.value
    except DatabaseError as exc:
        if _cancelled(exc):
            raise _TimedOut from exc
        raise


def _cancelled(exc: BaseException) -> bool:
    from psycopg import errors

    return isinstance(exc.__cause__, errors.QueryCanceled)


def _sampled(queryset: QuerySet[Any]) -> int:
    """The queryset's count over a sample of its table's pages, scaled up: an Estimate, or exact if the sample is the whole table."""
    model = queryset.model
    connection = connections[queryset.db]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    rows = float(row[0]) if row else -1.0
    percent = 100.0 if rows <= 0 else min(100.0, max(0.01, 100.0 * SAMPLE_ROWS / rows))
    if percent >= 100.0:
        return queryset.count()
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    source = f"FROM {table}"
    if source not in sql:
        return queryset.count()
    # The percentage is our own number, written as digits; the queryset's values stay bound parameters.
    sampled = sql.replace(source, f"FROM {table} TABLESAMPLE SYSTEM ({percent:.4f})", 1)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sampled}) AS sampled", params)  # noqa: S608
        found = int(cursor.fetchone()[0])  # type: ignore[index]
    return Estimate(round(found * 100.0 / percent))
