"""The one send budget: overall and per-chat pacing, and a 429 holding the chat."""

from __future__ import annotations

from bot.transport import SendBudget, counted


class FakeTime:
    """Monotonic time that moves only when the budget sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def budget(clock: FakeTime, **kw: float) -> SendBudget:
    return SendBudget(**kw, monotonic=clock.monotonic, sleep=clock.sleep)  # type: ignore[arg-type]


async def test_overall_rate_is_kept_from_an_empty_start() -> None:
    clock = FakeTime()
    paced = budget(clock, overall_per_second=30.0)
    for chat in range(300):
        await paced.acquire(-chat - 1)  # 300 different groups
    # Starting empty, 300 messages at 30/s take 10 seconds: no burst after a restart.
    assert 9.9 <= clock.now <= 10.1


async def test_a_group_gets_twenty_a_minute_and_a_person_about_one_a_second() -> None:
    clock = FakeTime()
    paced = budget(clock, overall_per_second=1000.0)
    for _ in range(20):
        await paced.acquire(-100)
    assert clock.now < 1
    assert paced.chat_wait(-100) > 2.5  # the 21st waits about 3 s
    start = clock.now
    for _ in range(3 + 5):
        await paced.acquire(42)
    assert clock.now - start >= 4.9  # a burst of 3, then one a second


async def test_a_429_holds_the_chat_for_retry_after_and_everyone_briefly() -> None:
    clock = FakeTime()
    paced = budget(clock, overall_per_second=1000.0)
    paced.hold(-7, 30.0)
    assert paced.chat_wait(-7) >= 29.9
    await paced.acquire(-8)  # another chat waits only the short global pause
    assert 1.9 <= clock.now <= 2.1


def test_only_messages_count() -> None:
    assert counted("sendMessage") and counted("copyMessage")
    assert not counted("sendChatAction") and not counted("getChatMember")


async def test_429s_halve_the_overall_rate_and_sends_bring_it_back() -> None:
    clock = FakeTime()
    paced = budget(clock, overall_per_second=30.0)
    for _ in range(3):
        paced.hold(None, 1.0)
    assert paced.rate == 30.0 / 8  # Telegram allows less than we thought just now
    start = clock.now
    for chat in range(-1, -11, -1):
        await paced.acquire(chat)
    assert clock.now - start >= 10 / 4.5  # paced at the lower rate, not at 30/s
    for _ in range(1000):
        paced.sent()
    assert paced.rate == 30.0  # and back to the configured rate, never beyond
