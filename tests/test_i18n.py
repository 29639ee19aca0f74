"""Foundation: every user-facing text in the code has a Korean translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ui.i18n import LOCALES_DIR, particle, pick_language, t
from ui.meetups import host_message_sent

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
