"""Every refusal a storage operation raises: one base, a code each.

Handlers never decide what a refusal means; `ui/refusals.py` turns `code` (and `reason`,
where one refines it) into polite text in the person's language. The area bases
(`MeetupError`, `MarketError`, …) let a caller catch one family at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar


class DomainError(Exception):
    """Base of every refusal; `reason` refines some of them ("waitlisted", "early", …)."""

    code: ClassVar[str] = "refused"

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or type(self).__name__)
        self.reason = reason


class NotAdmin(DomainError):
    """Only an admin (granted, not deleted) may do this."""

    code = "not_admin"


# Accounts (signup, profile)
class AccountError(DomainError):
    code = "account"


class PhoneTaken(AccountError):
    """Another account already uses this phone number."""

    code = "phone_taken"


class AlreadyRegistered(AccountError):
    """Signup confirmed twice (a double tap): the first one won."""

    code = "already_registered"


class NotRegistered(AccountError):
    """The operation needs an account."""

    code = "not_registered"


class UnknownRegion(AccountError):
    """The neighbourhood does not exist or is not open yet."""

    code = "unknown_region"


# Missions
class MissionNotFound(DomainError):
    """No such mission, or not one this person may see."""

    code = "mission_not_found"


class AlreadyReviewed(DomainError):
    """The draft was published or discarded already (a double tap, another admin)."""

    code = "already_reviewed"

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class PointsOutOfRange(DomainError):
    """Points outside the bounds every mission respects."""

    code = "points_out_of_range"


# Meetups
class MeetupError(DomainError):
    code = "meetup"


class HostNotAllowed(MeetupError):
    """reason: "unverified" (neighbourhood not verified) or "trust" (trust score too low)."""

    code = "host_not_allowed"


class MissionUnavailable(MeetupError):
    code = "mission_unavailable"


class InvalidTime(MeetupError):
    """reason: "past" or "too_far"."""

    code = "invalid_time"


class InvalidCapacity(MeetupError):
    """A group size outside the mission's range (a forged button: only those are offered)."""

    code = "invalid_capacity"


class MeetupNotFound(MeetupError):
    code = "meetup_not_found"


class MeetupNotOpen(MeetupError):
    """reason: "cancelled", "finished" or "started"."""

    code = "meetup_not_open"


class JoiningClosed(MeetupError):
    code = "joining_closed"


class OwnMeetup(MeetupError):
    code = "own_meetup"


class AlreadyIn(MeetupError):
    """reason: "joined" or "waitlisted"."""

    code = "already_in"


class TimeConflict(MeetupError):
    code = "time_conflict"


class NotVerified(MeetupError):
    code = "not_verified"


class NotParticipant(MeetupError):
    """reason: "waitlisted" when they only hold a waitlist place."""

    code = "not_participant"


class NotHost(MeetupError):
    code = "not_host"


class CannotLeave(MeetupError):
    """A seat is given up only until the start, and never after checking in. reason:
    "checked_in" or "started"."""

    code = "cannot_leave"


class OutsideNeighbourhood(MeetupError):
    """Meetups are for neighbours. reason: "meetup" (its district is not open), "home" (the
    person's is not) or "district" (it is in another district than the person's)."""

    code = "outside_neighbourhood"


class Suspended(AccountError):
    """A moderator suspended the person; `until` says for how long. Raised by
    `storage.accounts.require_may_act` for every action (reason: the action), not only
    meetups."""

    code = "suspended"

    def __init__(self, until: datetime, reason: str = "") -> None:
        super().__init__(reason or "suspended")
        self.until = until


class Blocked(MeetupError):
    """One of the two blocked the other."""

    code = "blocked"


class LowTrust(MeetupError):
    """The trust score is below what joining needs."""

    code = "low_trust"


class HostLimit(MeetupError):
    """Too many meetups hosted in the last day."""

    code = "host_limit"


class CheckinClosed(MeetupError):
    """reason: "early" or "late"."""

    code = "checkin_closed"


class AlreadyCheckedIn(MeetupError):
    code = "already_checked_in"


class InvalidCheckin(MeetupError):
    """What was presented to check in is not valid. reason: "token" (a QR token forged,
    altered or expired: a screenshot forwarded later), "malformed_code" (a typed code of the
    wrong shape), "old_code" (a meetup's code of a window no longer accepted: it was read
    from the host's screen too long ago) or "unknown_code" (no meetup has that code)."""

    code = "invalid_checkin"


# Points and market
class LedgerError(DomainError):
    code = "ledger"


class InsufficientPoints(LedgerError):
    """The balance would go below zero; nothing was changed."""

    code = "insufficient_points"


class ReferenceConflict(LedgerError):
    """The reference already posted a different change (a bug, or a forged reference)."""

    code = "reference_conflict"


class MarketError(DomainError):
    code = "market"


class ItemUnavailable(MarketError):
    code = "item_unavailable"


class OutOfStock(MarketError):
    code = "out_of_stock"


class AlreadyRefunded(MarketError):
    code = "already_refunded"


class OwnVoucher(MarketError):
    """An admin refunding a code they bought themselves: they have seen it, so its points
    would come back with the code still usable. Another admin decides."""

    code = "own_voucher"


class UnknownCode(MarketError):
    code = "unknown_code"


# Evidence and review
class EvidenceError(DomainError):
    code = "evidence"


class NothingPending(EvidenceError):
    """No meetup waits for this person's photo. reason: "none", "in_review" or "no_tries"."""

    code = "nothing_pending"


class SamePhoto(EvidenceError):
    """This exact file was sent before."""

    code = "same_photo"


class EvidenceNotFound(EvidenceError):
    code = "evidence_not_found"


class NotReady(EvidenceError):
    """The automatic checks have not finished yet."""

    code = "not_ready"


class AlreadyDecided(EvidenceError):
    """Another press decided first; `reason` is the decision."""

    code = "already_decided"


class NoTriesLeft(EvidenceError):
    """ "Ask again" when the person has used every try."""

    code = "no_tries_left"


class NotCheckedIn(EvidenceError):
    """A photo for a meetup the person (host or participant) has not checked in to: evidence
    counts only from check-in on (issue 21). reason: "early" (check-in opens at `opens_at`),
    "open" (check-in is open now) or "missed" (it closed without them); `starts_at` is the
    meetup's start, `host` whether they host it."""

    code = "not_checked_in"

    def __init__(
        self,
        reason: str = "",
        *,
        starts_at: datetime | None = None,
        opens_at: datetime | None = None,
        host: bool = False,
    ) -> None:
        super().__init__(f"host_{reason}" if host and reason else reason)
        self.starts_at = starts_at
        self.opens_at = opens_at
        self.host = host


class CopyOfApproved(EvidenceError):
    """Approving a photo whose bytes (or picture: perceptual hash within 2 bits) are those of
    a photo already approved: the same proof pays once (issue 21)."""

    code = "copy_of_approved"


class NotImpartial(EvidenceError):
    """An admin deciding on evidence they may not judge (issue 21). reason: "own" (they sent
    it), "attended" (they hosted, joined or checked in to its meetup) or "first_reviewer" (an
    appeal, decided by someone other than the admin who rejected the photo, issue 23)."""

    code = "not_impartial"


class AppealRefused(EvidenceError):
    """An appeal that cannot be filed or decided (issue 23). reason: "not_yours" (a forged
    button), "not_rejected" (approved, still being decided, or "send another"), "expired"
    (the photo's retention ended), "once" (appealed already), "other_photo" (another photo for
    that meetup is approved or being checked), "none" (no appeal for that photo), "decided"
    (another admin decided the appeal first)."""

    code = "appeal_refused"


# Groups
class GroupError(DomainError):
    code = "group"


class UnknownGroup(GroupError):
    """The bot has no record of this group (it was never added, or it was removed)."""

    code = "unknown_group"


class UnknownGroupRegion(GroupError):
    """The neighbourhood does not exist or is not open."""

    code = "unknown_group_region"


# Gathering on a group's daily post (issue 23, storage/gathering.py)
class NotDailyPost(GroupError):
    """The tap is not under a mission of this group's daily post of that day (a forged or
    mistaken button)."""

    code = "not_daily_post"


class GatheringClosed(GroupError):
    """The post's taps no longer count: reason "late" (past the day's cut-off) or "day" (the
    post is of another day)."""

    code = "gathering_closed"


class InvalidGatherSize(GroupError):
    """/setgather takes a whole number from 2 to 10."""

    code = "invalid_gather_size"


# Feedback, reports and moderation
class FeedbackError(DomainError):
    code = "feedback"


class NotAttended(FeedbackError):
    """Only people who checked in rate and are rated. reason: "rating" when a rating's own
    button names someone (or a rating) it cannot be about: a forged or outdated button."""

    code = "not_attended"


class NotOver(FeedbackError):
    """Ratings open once the meetup is over. reason: "rating" as for `NotAttended`."""

    code = "not_over"


class AlreadyRated(FeedbackError):
    code = "already_rated"


class ModerationError(DomainError):
    code = "moderation"


class NotMet(ModerationError):
    """Reports and blocks are about people one has met at a meetup. reason: "block" for a
    block button naming someone never met (forged or outdated)."""

    code = "not_met"


class ReportNotFound(ModerationError):
    """No such report (a forged or corrupt moderator's button)."""

    code = "report_not_found"


class CannotBan(ModerationError):
    """A ban refused (issue 23). reason: "self" (an admin banning themselves), "admin" (an
    operator: take their admin right away first), "unknown" (no such account), "banned" (banned
    already), "not_banned" (an unban of someone not banned), "no_reason" (a ban needs one)."""

    code = "cannot_ban"


class AlreadyHandled(ModerationError):
    """Another moderator acted on the report first; `action` is what they did."""

    code = "already_handled"

    def __init__(self, action: str | None) -> None:
        super().__init__(action or "")
        self.action = action


# People who may not act (`storage.accounts.require_may_act`; `Suspended` above is the third)
class AccountDeleted(NotRegistered):
    """The person deleted their account (`/deleteme`); signing up again makes a new one.
    reason: the action refused ("join", "exchange", …)."""

    code = "account_deleted"


class Banned(AccountError):
    """Moderators closed the account for good (a suspension without end). reason: the action
    refused."""

    code = "banned"


# A number barred from signing up again (`storage.accounts`, table `barred_phones`)
class PhoneBarred(PhoneTaken):
    """The number belonged to an account deleted while it was suspended or banned: it may not
    make an account until that suspension ends (a ban: while it stands). A `PhoneTaken`, so
    every step that asks for a number refuses it the same way; its text says no more than to
    ask the admins. reason: as `PhoneTaken`'s ("confirm", "edit" or none)."""

    code = "phone_barred"


# Meetups can change (issue 23, storage/meetings/changes.py)
class CannotChange(MeetupError):
    """The host may not move this meetup's start. reason: "checked_in" (someone has checked in
    already) or "same_time" (it starts then already)."""

    code = "cannot_change"


class NothingToConfirm(MeetupError):
    """A "still coming" press that keeps nothing. reason: "late" (the deadline has passed:
    the place is being released) or "left" (the person holds no place any more)."""

    code = "nothing_to_confirm"
