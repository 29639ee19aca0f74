"""`halsaram`: run the bot, migrate the database, seed reference data, manage admins.

halsaram run [--polling | --webhook URL] [--no-worker]
                          run the bot (offline sandbox when no token is set)
halsaram worker           run only the jobs (outbox, verification, scheduled posts)
halsaram db upgrade       apply database migrations
halsaram seed             load Seoul neighbourhoods and the demo mission catalogue
halsaram admin add ID     make a Telegram user an admin
halsaram market load FILE.csv
                          load gift voucher codes (duplicates refused)
halsaram missions generate --region songpa --count 50
                          store generated missions as drafts for admins to review
halsaram inspect-photo FILE...
                          one JSON line per photo: size, pHash, EXIF time and GPS
halsaram stats [--weeks N] [--until DATE] [--json] [--chart FILE.png]
                          figures for operators, per week and neighbourhood
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bot.logs import configure as configure_logging
from bot.settings import (
    SANDBOX_TOKEN,
    Settings,
    SettingsError,
    load_settings,
    webhook_url_problem,
)
from missions.timing import WEATHERS
from storage import migrate
from storage.clock import SystemClock
from storage.db import create_engine, session_factory, transaction
from storage.market import LoadResult, load_csv
from storage.seed import SONGPA, seed_all
from storage.users import grant_admin

log = logging.getLogger("halsaram")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="halsaram", description="할사람? Telegram bot")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run", help="run the bot (offline sandbox when no token is set)"
    )
    ingress = run_parser.add_mutually_exclusive_group()
    ingress.add_argument("--polling", action="store_true", help="long polling (the default)")
    ingress.add_argument("--webhook", metavar="URL", help="receive updates at this public URL")
    run_parser.add_argument(
        "--no-worker", action="store_true", help="leave the jobs to `halsaram worker` processes"
    )
    commands.add_parser("worker", help="run only the jobs: outbox, verification, schedules")
    db = commands.add_parser("db", help="database maintenance")
    db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="apply migrations"
    )
    commands.add_parser("seed", help="load regions and the demo mission catalogue")
    admin = commands.add_parser("admin", help="manage admins")
    admin_add = admin.add_subparsers(dest="admin_command", required=True).add_parser(
        "add", help="make a Telegram user an admin"
    )
    admin_add.add_argument("telegram_id", type=int)
    inspect_photo = commands.add_parser(
        "inspect-photo", help="print what the photo checks read from image files (JSON lines)"
    )
    inspect_photo.add_argument("files", nargs="+", type=Path)
    market_parser = commands.add_parser("market", help="gift voucher inventory")
    load = market_parser.add_subparsers(dest="market_command", required=True).add_parser(
        "load", help="load voucher codes from CSV (item,name_ko,name_en,cost,code)"
    )
    load.add_argument("csv_file", type=Path)
    missions_parser = commands.add_parser("missions", help="generated missions")
    generate = missions_parser.add_subparsers(dest="missions_command", required=True).add_parser(
        "generate", help="store generated missions as drafts for admins to review (/drafts)"
    )
    generate.add_argument("--region", default="songpa", choices=sorted(MISSION_REGIONS))
    generate.add_argument("--count", type=int, default=50, help="how many (1-200)")
    generate.add_argument("--seed", help="same seed, same missions (default: the date)")
    generate.add_argument("--weather", choices=WEATHERS, help="today's weather, if known")
    generate.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")
    stats_parser = commands.add_parser(
        "stats", help="figures for operators: signups, meetups, photos, points, per week"
    )
    stats_parser.add_argument("--weeks", type=int, default=4, help="local weeks, 1-52")
    stats_parser.add_argument(
        "--until", type=date.fromisoformat, help="last day, YYYY-MM-DD (default: now)"
    )
    stats_parser.add_argument("--json", action="store_true", help="one JSON object")
    stats_parser.add_argument("--chart", type=Path, help="also write the weekly chart here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "inspect-photo":
        return inspect_photos(args.files)  # needs no settings nor database
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "run":
            webhook = None if args.polling else (args.webhook or settings.webhook_url)
            if args.webhook and (
                problem := webhook_url_problem(args.webhook, settings.local_sandbox_host)
            ):
                raise SettingsError(f"--webhook: {problem}")
            return run(settings, webhook, with_worker=not args.no_worker)
        if args.command == "worker":
            return worker(settings)
        if args.command == "db":
            db_upgrade(settings)
            print("database is at the latest schema")
        elif args.command == "seed":
            regions, missions = asyncio.run(seed(settings))
            print(f"seeded {regions} neighbourhoods and {missions} missions")
        elif args.command == "admin":
            created = asyncio.run(add_admin(settings, args.telegram_id))
            print(f"{args.telegram_id} is {'now' if created else 'already'} an admin")
        elif args.command == "market":
            result = asyncio.run(load_vouchers(settings, read_csv(args.csv_file)))
            added, items = _many(result.added, "code"), _many(result.items, "item")
            print(f"loaded {added} for {items}", end="")
            refused = len(result.duplicates)
            print(f"; refused {_many(refused, 'duplicate')}" if refused else "")
        elif args.command == "missions":
            print(asyncio.run(generate_missions(settings, args)))
        elif args.command == "stats":
            print(asyncio.run(show_stats(settings, args)))
    except SettingsError as exc:
        print(f"halsaram: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"halsaram: {exc}", file=sys.stderr)
        return 2
    return 0


def inspect_photos(files: Sequence[Path]) -> int:
    """One JSON object per file; an unreadable file gets an `error` field, never a failure."""
    from verification.photos import PhotoReport, inspect

    for path in files:
        try:
            report = inspect(path.read_bytes())
        except OSError as exc:
            report = PhotoReport(error=f"cannot open: {exc.strerror or type(exc).__name__}")
        print(json.dumps(report.as_json(str(path)), ensure_ascii=False), flush=True)
    return 0


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def db_upgrade(settings: Settings) -> None:
    _ensure_sqlite_dir(settings.database_url)
    migrate.upgrade(settings.database_url)


async def seed(settings: Settings) -> tuple[int, int]:
    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            result = await seed_all(session, SystemClock(), settings.district_codes)
        return result.regions, result.missions
    finally:
        await engine.dispose()


async def add_admin(settings: Settings, telegram_id: int) -> bool:
    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            return await grant_admin(session, telegram_id, SystemClock())
    finally:
        await engine.dispose()


# Region names the CLI accepts, as district codes: "songpa" means its enabled dongs.
MISSION_REGIONS = {"songpa": SONGPA}


async def generate_missions(settings: Settings, args: argparse.Namespace) -> str:
    """Generates missions (OpenAI when configured, else the offline rules) and stores them
    as drafts; returns the line to print."""
    from missions import ai
    from missions.rules import Conditions
    from storage import missions

    if not 1 <= args.count <= 200:
        raise ValueError("--count must be between 1 and 200")
    day = args.date or SystemClock().now().astimezone(settings.zone).date()
    config = None
    if settings.openai_api_key is not None:
        config = ai.AiConfig(
            api_key=settings.openai_api_key.get_secret_value(),
            model=settings.openai_model,
            base_url=settings.openai_base_url,
            timeout_seconds=settings.openai_timeout_seconds,
        )
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            regions = await missions.enabled_regions(session, MISSION_REGIONS[args.region])
            if not regions:
                raise ValueError(f"no open neighbourhoods in {args.region}; run `halsaram seed`")
            taken = await missions.keys_of_day(session, f"{day:%Y%m%d}-")
            interests = await missions.interest_counts(session, [r.id for r in regions])
        conditions = Conditions(day, weather=args.weather, interests=tuple(interests[:3]))
        result = await ai.generate(
            config, conditions, args.count, seed=args.seed or f"{args.region}-{day}", avoid=taken
        )
        async with transaction(sessions) as session:
            saved = await missions.save_drafts(session, result.drafts, regions, SystemClock().now())
    finally:
        await engine.dispose()
    by_ai = sum(1 for m in saved if m.source == "ai")
    line = (
        f"stored {len(saved)} draft missions for {args.region} "
        f"({by_ai} by AI, {len(saved) - by_ai} by rules); review them with /drafts"
    )
    if config is not None and result.fallback:
        line += f"\nAI generation fell back to the offline rules: {result.fallback}"
    return line


async def show_stats(settings: Settings, args: argparse.Namespace) -> str:
    """The operators' figures up to now, as text (English) or JSON; optionally the chart."""
    from storage import stats
    from ui.stats import chart_png, report_text

    if not 1 <= args.weeks <= 52:
        raise ValueError("--weeks must be between 1 and 52")
    until = SystemClock().now()
    if args.until is not None:  # the whole of that local day
        until = datetime.combine(args.until + timedelta(days=1), datetime.min.time(), settings.zone)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            report = await stats.report(session, until=until, zone=settings.zone, weeks=args.weeks)
    finally:
        await engine.dispose()
    if args.chart is not None:
        args.chart.write_bytes(chart_png("en", report))
    if args.json:
        return json.dumps(report.as_json(), ensure_ascii=False)
    return report_text("en", report)


DEMO_VOUCHERS = Path(__file__).resolve().parents[1] / "storage" / "data" / "demo_vouchers.csv"


def _many(count: int, noun: str) -> str:
    """ "1 code" / "3 codes": the operator's console is in English (issue 23)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def read_csv(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc


async def load_vouchers(settings: Settings, text: str) -> LoadResult:
    """Loads codes from CSV text; codes already known are refused, not doubled."""
    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            return await load_csv(session, text)
    finally:
        await engine.dispose()


def run(settings: Settings, webhook_url: str | None, with_worker: bool) -> int:
    """Runs the bot; with no token, against a local sandbox it starts (seeded, with demo data)."""
    from bot.runtime import serve

    db_upgrade(settings)
    with _sandbox_if_offline(settings) as settings:
        if settings.offline:
            asyncio.run(seed(settings))
            # Demo vouchers, so the offline market has something to exchange.
            asyncio.run(load_vouchers(settings, read_csv(DEMO_VOUCHERS)))
        log.info("bot is running against %s", settings.telegram_api_url)
        asyncio.run(serve(settings, webhook_url=webhook_url, with_worker=with_worker))
    return 0


def worker(settings: Settings) -> int:
    """Runs only the jobs (outbox, verification, scheduled posts) against the database."""
    from bot.runtime import work

    db_upgrade(settings)
    asyncio.run(work(settings))
    return 0


@contextlib.contextmanager
def _sandbox_if_offline(settings: Settings) -> Iterator[Settings]:
    """Starts `sandbox/` as its own process (the bot never imports it) and points the bot at it."""
    if not settings.offline or settings.telegram_api_url != "https://api.telegram.org":
        yield settings
        return
    host, port = settings.sandbox_host, settings.sandbox_port
    base = f"http://{host}:{port}"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "sandbox.server", "--host", host, "--port", str(port),
        "--token", SANDBOX_TOKEN, "--state-file", str(settings.data_dir / "sandbox.json"),
        # Only this bot talks to it: a webhook on its host may be http:// (as the settings allow).
        "--local-http-webhooks",
    ]  # fmt: skip
    process = subprocess.Popen(command)
    try:
        _wait_until_up(f"{base}/healthz", process)
        print(f"\n  할사람? web chat: {base}/  (offline sandbox, no Telegram token)\n", flush=True)
        yield settings.model_copy(update={"telegram_api_url": base})
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SettingsError(f"the sandbox exited at start (is port {url} free?)")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise SettingsError(f"the sandbox did not answer at {url}")


if __name__ == "__main__":
    sys.exit(main())
