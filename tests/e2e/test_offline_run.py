"""`halsaram run` with no token, as README's first command starts it, and Ctrl-C to stop it:
the bot and the sandbox it started both stop at once, cleanly, with nothing alarming printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.processes import ROOT, People, offline_env, wait_for


def test_ctrl_c_stops_the_offline_bot_and_its_sandbox_cleanly(tmp_path: Path) -> None:
    url, offline = offline_env(tmp_path)
    env = {**os.environ, **offline}
    env.pop("HALSARAM_TELEGRAM_TOKEN", None)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        # Its own process group, as a terminal gives it: Ctrl-C reaches the bot and the sandbox.
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"], env=env, cwd=ROOT,
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        try:
            wait_for(f"{url}/healthz", process)
            people = People(url)
            james = people.create("James", "en")
            people.say(james, "/help")
            people.wait_for_bot(james["id"], 1, timeout=30)
            os.killpg(process.pid, signal.SIGINT)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    printed = log.read_text()
    assert "Traceback" not in printed and "ERROR" not in printed
