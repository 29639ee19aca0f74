"""The one table that turns storage's refusals into polite text in the person's language.

A refusal is found by `code:reason` first (a reason refines some codes: "waitlisted",
"early", "review"…), then by `code`. Texts are English msgids translated by `ui.i18n`.
Every refusal a handler can meet has an entry; `test_refusals` checks that.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from storage import errors
from ui.i18n import N_, t

FALLBACK = N_("Sorry, something went wrong on my side. Please try again in a moment.")
STALE_BUTTON = N_("This button no longer works. Send /start to begin again.")

TABLE: dict[str, str] = {
    # Accounts
    "not_registered": N_(
        "You need an account for this. Send /start to sign up; it takes a minute."
    ),
    # Meetups (hosting, joining, host tools, check-in)
    "host_not_allowed:unverified": N_(
        "To host, verify your neighbourhood first: /profile → Neighbourhood."
    ),
    "host_not_allowed": N_(
        "Your trust score is too low to host for now. Join a few meetups first."
    ),
    "mission_unavailable": N_("That mission is no longer available. /missions shows current ones."),
    "invalid_time:too_far": N_("Meetups can be planned up to two weeks ahead."),
    "invalid_time": N_(
        "That time is too soon or has passed. Pick a time at least 10 minutes ahead."
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
    "suspended": N_(
        "Your account is suspended until {until} after a report was upheld. "
        "You can't join or host meetups until then."
    ),
    "blocked": N_("You can't join this meetup."),
    "low_trust": N_("Your trust score is too low to join meetups for now. /profile shows why."),
    "host_limit": N_("You have hosted as many meetups as allowed in a day. Try again tomorrow."),
    "checkin_closed:early": N_("Check-in has not opened yet; it opens shortly before the start."),
    "checkin_closed": N_("Check-in for this meetup has closed."),
    "already_checked_in": N_("You are already checked in. ✅"),
    "invalid_checkin": N_(
        "This check-in code has expired or is not valid. Ask the host to show a fresh QR "
        "code, or type /checkin followed by the 6-character code under it."
    ),
    # Evidence review (admins)
    "not_admin:review": N_("Only admins can review photos. Nothing was changed."),
    "already_decided": N_("Another admin already decided on this photo. Nothing was changed."),
    "not_ready": N_("The checks on this photo are still running. Try again in a moment."),
    "no_tries_left": N_("The sender has used every try; approve or reject this photo."),
    "evidence_not_found": N_("That photo no longer exists."),
    # Admins, anywhere else
    "not_admin": N_("Only admins can do that."),
}


def refusal(lang: str, error: errors.DomainError, zone: tzinfo) -> str:
    """The polite sentence for `error`, with its values (a date shown in `zone`)."""
    msgid = TABLE.get(f"{error.code}:{error.reason}") or TABLE.get(error.code) or FALLBACK
    return t(lang, msgid, **_values(error, zone))


def _values(error: errors.DomainError, zone: tzinfo) -> dict[str, Any]:
    if isinstance(error, errors.Suspended):
        return {"until": error.until.astimezone(zone).strftime("%Y-%m-%d %H:%M")}
    return {}
