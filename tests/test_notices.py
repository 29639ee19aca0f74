"""Every kind of notice storage can queue has its text in ui/notices.py, in both languages."""

from __future__ import annotations

from storage.outbox import NOTICE_KINDS
from ui.i18n import t
from ui.notices import MESSAGES

# A group's daily post is drawn by its own renderer (ui.notices.daily_post); a card about an
# erased person is cleaned, not sent (bot/card_cleanup.py, ui/erased_cards.py); a gathering's
# group card and an appeal's card are drawn from the database (bot/outbox_cards.py).
OWN_RENDERER = {"daily_missions", "card_erased", "gathering_card", "appeal_card", "review_card"}


def test_every_notice_kind_has_a_text_in_korean_and_english() -> None:
    assert set(MESSAGES) | OWN_RENDERER == set(NOTICE_KINDS)
    for kind, msgid in MESSAGES.items():
        assert t("ko", msgid) != t("en", msgid), f"{kind} has no Korean text"
