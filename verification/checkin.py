"""Check-in tokens: what the host's QR code carries, and the short typed code under it.

A token is fixed-size binary — version, meeting id, time window, truncated HMAC-SHA256 under
the server secret — base64url-encoded without padding, so it is a valid deep-link payload
(`t.me/<bot>?start=<payload>`: at most 64 characters of A-Z, a-z, 0-9, _ and -). The window
rotates every `rotation_seconds`; the current and the previous window are accepted, so a
screenshot forwarded later stops working.

The typed code rotates with the token: the same meeting and window under a key of its own
(another derivation of the same secret), cut to `CODE_LENGTH` characters of an alphabet
without look-alikes, so it can be read aloud and typed, and is worth something only to
someone looking at the host's screen now. A code carries no meeting id: `matching` finds the
meeting among the candidates it is given (those whose check-in window is open), comparing in
constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

VERSION = 1
_LAYOUT = struct.Struct(">BQI")  # version, meeting id, window number
_CODE_INPUT = struct.Struct(">QI")  # meeting id, window number
_MAC_BYTES = 12
TOKEN_BYTES = _LAYOUT.size + _MAC_BYTES
# Typed codes avoid look-alike characters (0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


class InvalidToken(ValueError):
    """Forged, altered, malformed or expired."""


@dataclass(frozen=True)
class TokenSigner:
    secret: bytes
    rotation_seconds: int = 180

    def _key(self) -> bytes:
        # A key of its own, so a check-in MAC can never be confused with another use of the secret.
        return hmac.new(self.secret, b"halsaram-checkin-v1", hashlib.sha256).digest()

    def _code_key(self) -> bytes:
        # Another derivation: a typed code tells nothing about the token's MAC, nor the reverse.
        return hmac.new(self.secret, b"halsaram-checkin-code-v1", hashlib.sha256).digest()

    def window(self, now: datetime) -> int:
        return int(now.timestamp()) // self.rotation_seconds

    def issue(self, meeting_id: int, now: datetime) -> str:
        """The token for this meeting and the current window (`ui.links` makes it a link)."""
        body = _LAYOUT.pack(VERSION, meeting_id, self.window(now))
        mac = hmac.new(self._key(), body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def verify(self, encoded: str, now: datetime) -> int:
        """The meeting id a token checks in to; raises `InvalidToken` otherwise."""
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidToken("not base64url") from exc
        # Re-encoding must give the same text: rejects non-canonical spellings of one token.
        if len(raw) != TOKEN_BYTES or base64.urlsafe_b64encode(raw).decode().rstrip("=") != encoded:
            raise InvalidToken("wrong size")
        body, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        expected = hmac.new(self._key(), body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise InvalidToken("bad signature")
        version, meeting_id, window = _LAYOUT.unpack(body)
        if version != VERSION:
            raise InvalidToken("unknown version")
        if window not in (self.window(now), self.window(now) - 1):
            raise InvalidToken("expired")
        return int(meeting_id)

    def code_of_window(self, meeting_id: int, window: int) -> str:
        """The typed code of one meeting in one window."""
        mac = hmac.new(
            self._code_key(), _CODE_INPUT.pack(meeting_id, window), hashlib.sha256
        ).digest()
        number = int.from_bytes(mac[:8], "big")  # 2**64 over 31**6: no visible bias
        letters = []
        for _ in range(CODE_LENGTH):
            number, index = divmod(number, len(CODE_ALPHABET))
            letters.append(CODE_ALPHABET[index])
        return "".join(letters)

    def code(self, meeting_id: int, now: datetime) -> str:
        """The code shown under the QR now (it changes with the token)."""
        return self.code_of_window(meeting_id, self.window(now))

    def matching(
        self, typed: str, meeting_ids: Iterable[int], now: datetime, *, back: int = 1
    ) -> list[tuple[int, int]]:
        """(meeting id, age) of each meeting among `meeting_ids` whose code of the current
        window (age 0) or of one of the `back` windows before it (age 1…) is `typed`,
        normalised; the newest age when several are. A check-in accepts ages 0 and 1, as
        for tokens. Every candidate and window is compared, each in constant time, so the
        time taken says nothing about which one matched."""
        wanted = normalize_code(typed).encode()
        current = self.window(now)
        found = []
        for meeting_id in meeting_ids:
            ages = [
                age
                for age in range(back + 1)
                if hmac.compare_digest(
                    wanted, self.code_of_window(meeting_id, current - age).encode()
                )
            ]
            if ages:
                found.append((meeting_id, min(ages)))
        return found


def new_code() -> str:
    """A random code of the same shape: what `meetings.checkin_code` held before codes rotated
    (a fixed code per meetup, no longer accepted for check-in)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What a person typed, as stored: upper case, no spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
