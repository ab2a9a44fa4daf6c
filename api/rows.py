"""A list's rows read with values() and written by their serializer's own fields: no model instances, no attribute walk.

DRF writes a list row by row and field by field: each field's
`get_attribute` walks its source over model instances (Django builds one per
joined table and row: five for a torrent), then `to_representation` formats
the value. On a page of 50 torrents that was two thirds of the request.

A `RowPlan` compiles, once per serializer class, which columns each field
reads (`values()` paths, joins and all) and then calls those same fields'
`to_representation` on them, with DRF's rule for None. So the JSON is the
serializer's, byte for byte (tests/api/test_rows.py compares the two on every
kind of row), and the schema still reads the serializer.

A field whose value is no column (a method field, a property) names its
column or expression in `sources`; one the plan cannot read is refused when
the plan is built, not guessed.
"""

from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

from django.db.models import QuerySet
from django.db.models.expressions import Combinable
from rest_framework import serializers

Row = Mapping[str, Any]


class ValuesField:
    """What a field that reads several columns implements (the catalogue's RefField): its columns
    under `path` (its source as a values() path), and its representation from a row of them."""

    def values_columns(self, path: str) -> list[str]:
        raise NotImplementedError

    def from_values(self, row: Row, path: str) -> Any:
        raise NotImplementedError


class RowPlan:
    """How `serializer_class`'s output is read from one values() row.

    `sources` maps a field to the values() path (a string) or the expression
    (F, Coalesce, ...) its value comes from, where its own source is not a
    column path (a property such as Torrent.seeders).
    """

    def __init__(self, serializer_class: type[serializers.Serializer], *, sources: Mapping[str, str | Combinable] | None = None) -> None:
        self.serializer_class = serializer_class
        self.sources = dict(sources or {})

    @cached_property
    def _compiled(self) -> tuple[list[str], dict[str, Any], list[tuple[str, Callable[[Row], Any]]]]:
        columns: list[str] = []
        expressions: dict[str, Any] = {}
        writers: list[tuple[str, Callable[[Row], Any]]] = []
        fields = self.serializer_class().fields
        unknown = set(self.sources) - set(fields)
        if unknown:
            raise TypeError(f"{self.serializer_class.__name__} has no field {sorted(unknown)} to take a source")
        for name, field in fields.items():
            if field.write_only:
                continue
            source = self.sources.get(name)
            method = isinstance(field, serializers.SerializerMethodField)
            if source is not None and not isinstance(source, str):
                key = f"row_{name}"  # an alias no model field can clash with
                expressions[key] = source
                writers.append((name, _raw(key) if method else _plain(field, key)))
                continue
            if source is None and (method or field.source == "*"):
                raise TypeError(f"{self.serializer_class.__name__}.{name} reads no column: give it a source")
            if method:  # its method is not called: the source's value is written as it is
                columns.append(str(source))
                writers.append((name, _raw(str(source))))
                continue
            path = source if source is not None else str(field.source).replace(".", "__")
            if isinstance(field, ValuesField):
                columns += field.values_columns(path)
                writers.append((name, _composite(field, path)))
            else:
                columns.append(path)
                writers.append((name, _plain(field, path)))
        return list(dict.fromkeys(columns)), expressions, writers

    def values(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """`queryset` as values() rows holding what the serializer writes (its order and filters kept)."""
        columns, expressions, _writers = self._compiled
        return queryset.values(*columns, **expressions)

    def data(self, rows: Iterable[Row]) -> list[dict[str, Any]]:
        """The serializer's `many=True` data for these rows, in their order."""
        writers = self._compiled[2]
        return [{name: write(row) for name, write in writers} for row in rows]


def _plain(field: serializers.Field, key: str) -> Callable[[Row], Any]:
    represent = field.to_representation

    def write(row: Row) -> Any:
        value = row[key]
        return None if value is None else represent(value)  # DRF's rule: None is written as null, unformatted

    return write


def _raw(key: str) -> Callable[[Row], Any]:
    def write(row: Row) -> Any:
        return row[key]

    return write


def _composite(field: ValuesField, path: str) -> Callable[[Row], Any]:
    def write(row: Row) -> Any:
        return field.from_values(row, path)

    return write
