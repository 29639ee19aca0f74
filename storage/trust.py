"""The trust score: 0-100, 50 for someone new, explainable line by line.

Inputs: ratings received (their average against a neutral 3, weighted up to 20 ratings),
no-shows, approved and rejected evidence, and reports upheld by moderators. Each part is capped
so no single kind of event decides alone, and is a whole number, so the profile's sum
("62 = 50 + 6 + 3 - 8") adds up exactly. Hosting and joining are gated on it (settings).

One number everywhere (issue 23): every event that changes an input stores the new score
(`recompute`: evidence decisions, ratings, no-shows at a meetup's close, report decisions),
and the join and host gates recompute it before they compare (`current`), so the gates, the
stored column and the profile's explanation are the same `compute`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BindParameter, ColumnElement, ScalarSelect, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Evidence, Feedback, Participation, Report, User

BASE = 50.0


@dataclass(frozen=True)
class TrustPart:
    key: str  # ratings | no_shows | approved | rejected | reports
    count: int
    points: float  # a whole number, capped per kind
    average: float | None = None  # ratings only: the average stars


@dataclass(frozen=True)
class Trust:
    score: float  # BASE + the parts' points, kept within 0-100
    parts: list[TrustPart]

    @property
    def capped(self) -> bool:
        """Whether the sum fell outside 0-100 and the score was kept at the bound."""
        return self.score != BASE + sum(p.points for p in self.parts)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _counted(model: type, *where: ColumnElement[bool]) -> ScalarSelect[int]:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


_PERSON: BindParameter[int] = bindparam("user_id")
# One statement for every input, built once (building its six subqueries cost about as much
# as running them): the join and host gates compute this on each press.
_INPUTS = select(
    _counted(Feedback, Feedback.to_user_id == _PERSON),
    select(func.avg(Feedback.rating)).where(Feedback.to_user_id == _PERSON).scalar_subquery(),
    _counted(Participation, Participation.user_id == _PERSON,
             Participation.no_show_at.is_not(None)),
    _counted(Evidence, Evidence.user_id == _PERSON, Evidence.status == "approved"),
    _counted(Evidence, Evidence.user_id == _PERSON, Evidence.status == "rejected"),
    _counted(Report, Report.reported_id == _PERSON, Report.status == "actioned"),
)  # fmt: skip


async def compute(session: AsyncSession, user_id: int) -> Trust:
    row = await session.execute(_INPUTS, {"user_id": user_id})
    rated, average, no_shows, approved, rejected, upheld = row.one()
    rated = int(rated or 0)
    stars = round(float(average or 3), 1)
    parts = [
        TrustPart("ratings", rated,
                  _whole(_clamp((stars - 3) * 10 * min(rated, 20) / 20 * 2, -25, 25)), stars),
        TrustPart("no_shows", int(no_shows or 0), -min(30.0, 8.0 * (no_shows or 0))),
        TrustPart("approved", int(approved or 0), min(15.0, 2.0 * (approved or 0))),
        TrustPart("rejected", int(rejected or 0), -min(15.0, 3.0 * (rejected or 0))),
        TrustPart("reports", int(upheld or 0), -min(45.0, 15.0 * (upheld or 0))),
    ]  # fmt: skip
    score = _clamp(BASE + sum(p.points for p in parts), 0, 100)
    return Trust(score, [p for p in parts if p.count])


def _whole(points: float) -> float:
    """Rounded half away from zero (2.5 -> 3, -2.5 -> -3), as people round."""
    return float(int(abs(points) + 0.5)) * (1 if points >= 0 else -1)


async def recompute(session: AsyncSession, user_id: int) -> Trust:
    """Stores the current score on the user; returns it with its parts."""
    trust = await compute(session, user_id)
    user = await session.get(User, user_id)
    if user is not None:
        user.trust_score = trust.score
    return trust


async def current(session: AsyncSession, user: User) -> float:
    """The score a gate compares: recomputed and stored first, so a gate never reads a stale
    value and always the number the profile explains."""
    user.trust_score = (await compute(session, user.id)).score
    return user.trust_score
