"""The data map (docs/privacy.md) against the models, and the privacy notice against the map
(issue 20).

- Every table and every column of `storage.models` is in the map, as personal data (with a
  category, a reason and a retention period) or as holding none: a new table or column fails
  here until someone says what it holds and for how long.
- The notice (`ui.privacy`, with the terms at signup and by `/privacy`) names every category
  and every retention period the map uses, in Korean and English, with the days the settings
  give; it fits in one message, with the terms too.
- The signup location is stored nowhere: after a signup whose updates went through the inbox,
  no table holds its coordinates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.settings import Settings
from storage.db import SessionFactory
from storage.models import Base
from tests.harness import BotHarness, make_settings
from tests.people import SEOKCHON_LAKE, Person, walk_to_location
from ui import privacy
from ui.i18n import SUPPORTED, t
from ui.i18n import days as days_of
from ui.signup import terms

MAP = Path(__file__).resolve().parents[1] / "docs" / "privacy.md"
PERSONAL = "## Personal data"
NOT_PERSONAL = "## No personal data"
KINDS = {"table", "file", "logs", "telegram", "external", "transient"}
# Periods that concern no one in production: not in the notice.
NOT_IN_NOTICE = {"sandbox"}
TICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Row:
    kind: str
    store: str
    fields: tuple[str, ...]
    categories: tuple[str, ...]
    period: str
    kept: str


def _table_lines(section: str) -> list[list[str]]:
    """The cells of each row of the first Markdown table under `section`."""
    lines = MAP.read_text(encoding="utf-8").splitlines()
    start = lines.index(section)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    header, rule, *body = rows
    assert set("".join(rule)) <= {"-"}, f"{section}: no table"
    assert all(len(r) == len(header) for r in body), f"{section}: a row has the wrong cells"
    return [header, *body]


def _ticked(cell: str) -> tuple[str, ...]:
    return tuple(TICKED.findall(cell))


def personal_rows() -> list[Row]:
    header, *body = _table_lines(PERSONAL)
    assert header == [
        "kind", "store", "fields", "holds", "category", "why", "kept", "after /deleteme"
    ]  # fmt: skip
    rows = []
    for kind, store, fields, _holds, category, why, kept, after in body:
        assert kind in KINDS, f"{store}: unknown kind {kind!r}"
        assert why and after, f"{store}: say why and what /deleteme does"
        period = _ticked(kept)[0] if _ticked(kept) else ""
        stores = _ticked(store)
        name = stores[0] if kind == "table" and stores else store
        categories = tuple(c.strip() for c in category.split(","))
        rows.append(Row(kind, name, _ticked(fields), categories, period, kept))
    return rows


def not_personal_rows() -> list[tuple[str, tuple[str, ...]]]:
    header, *body = _table_lines(NOT_PERSONAL)
    assert header == ["store", "fields", "why it is not personal"]
    return [(_ticked(store)[0], _ticked(fields)) for store, fields, _why in body]


# --------------------------------------------------------------------------- map vs models


def test_every_table_and_column_is_in_the_map_once() -> None:
    mapped: dict[str, list[str]] = {}
    for row in personal_rows():
        if row.kind == "table":
            assert row.fields, f"{row.store}: name the columns"
            mapped.setdefault(row.store, []).extend(row.fields)
    listed = set()
    for store, fields in not_personal_rows():
        listed.add(store)
        mapped.setdefault(store, []).extend(fields)
    tables = {table.name: {c.name for c in table.columns} for table in Base.metadata.sorted_tables}
    assert set(mapped) == set(tables), "tables missing from docs/privacy.md, or gone from models"
    assert set(tables) <= listed, "each table gets a row in 'No personal data', '—' if none"
    for name, columns in tables.items():
        named = mapped[name]
        twice = {c for c in named if named.count(c) > 1}
        assert not twice, f"{name}: {sorted(twice)} mapped twice"
        assert set(named) == columns, (
            f"{name}: unmapped {sorted(columns - set(named))}, "
            f"not in the model {sorted(set(named) - columns)}"
        )


def test_each_row_says_what_it_is_and_how_long_it_stays() -> None:
    known = set(privacy.CATEGORY_WORDS)
    for row in personal_rows():
        assert row.categories and set(row.categories) <= known, f"{row.store}: {row.categories}"
        assert row.period in set(privacy.PERIODS) | NOT_IN_NOTICE, (
            f"{row.store}: unknown period {row.period!r}"
        )


def test_the_map_days_are_the_settings_defaults() -> None:
    """A period named after a setting says its default in days, and it is the setting's."""
    fields = Settings.model_fields
    seen = set()
    for row in personal_rows():
        if row.period.endswith("_days"):
            found = re.search(r"\((\d+) days\)", row.kept)
            assert found, f"{row.store}: say the default days of {row.period}"
            assert int(found[1]) == fields[row.period].default, row.store
            seen.add(row.period)
    assert seen == {"inbox_retention_days", "outbox_retention_days", "photo_retention_days"}


# --------------------------------------------------------------------------- notice vs map


def _windows(**days: int) -> Settings:
    return make_settings(**days)


def _phrases(lang: str, settings: Settings) -> dict[str, str]:
    """The words by which the notice names each category and period of the map."""
    rows = [r for r in personal_rows() if r.period not in NOT_IN_NOTICE]
    categories = {c for row in rows for c in row.categories}
    words = {f"category {c}": t(lang, privacy.CATEGORY_WORDS[c]) for c in categories}
    for row in rows:
        words[f"period {row.period}"] = privacy.period_words(lang, row.period, settings)
    return words


@pytest.mark.parametrize("lang", SUPPORTED)
def test_the_notice_names_every_category_and_period_of_the_map(lang: str) -> None:
    settings = _windows()
    notice = privacy.notice(lang, settings)
    phrases = _phrases(lang, settings)
    assert set(privacy.CATEGORY_WORDS) == {k.split()[1] for k in phrases if k.startswith("cat")}
    assert set(privacy.PERIODS) == {k.split()[1] for k in phrases if k.startswith("per")}
    for what, phrase in phrases.items():
        assert re.search(rf"(?<!\d){re.escape(phrase)}", notice), f"{lang}: {what} ({phrase!r})"


@pytest.mark.parametrize("lang", SUPPORTED)
def test_the_notice_says_the_days_the_settings_give(lang: str) -> None:
    settings = _windows(inbox_retention_days=3, outbox_retention_days=14, photo_retention_days=90)
    notice = privacy.notice(lang, settings)
    for days in (3, 14, 90):
        assert re.search(rf"(?<!\d){re.escape(days_of(lang, days))}", notice)
    assert not re.search(r"(?<!\d)(7|30|180)(일| days)", notice)


def test_the_english_notice_says_one_day_and_two_days() -> None:
    """A window of one day reads "1 day" (gettext's plural), never "1 days"; Korean has one
    form ("1일")."""
    one = privacy.notice("en", _windows(inbox_retention_days=1, outbox_retention_days=2,
                                        photo_retention_days=1))  # fmt: skip
    assert "deleted after 1 day." in one and "deleted 2 days after they go out" in one
    assert "The photo is deleted 1 day after the meetup" in one
    assert not re.search(r"(?<!\d)1 days", one)
    korean = privacy.notice("ko", _windows(inbox_retention_days=1, outbox_retention_days=2,
                                           photo_retention_days=1))  # fmt: skip
    assert "1일 뒤에 지워요" in korean and "2일 뒤에 지워요" in korean
    assert privacy.period_words("en", "photo_retention_days", _windows(photo_retention_days=1)) == (
        "1 day"
    )


@pytest.mark.parametrize("lang", SUPPORTED)
def test_the_notice_and_the_terms_fit_in_one_message(lang: str) -> None:
    settings = _windows(
        inbox_retention_days=3650, outbox_retention_days=3650, photo_retention_days=3650
    )
    assert len(privacy.notice(lang, settings)) <= privacy.MESSAGE_LIMIT
    text, _markup = terms(lang, settings)
    assert len(text) <= privacy.MESSAGE_LIMIT
    assert privacy.notice(lang, settings) in text
    assert len(privacy.export_caption(lang)) <= privacy.CAPTION_LIMIT


# --------------------------------------------------------------------------- in the chat


@pytest.mark.usefixtures("seeded")
async def test_privacy_command_and_signup_show_the_notice(bot: BotHarness) -> None:
    minji = bot.user("민지", language_code="ko")
    james = bot.user("James", language_code="en")
    [shown] = await bot.send(minji, "/privacy")
    assert shown["text"] == privacy.notice("ko", bot.settings)
    [shown] = await bot.send(james, "/privacy")
    assert shown["text"] == privacy.notice("en", bot.settings)
    _greeting, offered = await bot.send(james, "/start")
    assert offered["text"].startswith("Before we start:")
    assert privacy.notice("en", bot.settings) in offered["text"]
    assert offered["text"].endswith("Do you agree to these terms and to this privacy notice?")


def _dump(rows: Sequence[Any]) -> str:
    return json.dumps([[str(v) for v in row] for row in rows], ensure_ascii=False)


@pytest.mark.usefixtures("seeded")
async def test_the_signup_location_is_stored_nowhere(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    """Shared at an odd spot inside 잠실동, through the inbox as in production; afterwards no
    table but the public map data holds a trace of its coordinates."""
    spot = (SEOKCHON_LAKE[0] - 0.0011234, SEOKCHON_LAKE[1] - 0.0025678)
    traces = [f"{v:.7f}"[:-1] for v in spot]  # 37.508476, 127.100132 (6 decimals)
    bot.deliveries = 2  # every update through the durable inbox (twice: a redelivery)
    p = Person(bot)
    await walk_to_location(p)
    verified = await p.location(*spot)
    assert "✅" in verified[0]["text"]
    for label in ("걷기", "완료", "저녁", "완료"):
        await p.press(label)
    welcome = await p.press("확인 ✅")
    assert "환영" in welcome[-1]["text"]
    await bot.app.update_persistence()
    async with sessions() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in ("regions", "missions"):
                continue  # public map data: boundaries and mission places
            dumped = _dump((await s.execute(text(f"SELECT * FROM {table.name}"))).all())
            for trace in traces:
                assert trace not in dumped, f"{table.name} holds the signup location"
        kept = (await s.execute(text("SELECT region_verified_at FROM users"))).scalar()
        assert kept is not None  # the check itself worked: only its outcome is kept
