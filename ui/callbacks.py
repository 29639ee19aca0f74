"""The one callback-data codec: versioned, short, validated in one place.

Telegram returns `callback_data` exactly as the bot sent it, but anyone can forge a press
(a modified client, a forwarded message), so data is parsed strictly here and every action
re-checks permission on the server. Telegram refuses data over 64 bytes with a 400
(`BUTTON_DATA_INVALID`) and python-telegram-bot does not check, so `encode` does.

A number in the data is an id (or a page, a count) the bot put there, so it fits the database's
ids: signed 64-bit integers (PostgreSQL `bigint`, SQLite `INTEGER`). A larger one can only be
forged; handed to the database it would fail the query (an overflow, then an apology), so the
codec refuses it as it refuses any other forgery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

# Bumped when the meaning of existing data changes; old buttons then read as outdated.
VERSION = "1"
MAX_BYTES = 64
_ARG = re.compile(r"[A-Za-z0-9_-]{1,24}")
_NUMBER = re.compile(r"[0-9]+")
# The largest number an argument may carry: the largest id the database can hold.
MAX_NUMBER = 2**63 - 1


class Action:
    """Registered actions: a short code and how many arguments it carries."""

    HELP = "h"  # h:<topic>
    TERMS = "t"  # t:yes | t:no
    DISTRICT = "d"  # d:<district code>
    DONG = "g"  # g:<region id> | g:back
    LOCATION = "l"  # l:skip | l:repick
    INTEREST = "i"  # i:<interest> | i:done
    TIME = "w"  # w:<time of day> | w:done
    CONFIRM = "c"  # c:yes | c:over
    PROFILE = "p"  # p:<part to edit>
    LANGUAGE = "lg"  # lg:<ko|en>
    DELETE = "x"  # x:yes | x:no
    # Step 3: meetups (the mission card links to them)
    MEETUP_NEW = "mn"  # mn:<mission id> — host a meetup for this mission
    MEETUPS_OF = "mm"  # mm:<mission id> — open meetups for this mission
    MEETUP_VIEW = "uv"  # uv:<meeting id>
    MEETUP_JOIN = "uj"  # uj:<meeting id>
    MEETUP_LEAVE = "ul"  # ul:<meeting id>
    MEETUP_HOST = "uh"  # uh:<meeting id>:<tool> — qr | list | msg | close | cancel | cancelyes
    # | when | note (issue 23: move the start, edit the note)
    MEETUP_CONFIRM = "uc"  # uc:<meeting id>:<n|c> — "still coming" on the notice or the card
    HOST_WHEN = "hw"  # hw:<d0|d1><HHMM> — day offset and local time
    HOST_PLACE = "hp"  # hp:<place key> | hp:mission
    HOST_SIZE = "hs"  # hs:<capacity>
    HOST_NOTE = "hn"  # hn:skip
    HOST_CONFIRM = "hk"  # hk:yes | hk:no
    # Step 2: missions
    MISSION_LIST = "ol"  # ol:<category | all>:<page>
    MISSION_SHOW = "os"  # os:<mission id>
    MISSION_FOR_YOU = "or"  # or:<page>
    DRAFT_PUBLISH = "ap"  # ap:<mission id> — admins only
    DRAFT_POINTS = "av"  # av:<mission id>:<points> — admins only, an absolute value
    DRAFT_DISCARD = "ax"  # ax:<mission id> — admins only
    # Steps 7-8: points, market, feedback, reports
    POINTS_PAGE = "pp"  # pp:<page>
    MARKET_ITEM = "k"  # k:<item id> — the confirm card
    MARKET_BUY = "kb"  # kb:<item id>:<nonce> — the nonce makes a double tap one purchase
    MARKET_CANCEL = "kc"  # kc:<item id>
    VOUCHERS = "kl"  # kl:<page> | kl:new — "My vouchers" (new: a new message, from /points)
    VOUCHER_SHOW = "ks"  # ks:<voucher id> — send the full code again (the owner only)
    FEEDBACK = "fb"  # fb:<meeting id> — rate the others
    FEEDBACK_STARS = "fs"  # fs:<meeting id>:<ratee id>:<1-5>
    FEEDBACK_TAG = "ft"  # ft:<feedback id>:<tag> sets it, ft:<feedback id>:-<tag> clears it
    REPORT_PICK = "rp"  # rp:<meeting id>:<user id>
    REPORT_REASON = "rr"  # rr:<reason>
    MODERATE = "md"  # md:<report id>:<warn|suspend|dismiss|ban> — admins only
    REPORTS_PAGE = "rl"  # rl:<page> — /reports, the open reports (admins only, issue 23)
    BLOCK = "bk"  # bk:<user id>

    # Steps 5-6: evidence
    EVIDENCE_MEETUP = "ep"  # ep:<meeting id> — which meetup the photo just sent is for
    REVIEW_APPROVE = "va"  # va:<evidence id> — admins only
    REVIEW_REJECT = "vr"  # vr:<evidence id> — shows the reasons
    REVIEW_REASON = "vx"  # vx:<evidence id>:<reason> — admins only
    REVIEW_AGAIN = "vq"  # vq:<evidence id> — ask for a new photo; admins only
    REVIEW_BACK = "vb"  # vb:<evidence id> — back from the reasons
    APPEAL = "ea"  # ea:<evidence id> — the sender appeals a rejected photo (issue 23)
    APPEAL_DECIDE = "ed"  # ed:<evidence id>:<approve|keep> — admins only, final
    # Step 9: groups (admins only, re-checked with getChatMember)
    GROUP_DISTRICT = "sd"  # sd:<district code>
    GROUP_DONG = "sg"  # sg:<region id> | sg:back
    # Issue 23: gathering on a daily post (anyone in the group; storage re-checks the post)
    GATHER_TAP = "gt"  # gt:<mission id>:<YYYYMMDD> — "🙋", counted once per person
    GATHER_WHO = "gw"  # gw:<mission id>:<YYYYMMDD> — who tapped (display names)
    # Beyond: maps
    MEETUP_MAP = "um"  # um:<meeting id> — the venue on a map of its neighbourhood
    MY_MEETUPS = "my"  # my:<page> — /mymeetups, the page of past meetups
    # Issue 23: "Cancel" under a question answered by typing (an appeal's reason, a meetup's
    # new time or note); outside its conversation it is an outdated button
    STOP = "q"  # q:<appeal|change>

    ARITY: ClassVar[dict[str, int]] = {
        HELP: 1, TERMS: 1, DISTRICT: 1, DONG: 1, LOCATION: 1, INTEREST: 1, TIME: 1,
        CONFIRM: 1, PROFILE: 1, LANGUAGE: 1, DELETE: 1,
        MEETUP_NEW: 1, MEETUPS_OF: 1, MEETUP_VIEW: 1, MEETUP_JOIN: 1, MEETUP_LEAVE: 1,
        MEETUP_HOST: 2, MEETUP_CONFIRM: 2,
        HOST_WHEN: 1, HOST_PLACE: 1, HOST_SIZE: 1, HOST_NOTE: 1, HOST_CONFIRM: 1,
        MISSION_LIST: 2, MISSION_SHOW: 1, MISSION_FOR_YOU: 1,
        DRAFT_PUBLISH: 1, DRAFT_POINTS: 2, DRAFT_DISCARD: 1,
        POINTS_PAGE: 1, MARKET_ITEM: 1, MARKET_BUY: 2, MARKET_CANCEL: 1, VOUCHERS: 1,
        VOUCHER_SHOW: 1,
        FEEDBACK: 1, FEEDBACK_STARS: 3, FEEDBACK_TAG: 2, REPORT_PICK: 2, REPORT_REASON: 1,
        MODERATE: 2, BLOCK: 1, REPORTS_PAGE: 1,
        EVIDENCE_MEETUP: 1, REVIEW_APPROVE: 1, REVIEW_REJECT: 1, REVIEW_REASON: 2,
        REVIEW_AGAIN: 1, REVIEW_BACK: 1, APPEAL: 1, APPEAL_DECIDE: 2,
        GROUP_DISTRICT: 1, GROUP_DONG: 1, GATHER_TAP: 2, GATHER_WHO: 2,
        MEETUP_MAP: 1, MY_MEETUPS: 1, STOP: 1,
    }  # fmt: skip


class InvalidCallback(ValueError):
    """The data is not something this bot version produced (forged, stale or corrupt)."""


@dataclass(frozen=True)
class Callback:
    action: str
    args: tuple[str, ...]

    def int_arg(self, index: int) -> int:
        """An argument as an integer id (0 to `MAX_NUMBER`); anything else raises
        `InvalidCallback`."""
        value = self.args[index]
        if not _NUMBER.fullmatch(value) or not _in_range(value):
            raise InvalidCallback("expected a number")
        return int(value)


def _in_range(arg: str) -> bool:
    """Whether an argument is no number, or a number the database's ids can hold."""
    return not _NUMBER.fullmatch(arg) or int(arg) <= MAX_NUMBER


def encode(action: str, *args: str | int) -> str:
    """Builds callback data such as `1h:how`; raises ValueError on what could not be read back."""
    arity = Action.ARITY.get(action)
    if arity is None:
        raise ValueError(f"unknown callback action {action!r}")
    if len(args) != arity:
        raise ValueError(f"action {action!r} takes {arity} arguments")
    parts = [str(a) for a in args]
    for part in parts:
        if not _ARG.fullmatch(part):
            raise ValueError(f"callback argument {part!r} is not short and plain")
        if not _in_range(part):
            raise ValueError(f"callback argument {part!r} is beyond the database's ids")
    data = ":".join([VERSION + action, *parts])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError("callback data over 64 bytes")
    return data


def decode(data: str | None) -> Callback:
    """Parses callback data; raises `InvalidCallback` for anything `encode` would not make."""
    if not data or len(data.encode()) > MAX_BYTES or not data.startswith(VERSION):
        raise InvalidCallback("not ours or outdated")
    head, *args = data[len(VERSION) :].split(":")
    arity = Action.ARITY.get(head)
    if arity is None or len(args) != arity or not all(_ARG.fullmatch(a) for a in args):
        raise InvalidCallback("malformed")
    # Also for the handlers that read a number themselves (a place key or a region id).
    if not all(_in_range(a) for a in args):
        raise InvalidCallback("number out of range")
    return Callback(head, tuple(args))


def pattern_any(actions: tuple[str, ...]) -> str:
    """A regex routing every one of several actions, whatever their arguments."""
    choices = "|".join(re.escape(VERSION + a) for a in sorted(actions, key=len, reverse=True))
    return f"^({choices})(:|$)"


def pattern(action: str, *first_args: str, last: str | None = None) -> str:
    """A regex for `CallbackQueryHandler(pattern=...)` routing one action (optionally only
    some values of its first argument, or only data whose last argument is `last`)."""
    head = f"^{re.escape(VERSION + action)}"
    if last is not None:
        return f"{head}:(.*:)?{re.escape(last)}$"
    if not first_args:
        return f"{head}(:|$)"
    choices = "|".join(re.escape(a) for a in first_args)
    return f"{head}:({choices})(:|$)"
