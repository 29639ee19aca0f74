"""A small corpus of camera-like JPEGs the tests make with Pillow: rotated by the EXIF
orientation tag, with GPS and capture time, without EXIF, with broken EXIF, truncated, a PNG
named .jpg, a decompression bomb, and an iPhone's HEIC original (encoded with pillow-heif).
Deterministic: the same seed, the same bytes."""

from __future__ import annotations

import io
import random
import struct
import zlib
from datetime import datetime

import pillow_heif
from PIL import ExifTags, Image, ImageDraw, TiffImagePlugin

SEOKCHON_LAKE = (37.5096, 127.1027)


def scene(seed: int, size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """A picture with structure (a gradient and shapes), different per seed, not symmetric."""
    rng = random.Random(seed)
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(width // 10, width // 3), rng.randrange(height // 10, height // 3)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        else:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
    # A bright bar in the top-left corner makes every rotation a different picture.
    draw.rectangle((0, 0, width // 3, height // 8), fill=(255, 255, 255))
    return image


def _rational(value: float) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(round(value * 10000), 10000)


def _dms(degrees: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    d = int(degrees)
    m = int((degrees - d) * 60)
    s = (degrees - d - m / 60) * 3600
    return (_rational(d), _rational(m), _rational(s))


def camera_jpeg(
    seed: int = 1,
    *,
    size: tuple[int, int] = (1200, 900),
    orientation: int | None = None,
    taken: datetime | None = None,
    gps: tuple[float, float] | None = None,
    image: Image.Image | None = None,
    quality: int = 90,
) -> bytes:
    """A JPEG as a phone writes it: the EXIF tags asked for, pixels stored unrotated."""
    picture = image if image is not None else scene(seed, size)
    exif = _exif(orientation, taken, gps)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def iphone_heic(
    seed: int = 1,
    *,
    size: tuple[int, int] = (1200, 900),
    taken: datetime | None = None,
    gps: tuple[float, float] | None = None,
) -> bytes:
    """A HEIC original as an iPhone's "send as file" delivers it: HEVC-coded, with EXIF (Make
    Apple, DateTimeOriginal, GPS). pillow-heif encodes it (x265 is in its wheel)."""
    exif = _exif(None, taken, gps, make="Apple")
    out = io.BytesIO()
    heif = pillow_heif.from_pillow(scene(seed, size))
    heif.save(out, quality=80, exif=exif.tobytes())
    return out.getvalue()


def _exif(
    orientation: int | None,
    taken: datetime | None,
    gps: tuple[float, float] | None,
    make: str = "Halsaram Test Camera",
) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = make
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if taken is not None:
        stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
        exif[ExifTags.Base.DateTime] = stamp
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = stamp
    if gps is not None:
        lat, lon = gps
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        info[ExifTags.GPS.GPSLatitude] = _dms(abs(lat))
        info[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        info[ExifTags.GPS.GPSLongitude] = _dms(abs(lon))
    return exif


def rotated_as_phone(seed: int, orientation: int = 6) -> bytes:
    """The upright `scene(seed)` stored sideways with orientation 6 (rotate 90° to view)."""
    upright = scene(seed)
    # Orientation 6 means "rotate 90° clockwise to show": the sensor stored it turned left.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    return camera_jpeg(image=stored, orientation=orientation)


def plain_jpeg(seed: int = 1, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A JPEG without any EXIF (as Telegram's compressed photos are)."""
    out = io.BytesIO()
    scene(seed, size).save(out, format="JPEG", quality=90)
    return out.getvalue()


def broken_exif_jpeg(seed: int = 1) -> bytes:
    """A JPEG whose APP1 Exif segment is garbage after a valid-looking header."""
    good = plain_jpeg(seed)
    payload = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + bytes(range(256)) * 2
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return good[:2] + segment + good[2:]


def truncated_jpeg(seed: int = 1) -> bytes:
    data = plain_jpeg(seed)
    return data[: len(data) // 2]


def png_named_jpg(seed: int = 1) -> bytes:
    """PNG bytes (the test names the file .jpg)."""
    out = io.BytesIO()
    scene(seed).save(out, format="PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb(side: int = 40_000) -> bytes:
    """A small PNG that declares side×side pixels (1.6 gigapixels): rows of zeros compress to
    almost nothing, so a decoder that trusts the header would need gigabytes."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" * (side + 1)
    compressor = zlib.compressobj(9)
    # Only the first rows are written: enough for a valid start, the size is in the header.
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def big_camera_jpeg(seed: int = 7) -> bytes:
    """A 12-megapixel (4000×3000) camera JPEG with EXIF and sensor-like noise (so it weighs
    megabytes, as a phone's does), for the benchmark."""
    size = (4000, 3000)
    noise = Image.effect_noise(size, 48).convert("RGB")
    picture = Image.blend(scene(seed, size), noise, 0.25)
    return camera_jpeg(
        image=picture, orientation=1, taken=datetime(2026, 11, 25, 12, 10), quality=92
    )
