"""The bot's commands: one list feeds `setMyCommands` (per language) and `/help`."""

from __future__ import annotations

from dataclasses import dataclass

from ui.i18n import N_


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # an English msgid, translated per language
    private_only: bool = True


COMMANDS: tuple[Command, ...] = (
    Command("start", N_("Start, or see what this bot does")),
    Command("help", N_("What I can do"), private_only=False),
    Command("missions", N_("Missions near you, most points first")),
    Command("meetups", N_("Open meetups in your neighbourhood")),
    Command("mymeetups", N_("Meetups you host or joined")),
    Command("map", N_("Open meetups on a map of your neighbourhood")),
    Command("host", N_("Host a meetup for a mission")),
    Command("checkin", N_("Check in with the code under the host's QR")),
    Command("points", N_("Your points, level and history")),
    Command("market", N_("Exchange points for gift vouchers")),
    Command("report", N_("Report someone you met at a meetup")),
    Command("block", N_("Stop seeing someone's meetups")),
    Command("profile", N_("Your profile card, and edit it")),
    Command("language", N_("한국어 / English")),
    Command("cancel", N_("Stop what we are doing")),
    Command("deleteme", N_("Delete your account and personal data")),
)
