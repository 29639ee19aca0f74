"""The one table that turns storage's refusals into polite text in the person's language.

A refusal is found by `code:reason` first (a reason refines some codes: "waitlisted",
"early", "review"…), then by `code`. Texts are English msgids translated by `ui.i18n`.
Every refusal a handler can meet has an entry; `test_refusals` checks that.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from storage import errors
from ui.i18n import N_, format_when, t
from ui.moderation import NOBODY_MET, action_label

FALLBACK = N_("Sorry, something went wrong on my side. Please try again in a moment.")
STALE_BUTTON = N_("This button no longer works. Send /start to begin again.")
MISSION_GONE = N_("That mission is no longer available. /missions shows current ones.")
ATTENDEES_RATE = N_("Only people who checked in can rate, once the meetup is over.")

TABLE: dict[str, str] = {
    # Accounts
    "not_registered:delete": N_("There is no account to delete."),
    "not_registered": N_(
        "You need an account for this. Send /start to sign up; it takes a minute."
    ),
    "already_registered": N_("You are already signed up. ✅"),
    "phone_taken:confirm": N_(
        "This number was just used for another account. Please share another one."
    ),
    "phone_taken:edit": N_("This number already belongs to another account. Nothing was changed."),
    "phone_taken": N_(
        "This number already belongs to another account. One account per number: "
        "if it is yours, delete the other account with /deleteme there first."
    ),
    # A number an account deleted while suspended or banned held (storage.accounts.bar_phone):
    # no detail of why, only whom to ask.
    "phone_barred:edit": N_(
        "This number can't be used for an account right now, so nothing was changed. If you "
        "have questions, please contact the Halsaram admins."
    ),
    "phone_barred": N_(
        "This number can't be used to sign up right now. If you have questions, please "
        "contact the Halsaram admins."
    ),
    "unknown_region:district": N_("Halsaram is not open in that district yet. Coming soon!"),
    "unknown_region:gone": N_("That neighbourhood is no longer available. Please choose again."),
    "unknown_region": N_("That neighbourhood is not available."),
    # Meetups (hosting, joining, host tools, check-in)
    "host_not_allowed:unverified": N_(
        "To host, verify your neighbourhood first: /profile → Neighbourhood."
    ),
    "host_not_allowed": N_(
        "Your trust score is too low to host for now. Join a few meetups first."
    ),
    "mission_unavailable": MISSION_GONE,
    "invalid_time:too_far": N_("Meetups can be planned up to two weeks ahead."),
    "invalid_time": N_(
        "That time is too soon or has passed. Pick a time at least 10 minutes ahead."
    ),
    "invalid_capacity": N_(
        "That group size does not fit this mission: pick one of the sizes shown."
    ),
    "meetup_not_found": N_("That meetup does not exist."),
    "meetup_not_open:cancelled": N_("That meetup was cancelled."),
    "meetup_not_open:started": N_("That meetup has already started."),
    "meetup_not_open": N_("That meetup is over."),
    "joining_closed": N_("The host has closed joining for this meetup."),
    "own_meetup": N_("This is your own meetup: you are already in it as the host."),
    "already_in:waitlisted": N_("You are already on the waitlist of this meetup."),
    "already_in": N_("You have already joined this meetup."),
    "time_conflict": N_("You already have a meetup at that time."),
    "not_verified": N_(
        "Verify your neighbourhood first to join meetups: /profile → Neighbourhood."
    ),
    "not_participant:waitlisted": N_(
        "You are on the waitlist, so you cannot check in unless a seat opens up."
    ),
    "not_participant": N_("You are not in this meetup. Join it first from /meetups."),
    "not_host": N_("Only the host can do that."),
    "cannot_leave:checked_in": N_(
        "You have checked in, so you can't leave this meetup any more. See you there!"
    ),
    "cannot_leave": N_("This meetup has started, so you can't leave it any more."),
    # Issue 23: the host moves the start; "still coming" after a move.
    "cannot_change:checked_in": N_(
        "Someone has already checked in, so the time can't be changed any more."
    ),
    "cannot_change": N_("The meetup already starts at that time. Type another time."),
    "nothing_to_confirm:late": N_(
        "The time to confirm has passed, so your place is being released. You can join again "
        "from the card while a seat is free."
    ),
    "nothing_to_confirm": N_(
        "You no longer hold a place in this meetup. You can join again from the card while a "
        "seat is free."
    ),
    "outside_neighbourhood:meetup": N_(
        "This meetup is in a neighbourhood where Halsaram is not open yet, so it can't be joined."
    ),
    "outside_neighbourhood:home": N_(
        "Meetups are for people who live where Halsaram is open, and your neighbourhood is "
        "not open yet. Coming soon!"
    ),
    "outside_neighbourhood": N_(
        "This meetup is for neighbours of its own district. /meetups shows the ones near you."
    ),
    # People who may not act (storage.accounts.require_may_act): join, host, check in, send a
    # photo, rate, report, exchange.
    # A press's alert holds at most 200 characters: these stay below with the date filled in.
    "suspended": N_(
        "Your account is suspended until {until} after a report was upheld, so you can't do "
        "this until then. If you think this is a mistake, please contact the Halsaram admins."
    ),
    "banned": N_(
        "The moderators have closed your account, so you can't do this. If you think this is "
        "a mistake, please contact the Halsaram admins."
    ),
    "account_deleted": N_(
        "Your account was deleted, so this can't be done. To use Halsaram again, send /start "
        "to sign up."
    ),
    "blocked": N_("You can't join this meetup."),
    "low_trust": N_("Your trust score is too low to join meetups for now. /profile shows why."),
    "host_limit": N_("You have hosted as many meetups as allowed in a day. Try again tomorrow."),
    "checkin_closed:early": N_("Check-in has not opened yet; it opens shortly before the start."),
    "checkin_closed": N_("Check-in for this meetup has closed."),
    "already_checked_in": N_("You are already checked in. ✅"),
    "invalid_checkin:malformed_code": N_(
        "Type /checkin followed by the 6-character code under the host's QR, e.g. /checkin AB3XYZ."
    ),
    "invalid_checkin:unknown_code": N_("No meetup has that code. Check it and try again."),
    "invalid_checkin:old_code": N_(
        "That code has changed: it changes every few minutes. Type the one the host's screen "
        "shows now, or scan the QR."
    ),
    "invalid_checkin": N_(
        "This check-in code has expired or is not valid. Ask the host to show a fresh QR "
        "code, or type /checkin followed by the 6-character code under it."
    ),
    # Evidence review (admins)
    "not_admin:review": N_("Only admins can review photos. Nothing was changed."),
    "already_decided": N_("Another admin already decided on this photo. Nothing was changed."),
    "not_ready": N_("The checks on this photo are still running. Try again in a moment."),
    "no_tries_left": N_("The sender has used every try; approve or reject this photo."),
    "copy_of_approved": N_(
        "This photo is the same as one already approved, so it can't earn points again. "
        "Please reject it as a duplicate."
    ),
    "not_impartial:own": N_(
        "This is your own photo: another admin has to review it. Nothing was changed."
    ),
    "not_impartial": N_(
        "You took part in this meetup, so another admin has to review its photos. Nothing was "
        "changed."
    ),
    "evidence_not_found": N_("That photo no longer exists."),
    # Issue 23: appeals
    "not_impartial:first_reviewer": N_(
        "You rejected this photo, so another admin has to decide its appeal. Nothing was changed."
    ),
    "appeal_refused:not_yours": N_(
        "Only the sender of a photo can appeal it. Nothing was changed."
    ),
    "appeal_refused:not_rejected": N_(
        "Only a rejected photo can be appealed, and this one is not (any more). Nothing was "
        "changed."
    ),
    "appeal_refused:expired": N_(
        "This photo is no longer kept, so it can't be appealed any more. Nothing was changed."
    ),
    "appeal_refused:once": N_(
        "This photo was appealed already, and an appeal is once per photo. Nothing was changed."
    ),
    "appeal_refused:other_photo": N_(
        "Another photo of yours for this meetup is approved or being checked, so this one "
        "can't be appealed. Nothing was changed."
    ),
    "appeal_refused:decided": N_("Another admin already decided this appeal. Nothing was changed."),
    "appeal_refused": N_("There is no appeal for this photo. Nothing was changed."),
    # Evidence intake (a photo sent as proof)
    "nothing_pending:approved": N_("Your photo for that meetup is already approved. 🎉"),
    "nothing_pending:in_review": N_(
        "Your photo is already being checked. I'll tell you the result here."
    ),
    "nothing_pending:no_tries": N_("You have used every try to send a photo for that meetup."),
    "nothing_pending:no_meetup": N_(
        "No mission is waiting for a photo or video from you. They count as proof for meetups "
        "you checked in to: find one with /meetups."
    ),
    "nothing_pending": N_("That meetup is not waiting for a photo from you."),
    "same_photo": N_("You sent this exact photo before. Please send a new one."),
    # Evidence counts from check-in on (issue 21): how and from when one can check in.
    "not_checked_in:early": N_(
        "Photos count from your check-in on. Check-in for your meetup on {start} opens at "
        "{opens}: at the meeting place, scan the host's QR code (or type /checkin and the code "
        "under it), then send your photo here."
    ),
    "not_checked_in:open": N_(
        "You haven't checked in to your meetup on {start} yet, so this photo can't count. At "
        "the meeting place, scan the host's QR code (or type /checkin and the code under it), "
        "then send your photo here."
    ),
    "not_checked_in:host_early": N_(
        "Photos count from your check-in on. As the host, you check in by showing the "
        "check-in QR (📷 on your meetup's card in /mymeetups), from {opens} for your meetup on "
        "{start}; then send your photo here."
    ),
    "not_checked_in:host_open": N_(
        "You haven't checked in to your meetup on {start} yet, so this photo can't count. As "
        "the host, show the check-in QR now (📷 on your meetup's card in /mymeetups): that "
        "checks you in. Then send your photo here."
    ),
    "not_checked_in": N_(
        "You didn't check in to your meetup on {start}, so it can't take a photo from you: "
        "photos count only from people who checked in at the meetup."
    ),
    # Missions and the review of generated drafts (admins)
    "mission_not_found:review": STALE_BUTTON,  # a review card's forged or outdated mission
    "mission_not_found": MISSION_GONE,
    "not_admin:drafts": N_("Sorry, only admins can review missions."),
    "already_reviewed": N_("This mission was already reviewed."),
    "points_out_of_range": STALE_BUTTON,  # only a forged points button asks for that
    # Neighbourhood groups (their admins, asked of Telegram)
    "not_admin:group": N_("Sorry, only the group's admins can change my settings here."),
    "unknown_group_region": N_("That neighbourhood is not open. Send /setregion again."),
    "unknown_group": N_("Send /setregion again, please."),
    # Gathering on a daily post (issue 23)
    "not_daily_post": N_("This button isn't part of today's post here."),
    "gathering_closed:late": N_(
        "Taps for today's post are closed. Tap 🙋 on tomorrow's post, or see /meetups."
    ),
    "gathering_closed": N_("That post is from another day. Tap 🙋 on today's post."),
    "invalid_gather_size": N_(
        "Send /setgather N, a number from 2 to 10 (how many taps make a meetup)."
    ),
    # Points and the market
    "item_unavailable": N_("That item is no longer available."),
    "out_of_stock": N_("Sold out just now; nothing was charged."),
    "insufficient_points": N_("Not enough points for this; nothing was charged."),
    "unknown_code": N_("No issued code matches that."),
    "already_refunded": N_("That code was already refunded."),
    "own_voucher": N_("That code is yours: another admin has to refund it. Nothing was changed."),
    # Feedback after a meetup (a rating's own buttons: "rating")
    "not_attended:rating": STALE_BUTTON,
    "not_over:rating": STALE_BUTTON,
    "not_attended": ATTENDEES_RATE,
    "not_over": ATTENDEES_RATE,
    "already_rated": N_("You already rated this person for this meetup."),
    # Reports, moderators and blocks
    "not_met:block": STALE_BUTTON,  # a block button naming someone never met
    "not_met": NOBODY_MET,
    "report_not_found": STALE_BUTTON,  # only a forged moderator's button names none
    "already_handled": N_("Already handled: {action}."),
    # Issue 23: a permanent ban
    "cannot_ban:self": N_("You can't ban yourself. Nothing was changed."),
    "cannot_ban:admin": N_(
        "This person is an admin, and admins are not banned. Nothing was changed."
    ),
    "cannot_ban:unknown": N_("There is no account with that Telegram id. Nothing was changed."),
    "cannot_ban:banned": N_("This person is banned already. Nothing was changed."),
    "cannot_ban:not_banned": N_("This person is not banned. Nothing was changed."),
    "cannot_ban": N_("That ban could not be done. Nothing was changed."),
    # Admins, anywhere else
    "not_admin:command": N_("Sorry, this command is for admins."),
    "not_admin": N_("Only admins can do that."),
}


def refusal(lang: str, error: errors.DomainError, zone: tzinfo) -> str:
    """The polite sentence for `error`, with its values (a date shown in `zone`)."""
    msgid = TABLE.get(f"{error.code}:{error.reason}") or TABLE.get(error.code) or FALLBACK
    return t(lang, msgid, **_values(lang, error, zone))


def _values(lang: str, error: errors.DomainError, zone: tzinfo) -> dict[str, Any]:
    if isinstance(error, errors.Suspended):
        return {"until": error.until.astimezone(zone).strftime("%Y-%m-%d %H:%M")}
    if isinstance(error, errors.AlreadyHandled):
        return {"action": action_label(lang, error.action)}
    if isinstance(error, errors.NotCheckedIn):
        start, opens = error.starts_at, error.opens_at
        return {
            "start": format_when(lang, start, zone) if start else "-",
            "opens": opens.astimezone(zone).strftime("%H:%M") if opens else "-",
        }
    return {}
