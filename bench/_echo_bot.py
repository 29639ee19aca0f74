"""A bare python-telegram-bot bot for `bench/e2e.py`'s baseline: long polling through PTB's own
`run_polling`, every text answered with one fixed message, nothing stored, no database.

What a bot on this stack costs per update before it does anything of its own (parsing the
update, one sendMessage over httpx, parsing the answer), on the same machine and sandbox as
the real bot: context for `bot_cpu_ms_per_update`, not a target. It uses the real bot's update
concurrency and HTTP pool size. Run as `python bench/_echo_bot.py` with the real bot's
environment (token, API URL, metrics port for the health check).
"""

from __future__ import annotations

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.app import CONCURRENT_UPDATES, http_pool_size

# About as long as the real bot's /help answer.
ANSWER = "Halsaram: small missions with people nearby. " * 8


async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(ANSWER)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


def main() -> None:
    api = os.environ["HALSARAM_TELEGRAM_API_URL"]
    pool = http_pool_size(handle_updates=True, schedule_jobs=True)
    app = (
        Application.builder()
        .token(os.environ["HALSARAM_TELEGRAM_TOKEN"])
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .concurrent_updates(CONCURRENT_UPDATES)
        .connection_pool_size(pool)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, answer))
    health = HTTPServer(("127.0.0.1", int(os.environ["HALSARAM_METRICS_PORT"])), _Health)
    threading.Thread(target=health.serve_forever, daemon=True).start()
    app.run_polling()


if __name__ == "__main__":
    main()
