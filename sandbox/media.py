"""Photos as Telegram stores them: re-encoded JPEGs in several sizes, without EXIF; and what a
video's bytes say (its size and length, read with PyAV) for the Video and VideoNote objects.

A person's HEIC picked as a photo is converted (Telegram's apps send a JPEG); a bot's HEIC
upload to sendPhoto is not an image Telegram takes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

# Longest side of each stored size (Telegram's "s", "m", "x", "y", "w"): the largest is 2560.
PHOTO_SIDES = (90, 320, 800, 1280, 2560)
JPEG_QUALITY = 87
# Formats a bot's sendPhoto upload is refused in (it must go as a document); a person's app
# converts them to JPEG itself.
NOT_FOR_SEND_PHOTO = frozenset({"HEIF"})

register_heif_opener()


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can read."""


def photo_sizes(data: bytes, *, by_bot: bool = False) -> list[tuple[int, int, bytes]]:
    """Re-encodes an image as JPEGs (width, height, bytes), smallest first, never upscaled.

    `by_bot`: a bot's upload, which is refused in a format of `NOT_FOR_SEND_PHOTO`."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if by_bot and opened.format in NOT_FOR_SEND_PHOTO:
                raise NotAnImage(f"sendPhoto does not take {opened.format}")
            # Applying the orientation first keeps the picture upright once EXIF is gone.
            image = ImageOps.exif_transpose(opened) or opened
            image = _to_rgb(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(str(exc)) from exc
    longest = max(image.size)
    sides = sorted({min(side, longest) for side in PHOTO_SIDES})
    return [_encode(image, side, longest) for side in sides]


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image.copy()
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, side: int, longest: int) -> tuple[int, int, bytes]:
    scale = side / longest
    width = max(1, round(image.width * scale))
    height = max(1, round(image.height * scale))
    resized = image if (width, height) == image.size else image.resize((width, height))
    out = io.BytesIO()
    # No exif= and no icc_profile= arguments: the saved JPEG carries no metadata.
    resized.save(out, format="JPEG", quality=JPEG_QUALITY)
    return width, height, out.getvalue()


def read_codes(data: bytes) -> list[str]:
    """The texts of the QR codes (and other barcodes) a picture shows, as a phone's camera reads
    them (ZXing, the decoder behind many camera apps); empty when it shows none."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = _to_rgb(ImageOps.exif_transpose(opened) or opened)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(str(exc)) from exc
    return [found.text for found in zxingcpp.read_barcodes(image) if found.valid]


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image, or None when it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


@dataclass(frozen=True)
class VideoFacts:
    """A video's picture size and length, as a client reads them before sending."""

    width: int
    height: int
    seconds: int


def video_facts(data: bytes) -> VideoFacts | None:
    """Width, height and whole seconds of a video, or None when it is not one."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = (container.duration or 0) / av.time_base
            context = stream.codec_context
            return VideoFacts(context.width, context.height, round(seconds))
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return None
