"""The operators' figures in words and as a chart: `/stats`, the weekly post to the admin
group and `halsaram stats` all show these.

The numbers come from `storage/stats.py`; this module only words them and picks the chart's
series. Nothing about a person is shown: counts, rates and points only.
"""

from __future__ import annotations

from datetime import timedelta

from missions.chart import weekly_bars
from storage.stats import Figures, Report
from ui.i18n import localized, points, t, tn

WEEKS = 4  # the weeks `/stats` words
CHART_WEEKS = 8  # the weeks its chart (and the weekly post's) shows


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{round(value * 100)}%"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _week_label(start: object) -> str:
    return f"{start:%m/%d}"


def _row(lang: str, label: str, f: Figures) -> str:
    # Each count says its noun with the plural gettext gives ("1 signup", "0/1 meetup held").
    return t(
        lang, "{label}: {signups}, {meetups}, check-in {checkin}, {photos}, {points} P",
        label=label,
        signups=tn(lang, "{count} signup", "{count} signups", f.signups),
        meetups=tn(lang, "{held}/{count} meetup held", "{held}/{count} meetups held",
                   f.meetups_created, held=f.meetups_held),
        checkin=_percent(f.checkin_rate),
        photos=tn(lang, "{approved}/{count} photo approved", "{approved}/{count} photos approved",
                  f.decided, approved=f.approved),
        points=f"{f.points_issued:,}",
    )  # fmt: skip


def report_text(lang: str, report: Report) -> str:
    """The whole report as one message: totals, then per week, then per neighbourhood."""
    total = report.total()
    first, last = report.weeks[0], report.weeks[-1] + timedelta(days=6)
    lines = [
        t(lang, "📊 Figures from Monday {first} to Sunday {last}", first=f"{first:%Y-%m-%d}",
          last=f"{last:%Y-%m-%d}"),
        t(lang, "👋 Signups: {signups} · verified neighbourhoods: {verified}",
          signups=total.signups, verified=total.verified),
        t(lang, "🗓 Meetups: {created} created, {held} held, {cancelled} cancelled",
          created=total.meetups_created, held=total.meetups_held,
          cancelled=total.meetups_cancelled),
        t(lang, "✅ Check-in rate: {rate} ({present}/{seats}) · no-shows: {no_shows}",
          rate=_percent(total.checkin_rate), present=total.checked_in, seats=total.seats,
          no_shows=total.no_shows),
        t(lang, "📸 Photos: {photos} sent, {pending} waiting now, median {minutes} min to a "
          "decision, {rate} approved ({approved}/{decided}), {duplicates}",
          photos=total.photos, pending=report.pending,
          minutes=_minutes(total.median_decision_minutes), rate=_percent(total.approval_rate),
          approved=total.approved, decided=total.decided,
          duplicates=tn(lang, "{count} duplicate caught", "{count} duplicates caught",
                        total.duplicates)),
        t(lang, "⭐ Points: {issued} issued; {outstanding} held by people against {stock} in "
          "voucher stock ({codes})",
          issued=f"{total.points_issued:,}", outstanding=f"{report.points_outstanding:,}",
          stock=f"{report.voucher_value:,}",
          codes=tn(lang, "{count} code", "{count} codes", report.voucher_codes)),
    ]  # fmt: skip
    if report.liability_gap:
        lines.append(
            t(lang, "⚠️ The voucher stock is {gap} short of what people hold.",
              gap=points(lang, report.liability_gap))
        )  # fmt: skip
    lines += ["", t(lang, "By week (from Monday):")]
    lines += [_row(lang, _week_label(w), report.week(w)) for w in report.weeks]
    lines += ["", t(lang, "By neighbourhood:")]
    for region_id in report.regions():
        names = report.region_names.get(region_id or 0)
        label = localized(lang, names, "name") if names else t(lang, "(none)")
        lines.append(_row(lang, label, report.region(region_id)))
    return "\n".join(lines)


def chart_png(lang: str, report: Report) -> bytes:
    """The weekly chart: signups, meetups held and photos approved per week."""
    weeks = report.weeks
    per_week = [report.week(w) for w in weeks]
    return weekly_bars(
        t(lang, "Halsaram weekly figures, {first} to {last}", first=f"{weeks[0]:%Y-%m-%d}",
          last=f"{weeks[-1]:%Y-%m-%d}"),
        [_week_label(w) for w in weeks],
        [
            (t(lang, "Signups"), [f.signups for f in per_week]),
            (t(lang, "Meetups held"), [f.meetups_held for f in per_week]),
            (t(lang, "Photos approved"), [f.approved for f in per_week]),
        ],
        t(lang, "Points held {outstanding} · voucher stock {stock}",
          outstanding=f"{report.points_outstanding:,}", stock=f"{report.voucher_value:,}"),
    )  # fmt: skip
