"""Photos as Telegram stores them: re-encoded JPEGs in several sizes, without EXIF."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

# Longest side of each stored size (Telegram's "s", "m", "x", "y").
PHOTO_SIDES = (90, 320, 800, 1280)
JPEG_QUALITY = 87


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can read."""


def photo_sizes(data: bytes) -> list[tuple[int, int, bytes]]:
    """Re-encodes an image as JPEGs (width, height, bytes), smallest first, never upscaled."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
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


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image, or None when it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
