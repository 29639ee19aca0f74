"""What people can be interested in, and when they like to meet. Mission categories use the
same keys, so recommendations can match interests directly."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction (`make messages` looks for `N_`); `ui` translates it
    when it is shown. Defined here so `missions/` needs nothing from the bot."""
    return message


INTERESTS: dict[str, str] = {
    "walking": N_("Walking"),
    "running": N_("Running"),
    "badminton": N_("Badminton"),
    "board_games": N_("Board games"),
    "photos": N_("Photos"),
    "cafes": N_("Cafés"),
    "study": N_("Study"),
    "volunteering": N_("Volunteering"),
}

TIMES_OF_DAY: dict[str, str] = {
    "morning": N_("Mornings"),
    "afternoon": N_("Afternoons"),
    "evening": N_("Evenings"),
    "weekend": N_("Weekends"),
}
