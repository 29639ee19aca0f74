"""Process-wide collaborators every handler and job reaches: settings, clock, sessions, rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.settings import Settings
from storage.clock import Clock
from storage.db import SessionFactory
from storage.meetings import Rules
from verification.checkin import TokenSigner

SERVICES_KEY = "services"


@dataclass(frozen=True)
class Services:
    """Built once by `bot.app` and kept in `bot_data` under `SERVICES_KEY`."""

    settings: Settings
    clock: Clock
    sessions: SessionFactory
    rules: Rules
    signer: TokenSigner

    @classmethod
    def build(cls, settings: Settings, clock: Clock, sessions: SessionFactory) -> Services:
        rules = Rules(
            host_min_trust=settings.host_min_trust,
            host_requires_verified=settings.host_requires_verified,
            join_requires_verified=not settings.unverified_can_join,
            checkin_opens_before=timedelta(minutes=settings.checkin_opens_minutes),
            checkin_closes_after=timedelta(minutes=settings.checkin_closes_minutes),
            host_max_per_day=settings.host_max_per_day,
            join_min_trust=settings.join_min_trust,
        )
        signer = TokenSigner(settings.secret(), settings.checkin_rotation_seconds)
        return cls(settings, clock, sessions, rules, signer)


def services_of(bot_data: Mapping[str, Any]) -> Services:
    """The services kept in an Application's `bot_data` (jobs read them from there)."""
    found = bot_data[SERVICES_KEY]
    assert isinstance(found, Services)
    return found
