"""The profile card's read model: everything `/profile` shows, read in one call.

The card joins the account with its neighbourhood, level, trust score (and why) and badges;
`profile_view` reads them in the caller's session and returns plain values for
`ui.profile.profile_card`, so a handler opens one session and renders.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage import missions, progress, trust
from storage.accounts import require_user
from storage.trust import TrustPart


@dataclass(frozen=True)
class ProfileView:
    display_name: str
    phone_masked: str | None
    dong_ko: str | None  # the home neighbourhood's names; None without one
    dong_en: str | None
    verified: bool
    interests: tuple[str, ...]
    preferred_times: tuple[str, ...]
    trust_score: float
    trust_parts: tuple[TrustPart, ...]  # why the score is what it is; empty at the start
    trust_capped: bool  # the parts' sum fell outside 0-100
    level: int
    language: str
    badges: tuple[str, ...]


async def profile_view(session: AsyncSession, user_id: int) -> ProfileView:
    """The person's profile as the card shows it; raises `NotRegistered` without an account."""
    user = await require_user(session, user_id)
    region = await missions.home_region(session, user)
    explained = await trust.compute(session, user_id)
    return ProfileView(
        display_name=user.display_name,
        phone_masked=user.phone_masked,
        dong_ko=region.name_ko if region else None,
        dong_en=region.name_en if region else None,
        verified=user.region_verified_at is not None,
        interests=tuple(user.interests),
        preferred_times=tuple(user.preferred_times),
        trust_score=explained.score,  # the number the join and host gates compare
        trust_parts=tuple(explained.parts),
        trust_capped=explained.capped,
        level=await progress.level(session, user_id),
        language=user.language,
        badges=tuple(await progress.badges(session, user_id)),
    )
