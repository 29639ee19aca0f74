"""QR images for check-in: the deep link as a QR code, with the meeting title under it."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

# A CJK font makes Korean titles readable; Debian's fonts-noto-cjk provides one. Without it
# the title falls back to Pillow's font and the caption of the message still carries it.
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKkr-Regular.otf",
)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


def checkin_qr_png(link: str, title: str, code: str) -> bytes:
    """A PNG: the QR code of `link`, the title and the typed fallback code below it."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(link)
    qr.make(fit=True)
    code_image = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    width = code_image.width
    canvas = Image.new("RGB", (width, code_image.height + 110), "white")
    canvas.paste(code_image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for text, size, y in ((title, 28, code_image.height + 8), (code, 36, code_image.height + 52)):
        font = _font(size)
        text_width = draw.textlength(text, font=font)
        draw.text(((width - text_width) / 2, y), text, fill="black", font=font)
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    return out.getvalue()
