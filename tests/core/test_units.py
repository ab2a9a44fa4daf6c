"""Sizes and traffic in binary units (core.units.bytes_text)."""

import pytest

from core.units import bytes_text


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (None, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (int(2.5 * 1024**3), "2.5 GiB"),
        (3 * 1024**4, "3.0 TiB"),
        (2048 * 1024**5, "2048.0 PiB"),
        (-1536, "-1.5 KiB"),
    ],
)
def test_bytes_are_shown_in_binary_units(count, text):
    assert bytes_text(count) == text
