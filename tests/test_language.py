"""Language (issue 23): counts in notices take their English plural through gettext's
ngettext (`tn`; Korean has one form), Korean particles after numbers are chosen by how the
number is read, and a meetup's place is named in the reader's language when the catalogue has
both names (missions/data/places.json), whatever language its host chose it in."""

from __future__ import annotations

import json
from importlib import resources
from zoneinfo import ZoneInfo

import pytest

from missions.places import place_name, places
from storage.erasure import Erased, Preview
from storage.market import Shelf, Storefront
from storage.models import MarketItem
from tests.harness import BotHarness
from tests.people import Neighbour, meetup_card, new_meetup
from ui import feedback, meetups, notices, profile
from ui import market as market_ui

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.mark.parametrize(
    ("kind", "left", "en", "ko"),
    [
        ("evidence_rejected", 1, "(1 try left).", "(남은 기회 1번)."),
        ("evidence_rejected", 2, "(2 tries left).", "(남은 기회 2번)."),
        ("evidence_again", 1, "(1 try left).", "(남은 기회 1번)."),
        ("evidence_again", 3, "(3 tries left).", "(남은 기회 3번)."),
    ],
)
def test_tries_left_take_the_plural_that_fits(kind: str, left: int, en: str, ko: str) -> None:
    values = {"left": left, "reason": "blurry", "title": "Lake walk"}
    assert notices.render(kind, "en", values, None, SEOUL).endswith(en)  # type: ignore[arg-type]
    assert notices.render(kind, "ko", values, None, SEOUL).endswith(ko)  # type: ignore[arg-type]


def _erased(points: int) -> Erased:
    return Erased(
        anonymous_id=1, forfeited=points, seats_released=0, meetups_cancelled=0, photo_keys=()
    )


def test_counts_on_screens_take_the_plural_that_fits() -> None:
    assert meetups.cancelled("en", 1) == "Cancelled. 1 person was told."
    assert meetups.cancelled("en", 2) == "Cancelled. 2 people were told."
    assert meetups.cancelled("ko", 1) == "취소했어요. 1명에게 알렸어요."
    one = Preview(balance=1, vouchers=0, seats=0, hosting=0)
    assert (
        "Your 1 point will be forfeited: it can't be kept or moved."
        in (profile.delete_question("en", one, SEOUL)[0])
    )
    assert "남은 1포인트는 사라져요" in profile.delete_question("ko", one, SEOUL)[0]
    assert profile.deleted("en", _erased(1)).endswith("\n1 point was forfeited.")
    assert profile.deleted("en", _erased(3)).endswith("\n3 points were forfeited.")
    tea = MarketItem(key="tea", name_ko="녹차", name_en="Green tea", cost=50, active=True)
    for balance, said in ((1, "Market: you have 1 point."), (2, "Market: you have 2 points.")):
        text, _ = market_ui.storefront("en", Storefront([Shelf(tea, 3)], balance))
        assert text.startswith(said)


@pytest.mark.parametrize(("stars", "said"), [(1, "★ 별점 1점을"), (5, "★★★★★ 별점 5점을")])
def test_korean_names_the_stars_so_the_particle_fits(stars: int, said: str) -> None:
    assert feedback.rated("ko", stars).startswith(said)
    assert feedback.rated("en", stars).startswith("You gave " + "★" * stars + ".")


def test_every_catalogue_mission_place_has_an_english_name() -> None:
    raw = resources.files("missions").joinpath("data/catalogue.json").read_text(encoding="utf-8")
    for mission in json.loads(raw)["missions"]:
        assert place_name("en", mission["place_name_ko"]) == mission["place_name_en"]
        assert place_name("ko", mission["place_name_en"]) == mission["place_name_ko"]
    for place in places():
        assert place.name_en and place_name("en", place.name_ko) == place.name_en
    assert place_name("en", "우리집 앞 놀이터") == "우리집 앞 놀이터"  # not in the catalogue


@pytest.mark.usefixtures("seeded")
async def test_a_meetup_place_is_named_in_the_readers_language(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()  # chose 석촌호수 in Korean
    guest = await Neighbour(bot, "Alex", lang="en").register()
    meeting_id = await new_meetup(bot, host, hours=5)
    card = await meetup_card(bot, guest, meeting_id)
    assert "📍 Seokchon Lake" in card["text"] and "석촌호수" not in card["text"]
    venues = [c.params for c in bot.calls("sendVenue")]
    venue = [v for v in venues if v["chat_id"] == guest.id][-1]
    assert venue["title"] == "Seokchon Lake"
    korean = await meetup_card(bot, host, meeting_id)
    assert "📍 석촌호수" in korean["text"]
