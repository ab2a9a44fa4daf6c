"""Sizes and traffic as people read them."""

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def bytes_text(count: int | None) -> str:
    """A byte count in binary units, one decimal from KiB on: 0 -> "0 B", 1536 -> "1.5 KiB", 5 * 1024**4 -> "5.0 TiB"."""
    value = float(count or 0)
    sign = "-" if value < 0 else ""
    value = abs(value)
    unit = 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{sign}{int(value)} B" if unit == 0 else f"{sign}{value:.1f} {UNITS[unit]}"
