"""Message text as Telegram stores it: plain text plus entities (offsets in UTF-16 units)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}")
_URL = re.compile(r"(?<![\w/])https?://[^\s]+")

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}


class EntityError(ValueError):
    """The text does not parse under its parse_mode (Telegram answers 400)."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def detect_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram finds in a person's plain text: commands, mentions, links."""
    found: list[tuple[int, int, str]] = []
    for pattern, kind in ((_COMMAND, "bot_command"), (_MENTION, "mention"), (_URL, "url")):
        for m in pattern.finditer(text):
            found.append((m.start(), m.end(), kind))
    found.sort()
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for start, end, kind in found
    ]


def merge_entities(
    explicit: list[dict[str, Any]], detected: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Adds the links and commands Telegram finds itself, where no explicit entity lies."""

    def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return a["offset"] < b["offset"] + b["length"] and b["offset"] < a["offset"] + a["length"]

    extra = [d for d in detected if not any(overlaps(d, e) for e in explicit)]
    return sorted([*explicit, *extra], key=lambda e: (e["offset"], -e["length"]))


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Applies a bot's parse_mode: returns the visible text and its entities."""
    if parse_mode is None or parse_mode == "":
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode in ("markdown", "markdownv2"):
        # Markdown is accepted but not interpreted: the text is shown as sent.
        return text, []
    raise EntityError(f"Unsupported parse_mode {parse_mode!r}")


class _HtmlToEntities(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        # Not `offset`: HTMLParser uses that name for its own position.
        self.text_pos = 0
        self.stack: list[tuple[str, int, dict[str, Any]]] = []
        self.entities: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        entity = self._entity_for(tag, values)
        self.stack.append((tag, self.text_pos, entity))

    def _entity_for(self, tag: str, attrs: dict[str, str]) -> dict[str, Any]:
        if tag in _SIMPLE_TAGS:
            return {"type": _SIMPLE_TAGS[tag]}
        if tag == "span" and attrs.get("class") == "tg-spoiler":
            return {"type": "spoiler"}
        if tag == "a":
            href = attrs.get("href", "")
            match = re.fullmatch(r"tg://user\?id=(\d+)", href)
            if match:
                return {"type": "text_mention", "user": {"id": int(match.group(1))}}
            return {"type": "text_link", "url": href}
        if tag == "blockquote":
            kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
            return {"type": kind}
        if tag == "tg-emoji":
            return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
        raise EntityError(f'Unsupported start tag "{tag}" at line {self.getpos()[0]}')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise EntityError(f'Unexpected end tag "{tag}"')
        open_tag, start, entity = self.stack.pop()
        if open_tag != tag:
            raise EntityError(f'Unmatched end tag, expected "</{open_tag}>", found "</{tag}>"')
        if tag == "code" and self.entities and self._inside_pre(start):
            # <pre><code class="language-x"> gives the pre its language, not a second entity.
            return
        if self.text_pos > start:
            self.entities.append({**entity, "offset": start, "length": self.text_pos - start})

    def _inside_pre(self, start: int) -> bool:
        return any(t == "pre" and s <= start for t, s, _ in self.stack)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.text_pos += utf16_len(data)


def _parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    parser = _HtmlToEntities()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"')
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities
