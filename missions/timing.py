"""Seasons, parts of the day and weather: the conditions a mission is good for."""

from __future__ import annotations

from datetime import date, datetime

SEASONS = ("spring", "summer", "autumn", "winter")
# Parts of the day a mission can be valid for; "weekend" in TIMES_OF_DAY is a preference of
# people, not of missions.
PARTS_OF_DAY = ("morning", "afternoon", "evening")
WEATHERS = ("clear", "cloudy", "rain", "snow", "heat", "cold")


def season_of(day: date) -> str:
    """Meteorological seasons in Korea: March-May spring, June-August summer, and so on."""
    return SEASONS[((day.month - 3) % 12) // 3]


def part_of_day(local: datetime) -> str | None:
    """Morning 05-12, afternoon 12-17, evening 17-23 (local time); None at night."""
    hour = local.hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 23:
        return "evening"
    return None
