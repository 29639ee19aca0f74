"""Check-in (step 4): a participant presents the host's QR (a scan opens the bot as
`/start c<token>`) or the typed code under it (`/checkin CODE`), and is checked in.

Telegram behaviour relied on: scanning a QR of `https://t.me/<bot>?start=<payload>` with the
phone camera opens the bot and sends `/start <payload>`; when the chat is already open a
re-scan sometimes delivers no payload, hence the typed `/checkin CODE` fallback.

Each handler calls one `storage.meetings` operation and hands its view to `ui.checkin`; a
refusal (a `DomainError`) propagates to the error handler, which tells it politely.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.context import Context
from storage import meetings
from storage.db import transaction
from ui import checkin as ui
from ui import links


def _user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def checkin_link(update: Update, context: Context) -> None:
    """`/start c…`: the phone camera opened the bot from the host's QR code."""
    payload = (context.args or [""])[0]
    await _check_in(update, context, token=links.checkin_token(payload))


async def checkin_code(update: Update, context: Context) -> None:
    """`/checkin CODE`: the typed fallback shown under the QR."""
    await _check_in(update, context, code="".join(context.args or []))


async def _check_in(
    update: Update, context: Context, *, token: str | None = None, code: str | None = None
) -> None:
    """One path for a scan and a typed code: storage verifies what was presented."""
    svc = context.services
    async with transaction(svc.sessions) as session:
        done = await meetings.check_in_with(
            session, _user_id(update), svc.signer, svc.rules, svc.clock.now(),
            token=token, code=code,
        )  # fmt: skip
    assert update.effective_message is not None
    await update.effective_message.reply_text(ui.checked_in(context.lang, done))


def register_deep_link(application: Application) -> None:
    """A scanned check-in QR arrives as `/start c<token>`: registered before signup."""
    application.add_handler(
        CommandHandler(
            "start",
            checkin_link,
            filters=filters.ChatType.PRIVATE & filters.Regex(links.CHECKIN_START),
        )
    )


def register(application: Application) -> None:
    """`/checkin CODE`, the typed fallback."""
    application.add_handler(
        CommandHandler("checkin", checkin_code, filters=filters.ChatType.PRIVATE)
    )
