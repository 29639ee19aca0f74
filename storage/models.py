"""The data model of the whole product (SQLAlchemy 2, typed).

The rules people rely on live in the database too — unique attendance, non-negative balances,
one decision per evidence, a voucher issued once — so a bug in Python or two processes racing
cannot break them. Alembic migrations are generated from this module and tested against it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import text

from storage.types import BigId, UTCDateTime

# Deterministic constraint names, so migrations say the same thing on both backends.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LANGUAGES = ("ko", "en")
MISSION_STATUSES = ("draft", "published", "retired")
MISSION_SOURCES = ("catalogue", "rules", "ai")
MEETING_STATUSES = ("open", "cancelled", "finished")
PARTICIPATION_STATUSES = ("joined", "waitlisted", "left")
CHECKIN_METHODS = ("qr", "code", "host")
CHECKIN_LOCATIONS = ("live", "point", "unverified")
EVIDENCE_STATUSES = ("received", "checking", "in_review", "approved", "rejected", "retry")
# What a piece of evidence is: a photo (compressed or a file), a round video message recorded
# live in Telegram's camera, or an ordinary video (issue 21).
EVIDENCE_MEDIA = ("photo", "video_note", "video")
REVIEW_DECISIONS = ("approved", "rejected")
# An appeal of a rejected photo (issue 23): waiting for a second admin, then final.
APPEAL_STATUSES = ("pending", "approved", "rejected")
LEDGER_KINDS = ("reward", "exchange", "refund", "adjustment", "bonus")
REPORT_STATUSES = ("open", "dismissed", "actioned")
# skipped: never tried, the recipient had blocked the bot (storage/delivery.py).
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "skipped")
INBOX_STATUSES = ("pending", "done", "failed")
# Why Telegram refuses a group's daily posts (GroupChat.cannot_post; None: it does not).
CANNOT_POST_REASONS = ("no_rights", "topic_closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Region(Base):
    """A legal neighbourhood (법정동) in a district (구), with its boundary."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dong_code: Mapped[str] = mapped_column(String(10), unique=True)
    district_code: Mapped[str] = mapped_column(String(5), index=True)
    district_ko: Mapped[str] = mapped_column(String(40))
    district_en: Mapped[str] = mapped_column(String(60))
    name_ko: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    center_lat: Mapped[float] = mapped_column(Float)
    center_lon: Mapped[float] = mapped_column(Float)
    # GeoJSON geometry (Polygon or MultiPolygon, WGS84 lon/lat) for location checks.
    boundary: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base):
    """A person who talks with the bot; the primary key is their Telegram user id."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        CheckConstraint("trust_score >= 0 AND trust_score <= 100", name="trust_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str] = mapped_column(String(2), default="ko")
    display_name: Mapped[str] = mapped_column(String(64), default="")
    # The phone number itself is never stored: a keyed hash keeps one account per number,
    # a masked form (010-****-5678) is what a person sees.
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    region_verified_at: Mapped[datetime | None]
    interests: Mapped[list[str]] = mapped_column(default=list)
    preferred_times: Mapped[list[str]] = mapped_column(default=list)
    trust_score: Mapped[float] = mapped_column(Float, default=50.0)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    terms_accepted_at: Mapped[datetime | None]
    registered_at: Mapped[datetime | None]
    # A moderator's suspension: no joining or hosting until then.
    suspended_until: Mapped[datetime | None]
    # A permanent ban's reason, as the admin gave it (issue 23; the ban itself is
    # `suspended_until` = `accounts.BANNED_UNTIL`).
    ban_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]

    region: Mapped[Region | None] = relationship()


class Mission(Base):
    """Something concrete to do in a public place, worth points."""

    __tablename__ = "missions"
    __table_args__ = (
        CheckConstraint(_in("status", MISSION_STATUSES), name="status"),
        CheckConstraint(_in("source", MISSION_SOURCES), name="source"),
        CheckConstraint("points >= 0", name="points_nonnegative"),
        CheckConstraint("difficulty BETWEEN 1 AND 5", name="difficulty_range"),
        CheckConstraint("min_group >= 1 AND min_group <= max_group", name="group_range"),
        CheckConstraint("duration_min > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str | None] = mapped_column(String(80), unique=True)
    title_ko: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str] = mapped_column(String(120))
    description_ko: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(30), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    place_name_ko: Mapped[str] = mapped_column(String(120))
    place_name_en: Mapped[str] = mapped_column(String(120))
    place_lat: Mapped[float] = mapped_column(Float)
    place_lon: Mapped[float] = mapped_column(Float)
    duration_min: Mapped[int] = mapped_column(Integer)
    min_group: Mapped[int] = mapped_column(Integer, default=2)
    max_group: Mapped[int] = mapped_column(Integer, default=6)
    points: Mapped[int] = mapped_column(Integer)
    difficulty: Mapped[int] = mapped_column(Integer, default=1)
    evidence_rule_ko: Mapped[str] = mapped_column(Text, default="")
    evidence_rule_en: Mapped[str] = mapped_column(Text, default="")
    seasons: Mapped[list[str]] = mapped_column(default=list)
    times_of_day: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    source: Mapped[str] = mapped_column(String(12), default="catalogue")
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class Meeting(Base):
    """A small meetup around one mission, hosted by one user."""

    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint(_in("status", MEETING_STATUSES), name="status"),
        CheckConstraint("capacity >= 2 AND capacity <= 10", name="capacity_range"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    place_name: Mapped[str] = mapped_column(String(120))
    place_lat: Mapped[float] = mapped_column(Float)
    place_lon: Mapped[float] = mapped_column(Float)
    capacity: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open")
    joining_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    ends_at: Mapped[datetime]
    # The short typed code shown under the check-in QR, for when a scan delivers no payload.
    checkin_code: Mapped[str | None] = mapped_column(String(12), unique=True)
    created_at: Mapped[datetime]
    # How many times the host moved the start (issue 23, storage/meetings/changes.py): the
    # occasion in the keys of the postponement's notices and of the reminders for the new time.
    postponements: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    mission: Mapped[Mission] = relationship()


class Participation(Base):
    """A user in a meeting: joined, waitlisted or left; checked in when attended."""

    __tablename__ = "participations"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id"),
        # One proof word per person in a meetup (NULL until check-in).
        UniqueConstraint("meeting_id", "proof_word"),
        CheckConstraint(_in("status", PARTICIPATION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="joined")
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    # Set when the meetup ended without this person checking in (feeds the trust score).
    no_show_at: Mapped[datetime | None]
    # The one-time word given at check-in, to be written into the evidence photo.
    proof_word: Mapped[str | None] = mapped_column(String(20))
    # Check-in proves presence (issue 21, storage.meetings.checkin): how the person checked in
    # (CHECKIN_METHODS); while their location is awaited, when they presented the QR or code
    # (the window is judged by it) and until when the location step waits.
    checkin_method: Mapped[str | None] = mapped_column(String(8))
    checkin_presented_at: Mapped[datetime | None]
    checkin_pending_until: Mapped[datetime | None]
    # Where they were (CHECKIN_LOCATIONS): a live or one-off location within the radius, or
    # none shared ("unverified"); the distance to the meeting point, rounded to 10 m.
    checkin_location: Mapped[str | None] = mapped_column(String(12))
    checkin_distance_m: Mapped[int | None] = mapped_column(Integer)
    # The private-chat message that completed the check-in: the same update handled again
    # (a redelivery) is recognised and answered as the first time.
    checkin_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # How many times this person joined this meetup (a leave and a new join count again): the
    # occasion in the outbox keys of the join, leave and promotion notices (storage/outbox.py).
    joins: Mapped[int] = mapped_column(Integer, default=1)
    # The button press (Telegram's callback query id) that made the current join or leave: the
    # same press handled again (a redelivered update) is recognised and answered as before.
    last_press: Mapped[str | None] = mapped_column(String(64))
    # After the host moved the start (issue 23): the place is kept only if the person says
    # "still coming" before this moment; cleared when they do, or when the place is released.
    confirm_by: Mapped[datetime | None] = mapped_column(index=True)


class Evidence(Base):
    """A photo sent as proof of a mission, and what the automatic checks found."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint(_in("status", EVIDENCE_STATUSES), name="status"),
        UniqueConstraint("user_id", "file_unique_id"),
        CheckConstraint(_in("media_kind", EVIDENCE_MEDIA), name="media_kind"),
        # The same bytes are approved (and paid) once, whoever sends them (issue 21).
        Index(
            "uq_evidence_sha256_approved",
            "sha256",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participations.id"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    file_id: Mapped[str] = mapped_column(String(200))
    file_unique_id: Mapped[str] = mapped_column(String(100))
    as_document: Mapped[bool] = mapped_column(Boolean, default=False)
    # EVIDENCE_MEDIA: a video's checks and card use one frame of it (verification/video.py).
    media_kind: Mapped[str] = mapped_column(String(12), default="photo")
    storage_key: Mapped[str | None] = mapped_column(String(300))
    phash: Mapped[str | None] = mapped_column(String(32), index=True)
    # SHA-256 of the bytes downloaded from Telegram: the same file sent again (issue 21).
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    exif_taken_at: Mapped[datetime | None]
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list[str]] = mapped_column(default=list)
    # The automatic checks' signals with their reasons, for the reviewer's card.
    signals: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    ai_verdict: Mapped[str | None] = mapped_column(String(20))
    ai_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="received", index=True)
    review_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    review_message_id: Mapped[int | None] = mapped_column(BigInteger)
    submitted_at: Mapped[datetime]
    # When the retention job deleted the photo file (storage/retention.py); phash stays.
    photo_deleted_at: Mapped[datetime | None]


class Review(Base):
    """An admin's decision on one evidence; the first press wins (unique per evidence)."""

    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint(_in("decision", REVIEW_DECISIONS), name="decision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime]


class Appeal(Base):
    """A sender's appeal of a rejected photo, once per photo (issue 23): a second admin, not
    the one who rejected it, decides, and that decision is final."""

    __tablename__ = "appeals"
    __table_args__ = (CheckConstraint(_in("status", APPEAL_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    # Who rejected the photo first (the review on record): they may not decide the appeal.
    first_reviewer_id: Mapped[int] = mapped_column(BigInteger)
    reviewer_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)


class Balance(Base):
    """A user's points; never below zero, always the sum of their ledger entries."""

    __tablename__ = "balances"
    __table_args__ = (CheckConstraint("points >= 0", name="points_nonnegative"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class LedgerEntry(Base):
    """An append-only change of points; `reference` ("evidence:42") makes it happen once."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        CheckConstraint("balance_after >= 0", name="balance_after_nonnegative"),
        CheckConstraint(_in("kind", LEDGER_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    reference: Mapped[str] = mapped_column(String(80), unique=True)
    # Why, and who, for admin adjustments and refunds.
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class MarketItem(Base):
    """A gift voucher kind (기프티콘) that points can buy."""

    __tablename__ = "market_items"
    __table_args__ = (CheckConstraint("cost > 0", name="cost_positive"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name_ko: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    cost: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class VoucherCode(Base):
    """One code from inventory; issued at most once, tied to the ledger entry that paid it."""

    __tablename__ = "voucher_codes"
    __table_args__ = (
        CheckConstraint("(issued_to IS NULL) = (issued_at IS NULL)", name="issued_consistent"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("market_items.id"), index=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    issued_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime | None]
    ledger_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_entries.id"), unique=True
    )
    # A bad code refunded by an admin: the points went back once, the code is out of use.
    refunded_at: Mapped[datetime | None]


class Feedback(Base):
    """One attendee's rating of another after a meeting."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("meeting_id", "from_user_id", "to_user_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("from_user_id <> to_user_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime]


class Report(Base):
    """A safety report about a person, handled by admins."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(_in("status", REPORT_STATUSES), name="status"),
        CheckConstraint("reporter_id <> reported_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reported_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    reason: Mapped[str] = mapped_column(String(30))
    details: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    action: Mapped[str | None] = mapped_column(String(12))
    handled_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # Where the report's card is in the admin group, recorded when its notice is sent (the
    # notice's outbox row goes after `outbox_retention_days`; the card stays in the group).
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)


class Badge(Base):
    """A badge a user earned; earned once."""

    __tablename__ = "badges"
    __table_args__ = (UniqueConstraint("user_id", "badge"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    badge: Mapped[str] = mapped_column(String(40))
    awarded_at: Mapped[datetime]


class UserBlock(Base):
    """A person who does not want to meet another: hidden from each other's meetups."""

    __tablename__ = "user_blocks"
    __table_args__ = (CheckConstraint("blocker_id <> blocked_id", name="not_self"),)

    blocker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime]


class GroupChat(Base):
    """A neighbourhood group chat that gets a daily mission at its local post time.

    Three separate states decide whether it does: `paused` (only the group's admin changes it,
    with /pause and /resume), `present` (the bot is in the group, as my_chat_member says) and
    `cannot_post` (why Telegram refuses the bot's posts there, when it does: no right to send
    messages, or a closed topic). `thread_id` is the forum topic the posts go to (None: the
    General topic, or a group without topics).
    """

    __tablename__ = "group_chats"
    __table_args__ = (CheckConstraint(_in("cannot_post", CANNOT_POST_REASONS), name="cannot_post"),)

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(255), default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    post_time: Mapped[time] = mapped_column(Time, default=time(8, 0))
    language: Mapped[str] = mapped_column(String(2), default="ko")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    cannot_post: Mapped[str | None] = mapped_column(String(20))
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    registered_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    # How many taps of "🙋" on a daily post make a meetup (issue 23, /setgather; 2-10).
    gather_size: Mapped[int] = mapped_column(Integer, default=3, server_default="3")


class InboxUpdate(Base):
    """Every update as received; the primary key drops a duplicate delivery."""

    __tablename__ = "inbox"
    __table_args__ = (CheckConstraint(_in("status", INBOX_STATUSES), name="status"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The raw update (phone numbers, locations, names, texts): only until it is handled
    # (storage/inbox.py mark_done clears it); what stays is the update's type, chat and sender.
    payload: Mapped[dict[str, Any] | None]
    kind: Mapped[str | None] = mapped_column(String(40))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message to someone other than the person in front, sent by the dispatcher."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_due", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(60))
    claimed_at: Mapped[datetime | None]
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ScheduledSend(Base):
    """A claim on one scheduled post (group + day, meeting reminder), so it happens once."""

    __tablename__ = "scheduled_sends"
    __table_args__ = (UniqueConstraint("kind", "target", "slot"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    target: Mapped[int] = mapped_column(BigInteger)
    slot: Mapped[str] = mapped_column(String(40))
    claimed_by: Mapped[str] = mapped_column(String(60))
    claimed_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class ConversationState(Base):
    """Where a person is in a multi-step conversation (PTB persistence, not pickle)."""

    __tablename__ = "conversation_states"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class PersistedData(Base):
    """PTB's user_data / chat_data / bot_data as JSON, for conversations' scratch values."""

    __tablename__ = "persisted_data"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class DailyMission(Base):
    """The mission posted to a region on a local date (one per region and day)."""

    __tablename__ = "daily_missions"
    __table_args__ = (UniqueConstraint("region_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    day: Mapped[date] = mapped_column(Date)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"))
    created_at: Mapped[datetime]


class BarredPhone(Base):
    """A number that may not sign up again yet: an account deleted while its suspension or ban
    still ran leaves only its keyed phone hash here (the same HMAC as `users.phone_hash`, never
    the number), until that suspension ends (a ban: `accounts.BANNED_UNTIL`, while it stands).
    The retention job deletes a row once `until` has passed."""

    __tablename__ = "barred_phones"

    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]


class GatheringTap(Base):
    """A tap of "🙋" under a mission of a group's daily post (issue 23): one per person, group,
    day and mission, so a double tap or a redelivered update counts once."""

    __tablename__ = "gathering_taps"
    __table_args__ = (UniqueConstraint("chat_id", "day", "mission_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    tapped_at: Mapped[datetime]


class Gathering(Base):
    """What a group's taps on one mission of one daily post made, once (issue 23): the meetup,
    or (`meeting_id` None) a call for a host when no one who tapped could host."""

    __tablename__ = "gatherings"
    __table_args__ = (UniqueConstraint("chat_id", "day", "mission_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    created_at: Mapped[datetime]
