"""Outbox notices rendered as text in the recipient's language, at send time."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from telegram import InlineKeyboardMarkup

from storage.gathering import Post
from storage.meetings import MeetupView
from storage.outbox import NoticeKind
from ui import callbacks, gathering, keyboards
from ui.callbacks import Action
from ui.i18n import N_, format_when, localized, points, t, tn
from ui.meetups import place_of, seats_taken
from ui.moderation import REASON_LABELS
from ui.review import rejection_told

# The text of each kind of notice (storage.outbox.NoticeKind); a group's daily post has its own
# renderer below (`daily_post`).
MESSAGES: dict[NoticeKind, str] = {
    "meetup_joined": N_('{name} joined your meetup "{title}" ({seats}).'),
    "meetup_waitlisted": N_('{name} is on the waitlist of your meetup "{title}".'),
    "meetup_left": N_('{name} left your meetup "{title}".'),
    "meetup_promoted": N_(
        'A seat opened up: you are now in "{title}" on {when} at {place}. See you there!'
    ),
    "meetup_cancelled": N_('The host cancelled "{title}" on {when}. Sorry! /meetups shows others.'),
    "host_message": N_('Message from the host of "{title}":\n\n{text}'),
    "meetup_postponed": N_(
        'The host moved "{title}" from {old} to {when} at {place}. Still coming? Tap "Still '
        'coming" by {until} to keep your place; otherwise it goes to someone else.'
    ),
    "meetup_released": N_(
        'You did not confirm the new time of "{title}" ({when}), so your place went to someone '
        "else. If you can make it after all, you can join again while a seat is free."
    ),
    "meetup_unconfirmed": N_(
        'The confirmation time for "{title}" ({when}) is over: {released} and {moved_up}.'
    ),
    "meetup_note_changed": N_('The host changed the note of "{title}" ({when}):\n\n{note}'),
    "checked_in": N_('{name} checked in to "{title}" ({present}/{seated} here).'),
    "meetup_reminder": N_(
        'Reminder: "{title}" starts {when} at {place}. Scan the host\'s QR code there to check in.'
    ),
    "feedback_request": N_(
        'How was "{title}"? Rate the people you met: it helps everyone meet safely. Nobody '
        "sees who rated what."
    ),
    "report_filed": N_("Report #{report_id} about {name} (trust {trust}): {reason}\n{details}"),
    "warned": N_(
        "A moderator reviewed a report about you and is giving a warning. Please keep meetups "
        "friendly and safe for everyone."
    ),
    "suspended": N_(
        "After a report, a moderator suspended your account for 7 days: you can't join or "
        "host meetups until then."
    ),
    "evidence_request": N_(
        'Thanks for coming to "{title}"! Send a photo of the mission here as proof to earn '
        "your points."
    ),
    # Steps 5-6: the outcome of a photo's review, told to the person who sent it.
    "evidence_approved": N_(
        'Your photo for "{title}" was approved: +{points}! Your balance is {balance} (/points).'
    ),
    "evidence_rejected": N_(
        'Your photo for "{title}" was not accepted: {reason}. Please send a new photo here '
        "({tries_left})."
    ),
    "evidence_again": N_(
        'The reviewer asks for another photo for "{title}". Please send a new one here '
        "({tries_left})."
    ),
    "evidence_delayed": N_(
        'Your photo for "{title}" is safe with me, but checking it is taking longer than '
        "usual. No need to send it again: I'll tell you when it has been reviewed."
    ),
    "evidence_rejected_final": N_(
        'Your photo for "{title}" was not accepted: {reason}. That was the last try for this '
        "meetup."
    ),
    # Issue 21: a copy refused by the checks, with no reviewer; it used none of the tries.
    "evidence_copy": N_(
        'Your photo for "{title}" can\'t count: it is the same as a photo already accepted as '
        "proof. Please send a photo you took at this meetup. This one used none of your tries "
        "({left} left)."
    ),
    "evidence_repeat": N_(
        'This is the same photo as the one for "{title}" that was not accepted, so I can\'t '
        "take it again. Please send a new photo of the mission. This one used none of your "
        "tries ({left} left)."
    ),
    # Issue 19, point 6: told once to the admin who set a group up, privately.
    "group_no_rights": N_(
        "I can't post the daily missions in \"{title}\": the group doesn't let me send "
        "messages. Let me send messages there (or make me an admin) and the posts start again; "
        "if you changed what all members may do, send /resume in the group afterwards."
    ),
    "group_topic_closed": N_(
        'I can\'t post the daily missions in "{title}": the topic I post in is closed. Reopen '
        "it and send /resume there, or send /resume in the topic where I should post."
    ),
    # Issue 21: a voucher's code, to its owner (storage/market.py; sent with protect_content).
    "voucher_issued": N_(
        "Here is your {name} code:\n\n{code}\n\nKeep it to yourself: it can be used once. "
        "/vouchers shows your codes again whenever you need them."
    ),
    # Issue 23: a meetup made by taps on a group's daily post (storage/gathering.py).
    "gathering_host": N_(
        'Enough people tapped 🙋 in your group: you host "{title}" on {when} at {place}, as the '
        "first who tapped and may host. Your host tools are on the card; cancel it there if you "
        "can't make it."
    ),
    "gathering_seated": N_(
        'Enough people tapped 🙋 in your group: you have a seat in "{title}" on {when} at '
        "{place}. See you there!"
    ),
    "gathering_waitlisted": N_(
        'Enough people tapped 🙋 in your group for "{title}" on {when}, but it is full: you are '
        "on its waitlist and I'll tell you if a seat opens."
    ),
    "gathering_refused": N_(
        'Enough people tapped 🙋 in your group for "{title}" on {when} at {place}, but I '
        "couldn't seat you: {why}"
    ),
    # Issue 23: an appeal's outcome, final, told to the photo's sender.
    "appeal_approved": N_(
        'A second admin looked at your appeal for "{title}" and accepted your photo: '
        "+{points}! Your balance is {balance} (/points)."
    ),
    "appeal_rejected": N_(
        'A second admin looked at your appeal for "{title}" and kept the rejection. This '
        "decision is final."
    ),
    # Issue 23: a permanent ban, told once; any later message gets handlers/banned.py's text.
    "banned": N_(
        "The moderators have closed your account for good: you can't join or host meetups or "
        "exchange points any more. Your points are kept as they are. If you think this is a "
        "mistake, please contact the Halsaram admins."
    ),
}

# Who a notice names once that person deleted their account (/deleteme blanks the name).
ERASED_NAMES: dict[NoticeKind, str] = {
    "meetup_left": N_("A participant"),
    "report_filed": N_("a deleted account"),
}

# Notices that carry a button: (label msgid, callback action, the value that is its argument).
BUTTONS: dict[NoticeKind, list[tuple[str, str, str]]] = {
    "gathering_host": [(N_("See the meetup"), Action.MEETUP_VIEW, "meeting_id")],
    "gathering_seated": [(N_("See the meetup"), Action.MEETUP_VIEW, "meeting_id")],
    "gathering_waitlisted": [(N_("See the meetup"), Action.MEETUP_VIEW, "meeting_id")],
    "feedback_request": [(N_("Rate the others"), Action.FEEDBACK, "meeting_id")],
    # Issue 23: after a move, "still coming" keeps the place (n: pressed on the notice).
    "meetup_postponed": [
        (N_("✅ Still coming"), Action.MEETUP_CONFIRM, "meeting_id:n"),
        (N_("📋 Open the meetup"), Action.MEETUP_VIEW, "meeting_id"),
    ],
    "meetup_released": [(N_("📋 Open the meetup"), Action.MEETUP_VIEW, "meeting_id")],
    # Issue 23: a rejected photo may be appealed once (older rows without the id: no button).
    "evidence_rejected": [(N_("Appeal this decision"), Action.APPEAL, "evidence_id")],
    "evidence_rejected_final": [(N_("Appeal this decision"), Action.APPEAL, "evidence_id")],
    "report_filed": [
        (N_("Warn"), Action.MODERATE, "report_id:warn"),
        (N_("Suspend 7 days"), Action.MODERATE, "report_id:suspend"),
        (N_("Dismiss"), Action.MODERATE, "report_id:dismiss"),
        (N_("Ban for good"), Action.MODERATE, "report_id:ban"),
    ],
}


def buttons(kind: NoticeKind, lang: str, values: dict[str, Any]) -> InlineKeyboardMarkup | None:
    """The notice's buttons, if it has any (one per row)."""
    spec = BUTTONS.get(kind)
    if not spec:
        return None
    rows = []
    for label, action, argument in spec:
        key, _, extra = argument.partition(":")
        if key not in values:
            continue
        args = [values[key], *([extra] if extra else [])]
        rows.append([(t(lang, label), callbacks.encode(action, *args))])
    return keyboards.inline(rows) if rows else None


def render(
    kind: NoticeKind, lang: str, values: dict[str, Any], meetup: MeetupView | None, zone: tzinfo
) -> str:
    """The text of one notice; an unknown kind raises KeyError (a bug, not a person's doing)."""
    fields: dict[str, Any] = dict(values)
    if meetup is not None:
        mission = meetup.mission
        fields["title"] = localized(lang, mission, "title")
        fields["when"] = format_when(lang, meetup.meeting.starts_at, zone)
        fields["place"] = place_of(lang, meetup.meeting)
    # (The msgid is looked up first: a string literal inside t(...) would be extracted.)
    told = rejection_told(lang, fields.get("reason"))  # why a photo was rejected
    if kind.startswith("evidence_") and told is not None:
        fields["reason"] = told
    if "left" in fields:  # tries left for a photo: "1 try left", "2 tries left"
        left = int(fields["left"])
        fields["tries_left"] = tn(lang, "{count} try left", "{count} tries left", left)
    if kind in ("evidence_approved", "appeal_approved"):  # "+1 point", "150 points"
        fields["points"] = points(lang, int(values["points"]))
        fields["balance"] = points(lang, int(values["balance"]))
    if kind == "meetup_joined":
        fields["seats"] = seats_taken(lang, int(values["seated"]), int(values["capacity"]))
    if kind == "meetup_unconfirmed":
        fields.update(_unconfirmed(lang, int(values["released"]), int(values["moved_up"])))
    if "name" in fields and not fields["name"]:  # an erased account (storage/erasure.py)
        fields["name"] = t(lang, ERASED_NAMES.get(kind, ERASED_NAMES["meetup_left"]))
    if kind == "voucher_issued":  # the item's name, looked up at send time (bot/send_now.py)
        fields["name"] = localized(lang, fields, "name")
    if kind == "gathering_refused":
        fields["why"] = gathering.why(lang, str(values.get("why", "")))
    if kind == "report_filed":
        label = REASON_LABELS.get(str(values.get("reason")), REASON_LABELS["other"])
        fields["reason"] = t(lang, label)
    if kind == "meetup_postponed":  # the old time and the deadline, stored as ISO text
        for field in ("old", "until"):
            fields[field] = format_when(lang, datetime.fromisoformat(str(values[field])), zone)
    if kind == "meetup_note_changed" and not fields.get("note"):
        fields["note"] = t(lang, "(no note any more)")
    return t(lang, MESSAGES[kind], **fields)


def _unconfirmed(lang: str, released: int, moved_up: int) -> dict[str, str]:
    """The two counts of a move's confirmation time that ended, each with its plural."""
    return {
        "released": tn(lang, "{count} place not confirmed was released",
                       "{count} places not confirmed were released", released),
        "moved_up": tn(lang, "{count} person moved up from the waitlist",
                       "{count} people moved up from the waitlist", moved_up),
    }  # fmt: skip


def daily_post(
    lang: str, values: dict[str, Any], bot_username: str | None, post: Post | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A group's daily mission post (kind "daily_missions", storage.groups.notice_values): its
    text and, per mission, "🙋" (issue 23: taps gather a meetup), "who?" and the mission's
    card in a private chat (none until the bot knows its @username). With `post`, as it
    stands after taps (storage.gathering.Post): the counts and what they made."""
    region = localized(lang, values, "region")
    needed = gathering.needed_of(values)
    counts = post.counts if post is not None else {}
    made = post.made if post is not None else {}
    lines = [t(lang, "☀️ Today's mission in {region}!", region=region), ""]
    for item in values["missions"]:
        mission_id = int(item["id"])
        state = None if mission_id not in made else made[mission_id] is not None
        lines.extend(gathering.mission_lines(lang, item, needed, counts.get(mission_id, 0), state))
        lines.append("")
    lines.append(
        t(
            lang,
            "Who's up for it today? Tap 🙋: when {needed} of you do, I set up a meetup for you.",
            needed=needed,
        )
    )
    return "\n".join(lines), gathering.post_markup(lang, values, bot_username, counts)
