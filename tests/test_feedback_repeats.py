"""Ratings pressed again leave what one press left (issue 22): the same stars find the rating
already made, a tag button puts its tag on or takes it off, never toggles. A press handled
twice after a crash (tests/reliability/test_redelivery.py) and a double tap end the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import errors, feedback, meetings
from storage.db import transaction
from storage.models import Feedback, User
from tests.harness import BotHarness, buttons
from tests.people import RULES, Neighbour, data_of, meetup_card, new_meetup
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


async def _finished_meetup(bot: BotHarness, host: Neighbour, guest: Neighbour) -> int:
    """A meetup both attended, now over (the meetup clock closed it)."""
    meeting_id = await new_meetup(bot, host, hours=1)
    await guest.press(await meetup_card(bot, guest, meeting_id), "Join")
    bot.clock.advance(timedelta(minutes=55))
    async with transaction(bot.sessions) as s:
        await meetings.open_checkin(s, meeting_id, host.id, RULES, bot.clock.now())
        await meetings.check_in(s, meeting_id, guest.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(hours=2))
    await bot.run_meetup_clock()
    await bot.run_outbox()
    return meeting_id


async def test_the_same_stars_again_return_the_rating_and_other_stars_are_refused(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    meeting_id = await _finished_meetup(bot, host, guest)
    now = bot.clock.now()
    async with transaction(bot.sessions) as s:
        first = await feedback.rate(s, meeting_id, guest.id, host.id, 4, now)
        first_id = first.id
    async with bot.sessions() as s:
        trust = (await s.get(User, host.id)).trust_score  # type: ignore[union-attr]
    async with transaction(bot.sessions) as s:
        again = await feedback.rate(s, meeting_id, guest.id, host.id, 4, now + timedelta(1))
        assert (again.id, again.rating, again.created_at) == (first_id, 4, first.created_at)
    with pytest.raises(errors.AlreadyRated):
        async with transaction(bot.sessions) as s:
            await feedback.rate(s, meeting_id, guest.id, host.id, 2, now)
    async with bot.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Feedback)) == 1
        assert (await s.get(User, host.id)).trust_score == trust  # type: ignore[union-attr]


async def test_a_tag_is_set_on_or_off_and_setting_it_again_changes_nothing(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    meeting_id = await _finished_meetup(bot, host, guest)
    async with transaction(bot.sessions) as s:
        rating_id = (await feedback.rate(s, meeting_id, guest.id, host.id, 5, bot.clock.now())).id

    async def tags_after(tag: str, *, on: bool) -> list[str]:
        async with transaction(bot.sessions) as s:
            return list((await feedback.set_tag(s, rating_id, guest.id, tag, on=on)).tags)

    assert await tags_after("on_time", on=True) == ["on_time"]
    assert await tags_after("on_time", on=True) == ["on_time"]
    assert await tags_after("friendly", on=True) == ["on_time", "friendly"]
    assert await tags_after("on_time", on=True) == ["on_time", "friendly"]  # order kept
    assert await tags_after("on_time", on=False) == ["friendly"]
    assert await tags_after("on_time", on=False) == ["friendly"]
    with pytest.raises(errors.NotAttended):  # not one's own rating
        async with transaction(bot.sessions) as s:
            await feedback.set_tag(s, rating_id, host.id, "rude", on=True)
    with pytest.raises(errors.NotAttended):  # no such tag
        async with transaction(bot.sessions) as s:
            await feedback.set_tag(s, rating_id, guest.id, "sleepy", on=True)


async def test_a_ticked_tag_button_takes_it_off_and_an_old_button_puts_it_on(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    meeting_id = await _finished_meetup(bot, host, guest)
    request = next(m for m in bot.bot_messages(guest.id) if "Rate the others" in str(m))
    [ask] = await guest.press(request, "Rate the others")
    await guest.press(ask, "★★★★")

    def rating_message() -> dict[str, Any]:
        return next(
            m for m in bot.emulator.transcript(guest.id) if m["message_id"] == ask["message_id"]
        )

    untouched = rating_message()
    put_on = data_of(untouched, "On time")
    await guest.press(untouched, "On time")
    ticked = rating_message()
    assert "✅ On time" in [label for label, _ in buttons(ticked)]
    take_off = data_of(ticked, "On time")
    assert take_off != put_on
    await guest.press(ticked, "On time")  # the ✅ button: off
    assert "✅ On time" not in [label for label, _ in buttons(rating_message())]
    await guest.press_data(ticked, take_off)  # the same press again: still off
    await guest.press_data(untouched, put_on)  # an old button (a double tap): on, not toggled
    await guest.press_data(untouched, put_on)
    async with bot.sessions() as s:
        [stored] = (await s.scalars(select(Feedback))).all()
    assert (stored.rating, stored.tags) == (4, ["on_time"])
    assert "✅ On time" in [label for label, _ in buttons(rating_message())]
    # The same stars again on the old message show the rating with its tag, not a refusal.
    await guest.press_data(ask, callbacks.encode(Action.FEEDBACK_STARS, meeting_id, host.id, 4))
    shown = rating_message()
    assert shown["text"].startswith("You gave ★★★★") and "✅ On time" in [
        label for label, _ in buttons(shown)
    ]
    assert not any("already rated" in text for text in guest.inbox())
