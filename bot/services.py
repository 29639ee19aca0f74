"""Process-wide collaborators every handler and job reaches: settings, clock, sessions, rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.settings import Settings
from storage.clock import Clock
from storage.db import SessionFactory
from storage.files import FileStore, S3Config, open_store
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
    photos: FileStore

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
            join_same_district=settings.join_same_district,
        )
        signer = TokenSigner(settings.secret(), settings.checkin_rotation_seconds)
        return cls(settings, clock, sessions, rules, signer, photo_store(settings))


def photo_store(settings: Settings) -> FileStore:
    """Where evidence photos are kept: S3 when a bucket is set, else the data directory."""
    s3 = None
    if settings.s3_bucket:
        secret = settings.s3_secret_access_key
        s3 = S3Config(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region or None,
            access_key_id=settings.s3_access_key_id or None,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
    return open_store(settings.data_dir / "photos", s3)


def services_of(bot_data: Mapping[str, Any]) -> Services:
    """The services kept in an Application's `bot_data` (jobs read them from there)."""
    found = bot_data[SERVICES_KEY]
    assert isinstance(found, Services)
    return found
