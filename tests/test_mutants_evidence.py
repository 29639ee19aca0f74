"""The evidence decisions pinned down (issue 22, `make mutation`): what an approval pays and
records, what the sender is told with how many tries left, which presses are refused and why,
which press is the same admin's decision again, which approved photo is a twin, and who may
judge. Each test kills mutants of storage/evidence.py's decisions that tests/test_evidence.py
and tests/test_evidence_fairness.py let live. Photos are written as rows (the checks are not
what is tested here); the storage calls run on both databases."""

from __future__ import annotations

from itertools import count

import pytest
from sqlalchemy import delete, select, update

from storage import errors, evidence, ledger, meetings, progress, trust
from storage.db import transaction
from storage.evidence import APPROVE, ASK_AGAIN, REJECT
from storage.models import (
    Evidence,
    LedgerEntry,
    Meeting,
    Mission,
    OutboxMessage,
    Participation,
    Review,
    User,
)
from storage.users import grant_admin
from tests.people import Neighbour, Scene, check_in_guest, new_admin, new_meetup

pytestmark = pytest.mark.usefixtures("seeded")
EVIDENCE_RULES = evidence.EvidenceRules(max_attempts=3)
HASH = "0123456789abcdef"  # a perceptual hash: 64 bits, four bands of 16
_files = count(1)


def _flip(phash: str, *bits: int) -> str:
    value = int(phash, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:016x}"


async def _photo(scene: Scene, *, status: str = evidence.IN_REVIEW, attempt: int = 1,
                 sha256: str | None = None, phash: str | None = None,
                 user_id: int | None = None, meeting_id: int | None = None) -> int:  # fmt: skip
    """A photo row of the guest (or `user_id`) for the scene's meetup (or `meeting_id`)."""
    user_id = user_id or scene.guest.id
    meeting_id = meeting_id or scene.meeting_id
    async with transaction(scene.bot.sessions) as s:
        seat = await s.scalar(
            select(Participation.id).where(
                Participation.meeting_id == meeting_id, Participation.user_id == user_id
            )
        )
        assert seat is not None
        n = next(_files)
        row = Evidence(
            participation_id=seat, meeting_id=meeting_id, user_id=user_id, file_id=f"f{n}",
            file_unique_id=f"u{n}", status=status, attempt=attempt, sha256=sha256, phash=phash,
            submitted_at=scene.bot.clock.now(),
        )  # fmt: skip
        s.add(row)
        await s.flush()
        return row.id


async def _decide(scene: Scene, evidence_id: int, action: str, reason: str | None = None, *,
                  reviewer_id: int | None = None) -> evidence.Decision:  # fmt: skip
    async with transaction(scene.bot.sessions) as s:
        return await evidence.decide_or_show(
            s, evidence_id=evidence_id, reviewer_id=reviewer_id or scene.admin.id, action=action,
            reason=reason, now=scene.bot.clock.now(), rules=EVIDENCE_RULES,
        )  # fmt: skip


async def _notice(scene: Scene, evidence_id: int) -> tuple[int, dict[str, object]]:
    async with scene.bot.sessions() as s:
        row = await s.scalar(
            select(OutboxMessage).where(
                OutboxMessage.dedupe_key == f"evidence_outcome:{evidence_id}"
            )
        )
    assert row is not None
    return row.chat_id, dict(row.payload)


async def _review(scene: Scene, evidence_id: int) -> Review:
    async with scene.bot.sessions() as s:
        found = await s.scalar(select(Review).where(Review.evidence_id == evidence_id))
    assert found is not None
    return found


async def _status(scene: Scene, evidence_id: int) -> str:
    async with scene.bot.sessions() as s:
        row = await s.get(Evidence, evidence_id)
    assert row is not None
    return row.status


# --------------------------------------------------------------------------- outcomes


async def test_an_approval_pays_the_mission_once_and_tells_the_sender(scene: Scene) -> None:
    photo = await _photo(scene)
    decided = await _decide(scene, photo, APPROVE)
    assert (decided.status, decided.points, decided.balance) == ("approved", scene.points,
                                                                  scene.points)  # fmt: skip
    assert decided.first is True and decided.repeat is False
    assert decided.view.evidence.id == photo and decided.view.decision is not None
    assert decided.view.max_attempts == EVIDENCE_RULES.max_attempts
    async with scene.bot.sessions() as s:
        [entry] = await s.scalars(select(LedgerEntry))
    assert (entry.user_id, entry.amount, entry.kind) == (scene.guest.id, scene.points, "reward")
    assert (entry.reference, entry.actor_id) == (f"evidence:{photo}", scene.admin.id)
    review = await _review(scene, photo)
    assert (review.reviewer_id, review.decision, review.reason) == (scene.admin.id, "approved",
                                                                     None)  # fmt: skip
    assert await _notice(scene, photo) == (scene.guest.id, {
        "kind": "evidence_approved", "meeting_id": scene.meeting_id, "points": scene.points,
        "balance": scene.points,
    })  # fmt: skip
    again = await _decide(scene, photo, APPROVE)  # the same press handled again
    assert (again.status, again.points, again.balance, again.first, again.repeat) == (
        "approved", 0, 0, False, True,
    )  # fmt: skip
    async with scene.bot.sessions() as s:
        assert await ledger.balance(s, scene.guest.id) == scene.points


async def test_a_mission_pays_what_it_is_worth_even_one_point_or_none(scene: Scene) -> None:
    async with transaction(scene.bot.sessions) as s:
        meeting = await s.get(Meeting, scene.meeting_id)
        assert meeting is not None
        mission_id = meeting.mission_id
    for worth in (0, 1):  # nothing on record before either
        async with transaction(scene.bot.sessions) as s:
            await s.execute(update(Mission).where(Mission.id == mission_id).values(points=worth))
        photo = await _photo(scene)
        decided = await _decide(scene, photo, APPROVE)
        assert (decided.status, decided.points, decided.balance) == ("approved", worth, worth)
        assert await _notice(scene, photo) == (scene.guest.id, {
            "kind": "evidence_approved", "meeting_id": scene.meeting_id, "points": worth,
            "balance": worth,
        })  # fmt: skip
    async with scene.bot.sessions() as s:
        assert [e.amount for e in await s.scalars(select(LedgerEntry))] == [1]
        assert await ledger.balance(s, scene.guest.id) == 1


async def test_a_no_point_approval_tells_the_balance_the_sender_holds(scene: Scene) -> None:
    """A mission worth nothing pays nothing, but the notice still says what the sender holds
    (before: "Your balance is 0 points" to someone holding 40)."""
    async with transaction(scene.bot.sessions) as s:
        meeting = await s.get(Meeting, scene.meeting_id)
        assert meeting is not None
        await s.execute(update(Mission).where(Mission.id == meeting.mission_id).values(points=0))
        await ledger.post(
            s, user_id=scene.guest.id, amount=40, kind=ledger.BONUS, reference="held:40",
            now=scene.bot.clock.now(),
        )  # fmt: skip
    photo = await _photo(scene)
    decided = await _decide(scene, photo, APPROVE)
    assert (decided.status, decided.points, decided.balance) == ("approved", 0, 40)
    assert await _notice(scene, photo) == (scene.guest.id, {
        "kind": "evidence_approved", "meeting_id": scene.meeting_id, "points": 0, "balance": 40,
    })  # fmt: skip


async def test_a_decision_moves_the_senders_trust_and_an_approval_awards_badges(
    scene: Scene,
) -> None:
    """The stored trust score (which the join and host gates read) follows an approval or a
    rejection at once; the badges an approval reaches are awarded with it, none for a
    rejection."""
    guest = scene.guest.id

    async def standing() -> tuple[float, float, list[str]]:
        async with scene.bot.sessions() as s:
            user = await s.get(User, guest)
            assert user is not None
            computed = (await trust.compute(s, guest)).score
            return user.trust_score, computed, await progress.badges(s, guest)

    async with transaction(scene.bot.sessions) as s:
        await s.execute(update(User).where(User.id == guest).values(trust_score=1.0))
    await _decide(scene, await _photo(scene), REJECT, "blurry")
    stored, computed, badges = await standing()
    assert stored == computed != 1.0 and badges == []
    async with transaction(scene.bot.sessions) as s:
        await s.execute(update(User).where(User.id == guest).values(trust_score=1.0))
    await _decide(scene, await _photo(scene, attempt=2), APPROVE)
    stored, computed, badges = await standing()
    assert stored == computed != 1.0 and badges != []


async def test_an_admin_cannot_decide_on_their_own_photo_or_their_meetup(scene: Scene) -> None:
    photo = await _photo(scene)
    async with transaction(scene.bot.sessions) as s:
        for person in (scene.guest, scene.host):
            await grant_admin(s, person.id, scene.bot.clock)
    for judge, reason in [(scene.guest, "own"), (scene.host, "attended")]:
        for action, why in [(APPROVE, None), (REJECT, "other"), (ASK_AGAIN, None)]:
            with pytest.raises(errors.NotImpartial) as refused:
                await _decide(scene, photo, action, why, reviewer_id=judge.id)
            assert refused.value.reason == reason
    assert await _status(scene, photo) == evidence.IN_REVIEW


async def test_a_rejection_and_a_request_again_pay_nothing_and_count_the_tries(
    scene: Scene,
) -> None:
    rejected = await _photo(scene, attempt=1)
    decided = await _decide(scene, rejected, REJECT, "blurry")
    assert (decided.status, decided.points, decided.balance) == ("rejected", 0, 0)
    review = await _review(scene, rejected)
    assert (review.decision, review.reason) == ("rejected", "blurry")
    assert await _notice(scene, rejected) == (scene.guest.id, {
        "kind": "evidence_rejected", "meeting_id": scene.meeting_id, "reason": "blurry", "left": 2,
        "evidence_id": rejected,
    })  # fmt: skip

    again = await _photo(scene, attempt=2)
    decided = await _decide(scene, again, ASK_AGAIN)
    assert (decided.status, decided.points) == ("retry", 0)
    review = await _review(scene, again)
    assert (review.decision, review.reason) == ("rejected", "ask_again")
    assert await _notice(scene, again) == (scene.guest.id, {
        "kind": "evidence_again", "meeting_id": scene.meeting_id, "left": 1,
    })  # fmt: skip

    last = await _photo(scene, attempt=3)
    with pytest.raises(errors.NoTriesLeft):  # the third try was the last
        await _decide(scene, last, ASK_AGAIN)
    await _decide(scene, last, REJECT, "place")
    assert await _notice(scene, last) == (scene.guest.id, {
        "kind": "evidence_rejected_final", "meeting_id": scene.meeting_id, "reason": "place",
        "evidence_id": last,
    })  # fmt: skip
    async with scene.bot.sessions() as s:
        assert await ledger.balance(s, scene.guest.id) == 0
        assert await s.scalar(select(LedgerEntry.id)) is None


def test_the_sender_is_told_the_outcome_with_the_tries_left() -> None:
    notice = evidence._outcome_notice
    assert notice(APPROVE, None, 0, 150, 400) == ("evidence_approved",
                                                  {"points": 150, "balance": 400})  # fmt: skip
    assert notice(REJECT, "blurry", 1, 0, 0) == ("evidence_rejected",
                                                 {"reason": "blurry", "left": 1})  # fmt: skip
    assert notice(REJECT, "blurry", 0, 0, 0) == ("evidence_rejected_final", {"reason": "blurry"})
    assert notice(ASK_AGAIN, "ask_again", 1, 0, 0) == ("evidence_again", {"left": 1})
    assert notice(ASK_AGAIN, None, 0, 0, 0) == ("evidence_rejected_final", {"reason": None})
    assert notice(REJECT, "other", -1, 0, 0) == ("evidence_rejected_final", {"reason": "other"})


# --------------------------------------------------------------------------- refusals


async def test_a_press_that_cannot_decide_is_refused_with_its_reason(scene: Scene) -> None:
    photo = await _photo(scene)
    for action, reason in [("delete", None), (REJECT, None), (REJECT, "ugly")]:
        with pytest.raises(ValueError, match=r"^unknown decision$"):
            await _decide(scene, photo, action, reason)
    with pytest.raises(errors.NotAdmin) as not_admin:
        await _decide(scene, photo, APPROVE, reviewer_id=scene.host.id)
    assert not_admin.value.reason == "review"
    with pytest.raises(errors.EvidenceNotFound):
        await _decide(scene, photo + 1000, APPROVE)
    for status in (evidence.RECEIVED, evidence.CHECKING):
        waiting = await _photo(scene, status=status)
        with pytest.raises(errors.NotReady):
            await _decide(scene, waiting, APPROVE)
        assert await _status(scene, waiting) == status
    assert await _status(scene, photo) == evidence.IN_REVIEW
    async with scene.bot.sessions() as s:
        assert await s.scalar(select(Review.id)) is None
        outcomes = OutboxMessage.dedupe_key.startswith("evidence_outcome:")
        assert await s.scalar(select(OutboxMessage.id).where(outcomes)) is None


async def test_another_admins_press_shows_the_first_decision_and_changes_nothing(
    scene: Scene,
) -> None:
    other = await new_admin(scene.bot, "Admin Lee")
    photo = await _photo(scene)
    await _decide(scene, photo, REJECT, "blurry")
    for action, reason in [(REJECT, "blurry"), (APPROVE, None), (ASK_AGAIN, None)]:
        shown = await _decide(scene, photo, action, reason, reviewer_id=other.id)
        assert (shown.status, shown.points, shown.balance, shown.first, shown.repeat) == (
            "rejected", 0, 0, False, False,
        )  # fmt: skip
        assert shown.view.evidence.id == photo  # the card is drawn again with the decision
        assert shown.view.max_attempts == EVIDENCE_RULES.max_attempts
        assert shown.view.decision is not None and shown.view.decision.reason == "blurry"
    # The first admin pressing another button is not their decision again either.
    for action, reason in [(REJECT, "place"), (APPROVE, None), (ASK_AGAIN, None)]:
        assert (await _decide(scene, photo, action, reason)).repeat is False
    assert (await _decide(scene, photo, REJECT, "blurry")).repeat is True
    asked = await _photo(scene)
    await _decide(scene, asked, ASK_AGAIN)
    assert (await _decide(scene, asked, ASK_AGAIN)).repeat is True
    assert (await _decide(scene, asked, REJECT, "other")).repeat is False
    with pytest.raises(errors.AlreadyDecided) as decided:
        async with transaction(scene.bot.sessions) as s:
            await evidence.decide(
                s, evidence_id=photo, reviewer_id=other.id, action=APPROVE, reason=None,
                now=scene.bot.clock.now(), rules=EVIDENCE_RULES,
            )  # fmt: skip
    assert decided.value.reason == "rejected"
    assert (await _review(scene, photo)).reviewer_id == scene.admin.id
    async with scene.bot.sessions() as s:
        assert await ledger.balance(s, scene.guest.id) == 0


def test_the_same_decision_is_this_admins_press_of_this_button() -> None:
    same = evidence._same_decision
    approved = Review(reviewer_id=1, decision="approved", reason=None)
    rejected = Review(reviewer_id=1, decision="rejected", reason="blurry")
    asked = Review(reviewer_id=1, decision="rejected", reason="ask_again")
    assert same(None, 1, APPROVE, None) is False
    assert same(approved, 1, APPROVE, None) is True
    assert same(approved, 2, APPROVE, None) is False
    assert same(rejected, 1, REJECT, "blurry") is True
    assert same(rejected, 1, REJECT, "place") is False
    assert same(rejected, 2, REJECT, "blurry") is False
    assert same(rejected, 1, APPROVE, None) is False
    assert same(asked, 1, ASK_AGAIN, None) is True
    assert same(asked, 2, ASK_AGAIN, None) is False
    assert same(asked, 1, REJECT, "other") is False
    assert same(rejected, 1, ASK_AGAIN, None) is False


# --------------------------------------------------------------------------- copies


async def test_an_approval_of_a_copy_of_an_approved_photo_is_refused(scene: Scene) -> None:
    first = await _photo(scene, sha256="a" * 64, phash=HASH)
    await _decide(scene, first, APPROVE)
    for sha256, phash in [("a" * 64, None), ("b" * 64, _flip(HASH, 0, 63))]:
        copy = await _photo(scene, sha256=sha256, phash=phash)
        with pytest.raises(errors.CopyOfApproved):
            await _decide(scene, copy, APPROVE)
        assert await _status(scene, copy) == evidence.IN_REVIEW
        await _decide(scene, copy, REJECT, "duplicate")  # a rejection is still possible
    async with scene.bot.sessions() as s:
        assert await ledger.balance(s, scene.guest.id) == scene.points


async def test_a_twin_is_the_same_bytes_or_a_picture_within_two_bits_of_an_approved_one(
    scene: Scene,
) -> None:
    approved = await _photo(scene, status=evidence.APPROVED, sha256="a" * 64, phash=HASH)
    # Neither waiting photos nor refused ones are twins, however alike.
    await _photo(scene, status=evidence.IN_REVIEW, sha256="c" * 64, phash=_flip(HASH, 40))
    await _photo(scene, status=evidence.REJECTED, sha256="d" * 64, phash=_flip(HASH, 8))

    async def twin(sha256: str | None, phash: str | None) -> int | None:
        candidate = await _photo(scene, sha256=sha256, phash=phash)
        async with scene.bot.sessions() as s:
            row = await s.get(Evidence, candidate)
            assert row is not None
            return await evidence.approved_twin(s, row)

    assert await twin("a" * 64, None) == approved
    assert await twin("a" * 64, "f" * 16) == approved
    assert await twin("c" * 64, None) is None
    assert await twin("d" * 64, _flip(HASH, 9, 10, 11)) is None
    assert await twin(None, HASH) == approved
    for bits in [(0,), (0, 16), (16, 32), (32, 48), (48, 63), (5, 60), (20, 36)]:
        assert await twin("e" * 64, _flip(HASH, *bits)) == approved, bits
    for bits in [(0, 1, 2), (0, 16, 32), (15, 31, 47, 63)]:
        assert await twin("e" * 64, _flip(HASH, *bits)) is None, bits
    assert await twin(None, "not a hash") is None
    assert await twin(None, None) is None
    async with scene.bot.sessions() as s:  # an approved photo is not its own twin
        row = await s.get(Evidence, approved)
        assert row is not None and await evidence.approved_twin(s, row) is None


async def test_an_unreadable_hash_on_record_is_passed_over(scene: Scene) -> None:
    """A stored hash that is not hexadecimal (a band alike) is skipped, not the end of the
    search: the twin after it is still found."""
    await _photo(scene, status=evidence.APPROVED, phash=HASH[:12] + "zzzz")
    approved = await _photo(scene, status=evidence.APPROVED, phash=_flip(HASH, 1))
    candidate = await _photo(scene, phash=HASH)
    async with scene.bot.sessions() as s:
        row = await s.get(Evidence, candidate)
        assert row is not None
        assert await evidence.approved_twin(s, row) == approved


# --------------------------------------------------------------------------- impartiality


async def test_who_may_judge_a_photo(scene: Scene) -> None:
    """Not the sender, the host (with a seat or without), a participant holding a seat or one
    who checked in; a person on the waiting list, one who left, or someone who took part in
    another meetup may."""
    bot = scene.bot
    photo = await _photo(scene)

    async def refusal(user_id: int, evidence_id: int = photo) -> str | None:
        async with bot.sessions() as s:
            row = await s.get(Evidence, evidence_id)
            assert row is not None
            try:
                await evidence.ensure_impartial(s, row, user_id)
            except errors.NotImpartial as exc:
                return exc.reason
        return None

    assert await refusal(scene.guest.id) == "own"
    assert await refusal(scene.host.id) == "attended"
    assert await refusal(scene.admin.id) is None
    joined = await Neighbour(bot, "Joined", lang="en").register()
    left = await Neighbour(bot, "Left", lang="en").register()
    waiting = await Neighbour(bot, "Waiting", lang="en").register()
    async with transaction(bot.sessions) as s:
        for person, status in [
            (joined, meetings.JOINED), (left, meetings.LEFT), (waiting, meetings.WAITLISTED),
        ]:  # fmt: skip
            s.add(Participation(meeting_id=scene.meeting_id, user_id=person.id, status=status,
                                joined_at=bot.clock.now()))  # fmt: skip
    assert await refusal(joined.id) == "attended"
    assert await refusal(left.id) is None
    assert await refusal(waiting.id) is None
    async with transaction(bot.sessions) as s:  # left after checking in: still took part
        seat = await s.scalar(select(Participation).where(Participation.user_id == left.id))
        assert seat is not None
        seat.checked_in_at = bot.clock.now()
    assert await refusal(left.id) == "attended"
    async with transaction(bot.sessions) as s:  # the host without a seat still hosted it
        await s.execute(delete(Participation).where(Participation.user_id == scene.host.id))
    assert await refusal(scene.host.id) == "attended"

    # Another meetup's photo: taking part in this one (which has a photo) does not count there.
    other_host = await Neighbour(bot, "Other host").register()
    other_guest = await Neighbour(bot, "Other guest", lang="en").register()
    other_meeting = await new_meetup(bot, other_host, hours=0.2)
    await check_in_guest(bot, other_guest, other_meeting)
    elsewhere = await _photo(scene, user_id=other_guest.id, meeting_id=other_meeting)
    for judge in (scene.host, joined, left, scene.guest):
        assert await refusal(judge.id, elsewhere) is None
    assert await refusal(other_host.id, elsewhere) == "attended"
    assert await refusal(other_host.id) is None
