"""Form bodies that mean what the same JSON body means.

DRF reads a QueryDict (what its form parsers return) with HTML-form rules: an empty
optional field counts as left out, and an absent boolean as `false` (an unticked
checkbox). The API is not an HTML form, and its schema describes one body for every
media type: so these parsers hand the serializers a plain mapping, and a form body is
validated exactly like JSON (`name=` is a blank name, 422, as `{"name": ""}` is). A field
sent more than once arrives as a list, which a field expecting one value refuses.
"""

from typing import Any

from django.utils.datastructures import MultiValueDict
from rest_framework import parsers


def _single_values(data: MultiValueDict) -> dict[str, Any]:
    return {key: values[0] if len(values) == 1 else values for key, values in data.lists()}


class FormData(dict[str, Any]):
    """A form's fields as a plain dict (no `getlist`, so DRF does not apply its HTML-form rules).

    DRF merges the uploaded files into `request.data` with `data.copy().update(files)`;
    here that merge, too, gives each file field its file (or a list, when sent more than once),
    not MultiValueDict's internal list.
    """

    def copy(self) -> "FormData":
        return FormData(self)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        if isinstance(other, MultiValueDict):
            other = _single_values(other)
        super().update(other, **kwargs)


class FormParser(parsers.BaseParser):
    """application/x-www-form-urlencoded, as FormData."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> FormData:
        return FormData(_single_values(parsers.FormParser().parse(stream, media_type, parser_context)))


class MultiPartParser(parsers.MultiPartParser):
    """multipart/form-data, its fields as FormData (the files stay a MultiValueDict, as Django's request.FILES)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> parsers.DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        return parsers.DataAndFiles(FormData(_single_values(parsed.data)), parsed.files)
