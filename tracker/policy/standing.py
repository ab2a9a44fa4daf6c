"""A member's standing under the site's rules, as pure functions: no I/O.

The announce's gate (tracker.swarm.rules.gate_verdict and the SQL function
`tracker_gate`), the `.torrent` download, the API and the pages all judge a
member by these, so they agree on what a member may do and why not.

- **Ratio**: from `min_downloaded` bytes on, a band requires a ratio; below
  it a *ratio watch* runs for the policy's days; after it, new leeching and
  `.torrent` downloads are refused until the ratio is back (at once: the
  requirement is judged on the live figures). Seeding is always allowed.
- **Leech slots**: once a member has downloaded `leech_slots_after` bytes, a
  ratio below a slot band's `ratio_below` allows that band's number of
  torrents leeching at once (the lowest band that applies); `leech_slots_max`
  caps everyone. None: no limit.
- **Hit-and-run warnings**: `max_warnings` active warnings also take the
  download rights away.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

# Ratios as integer hundredths, so that SQL and Python compare the same exact integers.
RatioBands = Sequence[tuple[int, int]]  # (min_downloaded, required ratio in hundredths), ascending
SlotBands = Sequence[tuple[int, int]]  # (ratio_below in hundredths, slots), ascending


def hundredths(value: Decimal | float | int) -> int:
    """A ratio as integer hundredths (0.15 -> 15)."""
    return int((Decimal(str(value)) * 100).to_integral_value())


def required_ratio(downloaded: int, bands: RatioBands) -> int:
    """The required ratio (hundredths) for a member who has downloaded `downloaded` bytes."""
    required = 0
    for minimum, ratio in bands:
        if downloaded >= minimum:
            required = ratio
    return required


def ratio_below(uploaded: int, downloaded: int, required: int) -> bool:
    """Is uploaded / downloaded below `required` hundredths? (Never, with nothing downloaded.)"""
    return required > 0 and uploaded * 100 < required * downloaded


def is_below(uploaded: int, downloaded: int, bands: RatioBands) -> bool:
    """Is the member's ratio below what their band requires?"""
    return ratio_below(uploaded, downloaded, required_ratio(downloaded, bands))


def watch_since_after(*, uploaded: int, downloaded: int, watch_since: datetime | None, now: datetime, bands: RatioBands) -> datetime | None:
    """The ratio watch after the member's figures changed: started now when they fell below, ended when they recovered."""
    if is_below(uploaded, downloaded, bands):
        return watch_since or now
    return None


def watch_ended(*, uploaded: int, downloaded: int, watch_since: datetime | None, now: datetime, bands: RatioBands, watch_days: int) -> bool:
    """Has the member been below the requirement for the whole watch (and is still below)?"""
    return watch_since is not None and is_below(uploaded, downloaded, bands) and watch_since + timedelta(days=watch_days) <= now


def leech_slots(*, uploaded: int, downloaded: int, slots_after: int, slots_max: int, bands: SlotBands) -> int | None:
    """How many torrents the member may leech at once (None: no limit)."""
    slots: int | None = None
    if downloaded >= slots_after and downloaded > 0:
        for below, count in bands:
            if uploaded * 100 < below * downloaded:
                slots = count
                break
    if slots_max > 0 and (slots is None or slots > slots_max):
        slots = slots_max
    return slots


def hundredths_text(value: int) -> str:
    """A ratio in integer hundredths as members read it: 15 -> "0.15"."""
    return f"{value // 100}.{value % 100:02d}"


def ratio_text(uploaded: int, downloaded: int) -> str:
    """The ratio as members read it: two decimals, rounded down; "∞" before anything was downloaded."""
    if downloaded == 0:
        return "∞"
    return hundredths_text(uploaded * 100 // downloaded)


class Refusal(NamedTuple):
    """Why the gate refused an announce, with the figures its message names.

    kind: "peers" (used, allowed), "ratio" (uploaded, downloaded, required
    hundredths), "warnings" (active, allowed), "slots" (used, allowed).
    """

    kind: str
    figures: tuple[int, ...]

    def code(self) -> str:
        """The compact form the SQL gate returns: "slots 2 2"."""
        return " ".join([self.kind, *map(str, self.figures)])

    @classmethod
    def parse(cls, code: str) -> "Refusal":
        kind, *figures = code.split()
        return cls(kind, tuple(int(f) for f in figures))

    def reason(self) -> str:
        """The failure reason a member's client shows."""
        f = self.figures
        if self.kind == "peers":
            return f"Peer limit reached: you have {f[0]} clients on this torrent, the limit is {f[1]}"
        if self.kind == "slots":
            return (
                f"No leech slot free: you are leeching {f[0]} torrents and your ratio allows {f[1]} at once; "
                "finish or stop one, or raise your ratio (seeding is always allowed)"
            )
        if self.kind == "ratio":
            return (
                f"Download rights suspended: your ratio {ratio_text(f[0], f[1])} is below the required {hundredths_text(f[2])} "
                "and your ratio watch has ended; seed to recover (seeding is always allowed)"
            )
        if self.kind == "warnings":
            return (
                f"Download rights suspended: you have {f[0]} active hit-and-run warnings (the limit is {f[1]}); "
                "seed your snatches or clear a warning in the bonus store (seeding is always allowed)"
            )
        return "Announce refused by the site's rules"


def download_refusal(
    *, uploaded: int, downloaded: int, watch_since: datetime | None, now: datetime, bands: RatioBands, watch_days: int,
    warnings: int, max_warnings: int,
) -> Refusal | None:  # fmt: skip
    """Has the member lost download rights (new leeching, `.torrent` downloads), and why?"""
    if watch_ended(uploaded=uploaded, downloaded=downloaded, watch_since=watch_since, now=now, bands=bands, watch_days=watch_days):
        return Refusal("ratio", (uploaded, downloaded, required_ratio(downloaded, bands)))
    if max_warnings > 0 and warnings >= max_warnings:
        return Refusal("warnings", (warnings, max_warnings))
    return None
