"""People's data (issue 20): `/privacy` shows the privacy notice (the same the terms show at
signup), `/mydata` sends everything the service holds about the person as a JSON document.

The notice is in `ui.privacy`, made from the retention settings; the export is read in one
call (`storage.export.everything`), which refuses someone without an account with
`NotRegistered` (the error handler's invitation to sign up).
"""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.ext import Application, CommandHandler, filters

from bot.context import Context
from storage import export
from ui import privacy as screens


async def show_notice(update: Update, context: Context) -> None:
    """`/privacy`: the notice, for anyone (no account needed)."""
    assert update.effective_message is not None
    text = screens.notice(context.lang, context.services.settings)
    await update.effective_message.reply_text(text)


async def send_my_data(update: Update, context: Context) -> None:
    """`/mydata`: a JSON file of everything about the person, named for their local date."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    svc = context.services
    now = svc.clock.now()
    async with svc.sessions() as session:
        data = await export.everything(
            session, user.id, now, photo_days=svc.settings.photo_retention_days
        )
    name = screens.export_filename(now.astimezone(svc.settings.zone).date())
    await message.reply_document(
        InputFile(screens.export_bytes(data), filename=name),
        caption=screens.export_caption(context.lang),
    )


def register(application: Application) -> None:
    """/privacy and /mydata, in private chats."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("privacy", show_notice, filters=private))
    application.add_handler(CommandHandler("mydata", send_my_data, filters=private))
