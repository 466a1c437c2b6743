"""The booking simulator's comparison as a picture: revenue per departure (with its standard
deviation) and load factor per policy, side by side, drawn by matplotlib into a PNG or SVG file.
matplotlib is imported on first use, on its non-interactive backend: no display is needed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from offerengine.revenue.core.simulation import Outcome

FORMATS = (".png", ".svg")


def comparison(outcomes: Mapping[str, Outcome], path: Path, *, title: str) -> None:
    """Draw revenue and load factor per policy into ``path`` (.png or .svg)."""
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"the plot must be a {' or '.join(FORMATS)} file")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(outcomes)
    revenue = [outcomes[n].revenue for n in names]
    spread = [outcomes[n].revenue_sd for n in names]
    load = [outcomes[n].load_factor * 100 for n in names]
    colours = ["#9aa5b1", "#3e7cb1", "#2a9d8f", "#e9c46a"][: len(names)]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    try:
        bars = left.bar(names, revenue, yerr=spread, capsize=4, color=colours)
        left.bar_label(bars, labels=[f"{r:,.0f}" for r in revenue], label_type="center")
        left.set_ylabel("revenue per departure")
        left.set_title("Revenue (± sd)")
        bars = right.bar(names, load, color=colours)
        right.bar_label(bars, labels=[f"{v:.1f} %" for v in load], label_type="center")
        right.set_ylim(0, 100)
        right.set_ylabel("load factor (%)")
        right.set_title("Load factor")
        figure.suptitle(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format=path.suffix.lower().lstrip("."), metadata=_metadata(path))
    finally:
        plt.close(figure)


def _metadata(path: Path) -> dict[str, str | None]:
    # No creation date in the file: the same figures, the same bytes.
    if path.suffix.lower() == ".svg":
        return {"Date": None}
    return {"Software": "OfferEngine"}
