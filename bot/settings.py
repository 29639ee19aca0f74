"""One settings object, read from `HALSARAM_*` environment variables and an optional `.env`.

Every variable is listed with its default in README.md. A bad value stops start-up with one
line naming the variable (`SettingsError`), never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "HALSARAM_"
TELEGRAM_API_URL = "https://api.telegram.org"
# The offline sandbox accepts this token; it is not a secret and reaches no real bot.
SANDBOX_TOKEN = "123456:SANDBOX-TOKEN"


class SettingsError(Exception):
    """A setting has a value the bot cannot start with; the message names the variable."""


class Settings(BaseSettings):
    """Runtime configuration. Field `x` is read from `HALSARAM_X`."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str = TELEGRAM_API_URL
    database_url: str = "sqlite+aiosqlite:///var/halsaram.sqlite3"
    data_dir: Path = Path("var")
    secret_key: SecretStr | None = None
    default_language: Literal["ko", "en"] = "ko"
    timezone: str = "Asia/Seoul"
    admin_chat_id: int | None = None
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(default=8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    enabled_districts: str = "11710"
    unverified_can_join: bool = False
    conversation_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("enabled_districts")
    @classmethod
    def _districts(cls, value: str) -> str:
        codes = [c.strip() for c in value.split(",") if c.strip()]
        if not codes or not all(re.fullmatch(r"11\d{3}", c) for c in codes):
            raise ValueError("must be Seoul district codes separated by commas (e.g. 11710)")
        return ",".join(codes)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be the full public URL Telegram posts to (https://...)")
        return value or None

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters from A-Z, a-z, 0-9, _ and - only.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+psycopg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known IANA time zone") from exc
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and ":" not in value.get_secret_value():
            raise ValueError("does not look like a bot token (expected <id>:<secret>)")
        return value

    @property
    def offline(self) -> bool:
        """No token: the bot runs against the local sandbox."""
        return self.telegram_token is None

    @property
    def district_codes(self) -> tuple[str, ...]:
        """Districts open for signup (Songpa-gu, 11710, by default); others are "coming soon"."""
        return tuple(self.enabled_districts.split(","))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def bot_base_url(self) -> str:
        """`ApplicationBuilder.base_url`: PTB appends the token and the method."""
        return f"{self.telegram_api_url}/bot"

    @property
    def bot_file_url(self) -> str:
        """`ApplicationBuilder.base_file_url`; it follows the API URL."""
        return f"{self.telegram_api_url}/file/bot"

    def token(self) -> str:
        """The token to talk with: the real one, or the sandbox's."""
        return self.telegram_token.get_secret_value() if self.telegram_token else SANDBOX_TOKEN

    def webhook_secret_token(self) -> str:
        """The `X-Telegram-Bot-Api-Secret-Token` value; derived from the secret key if unset."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        return hmac.new(self.secret(), b"telegram-webhook", hashlib.sha256).hexdigest()[:48]

    def secret(self) -> bytes:
        """Server secret for check-in tokens and phone hashes."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.offline:
            return b"halsaram-offline-sandbox-secret"
        raise SettingsError(f"{PREFIX}SECRET_KEY: required when {PREFIX}TELEGRAM_TOKEN is set")


def load_settings(**overrides: object) -> Settings:
    """Reads the environment; raises `SettingsError` with one line naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{PREFIX}{field.upper()}: {message}") from None
