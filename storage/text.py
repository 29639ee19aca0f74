"""Free text from people, made safe to store and show: control characters removed (PostgreSQL
cannot store NUL; others garble messages), length bounded."""

from __future__ import annotations

import re

# C0 and C1 control characters except tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str | None, limit: int) -> str:
    return _CONTROL.sub("", text or "").strip()[:limit]
