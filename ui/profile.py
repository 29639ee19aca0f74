"""The account on screen: the profile card with its edit buttons, the language menu and the
questions and answers of deleting an account.

Pure functions of a language and `storage.profiles.ProfileView`; they never read the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from telegram import InlineKeyboardMarkup

from missions.categories import INTERESTS, TIMES_OF_DAY
from storage.accounts import BANNED_UNTIL
from storage.erasure import Erased, Preview
from storage.profiles import ProfileView
from storage.trust import BASE as BASE_TRUST
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, SUPPORTED, localized, t, tn

LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}
EDITABLE = ("phone", "region", "interests", "times")  # the card's buttons the edit flow owns
# Each part of the trust score, counted: (language, count, average stars) -> its name.
TRUST_PARTS: dict[str, Callable[[str, int, str], str]] = {
    "ratings": lambda lang, n, average: tn(
        lang,
        "{count} rating, average {average}",
        "{count} ratings, average {average}",
        n,
        average=average,
    ),
    "no_shows": lambda lang, n, _: tn(lang, "{count} no-show", "{count} no-shows", n),
    "approved": lambda lang, n, _: tn(
        lang, "{count} approved mission", "{count} approved missions", n
    ),
    "rejected": lambda lang, n, _: tn(lang, "{count} rejected photo", "{count} rejected photos", n),
    "reports": lambda lang, n, _: tn(lang, "{count} upheld report", "{count} upheld reports", n),
}
BADGE_LABELS = {
    "first_mission": N_("🏅 First mission"),
    "ten_meetups": N_("🎉 10 meetups"),
    "five_categories": N_("🌈 Five kinds of missions"),
    "first_host": N_("🧭 First meetup hosted"),
}


def verified_label(lang: str, verified: bool) -> str:
    return t(lang, "verified ✅") if verified else t(lang, "not verified yet")


def interest_names(lang: str, keys: Sequence[str]) -> str:
    return ", ".join(t(lang, INTERESTS[k]) for k in keys if k in INTERESTS)


def time_names(lang: str, keys: Sequence[str]) -> str:
    return ", ".join(t(lang, TIMES_OF_DAY[k]) for k in keys if k in TIMES_OF_DAY)


def trust_sum(lang: str, view: ProfileView) -> str:
    """The score as the sum of its parts, the numbers the join and host gates compare:
    "62 = 기본 50 + 6 (승인된 미션 3개) + 4 (평가 2개, 평균 5) − 8 (노쇼 1번)"."""
    text = t(
        lang, "{score} = {base} to start", score=f"{view.trust_score:.0f}", base=f"{BASE_TRUST:.0f}"
    )
    for part in view.trust_parts:
        what = TRUST_PARTS[part.key](lang, part.count, f"{part.average or 0:g}")
        sign = "+" if part.points >= 0 else "−"
        text += f" {sign} {abs(part.points):.0f} ({what})"
    if view.trust_capped:
        text += " " + t(lang, "(kept within 0-100)")
    return text


def profile_card(
    lang: str, view: ProfileView, gates: tuple[float, float] | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    """The profile as a person sees it, with a button for each part they can change; `gates`,
    the trust a person needs to join and to host, is said under the score."""
    text = t(
        lang,
        "Your profile\n\nName: {name}\nPhone: {phone}\nNeighbourhood: {dong} ({verified})\n"
        "Interests: {interests}\nTimes: {times}\nTrust score: {trust}\nLevel: {level}\n"
        "Language: {language}",
        name=view.display_name,
        phone=view.phone_masked or "-",
        dong=localized(lang, view, "dong") if view.dong_ko is not None else "-",
        verified=verified_label(lang, view.verified),
        interests=interest_names(lang, view.interests) or "-",
        times=time_names(lang, view.preferred_times) or "-",
        trust=trust_sum(lang, view),
        level=view.level,
        language=LANGUAGE_NAMES.get(view.language, view.language),
    )
    if gates is not None:
        text += "\n" + t(
            lang, "Joining a meetup needs a trust score of {join}, hosting one {host}.",
            join=f"{gates[0]:.0f}", host=f"{gates[1]:.0f}",
        )  # fmt: skip
    if view.badges:
        badges = ", ".join(t(lang, BADGE_LABELS[b]) for b in view.badges)
        text += "\n" + t(lang, "Badges: {badges}", badges=badges)
    return text, _edit_buttons(lang)


def _edit_buttons(lang: str) -> InlineKeyboardMarkup:
    edit = Action.PROFILE
    return keyboards.inline(
        [
            [
                (t(lang, "Neighbourhood"), callbacks.encode(edit, "region")),
                (t(lang, "Phone"), callbacks.encode(edit, "phone")),
            ],
            [
                (t(lang, "Interests"), callbacks.encode(edit, "interests")),
                (t(lang, "Times"), callbacks.encode(edit, "times")),
            ],
            [(t(lang, "Language"), callbacks.encode(edit, "language"))],
        ]
    )


def saved(lang: str) -> str:
    """Said after an edit, right before the card again."""
    return t(lang, "Saved. ✅")


# --------------------------------------------------------------------------- language


def language_menu(lang: str) -> tuple[str, InlineKeyboardMarkup]:
    markup = keyboards.inline(
        [[(LANGUAGE_NAMES[code], callbacks.encode(Action.LANGUAGE, code)) for code in SUPPORTED]]
    )
    return t(lang, "Choose your language:"), markup


def language_set(lang: str) -> str:
    """In the newly chosen language."""
    return t(lang, "Language set to English.")


# --------------------------------------------------------------------------- deleting


ERASED_NOW = N_(
    "Deleted now:\n"
    "• your name, phone number (it can sign up again), neighbourhood, interests, times and "
    "language\n"
    "• the photos you sent, your messages to me, what you wrote in reports and meetup notes\n"
    "• your badges and blocks\n"
    "• your places in upcoming meetups: {seats} (the hosts are told a participant left)\n"
    "• meetups you host that have not started: {hosting} (cancelled, everyone told)"
)
KEPT_ANONYMOUSLY = N_(
    "Kept with nothing that links them to you:\n"
    "• points history and voucher codes already issued: the accounts must add up\n"
    "• ratings you gave and received: other people's trust scores rest on them\n"
    "• reports you filed or that were about you (reason and decision, not your words): "
    "moderators keep their records\n"
    "• your photos' fingerprints and review decisions: to spot a reused photo, and for the "
    "points history\n"
    "• attendance of past meetups: for the meetups' numbers"
)


def delete_question(lang: str, preview: Preview, zone: tzinfo) -> tuple[str, InlineKeyboardMarkup]:
    """What `/deleteme` takes away, what it keeps anonymously and why, and the balance lost."""
    parts = [
        t(lang, "Delete your account? This cannot be undone."),
        t(lang, ERASED_NOW, seats=preview.seats, hosting=preview.hosting),
        t(lang, KEPT_ANONYMOUSLY),
    ]
    if preview.barred_until is not None:
        parts.append(_barred(lang, preview.barred_until, zone))
    if preview.balance > 0:
        parts.append(
            tn(lang, "Your {count} point will be forfeited: it can't be kept or moved.",
               "Your {count} points will be forfeited: they can't be kept or moved.",
               preview.balance)
        )  # fmt: skip
    else:
        parts.append(t(lang, "You have no points to lose."))
    if preview.vouchers:
        parts.append(
            t(lang, "Voucher codes you already received keep working; save them, as I can't "
              "show them again.")
        )  # fmt: skip
    markup = keyboards.inline(
        [
            [
                (t(lang, "Yes, delete my account"), callbacks.encode(Action.DELETE, "yes")),
                (t(lang, "No, keep it"), callbacks.encode(Action.DELETE, "no")),
            ]
        ]
    )
    return "\n\n".join(parts), markup


def _barred(lang: str, until: datetime, zone: tzinfo) -> str:
    """A suspended or banned person is told before confirming that the number stays barred."""
    if until >= BANNED_UNTIL:
        return t(
            lang,
            "Your account is banned: this phone number can't be used to sign up again; only a "
            "protected code of it is kept for that.",
        )
    return t(
        lang,
        "Your account is suspended until {until}: this phone number can't be used to sign up "
        "again before then; only a protected code of it is kept until that time.",
        until=until.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    )


def kept(lang: str) -> str:
    return t(lang, "Good, nothing was deleted.")


def deleted(lang: str, erased: Erased) -> str:
    text = t(lang, "Your account and personal data were deleted. Thank you for joining us.")
    if erased.forfeited:
        text += "\n" + tn(
            lang, "{count} point was forfeited.", "{count} points were forfeited.", erased.forfeited
        )
    return text
