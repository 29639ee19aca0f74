"""Reliability: the bot killed with SIGKILL in the middle of a stateful mix, and started again,
handles every update once (issue 22).

The bot runs as its own process against the sandbox. People sign up, open meetups, then in one
burst join, check in (the code, then where they are), send their photo, and buyers confirm an
exchange; the bot is killed with `kill -9` while that burst is verified pending (inbox rows
not done, or updates the sandbox still holds), people write more while it is down (/points),
and it is started again. With more kills the admin's approvals are cut the same way. At the
end every update is stored once and done, the state is exact (seats, check-ins, one evidence
row each, balances, ledger entries, one code per buyer) and so is what each person was told,
counted by content.

Handling is at least once: an update handled just before the kill but not yet marked done is
handled again after the restart (its handlers are idempotent: tests/reliability/
test_redelivery.py), and the person sees its answer twice, the same answer. Those repeats are
known exactly: at each kill the updates still pending are read from the inbox, and each one's
answers already sent are counted; they, and nothing else, may come twice. One answer is
allowed either way: a voucher's code already sent when its exchange was pending at the kill
is sent again, unless the replay comes within storage.market's quiet window of that copy
(RESEND_QUIET: taps of one burst share a copy), so it comes once or twice, always the same
code. Notices to others (the host's "joined", "checked in", the guest's "approved") come
once, whatever the kills.

A kill in the middle of signups (a conversation: where each person stands is kept by PTB's
persistence) has a test of its own, `test_a_kill_mid_signup_leaves_nobody_stuck`.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from storage import accounts, ledger, market, meetings
from storage.clock import SystemClock
from storage.db import create_engine, session_factory, transaction
from storage.models import (
    Evidence,
    InboxUpdate,
    LedgerEntry,
    Mission,
    Participation,
    Region,
    User,
    VoucherCode,
)
from storage.seed import seed_all
from storage.users import grant_admin
from tests import photo_corpus as corpus
from tests.databases import _libpq, fresh_pg_database, migrated
from tests.e2e.processes import People, bot_env, running, wait_for
from ui import callbacks
from ui.callbacks import Action
from ui.i18n import t
from ui.notices import MESSAGES

pytestmark = pytest.mark.e2e
BOT = [sys.executable, "-m", "bot.cli", "run"]
LANG = "ko"
MISSION = "seokchon-lake-loop"
COST, POINTS_EACH = 50, 500
APOLOGY = t(LANG, "Sorry, something went wrong")


def said(msgid: str) -> Callable[[str], bool]:
    """Whether a text is `msgid` as the bot says it in Korean (placeholders match anything;
    text may follow, such as a tip or a proof word)."""
    parts = re.split(r"\{[a-z_]+(?::[^{}]*)?\}", t(LANG, msgid))  # a format spec: a particle
    pattern = re.compile(".*?".join(re.escape(p) for p in parts), re.DOTALL)
    return lambda text: pattern.match(text) is not None


# What each update a person sends is answered with (a new message in their chat).
JOINED = said("You're in! See you on {when} at {place}. I'll remind you before it starts.")
CHECKED_IN = said('Checked in to "{title}". ✅')
PHOTO_TAKEN = said(
    'Got it! Your photo for "{title}" is being checked, then a reviewer looks at it. '
    "I'll tell you the result here."
)
# A voucher's code is a notice (the outbox), sent at once by the exchange's handler.
CODE = said(MESSAGES["voucher_issued"])
# Notices (the outbox): to the host, and to the guest whose photo was approved.
HOST_JOINED = said(MESSAGES["meetup_joined"])
HOST_CHECKED_IN = said(MESSAGES["checked_in"])
APPROVED = said(MESSAGES["evidence_approved"])


def naming(notice: Callable[[str], bool], name: str) -> Callable[[str], bool]:
    """That notice, about the person called `name`."""
    return lambda text: notice(text) and name in text


NOTICES = {
    "meetup_joined": HOST_JOINED, "checked_in": HOST_CHECKED_IN,
    "evidence_approved": APPROVED, "voucher_issued": CODE,
}  # fmt: skip
# Steps whose answer, already sent at a kill, may come again or not (see the docstring).
MAYBE_AGAIN = frozenset({"buy"})


def points(balance: int) -> Callable[[str], bool]:
    return lambda text: text.startswith(t(LANG, "Your points: {balance}", balance=balance))


def asks_location(message: dict[str, Any]) -> bool:
    """The check-in's second step: a reply keyboard with Telegram's location button."""
    rows = (message.get("reply_keyboard") or {}).get("keyboard") or []
    return any(b.get("request_location") for row in rows for b in row)


# --------------------------------------------------------------------------- the cast


@dataclass
class Person:
    user: dict[str, Any]
    # (step, what answers it) for every update the person sent, in order.
    steps: list[tuple[str, Callable[[dict[str, Any]], bool]]] = field(default_factory=list)
    # Answers sent again because the update was pending at a kill: step -> count.
    repeats: Counter[str] = field(default_factory=Counter)
    # Answers that may come again or not (a voucher's code: see the module's docstring).
    maybe: Counter[str] = field(default_factory=Counter)
    # How many messages the bot had sent the person before the first of those steps: their
    # answers are counted after it (an earlier message may look alike, such as signup's own
    # request for a location).
    since: int = 0

    @property
    def id(self) -> int:
        return int(self.user["id"])

    def expect(self, step: str, answer: Callable[[dict[str, Any]], bool]) -> None:
        self.steps.append((step, answer))

    def answers(self, people: People) -> list[dict[str, Any]]:
        """The bot's messages to the person since the steps began."""
        return bot_messages(people, self.id)[self.since :]


def _text(message: dict[str, Any]) -> str:
    return str(message.get("text") or message.get("caption") or "")


def by_text(check: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda message: check(_text(message))


@dataclass
class Cast:
    people: People
    hosts: list[Person]
    guests: list[Person]  # guests[i] goes to meetups[i % len(meetups)]
    buyers: list[Person]
    admin: Person
    group_id: int
    meetups: list[int]
    # Notices sent again after a kill (claimed, delivered, not yet recorded as sent: the
    # dispatcher sends them again once the claim is stale): (chat, kind, name) -> count.
    again: Counter[tuple[int, str, str | None]] = field(default_factory=Counter)

    def everyone(self) -> list[Person]:
        return [*self.hosts, *self.guests, *self.buyers]

    def meetup_of(self, guest: Person) -> int:
        return self.meetups[self.guests.index(guest) % len(self.meetups)]

    def host_of(self, guest: Person) -> Person:
        return self.hosts[self.guests.index(guest) % len(self.meetups)]


def bot_messages(people: People, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in people.view(chat_id)["messages"] if m.get("from", {}).get("is_bot")]


def wait_until(
    what: str, check: Callable[[], bool], timeout: float = 120.0, every: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"never: {what}")


# --------------------------------------------------------------------------- the database


async def _prepare(url: str, hosts: list[int], admin: int, buyers: list[int]) -> list[int]:
    """Neighbourhoods, missions and voucher codes; hosts, the admin and the buyers registered
    (buyers with points); one meetup per host, 12 and 13 minutes from now (check-in open).
    Returns the meetups' ids."""
    engine = create_engine(url)
    clock = SystemClock()
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as s:
            await seed_all(s, clock)
        rows = "".join(f"coffee,아메리카노,Americano,{COST},CAFE-{n:04d}\n" for n in range(10))
        async with transaction(sessions) as s:
            await market.load_csv(s, "item,name_ko,name_en,cost,code\n" + rows)
        async with transaction(sessions) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            assert region is not None
            for user_id in [*hosts, admin, *buyers]:
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language=LANG, display_name=f"p{user_id}",
                    phone_hash=f"h-{user_id}", phone_masked="010-****-0000",
                    region_id=region.id, region_verified=True,
                    interests=["walking"], preferred_times=["evening"],
                ), clock.now())  # fmt: skip
        async with transaction(sessions) as s:
            await grant_admin(s, admin, clock)
            for user_id in buyers:
                await ledger.post(s, user_id=user_id, amount=POINTS_EACH, kind=ledger.REWARD,
                                  reference=f"test:kill:{user_id}", now=clock.now())  # fmt: skip
        ids = []
        async with transaction(sessions) as s:
            mission = await s.scalar(select(Mission).where(Mission.key == MISSION))
            assert mission is not None
            for n, host in enumerate(hosts):
                meeting = await meetings.create(
                    s, host_id=host, mission_id=mission.id,
                    starts_at=clock.now() + timedelta(minutes=12 + n),
                    place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                    capacity=6, note=None, rules=meetings.Rules(), now=clock.now(),
                )  # fmt: skip
                ids.append(meeting.id)
        return ids
    finally:
        await engine.dispose()


@dataclass
class Inbox:
    """The bot's inbox as the test reads it (PostgreSQL or SQLite, synchronously)."""

    url: str

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            with sqlite3.connect(path, timeout=10) as db:
                return db.execute(sql).fetchall()
        with psycopg.connect(_libpq(self.url)) as db:
            return db.execute(sql).fetchall()

    def statuses(self) -> Counter[str]:
        found = self.rows("SELECT status, COUNT(*) FROM inbox GROUP BY status")
        return Counter({status: count for status, count in found})

    def sending(self) -> list[tuple[int, dict[str, Any]]]:
        """Notices a dispatcher had claimed and not yet recorded as sent: (chat, values)."""
        found = self.rows("SELECT chat_id, payload FROM outbox WHERE status = 'sending'")
        return [(int(c), p if isinstance(p, dict) else json.loads(p)) for c, p in found]

    def pending(self) -> list[dict[str, Any]]:
        """The raw updates stored and not handled (their payload is kept until done)."""
        found = self.rows("SELECT payload FROM inbox WHERE status = 'pending' ORDER BY update_id")
        return [p if isinstance(p, dict) else json.loads(p) for (p,) in found]


def step_of(update: dict[str, Any]) -> str:
    """Which step of the mix a stored update is."""
    if "callback_query" in update:
        data = str(update["callback_query"].get("data", ""))
        for step, action in (("join", Action.MEETUP_JOIN), ("buy", Action.MARKET_BUY),
                             ("approve", Action.REVIEW_APPROVE)):  # fmt: skip
            if data.startswith(callbacks.VERSION + action + ":"):
                return step
        return "press"
    message = update.get("message") or {}
    if "location" in message:
        return "location"
    if "photo" in message:
        return "photo"
    text = str(message.get("text", ""))
    if text.startswith("/start c"):
        return "code"
    if text == "/points":
        return "points"
    return "other"


async def _final_state(url: str, cast: Cast) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as s:
            users = await s.scalar(select(func.count()).select_from(User))
            seats = Counter(
                (m, st, c is not None)
                for m, st, c in await s.execute(
                    select(Participation.meeting_id, Participation.status,
                           Participation.checked_in_at)
                )
            )  # fmt: skip
            evidence = Counter(
                (u, st) for u, st in await s.execute(select(Evidence.user_id, Evidence.status))
            )
            entries = {
                p.id: [(e.kind, e.amount) for e in await ledger.history(s, p.id, limit=20)]
                for p in cast.guests + cast.buyers
            }
            balances = {p.id: await ledger.balance(s, p.id) for p in cast.guests + cast.buyers}
            codes = (await s.execute(select(VoucherCode.issued_to, VoucherCode.code)
                                     .where(VoucherCode.issued_to.is_not(None)))).all()  # fmt: skip
            charges = await s.scalar(
                select(func.count()).select_from(LedgerEntry)
                .where(LedgerEntry.kind == ledger.EXCHANGE)
            )  # fmt: skip
            violations = await ledger.invariant_violations(s)
            inbox = Counter(st for st in await s.scalars(select(InboxUpdate.status)))
            points = (await s.get(Mission, (await s.scalar(
                select(Mission.id).where(Mission.key == MISSION)
            )))).points  # type: ignore[union-attr]  # fmt: skip
        return {
            "users": users, "seats": seats, "evidence": evidence, "entries": entries,
            "balances": balances, "codes": codes, "charges": charges, "violations": violations,
            "inbox": inbox, "points": points,
        }  # fmt: skip
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- the bot


@dataclass
class Bot:
    env: dict[str, str]
    tmp: Path
    runs: int = 0
    process: subprocess.Popen[bytes] | None = None

    @contextmanager
    def up(self) -> Iterator[subprocess.Popen[bytes]]:
        health = f"http://127.0.0.1:{self.env['HALSARAM_METRICS_PORT']}/healthz"
        self.runs += 1
        with running(BOT, self.env, None, self.tmp / f"bot-{self.runs}.log") as process:
            wait_for(health, process, timeout=60)
            self.process = process
            yield process

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)  # no chance to finish or clean up
        self.process.wait(timeout=10)


def kill_mid_burst(bot: Bot, cast: Cast, inbox: Inbox, done_before: int, burst: int) -> None:
    """Kills the bot once part of a burst was handled while the rest is pending; then checks
    that something was in fact pending (stored and not done, or still held by the sandbox) and
    counts, per pending update, the answers its person already got: those come again."""
    wait_until(
        "part of the burst handled",
        lambda: inbox.statuses()["done"] >= done_before + max(1, burst // 4),
        timeout=90,
        every=0.01,
    )
    bot.kill()
    stored_pending = inbox.pending()
    held = cast.people.info()["pending_update_count"]
    assert stored_pending or held, "nothing was pending at the kill"
    assert inbox.statuses()["done"] < done_before + burst, "the burst was all handled"
    print(
        f"kill: {inbox.statuses()['done'] - done_before} of {burst} handled, "
        f"{len(stored_pending)} stored and pending, {held} held by the sandbox"
    )
    by_id = {p.id: p for p in [*cast.everyone(), cast.admin]}
    for update in stored_pending:
        body = update.get("callback_query") or update.get("message") or {}
        person = by_id[int(body["from"]["id"])]
        step = step_of(update)
        assert step != "other", update
        answer = dict(person.steps)[step]
        sent = sum(answer(m) for m in person.answers(cast.people))
        if step in MAYBE_AGAIN:
            person.maybe[step] += sent
        else:
            person.repeats[step] += sent
    for chat_id, values in inbox.sending():
        kind, name = str(values.get("kind")), values.get("name")
        if kind not in NOTICES:
            continue
        check = naming(NOTICES[kind], name) if name else NOTICES[kind]
        delivered = sum(check(_text(m)) for m in bot_messages(cast.people, chat_id))
        if kind == "voucher_issued":  # sent again, or not within the quiet window
            by_id[chat_id].maybe["buy"] += delivered
        else:
            cast.again[chat_id, kind, name] += delivered
    print("notices delivered before the kill, so sent again:", +cast.again)
    print("answered before the kill, so answered again:", {
        p.user["first_name"]: +(p.repeats + p.maybe) for p in by_id.values()
        if +(p.repeats + p.maybe)
    })  # fmt: skip


# --------------------------------------------------------------------------- the mix


class Counted(People):
    """People whose every action that makes an update is counted (across threads)."""

    MAKES_UPDATE = re.compile(r"/(messages|callback|contact|location|photo)$")

    def __init__(self, base_url: str, tally: list[int]) -> None:
        super().__init__(base_url)
        self.base_url, self.tally = base_url, tally

    def _call(self, verb: str, path: str, **body: Any) -> Any:
        result = super()._call(verb, path, **body)
        if verb == "POST" and self.MAKES_UPDATE.search(path):
            self.tally.append(1)  # list.append is atomic: threads share the tally
        return result

    def send_photo(self, user: dict[str, Any], data: bytes) -> None:
        super().send_photo(user, data)
        self.tally.append(1)

    def another(self) -> Counted:
        """A client of its own for a thread, counting into the same tally."""
        return Counted(self.base_url, self.tally)


def _in_parallel(work: Sequence[Callable[[], object]]) -> None:
    with ThreadPoolExecutor(max_workers=max(1, len(work))) as pool:
        for future in [pool.submit(w) for w in work]:
            future.result()


def datas(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [str(b.get("callback_data", "")) for row in rows for b in row]


def _button(message: dict[str, Any], action: str) -> str:
    prefix = callbacks.VERSION + action + ":"
    return next(d for d in datas(message) if d.startswith(prefix))


def _has(action: str, *args: int) -> Callable[[dict[str, Any]], bool]:
    prefix = ":".join([callbacks.VERSION + action, *map(str, args)])
    return lambda m: any(d == prefix or d.startswith(prefix + ":") for d in datas(m))


def _newest(people: People, chat_id: int, check: Callable[[dict[str, Any]], bool]) -> Any:
    return people.wait_for_bot(chat_id, where=check, timeout=120)[-1]


def _open_meetup(people: People, person: Person, meeting_id: int) -> dict[str, Any]:
    """/meetups, then the meetup's button: its card (Join, or the host's tools)."""
    people.say(person.user, "/meetups")
    listing = _newest(people, person.id, _has(Action.MEETUP_VIEW, meeting_id))
    people.press(person.user, listing, callbacks.encode(Action.MEETUP_VIEW, meeting_id))
    join, tools = _has(Action.MEETUP_JOIN, meeting_id), _has(Action.MEETUP_HOST, meeting_id)
    return _newest(people, person.id, lambda m: join(m) or tools(m))


def _qr_payload(people: People, host: Person, meeting_id: int) -> str:
    card = _open_meetup(people, host, meeting_id)
    people.press(host.user, card, callbacks.encode(Action.MEETUP_HOST, meeting_id, "qr"))
    qr = _newest(people, host.id, lambda m: "photo" in m)
    largest = max(qr["photo"], key=lambda size: size["width"])
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(people.file(largest["file_id"]))))
    return str(found.text).split("start=", 1)[1]


def _confirm_card(people: People, buyer: Person) -> dict[str, Any]:
    people.say(buyer.user, "/market")
    listing = _newest(people, buyer.id, _has(Action.MARKET_ITEM))
    people.press(buyer.user, listing, _button(listing, Action.MARKET_ITEM))
    return _newest(people, buyer.id, _has(Action.MARKET_BUY))


def _review_cards(people: People, group_id: int) -> list[dict[str, Any]]:
    """One review card per photo, the first posted. A card can come twice: its post is at
    least once (a send that timed out on a starved machine may have arrived, and is posted
    again), and both cards decide the same photo."""
    cards: dict[str, dict[str, Any]] = {}
    for message in bot_messages(people, group_id):
        if _has(Action.REVIEW_APPROVE)(message):
            cards.setdefault(_button(message, Action.REVIEW_APPROVE), message)
    return list(cards.values())


def run_mix(
    sandbox_url: str, tmp_path: Path, url: str, guests: int, buyers: int, kills: int
) -> None:
    tally: list[int] = []
    people = Counted(sandbox_url, tally)
    # Five guests a meetup at most: with its host, the mission's largest group (👥 2-6).
    host_users = [people.create(f"호스트{n}", LANG) for n in range((guests + 4) // 5)]
    admin_user = people.create("Admin", LANG)
    buyer_users = [people.create(f"구매자{n:02d}", LANG) for n in range(buyers)]
    guest_users = [people.create(f"참가자{n:02d}", LANG) for n in range(guests)]
    meetup_ids = asyncio.run(
        _prepare(url, [h["id"] for h in host_users], admin_user["id"],
                 [b["id"] for b in buyer_users])
    )  # fmt: skip
    group = people._call(
        "POST", "/groups", title="할사람 관리자", member_ids=[admin_user["id"]],
        admin_ids=[admin_user["id"]],
    )  # fmt: skip
    people._call("POST", f"/groups/{group['id']}/bot", user_id=admin_user["id"], as_admin=True)
    # Adding the bot made updates (its membership, the service message): all still held.
    tally.extend([1] * people.info()["pending_update_count"])
    cast = Cast(
        people, [Person(h) for h in host_users], [Person(g) for g in guest_users],
        [Person(b) for b in buyer_users], Person(admin_user), int(group["id"]), meetup_ids,
    )  # fmt: skip
    cast.admin.expect("approve", lambda _m: False)  # edits the card, sends nothing new
    env = bot_env(
        sandbox_url, tmp_path, HALSARAM_DATABASE_URL=url,
        HALSARAM_ADMIN_CHAT_ID=str(group["id"]),
        # The QR read before the burst stays valid however long the kills take.
        HALSARAM_CHECKIN_ROTATION_SECONDS="3600",
        # A notice claimed by the killed process goes again after 30 s, not 5 minutes: longer
        # than a chat's notices take to drain at 1 message/s, shorter than the test waits.
        HALSARAM_OUTBOX_STALE_SECONDS="30",
    )  # fmt: skip
    bot, inbox = Bot(env, tmp_path), Inbox(url)
    place = corpus.SEOKCHON_LAKE
    runs_left = kills + 1

    # Run 1: sign up, open the meetups, read the QR codes, reach the market's confirm card.
    with bot.up():

        def sign_up(guest: Person) -> None:
            people.another().sign_up(guest.user, place)

        _in_parallel([partial(sign_up, g) for g in cast.guests])
        pairs = zip(cast.hosts, cast.meetups, strict=True)
        payloads = [_qr_payload(people, host, meeting_id) for host, meeting_id in pairs]
        cards: dict[int, dict[str, Any]] = {}
        confirms: dict[int, dict[str, Any]] = {}

        def open_card(guest: Person) -> None:
            cards[guest.id] = _open_meetup(people.another(), guest, cast.meetup_of(guest))

        def open_confirm(buyer: Person) -> None:
            confirms[buyer.id] = _confirm_card(people.another(), buyer)

        _in_parallel(
            [partial(open_card, g) for g in cast.guests]
            + [partial(open_confirm, b) for b in cast.buyers]
        )

        # The burst: join, the check-in code, the location, the photo; the buyers' confirm.
        for person in cast.everyone():
            person.since = len(bot_messages(people, person.id))
        done_before, burst = inbox.statuses()["done"], 0
        for n, guest in enumerate(cast.guests):
            card, payload = cards[guest.id], payloads[cast.meetups.index(cast.meetup_of(guest))]
            people.press(guest.user, card, _button(card, Action.MEETUP_JOIN))
            guest.expect("join", by_text(JOINED))
            people.say(guest.user, f"/start {payload}")
            guest.expect("code", asks_location)
            people.share_location(guest.user, *place)
            guest.expect("location", by_text(CHECKED_IN))
            people.send_photo(guest.user, corpus.camera_jpeg(100 + n))
            guest.expect("photo", by_text(PHOTO_TAKEN))
            burst += 4
        for buyer in cast.buyers:
            confirm = confirms[buyer.id]
            people.press(buyer.user, confirm, _button(confirm, Action.MARKET_BUY))
            buyer.expect("buy", by_text(CODE))
            burst += 1
        kill_mid_burst(bot, cast, inbox, done_before, burst)
        runs_left -= 1

    # While it is down, more: everyone asks for their points.
    for guest in cast.guests:
        people.say(guest.user, "/points")
        guest.expect("points", by_text(points(0)))
    for buyer in cast.buyers:
        people.say(buyer.user, "/points")
        buyer.expect("points", by_text(points(POINTS_EACH - COST)))
    time.sleep(1.0)

    # Run 2: the admin approves every photo; with two kills, cut in the middle of that too.
    with bot.up():
        wait_until(
            "a review card for every photo",
            lambda: len(_review_cards(people, cast.group_id)) >= guests,
            timeout=180,
        )
        review = _review_cards(people, cast.group_id)
        assert len(review) == guests
        done_before = inbox.statuses()["done"]
        half = len(review) // 2 if runs_left > 1 else len(review)
        for card in review[:half]:
            people.press(cast.admin.user, card, _button(card, Action.REVIEW_APPROVE))
        if runs_left > 1:
            kill_mid_burst(bot, cast, inbox, done_before, half)
            runs_left -= 1
        else:
            finish(cast, inbox, tally)
    if runs_left:
        for card in review[half:]:  # pressed while the bot is down
            people.press(cast.admin.user, card, _button(card, Action.REVIEW_APPROVE))
        with bot.up():
            finish(cast, inbox, tally)

    check_answers(cast)
    check_state(asyncio.run(_final_state(url, cast)), cast, len(tally))


def finish(cast: Cast, inbox: Inbox, tally: list[int]) -> None:
    """Waits until every answer, notice and update is there, and a little longer."""
    people = cast.people
    for person in cast.everyone():
        for step, answer in person.steps:
            want = 1 + person.repeats[step]
            wait_until(f"{person.user['first_name']}: {want} answers to {step}",
                       partial(_answered, people, person, step, answer), timeout=180)  # fmt: skip
    for guest in cast.guests:
        again = cast.again[guest.id, "evidence_approved", None]
        people.wait_for_bot(guest.id, 1 + again, where=by_text(APPROVED), timeout=180)
        name, host = guest.user["first_name"], cast.host_of(guest)
        for kind in ("meetup_joined", "checked_in"):  # the host's chat goes at 1 message/s
            again = cast.again[host.id, kind, name]
            check = by_text(naming(NOTICES[kind], name))
            people.wait_for_bot(host.id, 1 + again, where=check, timeout=180)
    wait_until(
        "every update handled",
        lambda: inbox.statuses() == Counter({"done": len(tally)}),
        timeout=120,
    )
    time.sleep(2.0)  # room for a wrong second copy to show


def _answered(
    people: People, person: Person, step: str, answer: Callable[[dict[str, Any]], bool]
) -> bool:
    return sum(map(answer, person.answers(people))) >= 1 + person.repeats[step]


def check_answers(cast: Cast) -> None:
    """Each person's answers, by content: each step's exactly once more than the kills
    repeated; notices exactly once; nothing else twice; no apology."""
    people = cast.people
    for person in cast.everyone():
        everything = [_text(m) for m in bot_messages(people, person.id)]
        assert not any(APOLOGY in text for text in everything), everything
        messages = person.answers(people)
        texts = [_text(m) for m in messages]
        for step, answer in person.steps:
            got = sum(answer(m) for m in messages)
            least = 1 + person.repeats[step]
            assert least <= got <= least + person.maybe[step], (
                person.user["first_name"], step, got, texts
            )  # fmt: skip
        repeated = {t_: n for t_, n in Counter(texts).items() if n > 1}
        allowed = {
            _text(m) for m in messages for step, answer in person.steps
            if (person.repeats[step] or person.maybe[step]) and answer(m)
        } | {
            text for (chat, kind, name), n in cast.again.items() if n and chat == person.id
            for text in texts if (naming(NOTICES[kind], name) if name else NOTICES[kind])(text)
        }  # fmt: skip
        assert set(repeated) <= allowed, (person.user["first_name"], repeated)
    for guest in cast.guests:
        texts = [_text(m) for m in bot_messages(people, guest.id)]
        again = cast.again[guest.id, "evidence_approved", None]
        assert sum(APPROVED(t_) for t_ in texts) == 1 + again, texts
    for host in cast.hosts:
        texts = [_text(m) for m in bot_messages(people, host.id)]
        mine = [g for g in cast.guests if cast.host_of(g) is host]
        for guest in mine:
            name = guest.user["first_name"]
            joined = [t_ for t_ in texts if naming(HOST_JOINED, name)(t_)]
            arrived = [t_ for t_ in texts if naming(HOST_CHECKED_IN, name)(t_)]
            want = (
                1 + cast.again[host.id, "meetup_joined", name],
                1 + cast.again[host.id, "checked_in", name],
            )
            assert (len(joined), len(arrived)) == want, (name, texts)


def check_state(state: dict[str, Any], cast: Cast, sent: int) -> None:
    everyone = len(cast.everyone()) + 1  # and the admin
    assert state["users"] == everyone
    for host, meeting_id in zip(cast.hosts, cast.meetups, strict=True):
        mine = sum(1 for g in cast.guests if cast.host_of(g) is host)
        # The host holds a seat and is there (the QR opened the check-in).
        assert state["seats"][(meeting_id, "joined", True)] == mine + 1, state["seats"]
    assert sum(state["seats"].values()) == len(cast.guests) + len(cast.hosts)
    assert state["evidence"] == Counter({(g.id, "approved"): 1 for g in cast.guests})
    for guest in cast.guests:
        assert state["entries"][guest.id] == [(ledger.REWARD, state["points"])]
        assert state["balances"][guest.id] == state["points"]
    codes = dict(state["codes"])
    assert len(state["codes"]) == len(cast.buyers) == len(set(codes.values()))
    for buyer in cast.buyers:
        assert state["balances"][buyer.id] == POINTS_EACH - COST
        assert sorted(state["entries"][buyer.id]) == sorted(
            [(ledger.REWARD, POINTS_EACH), (ledger.EXCHANGE, -COST)]
        )
        assert buyer.id in codes
        [code] = [_text(m) for m in bot_messages(cast.people, buyer.id) if CODE(_text(m))][:1]
        assert codes[buyer.id] in code
    assert state["charges"] == len(cast.buyers)
    assert state["violations"] == []
    assert state["inbox"] == Counter({"done": sent})  # each update stored once, handled


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize(
    ("guests", "buyers", "kills"),
    [
        (3, 1, 1),
        pytest.param(12, 3, 2, marks=pytest.mark.reliability, id="heavy"),
    ],
)
def test_a_kill_mid_mix_on_postgresql_loses_nothing_and_does_nothing_twice(
    sandbox_url: str, tmp_path: Path, postgresql_url: str, guests: int, buyers: int, kills: int
) -> None:
    with fresh_pg_database() as url:
        run_mix(sandbox_url, tmp_path, migrated(url), guests, buyers, kills)


@pytest.mark.reliability
def test_a_kill_mid_mix_on_sqlite_loses_nothing_and_does_nothing_twice(
    sandbox_url: str, tmp_path: Path
) -> None:
    url = migrated(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    run_mix(sandbox_url, tmp_path, url, 6, 2, 2)


@pytest.mark.reliability
def test_a_kill_mid_signup_leaves_nobody_stuck(
    sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    """Eight people sign up at once (a conversation: where each one stands is kept by the
    bot) and the bot is killed half-way, while their steps are verified pending. After the
    restart each one finishes: every step answered (no press left without an answer), one
    welcome each, one account each, no apology."""
    tally: list[int] = []
    people = Counted(sandbox_url, tally)
    host = people.create("호스트", LANG)
    newcomers = [people.create(f"새이웃{n:02d}", LANG) for n in range(8)]
    with fresh_pg_database() as url:
        migrated(url)
        asyncio.run(_prepare(url, [host["id"]], host["id"] + 10_000, []))
        env = bot_env(sandbox_url, tmp_path, HALSARAM_DATABASE_URL=url)
        bot, inbox = Bot(env, tmp_path), Inbox(url)
        failures: list[BaseException] = []

        def sign_up(person: dict[str, Any]) -> None:
            try:
                people.another().sign_up(person, corpus.SEOKCHON_LAKE)
            except BaseException as failure:  # reported below, with whose signup it was
                failures.append(failure)

        with ThreadPoolExecutor(max_workers=len(newcomers)) as pool:
            with bot.up():
                futures = [pool.submit(sign_up, person) for person in newcomers]
                wait_until(
                    "part of the signups handled",
                    lambda: inbox.statuses()["done"] >= 4 * len(newcomers),
                    timeout=90,
                    every=0.01,
                )
                bot.kill()
                pending, held = inbox.pending(), people.info()["pending_update_count"]
                assert pending or held, "nothing was pending at the kill"
                assert not all(f.done() for f in futures), "every signup was over"
            with bot.up():
                for future in futures:
                    future.result()
                wait_until(
                    "every update handled",
                    lambda: inbox.statuses() == Counter({"done": len(tally)}),
                    timeout=120,
                )
        welcome = said(
            "Welcome to Halsaram, {name}! Your account is ready. Send /help to see what you can "
            "do, or /profile to look at your card."
        )
        for person in newcomers:
            texts = [_text(m) for m in bot_messages(people, person["id"])]
            assert not any(APOLOGY in text for text in texts), texts
            assert sum(map(welcome, texts)) == 1, (person["first_name"], texts)
        assert failures == [], failures
        registered = asyncio.run(_count_users(url))
        assert registered == len(newcomers) + 2  # and the host and the (absent) admin


async def _count_users(url: str) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            return int(await s.scalar(select(func.count()).select_from(User)) or 0)
    finally:
        await engine.dispose()
