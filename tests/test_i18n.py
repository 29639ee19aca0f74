"""Foundation: every user-facing text in the code has a Korean translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ui.i18n import LOCALES_DIR, pick_language, t

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"t": (2,), "N_": None}


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
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.string}
    missing = _msgids_in_code() - translated
    assert not missing, f"untranslated (run `make messages`, then translate): {sorted(missing)}"


def test_language_choice() -> None:
    assert pick_language("en-US") == "en"
    assert pick_language("ko") == "ko"
    assert pick_language("ja") == "ko"
    assert pick_language(None) == "ko"
    assert t("ko", "Commands") == "명령어"
    assert t("en", "Commands") == "Commands"
