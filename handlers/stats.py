"""Figures for operators: `/stats` for admins, the last weeks' figures in words and the
weekly chart (`ui.stats` words and draws them; `halsaram stats` prints the same text).

Nothing about a person is shown: counts, rates and points only.
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import Context
from bot.senders import anonymous_admin_of, person
from storage import stats
from storage.errors import NotAdmin
from ui.stats import CHART_WEEKS, WEEKS, chart_png, report_text


async def show_stats(update: Update, context: Context) -> None:
    """`/stats`: the last four weeks' figures and the eight-week chart, for admins only: an
    admin by their account, or an anonymous admin of the admin group (Telegram names nobody,
    and figures record no one's act).

    Anyone else gets `NotAdmin("command")`, answered by the error handler.
    """
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    svc, lang = context.services, context.lang
    until, zone = svc.clock.now(), svc.settings.zone
    anonymous = await anonymous_admin_of(update, context, svc.settings.admin_chat_id)
    async with svc.sessions() as session:
        if anonymous:
            figures = await stats.overview(
                session, until=until, zone=zone, weeks=WEEKS, chart_weeks=CHART_WEEKS
            )
        elif person(update) is None:
            raise NotAdmin("command")  # a chat sent it (an anonymous admin of another group)
        else:
            figures = await stats.admin_overview(
                session, user.id, until=until, zone=zone, weeks=WEEKS, chart_weeks=CHART_WEEKS
            )
    await message.reply_text(report_text(lang, figures.recent))
    await message.reply_photo(await asyncio.to_thread(chart_png, lang, figures.chart))


def register(application: Application) -> None:
    """/stats; re-checks on the server that the sender is an admin."""
    application.add_handler(CommandHandler("stats", show_stats))
