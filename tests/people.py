"""The people and scenes the tests act with, in one home: a person signing up in their private
chat, registered neighbours hosting and joining meetups, the evidence scene with its admin
group, and the checks that money stays sound. Fixtures built from these live in conftest."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from bot.services import SERVICES_KEY, photo_store
from missions import rules
from missions.rules import Conditions
from scheduler.evidence import CHECKER_KEY, check_once, checker_for
from storage import accounts, ledger, market, meetings, missions
from storage.db import SessionFactory, transaction
from storage.models import Evidence, LedgerEntry, Mission, Participation, Region, VoucherCode
from storage.users import grant_admin
from tests import photo_corpus as corpus
from tests.harness import BotHarness, buttons
from ui import callbacks
from ui.callbacks import Action

SEOUL = ZoneInfo("Asia/Seoul")
SEOKCHON_LAKE = corpus.SEOKCHON_LAKE  # 잠실동, Songpa-gu
PHONE = "+82 10-2345-6789"
RULES = meetings.Rules()
# The demo catalogue in autumn (the test clock: Wednesday 25 November 2026, 09:00 in Seoul);
# the rose garden is a spring and summer mission.
AUTUMN_POINTS = [200, 150, 130, 120, 100, 90, 80, 70, 60]


def data_of(message: dict[str, Any], label: str) -> str:
    """The callback data of the button labelled `label` (exact, or with a ✅ prefix)."""
    for text_, data in buttons(message):
        if text_ in (label, f"✅ {label}"):
            return data
    raise AssertionError(f"no button {label!r} in {[b for b, _ in buttons(message)]}")


def action_data(message: dict[str, Any], action: str) -> str:
    """The callback data of the first button of `message` for `action` (any arguments)."""
    found = [d for _, d in buttons(message) if d.startswith(callbacks.VERSION + action + ":")]
    assert found, buttons(message)
    return found[0]


# --------------------------------------------------------------------------- signing up


class Person:
    """A person in their private chat with the bot, not yet signed up."""

    def __init__(self, bot: BotHarness, name: str = "민지", lang: str = "ko", phone: str = PHONE):
        self.bot = bot
        self.user = bot.user(name, language_code=lang, phone_number=phone)
        self.id: int = self.user["id"]
        self.last: list[dict[str, Any]] = []

    async def say(self, text_: str) -> list[dict[str, Any]]:
        self.last = await self.bot.send(self.user, text_)
        return self.last

    async def press(
        self, label: str, message: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        # Like a person: the newest message that still shows buttons (edits applied).
        target = message or next(m for m in reversed(self.bot.bot_messages(self.id)) if buttons(m))
        self.last = await self.bot.press(self.user, target, data_of(target, label))
        return self.last

    async def contact(self, *, own: bool = True) -> list[dict[str, Any]]:
        action = self.bot.emulator.share_contact(self.id, own=own)
        self.last = await self.bot.act(self.id, action)
        return self.last

    async def location(self, lat: float, lon: float, **kw: Any) -> list[dict[str, Any]]:
        self.last = await self.bot.act(
            self.id, self.bot.emulator.share_location(self.id, lat, lon, **kw)
        )
        return self.last

    def answers(self) -> list[str]:
        """Texts of the small notices shown on button presses (answerCallbackQuery)."""
        return [c.params.get("text", "") for c in self.bot.calls("answerCallbackQuery")]


async def walk_to_location(p: Person) -> None:
    """Signup up to the location step: terms, own phone, 송파구 and 잠실동 picked."""
    await p.say("/start")
    await p.press("동의합니다")
    await p.contact()
    await p.press("송파구")
    await p.press("잠실동")


async def sign_up(p: Person, *, verify: bool = True) -> list[dict[str, Any]]:
    """The whole signup with buttons (verified at Seokchon Lake unless `verify` is false);
    returns the welcome."""
    await walk_to_location(p)
    if verify:
        await p.location(*SEOKCHON_LAKE)
    else:
        await p.press("나중에 할게요")
    await p.press("걷기")
    await p.press("배드민턴")
    await p.press("완료")
    await p.press("저녁")
    await p.press("완료")
    return await p.press("확인 ✅")


# --------------------------------------------------------------------------- missions


def points_in(text: str) -> list[int]:
    """The points of the missions a listing shows, in order."""
    return [int(p) for p in re.findall(r"🏆 (\d+) P", text)]


async def find_mission(sessions: SessionFactory, key: str = "seokchon-lake-loop") -> Mission:
    """A catalogue mission by its key."""
    async with sessions() as s:
        mission = await s.scalar(select(Mission).where(Mission.key == key))
        assert mission is not None
        return mission


async def store_drafts(sessions: SessionFactory, count: int, now: Any) -> list[Mission]:
    """`count` rule-generated drafts for Songpa-gu, as `halsaram missions generate` stores them."""
    async with transaction(sessions) as s:
        regions = await missions.enabled_regions(s, "11710")
        drafts = rules.generate(Conditions(date(2026, 11, 25)), count, seed="review")
        return await missions.save_drafts(s, drafts, regions, now)


# --------------------------------------------------------------------------- meetups


class Neighbour:
    """A registered person of 잠실동 with a private chat open with the bot."""

    def __init__(self, bot: BotHarness, name: str, *, lang: str = "ko", verified: bool = True):
        self.bot = bot
        self.name = name
        self.user = bot.user(name, language_code=lang)
        self.id: int = self.user["id"]
        self.lang = lang
        self.verified = verified

    async def register(self) -> Neighbour:
        async with transaction(self.bot.sessions) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            assert region is not None
            await accounts.register(
                s,
                accounts.Registration(
                    user_id=self.id, language=self.lang, display_name=self.name,
                    phone_hash=f"hash-{self.id}", phone_masked="010-****-0000",
                    region_id=region.id, region_verified=self.verified,
                    interests=["walking"], preferred_times=["evening"],
                ),
                self.bot.clock.now(),
            )  # fmt: skip
        # A bot may only write to people who have written to it first.
        await self.bot.send(self.user, "/help")
        return self

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.bot.send(self.user, text)

    async def press(self, message: dict[str, Any], label: str) -> list[dict[str, Any]]:
        return await self.bot.press(self.user, message, data_of(message, label))

    async def press_data(self, message: dict[str, Any], data: str) -> list[dict[str, Any]]:
        await self.bot.emulator.press_button(
            self.id, message["chat"]["id"], message["message_id"], data, force=True
        )
        await self.bot.deliver()
        return self.bot.bot_messages(self.id)

    def inbox(self) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.bot.bot_messages(self.id)]

    def alert(self) -> str:
        """What the last press told: its answer's text (a toast or an alert), or, for a press
        answered before its work (issue 19, point 1), the message the bot sent after it."""
        return told_after_press(self.bot)


def told_after_press(bot: BotHarness) -> str:
    """The text the newest press showed: its answer's, else the bot's newest message in the
    chat where it was pressed."""
    text = str(bot.calls("answerCallbackQuery")[-1].params.get("text", ""))
    if text:
        return text
    chat_id = bot.emulator.callback_answers[-1]["chat_id"]
    sent = bot.bot_messages(chat_id)
    return str(sent[-1].get("text", "")) if sent else ""


async def new_meetup(
    bot: BotHarness,
    host: Neighbour,
    *,
    hours: float = 3,
    capacity: int = 4,
    key: str = "seokchon-lake-loop",
) -> int:
    """A meetup `host` opens for mission `key`, starting `hours` from now; returns its id."""
    mission = await find_mission(bot.sessions, key)
    async with transaction(bot.sessions) as s:
        meeting = await meetings.create(
            s, host_id=host.id, mission_id=mission.id,
            starts_at=bot.clock.now() + timedelta(hours=hours),
            place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
            capacity=capacity, note=None, rules=RULES, now=bot.clock.now(),
        )  # fmt: skip
        return meeting.id


async def meetup_card(bot: BotHarness, person: Neighbour, meeting_id: int) -> dict[str, Any]:
    """Opens a meetup's card the way /meetups' buttons do; returns the card message."""
    listing = (await person.say("/meetups"))[-1]
    data = callbacks.encode(Action.MEETUP_VIEW, meeting_id)
    assert data in [d for _, d in buttons(listing)]
    await bot.press(person.user, listing, data)
    return bot.bot_messages(person.id)[-1]


async def seat_counts(sessions: SessionFactory, meeting_id: int) -> dict[str, int]:
    """How many participations of a meetup are in each status (joined, waitlisted, left…)."""
    async with sessions() as s:
        rows = await s.execute(
            select(Participation.status, func.count())
            .where(Participation.meeting_id == meeting_id)
            .group_by(Participation.status)
        )
        return {status: count for status, count in rows}


def decode_qr(bot: BotHarness, message: dict[str, Any]) -> str:
    """The text of the QR code in a photo message the bot sent (its largest size)."""
    largest = max(message["photo"], key=lambda size: size["width"])
    record = bot.emulator.file_by_id(largest["file_id"])
    assert record is not None
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(record.data)))
    return str(found.text)


# --------------------------------------------------------------------------- evidence


@dataclasses.dataclass
class Scene:
    """A meetup under way with a checked-in guest, and an admin group with the bot in it (the
    `scene` fixture)."""

    bot: BotHarness
    host: Neighbour
    guest: Neighbour
    admin: Neighbour
    group_id: int
    meeting_id: int
    points: int


async def configure(bot: BotHarness, **settings: Any) -> None:
    """Changes settings of the running bot; the photo checker is built again with them."""
    svc = bot.app.bot_data[SERVICES_KEY]
    changed = svc.settings.model_copy(update=settings)
    bot.app.bot_data[SERVICES_KEY] = dataclasses.replace(
        svc, settings=changed, photos=photo_store(changed)
    )
    bot.app.bot_data.pop(CHECKER_KEY, None)


async def new_admin(bot: BotHarness, name: str) -> Neighbour:
    """A registered neighbour (English) who is an admin."""
    person = await Neighbour(bot, name, lang="en").register()
    async with transaction(bot.sessions) as s:
        await grant_admin(s, person.id, bot.clock)
    return person


async def check_in_guest(bot: BotHarness, person: Neighbour, meeting_id: int) -> None:
    """`person` joins the meetup and checks in, now."""
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, person.id, RULES, bot.clock.now())
    async with transaction(bot.sessions) as s:
        await meetings.check_in(s, meeting_id, person.id, RULES, bot.clock.now())


async def admin_group(bot: BotHarness, tmp_path: Path) -> tuple[Neighbour, int]:
    """Admin Kim and the admin group with the bot in it, photos stored under `tmp_path`."""
    admin = await new_admin(bot, "Admin Kim")
    group = bot.emulator.create_group("Halsaram admins", [admin.id], admin_ids=[admin.id])
    await bot.emulator.add_bot_to_group(admin.id, group["id"], as_admin=True)
    await bot.deliver()
    # The admin group reads cards in the default language; English keeps these asserts readable.
    await configure(bot, admin_chat_id=group["id"], data_dir=tmp_path, default_language="en")
    return admin, group["id"]


async def evidence_scene(bot: BotHarness, tmp_path: Path) -> Scene:
    """A meetup in progress with a checked-in guest, and an admin group with the bot in it."""
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    admin, group_id = await admin_group(bot, tmp_path)
    meeting_id = await new_meetup(bot, host, hours=1)
    bot.clock.advance(timedelta(minutes=55))  # check-in opens 15 minutes before the start
    await check_in_guest(bot, guest, meeting_id)
    bot.clock.advance(timedelta(minutes=10))  # the meetup is under way
    mission = await find_mission(bot.sessions)
    return Scene(bot, host, guest, admin, group_id, meeting_id, mission.points)


async def bystander_with_a_card(scene: Scene, seed: int) -> Neighbour:
    """A registered member of the admin group who is not an admin, once a photo's review card
    is in the group."""
    bystander = await Neighbour(scene.bot, "Bystander", lang="en").register()
    scene.bot.emulator.add_member(scene.group_id, bystander.id)
    await scene.bot.deliver()
    await send_photo(scene.bot, scene.guest, corpus.plain_jpeg(seed))
    await run_checks(scene.bot)
    return bystander


async def run_checks(bot: BotHarness) -> int:
    """The verification job, once, and the outbox that sends the review cards it queued (in
    production both run every few seconds)."""
    svc = bot.app.bot_data[SERVICES_KEY]
    checker = checker_for(bot.app.bot_data, svc.settings)
    checked = await check_once(bot.app.bot, bot.sessions, bot.clock, svc.settings, checker)
    await bot.run_outbox()
    return checked


def meetup_moment(bot: BotHarness) -> datetime:
    """Now on the test clock as a camera in Seoul writes it into EXIF (naive local time)."""
    return bot.clock.now().astimezone(SEOUL).replace(tzinfo=None)


async def send_photo(bot: BotHarness, person: Neighbour, data: bytes) -> list[dict[str, Any]]:
    """`person` sends `data` as a compressed photo; returns the bot's replies."""
    return await bot.act(person.id, bot.emulator.send_photo(person.id, data))


def review_card(bot: BotHarness, chat_id: int) -> dict[str, Any]:
    """The newest review card (a photo or a document) the bot posted in `chat_id`."""
    return [m for m in bot.bot_messages(chat_id) if "photo" in m or "document" in m][-1]


async def evidence_rows(bot: BotHarness) -> list[Evidence]:
    """Every evidence row, oldest first."""
    async with bot.sessions() as s:
        return list(await s.scalars(select(Evidence).order_by(Evidence.id)))


# --------------------------------------------------------------------------- money


async def balance_of(bot: BotHarness, user_id: int) -> int:
    """A person's points, from the ledger."""
    async with bot.sessions() as s:
        return await ledger.balance(s, user_id)


async def stock_codes(sessions: SessionFactory, text: str) -> market.LoadResult:
    """Loads voucher codes from CSV text (`item,name_ko,name_en,cost,code`) into the market."""
    async with transaction(sessions) as s:
        return await market.load_csv(s, text)


async def assert_money_is_sound(sessions: SessionFactory) -> None:
    """No balance off its entries, no charge without exactly one code, no code twice."""
    async with sessions() as s:
        assert await ledger.invariant_violations(s) == []
        charges = (
            await s.scalars(select(LedgerEntry.id).where(LedgerEntry.kind == ledger.EXCHANGE))
        ).all()
        tied = (
            await s.scalars(
                select(VoucherCode.ledger_entry_id).where(VoucherCode.ledger_entry_id.is_not(None))
            )
        ).all()
        assert sorted(charges) == sorted(t for t in tied if t is not None)
        issued = await s.scalar(
            select(func.count()).select_from(VoucherCode).where(VoucherCode.issued_to.is_not(None))
        )
        assert issued == len(tied)
