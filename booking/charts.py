"""Horizontal bar charts as geometry for inline SVG (pure): one bar a row, a label at its start,
stacked segments, the total at its end. Drawn by `templates/staff/_chart.html` without script;
right-to-left pages get the mirror image (labels at the right, bars growing to the left), and
SVG text anchored at "start" follows the page's direction by itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 420
LABEL_WIDTH = 130
TOTAL_WIDTH = 40  # room for the total after the longest bar
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 4
# A segment's own number is written inside it only when it fits.
MIN_LABELLED_WIDTH = 22


@dataclass(frozen=True)
class Segment:
    kind: str
    value: int
    x: float
    width: float

    @property
    def middle(self) -> float:
        return self.x + self.width / 2

    @property
    def labelled(self) -> bool:
        return self.width >= MIN_LABELLED_WIDTH


@dataclass(frozen=True)
class Bar:
    label: str
    total: int
    y: float  # top of the bar
    text_y: float  # baseline of its texts
    label_x: float
    total_x: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    bar_height: int = BAR_HEIGHT


def bar_chart(rows: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, rtl: bool = False) -> Chart:
    """`rows`: (label, [(kind, value), ...]) top to bottom; bars scale to the largest total."""
    room = WIDTH - LABEL_WIDTH - TOTAL_WIDTH
    largest = max((sum(v for _k, v in parts) for _label, parts in rows), default=0)
    scale = room / largest if largest else 0.0

    def place(x: float, width: float = 0.0) -> float:
        return WIDTH - x - width if rtl else x

    bars = []
    for index, (label, parts) in enumerate(rows):
        y = TOP + index * ROW_HEIGHT
        x = float(LABEL_WIDTH)
        segments = []
        for kind, value in parts:
            width = value * scale
            if value:
                segments.append(Segment(kind, value, round(place(x, width), 2), round(width, 2)))
            x += width
        bars.append(
            Bar(
                label=label,
                total=sum(v for _k, v in parts),
                y=y,
                text_y=y + BAR_HEIGHT - 3,
                label_x=place(0.0),
                total_x=round(place(x + 4), 2),
                segments=tuple(segments),
            )
        )
    return Chart(WIDTH, TOP * 2 + len(rows) * ROW_HEIGHT, tuple(bars))
