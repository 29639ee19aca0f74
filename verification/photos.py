"""What a photo's bytes say: size after orientation, perceptual hash, EXIF taken-time and GPS.

Pure and defensive: orientation is applied before anything else (a rotation changes a pHash by
about half its bits); large JPEGs are decoded at a reduced scale with `Image.draft` (a pHash
needs 32×32 pixels, not 12 million); a broken, truncated, renamed or hostile file yields a
reason instead of an exception. Telegram strips EXIF from compressed photos, so missing EXIF
is normal and never counts against a photo; `source_signal` tells the reviewer which kind the
checks ran on. iPhone originals (HEIC/HEIF, sent as files) are read through pillow-heif, and
`viewable_jpeg` turns them into a JPEG an admin's Telegram can show.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import imagehash
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from verification.geo import distance_m

# Pillow opens HEIC/HEIF from here on (in this process: inspect, the AI judge's preview).
register_heif_opener()

# Refused before decoding: a decompression bomb declares a huge size in a small file.
MAX_PIXELS = 60_000_000
# Decoded size for hashing; Image.draft picks the smallest JPEG scale at least this big.
HASH_SIDE = 512
# What Telegram clients show inline; anything else is converted for the review card.
VIEWABLE = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
VIEW_QUALITY = 90
# How far the EXIF time may be from the meetup and still count as "during it".
TIME_SLACK = timedelta(minutes=30)
NEAR_METRES = 500.0
_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_FORMATS_BY_SUFFIX = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
    ".gif": "GIF", ".heic": "HEIF", ".heif": "HEIF",
}  # fmt: skip


@dataclass(frozen=True)
class Gps:
    lat: float
    lon: float


@dataclass(frozen=True)
class PhotoReport:
    """What `inspect` found. `error` is set when the image could not be read at all."""

    width: int | None = None
    height: int | None = None
    format: str | None = None
    phash: str | None = None
    taken_at: datetime | None = None  # naive: EXIF has no zone unless OffsetTimeOriginal says
    gps: Gps | None = None
    exif_error: str | None = None
    error: str | None = None

    def as_json(self, file: str) -> dict[str, Any]:
        """The `halsaram inspect-photo` object for one file."""
        data: dict[str, Any] = {
            "file": file,
            "width": self.width,
            "height": self.height,
            "phash": self.phash,
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "gps": {"lat": self.gps.lat, "lon": self.gps.lon} if self.gps else None,
            "exif_error": self.exif_error,
        }
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class Signal:
    """One check's result for the reviewer: ok, warn or unknown, with a reason code and values."""

    check: str
    result: str
    reason: str
    values: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check, "result": self.result, "reason": self.reason, **self.values}


def expected_format(filename: str | None) -> str | None:
    """The format a file name promises (`x.jpg` → JPEG), if it promises one."""
    if not filename or "." not in filename:
        return None
    return _FORMATS_BY_SUFFIX.get("." + filename.rsplit(".", 1)[1].lower())


def source_signal(as_document: bool, report: PhotoReport) -> Signal:
    """What the checks ran on: the original file (EXIF kept, in `format`) or a photo Telegram
    compressed (no EXIF: no time or place to check)."""
    if as_document:
        return Signal("source", "ok", "original", {"format": report.format or "?"})
    return Signal("source", "unknown", "compressed", {})


def viewable_jpeg(data: bytes, report: PhotoReport) -> bytes | None:
    """A JPEG of an image Telegram cannot show inline (HEIC): upright, EXIF kept (time and
    place stay with the stored copy). None when the image is viewable as it is, or unreadable.
    """
    if report.error is not None or report.format in VIEWABLE:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image) or image
            exif = upright.info.get("exif")  # without the orientation it applied
            out = io.BytesIO()
            extra = {"exif": exif} if isinstance(exif, bytes) else {}
            upright.convert("RGB").save(out, format="JPEG", quality=VIEW_QUALITY, **extra)
            return out.getvalue()
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError):
        return None


def inspect(data: bytes, *, fast: bool = True) -> PhotoReport:
    """Reads one image; never raises for bad input. `fast=False` decodes at full size."""
    try:
        # Pillow only warns about corrupt EXIF (while opening) and reads what it can; it warns
        # about huge images too (and raises above twice its limit). The job inspects one photo
        # at a time, so catching warnings (process-wide state) here is safe.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            report = _inspect(data, fast)
        if report.exif_error is None and any("exif" in str(w.message).lower() for w in caught):
            report = replace(report, exif_error="corrupt EXIF")
        return report
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return PhotoReport(error="too many pixels (decompression bomb)")
    except UnidentifiedImageError:
        return PhotoReport(error="not an image")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        truncated = "truncated" in str(exc) or isinstance(exc, EOFError)
        return PhotoReport(error="truncated image" if truncated else "unreadable image")
    except MemoryError:
        return PhotoReport(error="too large to decode")


def _inspect(data: bytes, fast: bool) -> PhotoReport:
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format
        width, height = image.size
        if width * height > MAX_PIXELS:
            return PhotoReport(width=width, height=height, format=fmt, error="too many pixels")
        exif, exif_error = _exif(image)
        orientation = _orientation(exif)
        if orientation in _ROTATED:
            width, height = height, width
        if fast and fmt == "JPEG":
            image.draft("RGB", (HASH_SIDE, HASH_SIDE))
        image.load()
        upright = _transpose(image, orientation)
        phash = str(imagehash.phash(upright))
    taken_at, gps, detail_error = _details(exif)
    return PhotoReport(
        width=width, height=height, format=fmt, phash=phash, taken_at=taken_at, gps=gps,
        exif_error=exif_error or detail_error,
    )  # fmt: skip


def _exif(image: Image.Image) -> tuple[Image.Exif | None, str | None]:
    if "exif" not in image.info and image.format != "TIFF":
        return None, None
    try:
        exif = image.getexif()
        exif.get_ifd(ExifTags.IFD.Exif)  # parses the sub-IFD now, so breakage shows here
        return exif, None
    except Exception:  # EXIF parsers fail in many ways; any is "broken EXIF"
        return None, "unreadable EXIF"


def _orientation(exif: Image.Exif | None) -> int:
    if exif is None:
        return 1
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _transpose(image: Image.Image, orientation: int) -> Image.Image:
    """`ImageOps.exif_transpose`, with the orientation we already read safely."""
    if orientation == 1:
        return image
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # a broken tag must not stop the hash
        method = {
            2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }[orientation]  # fmt: skip
        return image.transpose(method)


def _details(exif: Image.Exif | None) -> tuple[datetime | None, Gps | None, str | None]:
    if exif is None:
        return None, None, None
    error = None
    try:
        taken_at = _taken_at(exif)
    except (ValueError, TypeError):
        taken_at, error = None, "unreadable EXIF time"
    try:
        gps = _gps(exif)
    except (ValueError, TypeError, ZeroDivisionError, KeyError, IndexError):
        gps, error = None, error or "unreadable EXIF GPS"
    return taken_at, gps, error


def _taken_at(exif: Image.Exif) -> datetime | None:
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    raw = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not raw:
        return None
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    moment = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    offset = sub.get(ExifTags.Base.OffsetTimeOriginal)
    if isinstance(offset, str) and len(offset) == 6 and offset[0] in "+-":
        return datetime.fromisoformat(f"{moment.isoformat()}{offset}")
    return moment


def _gps(exif: Image.Exif) -> Gps | None:
    info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if not info or 2 not in info or 4 not in info:
        return None
    lat = _degrees(info[2]) * (-1 if str(info.get(1, "N")).upper().startswith("S") else 1)
    lon = _degrees(info[4]) * (-1 if str(info.get(3, "E")).upper().startswith("W") else 1)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0.0, 0.0):
        raise ValueError("GPS out of range")
    return Gps(round(lat, 6), round(lon, 6))


def _degrees(value: Any) -> float:
    d, m, s = (float(part) for part in value)
    return d + m / 60 + s / 3600


def taken_at_utc(report: PhotoReport, zone: tzinfo) -> datetime | None:
    """The capture time in UTC, reading a zone-less EXIF time as local time in `zone`."""
    if report.taken_at is None:
        return None
    taken = report.taken_at
    try:
        return (taken if taken.tzinfo else taken.replace(tzinfo=zone)).astimezone(UTC)
    except (OverflowError, ValueError):  # a camera clock at year 1 or 9999
        return None


def meetup_signals(
    report: PhotoReport,
    *,
    starts_at: datetime,
    ends_at: datetime,
    lat: float,
    lon: float,
    zone: tzinfo,
    expected: str | None = None,
) -> list[Signal]:
    """The photo's own signals against its meetup's time and place (and its file name)."""
    if report.error is not None:
        return [Signal("image", "warn", "unreadable", {"detail": report.error})]
    found: list[Signal] = []
    if expected and report.format and expected != report.format:
        found.append(
            Signal("format", "warn", "renamed", {"actual": report.format, "named": expected})
        )
    if report.exif_error:
        found.append(Signal("exif", "unknown", "broken_exif", {"detail": report.exif_error}))
    if report.taken_at is None:
        found.append(Signal("time", "unknown", "no_time", {}))
    else:
        # EXIF times are the camera's local time; ours is Seoul unless the file says otherwise.
        aware = taken_at_utc(report, zone)
        local = aware.astimezone(zone) if aware else report.taken_at
        during = aware is not None and starts_at - TIME_SLACK <= aware <= ends_at + TIME_SLACK
        found.append(
            Signal(
                "time", "ok" if during else "warn", "during" if during else "outside",
                {"taken": local.strftime("%Y-%m-%d %H:%M")},
            )
        )  # fmt: skip
    if report.gps is None:
        found.append(Signal("place", "unknown", "no_gps", {}))
    else:
        metres = round(distance_m(report.gps.lat, report.gps.lon, lat, lon))
        near = metres <= NEAR_METRES
        found.append(Signal("place", "ok" if near else "warn", "near" if near else "far",
                            {"metres": metres}))  # fmt: skip
    return found


# A camera clock a few minutes off is common; more than this before check-in is not.
CHECKIN_SLACK = timedelta(minutes=5)


def checkin_signal(
    report: PhotoReport, checked_in_at: datetime | None, zone: tzinfo
) -> Signal | None:
    """A warning when the EXIF time is before the sender checked in (an older photo)."""
    taken = taken_at_utc(report, zone)
    if taken is None or checked_in_at is None or taken >= checked_in_at - CHECKIN_SLACK:
        return None
    local = taken.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    checked = checked_in_at.astimezone(zone).strftime("%H:%M")
    return Signal("checkin", "warn", "before_checkin", {"taken": local, "checked_in": checked})
