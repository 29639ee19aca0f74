"""Foundation: every user-facing text in the code has a Korean translation."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from storage.market import Offer
from storage.models import MarketItem
from ui.i18n import LOCALES_DIR, days, particle, pick_language, points, t
from ui.market import confirm_card
from ui.meetups import host_message_sent
from ui.notices import render

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"t": (2,), "tn": (2, 3), "N_": None}


def _msgids_in_code() -> set[str]:
    found: set[str] = set()
    for folder in (
        "bot",
        "ui",
        "handlers",
        "conversations",
        "scheduler",
        "missions",
        "verification",
    ):
        if not (ROOT / folder).exists():
            continue
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_text_has_a_korean_translation() -> None:
    with (LOCALES_DIR / "ko" / "LC_MESSAGES" / "halsaram.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    missing = _msgids_in_code() - translated
    assert not missing, f"untranslated (run `make messages`, then translate): {sorted(missing)}"


def test_language_choice() -> None:
    assert pick_language("en-US") == "en"
    assert pick_language("ko") == "ko"
    assert pick_language("ja") == "ko"
    assert pick_language(None) == "ko"
    assert t("ko", "Commands") == "명령어"
    assert t("en", "Commands") == "Commands"


@pytest.mark.parametrize(
    ("word", "form", "said"),
    [
        ("1", "와", "1과"), ("2", "과", "2와"), ("10", "와", "10과"), ("105", "이에요", "105예요"),
        ("300", "이에요", "300이에요"), ("사과", "을", "사과를"), ("책", "를", "책을"),
        ("서울", "으로", "서울로"), ("집", "로", "집으로"), ("7", "로", "7로"),
        ("3", "로", "3으로"),
        ("찻잔", "가", "찻잔이"), ("나비", "이", "나비가"), ("아메리카노", "을", "아메리카노를"),
        ("Americano", "은", "Americano는"), ("Gym", "은", "Gym은"),
    ],
)  # fmt: skip
def test_a_korean_particle_fits_how_the_value_is_read(word: str, form: str, said: str) -> None:
    assert word + particle(word, form) == said


def test_korean_texts_choose_their_particles_and_english_ignores_them() -> None:
    line = "Looks like photo #{of} ({distance}/64 bits apart, {whose})"
    assert t("ko", line, of=1, distance=0, whose="같은 사람").startswith("사진 #1과 비슷해요")
    assert t("ko", line, of=2, distance=0, whose="같은 사람").startswith("사진 #2와 비슷해요")
    assert t("en", line, of=1, distance=0, whose="same person").startswith("Looks like photo #1 ")


def test_counted_texts_take_the_english_plural_and_the_one_korean_form() -> None:
    assert host_message_sent("en", 1) == "Sent to 1 participant."
    assert host_message_sent("en", 3) == "Sent to 3 participants."
    assert host_message_sent("ko", 1) == "참가자 1명에게 보냈어요."
    assert host_message_sent("ko", 3) == "참가자 3명에게 보냈어요."


def test_counts_in_notices_take_the_english_singular_and_plural() -> None:
    """Issue 23: a text that counts says "1 point" / "2 points" (gettext's plural), in the
    approval notices, a move's confirmation summary, the market and the privacy notice."""
    zone = ZoneInfo("Asia/Seoul")

    def approved(lang: str, points: int, balance: int) -> str:
        values = {"points": points, "balance": balance, "title": "Walk"}
        return render("evidence_approved", lang, values, None, zone)

    assert approved("en", 1, 1).endswith("+1 point! Your balance is 1 point (/points).")
    assert approved("en", 0, 40).endswith("+0 points! Your balance is 40 points (/points).")
    assert approved("ko", 1, 40).endswith("+1포인트! 지금 잔액은 40포인트예요 (/points).")
    appeal = render("appeal_approved", "en", {"points": 2, "balance": 1, "title": "Walk"},
                    None, zone)  # fmt: skip
    assert appeal.endswith("+2 points! Your balance is 1 point (/points).")
    summary = {"title": "Walk", "when": "Mon", "released": 1, "moved_up": 1}
    assert render("meetup_unconfirmed", "en", summary, None, zone).endswith(
        "1 place not confirmed was released and 1 person moved up from the waitlist."
    )
    summary |= {"released": 2, "moved_up": 0}
    assert render("meetup_unconfirmed", "en", summary, None, zone).endswith(
        "2 places not confirmed were released and 0 people moved up from the waitlist."
    )
    assert render("meetup_unconfirmed", "ko", summary, None, zone).endswith(
        "확인하지 않은 자리 2개를 비웠고 대기자 0명이 참여자가 됐어요."
    )
    joined = {"name": "Mina", "title": "Walk", "seated": 1, "capacity": 1}
    assert render("meetup_joined", "en", joined, None, zone).endswith("(1/1 seat taken).")
    joined |= {"capacity": 4}
    assert render("meetup_joined", "en", joined, None, zone).endswith("(1/4 seats taken).")
    assert render("meetup_joined", "ko", joined, None, zone).endswith("(1/4명 참여)")
    assert (days("en", 1), days("en", 2), days("ko", 1)) == ("1 day", "2 days", "1일")
    assert (points("en", 1), points("en", 0), points("ko", 1)) == ("1 point", "0 points", "1포인트")


def test_the_market_card_counts_its_price() -> None:
    def card(lang: str, cost: int, balance: int) -> str:
        item = MarketItem(id=1, key="coffee", name_ko="커피", name_en="Coffee", cost=cost)
        return confirm_card(lang, Offer(item, balance), "n")[0]

    assert card("en", 1, 0) == "Coffee costs 1 point; you have 0. Missions earn more!"
    assert card("en", 500, 0) == "Coffee costs 500 points; you have 0. Missions earn more!"
    assert card("en", 1, 5).startswith("Exchange 1 point for Coffee?")
    assert card("ko", 500, 100).startswith("커피는 500포인트예요. 보유 포인트는 100이에요.")
    assert card("ko", 500, 600).startswith("500포인트로 커피를 교환할까요?")
