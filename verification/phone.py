"""Phone numbers: normalised, kept only as a keyed hash (uniqueness) and a masked form (display).

The number itself is never stored or logged. The hash is an HMAC with the server secret, so a
leaked table cannot be reversed by hashing every possible Korean mobile number.
"""

from __future__ import annotations

import hashlib
import hmac
import re


def normalize(raw: str) -> str:
    """E.164 without the plus: `+82 10-1234-5678`, `821012345678`, `010-1234-5678` agree."""
    digits = re.sub(r"\D", "", raw)
    if not digits:
        raise ValueError("no digits in phone number")
    if digits.startswith("0") and not digits.startswith("00"):
        digits = "82" + digits[1:]  # a Korean domestic number
    return digits.removeprefix("00")


def protected_hash(secret: bytes, raw: str) -> str:
    return hmac.new(secret, normalize(raw).encode(), hashlib.sha256).hexdigest()


def masked(raw: str) -> str:
    """What a person sees of their own number: `010-****-5678` (Korea), `+44 ****5678` else."""
    digits = normalize(raw)
    if digits.startswith("82") and len(digits) >= 11:
        national = "0" + digits[2:]
        return f"{national[:3]}-****-{national[-4:]}"
    return f"+{digits[:2]} ****{digits[-4:]}"
