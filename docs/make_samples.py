"""Draws the README's sample map and chart into docs/ (no database, no bot).

Run: `.venv/bin/python docs/make_samples.py`. The map uses the bundled boundaries of
잠실동 and its neighbours, the mission places, and three made-up meetups; the chart made-up
weekly figures. Prints how long each drawing took.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from missions import chart
from missions import map as drawing
from missions.places import by_key

ROOT = Path(__file__).resolve().parents[1]
GEO = ROOT / "storage" / "data" / "geo" / "seoul_neighborhoods_geo_simple.json"
SONGPA = "11710"


def sample_map() -> bytes:
    features = json.loads(GEO.read_text(encoding="utf-8"))["features"]
    home = next(
        f for f in features
        if f["properties"]["EMD_KOR_NM"] == "잠실동" and f["properties"]["EMD_CD"][:5] == SONGPA
    )  # fmt: skip
    places = by_key()
    meetups = [
        ("seokchon-lake", "석촌호수 한 바퀴 걷기 — 11월 25일 (수) 19:00"),
        ("asia-park", "아시아공원 배드민턴 30분 — 11월 26일 (목) 07:30"),
        ("jamsil-hangang-park", "한강 플로깅 — 11월 28일 (토) 10:00"),
    ]
    pins = [
        drawing.Pin(n, places[key].lat, places[key].lon, label)
        for n, (key, label) in enumerate(meetups, start=1)
        if key in places
    ]
    projection = drawing.fit(home["geometry"], [(p.lat, p.lon) for p in pins])
    west, south, east, north = projection.view_bounds()
    neighbours = [
        drawing.Area(f["properties"]["EMD_KOR_NM"], f["geometry"])
        for f in features
        if f is not home and _overlaps(drawing.bounds(f["geometry"]), (west, south, east, north))
    ]
    spots = [drawing.Spot(p.name_ko, p.lat, p.lon) for p in places.values()]
    base = drawing.base_layer(
        projection, drawing.Area("잠실동", home["geometry"]), neighbours, spots, "잠실동 · 송파구"
    )
    return drawing.with_pins(base, projection, pins, "모집 중인 모임")


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def sample_chart() -> bytes:
    return chart.weekly_bars(
        "할사람? 주간 지표, 2026-10-05 ~ 2026-11-23",
        ["10/05", "10/12", "10/19", "10/26", "11/02", "11/09", "11/16", "11/23"],
        [
            ("가입", [14, 22, 19, 31, 28, 40, 37, 45]),
            ("진행된 모임", [3, 5, 6, 8, 7, 11, 12, 15]),
            ("승인된 사진", [7, 12, 15, 19, 18, 27, 30, 38]),
        ],
        "보유 포인트 18,400 · 기프티콘 재고 24,000",
    )


def main() -> None:
    for name, draw in (("sample_map.png", sample_map), ("sample_chart.png", sample_chart)):
        started = time.perf_counter()
        png = draw()
        took = (time.perf_counter() - started) * 1000
        (ROOT / "docs" / name).write_bytes(png)
        print(f"docs/{name}: {len(png) // 1024} KB in {took:.0f} ms")


if __name__ == "__main__":
    main()
