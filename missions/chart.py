"""The operators' weekly chart: grouped bars per week, drawn with Pillow (no matplotlib).

Pure drawing over plain numbers and labels (translated by the caller); it lives beside the
map because both share the fonts and neither may import Telegram.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

from missions.map import font

WIDTH, HEIGHT = 900, 520
SERIES_COLOURS = ((37, 99, 235), (234, 88, 12), (13, 148, 136), (147, 51, 234))
GRID, TEXT, MUTED = (225, 225, 220), (40, 40, 40), (120, 120, 115)


def _nice_top(value: float) -> int:
    """A round axis maximum at or above `value` whose quarters are whole (4, 8, 12, 20 × 10ⁿ)."""
    magnitude = 1
    while True:
        for step in (4, 8, 12, 20):
            if magnitude * step >= value:
                return magnitude * step
        magnitude *= 10


def weekly_bars(
    title: str,
    weeks: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    footer: str = "",
) -> bytes:
    """A PNG: one group of bars per week, one bar per series, with a legend and footer."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.text((24, 16), title, fill=TEXT, font=font(22))
    left, right, top, bottom = 64, WIDTH - 24, 96, HEIGHT - 78
    highest = max((v for _, values in series for v in values), default=0)
    ceiling = _nice_top(max(highest, 1))
    for i in range(5):
        value = ceiling * i / 4
        y = bottom - (bottom - top) * i / 4
        draw.line((left, y, right, y), fill=GRID, width=1)
        label = f"{value:g}"
        draw.text((left - 8, y), label, fill=MUTED, font=font(12), anchor="rm")
    # Legend under the title, one swatch per series.
    x = 24
    for index, (name, _) in enumerate(series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        draw.rectangle((x, 60, x + 14, 74), fill=colour)
        draw.text((x + 20, 67), name, fill=TEXT, font=font(14), anchor="lm")
        x += 34 + int(draw.textlength(name, font=font(14)))
    if weeks and series:
        group = (right - left) / len(weeks)
        bar = max(2.0, group * 0.7 / len(series))
        for w, week in enumerate(weeks):
            x0 = left + group * w + group * 0.15
            for s, (_, values) in enumerate(series):
                value = values[w] if w < len(values) else 0
                height = (bottom - top) * value / ceiling
                colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
                bx = x0 + bar * s
                if value:
                    draw.rectangle((bx, bottom - height, bx + bar - 2, bottom), fill=colour)
                    draw.text((bx + bar / 2 - 1, bottom - height - 3), str(value), fill=TEXT,
                              font=font(11), anchor="mb")  # fmt: skip
            draw.text((left + group * (w + 0.5), bottom + 8), week, fill=TEXT, font=font(13),
                      anchor="ma")  # fmt: skip
    draw.line((left, bottom, right, bottom), fill=TEXT, width=1)
    if footer:
        draw.text((24, HEIGHT - 30), footer, fill=MUTED, font=font(14))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
