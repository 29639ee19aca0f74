"""The Telegram Bot API specification as data, and the checks derived from it.

`data/api.json` is the official Bot API 10.1 description as JSON (MIT, see
`data/LICENSE.api.json`). The emulator refuses calls it would not accept, and the in-process
test transport fails a test whose bot makes such a call: one set of rules for both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER = 200

_SCALARS = {"Integer", "String", "Boolean", "Float", "InputFile"}


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool


# eq=False: hashed by identity, so `_lower_index` can cache per (single) loaded spec.
@dataclass(frozen=True, eq=False)
class Spec:
    version: str
    methods: Mapping[str, tuple[Field, ...]]
    types: Mapping[str, tuple[Field, ...]]
    subtypes: Mapping[str, tuple[str, ...]]
    returns: Mapping[str, tuple[str, ...]]

    def method_name(self, name: str) -> str | None:
        """Telegram matches method names case-insensitively."""
        if name in self.methods:
            return name
        return _lower_index(self).get(name.lower())


@cache
def _lower_index(spec: Spec) -> dict[str, str]:
    return {m.lower(): m for m in spec.methods}


def _fields(raw: Iterable[Mapping[str, Any]]) -> tuple[Field, ...]:
    return tuple(Field(f["name"], tuple(f["types"]), bool(f["required"])) for f in raw)


@cache
def load_spec() -> Spec:
    """Loads the bundled api.json once."""
    text = resources.files("sandbox").joinpath("data/api.json").read_text(encoding="utf-8")
    data = json.loads(text)
    methods = {
        name: _with_legacy_reply(_fields(m.get("fields", [])))
        for name, m in data["methods"].items()
    }
    types = {name: _fields(t.get("fields", [])) for name, t in data["types"].items()}
    subtypes = {name: tuple(t["subtypes"]) for name, t in data["types"].items() if "subtypes" in t}
    returns = {name: tuple(m.get("returns", [])) for name, m in data["methods"].items()}
    return Spec(data["version"], methods, types, subtypes, returns)


# Bot API 7.0 replaced `reply_to_message_id` and `allow_sending_without_reply` by
# `reply_parameters` and dropped them from the docs, but Telegram still reads them when
# `reply_parameters` is absent (tdlib/telegram-bot-api, Client.cpp `get_reply_parameters`).
LEGACY_REPLY_FIELDS = (
    Field("reply_to_message_id", ("Integer",), False),
    Field("allow_sending_without_reply", ("Boolean",), False),
)


def _with_legacy_reply(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    if any(f.name == "reply_parameters" for f in fields):
        return fields + LEGACY_REPLY_FIELDS
    return fields


def is_object_type(type_name: str) -> bool:
    """True for a parameter that travels JSON-serialised (an object or an array)."""
    return type_name.startswith("Array of") or type_name not in _SCALARS


def decode_form_params(method: str, raw: Mapping[str, str]) -> dict[str, Any]:
    """Turns form or query strings into typed values, as Telegram reads them."""
    spec = load_spec()
    name = spec.method_name(method)
    fields = {f.name: f for f in spec.methods.get(name or "", ())}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = fields.get(key)
        if field is None:
            out[key] = value
            continue
        out[key] = _decode_scalar(value, field.types)
    return out


def _decode_scalar(value: str, types: tuple[str, ...]) -> Any:
    if any(is_object_type(t) for t in types):
        try:
            return json.loads(value)
        except ValueError:
            if "String" in types or "InputFile" in types:
                return value
            return value  # left as a string: validation reports the wrong type
    if "Integer" in types:
        try:
            return int(value)
        except ValueError:
            pass
    if "Float" in types:
        try:
            return float(value)
        except ValueError:
            pass
    if "Boolean" in types:
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
    return value


def validate_call(
    method: str, params: Mapping[str, Any], uploaded: Iterable[str] = ()
) -> list[str]:
    """Returns what is wrong with a call (empty when Telegram would accept its shape).

    `params` holds decoded values; `uploaded` names parameters sent as multipart files.
    """
    spec = load_spec()
    name = spec.method_name(method)
    if name is None:
        return [f"unknown method {method!r}"]
    problems: list[str] = []
    fields = {f.name: f for f in spec.methods[name]}
    uploaded = set(uploaded)
    for f in fields.values():
        if f.required and params.get(f.name) is None and f.name not in uploaded:
            problems.append(f"{name}: missing required parameter {f.name!r}")
    for key, value in params.items():
        field = fields.get(key)
        if field is None:
            problems.append(f"{name}: unknown parameter {key!r}")
            continue
        if value is None:
            continue
        problems.extend(_check_value(spec, value, field.types, f"{name}.{key}"))
    problems.extend(_check_limits(name, params))
    return problems


def _check_value(spec: Spec, value: Any, types: tuple[str, ...], where: str) -> list[str]:
    """A value is valid when it fits at least one of the allowed types."""
    best: list[str] | None = None
    for type_name in types:
        problems = _check_type(spec, value, type_name, where)
        if not problems:
            return []
        if best is None or len(problems) < len(best):
            best = problems
    return best or [f"{where}: no type allowed"]


def _check_type(spec: Spec, value: Any, type_name: str, where: str) -> list[str]:
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{where}: expected {type_name}"]
        inner = type_name.removeprefix("Array of ")
        out: list[str] = []
        for i, item in enumerate(value):
            out.extend(_check_value(spec, item, (inner,), f"{where}[{i}]"))
        return out
    if type_name == "Integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected Integer"]
    if type_name == "Float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected Float"]
    if type_name == "Boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected Boolean"]
    if type_name in ("String", "InputFile"):
        return [] if isinstance(value, str) else [f"{where}: expected {type_name}"]
    if type_name in spec.subtypes:
        return _check_value(spec, value, spec.subtypes[type_name], where)
    if type_name in spec.types:
        return _check_object(spec, value, type_name, where)
    return [f"{where}: unknown type {type_name}"]


def _check_object(spec: Spec, value: Any, type_name: str, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected {type_name} object"]
    fields = {f.name: f for f in spec.types[type_name]}
    out: list[str] = []
    for f in fields.values():
        if f.required and value.get(f.name) is None:
            out.append(f"{where}: {type_name} lacks {f.name!r}")
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            out.append(f"{where}: {type_name} has no field {key!r}")
        elif item is not None:
            out.extend(_check_value(spec, item, field.types, f"{where}.{key}"))
    # A discriminated subtype (BotCommandScopeChat...) names itself in "type".
    expected = _type_tag(type_name, fields)
    if expected is not None and value.get("type") != expected:
        out.append(f"{where}: {type_name} needs type={expected!r}")
    if type_name == "InlineKeyboardButton":
        data = value.get("callback_data")
        if isinstance(data, str) and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            out.append(f"{where}: callback_data must be 1-64 bytes, got {len(data.encode())}")
    return out


def _type_tag(type_name: str, fields: Mapping[str, Field]) -> str | None:
    """The "type" value a subtype carries, read from the spec's wording ("must be chat")."""
    spec_field = fields.get("type")
    if spec_field is None:
        return None
    return _TYPE_TAGS.get(type_name)


def _build_type_tags() -> dict[str, str]:
    text = resources.files("sandbox").joinpath("data/api.json").read_text(encoding="utf-8")
    data = json.loads(text)
    tags: dict[str, str] = {}
    for name, t in data["types"].items():
        for f in t.get("fields", []):
            if f["name"] != "type" or "subtype_of" not in t:
                continue
            desc = f["description"]
            for marker in ("must be ", "always “", 'always "'):
                if marker in desc:
                    tag = desc.split(marker, 1)[1].split()[0].strip('”".,')
                    tags[name] = tag
    return tags


_TYPE_TAGS = _build_type_tags()


def _check_limits(method: str, params: Mapping[str, Any]) -> list[str]:
    """Length limits Telegram enforces that the type system does not express."""
    out: list[str] = []
    text = params.get("text")
    in_range = isinstance(text, str) and 1 <= len(text) <= MAX_TEXT
    if method in ("sendMessage", "editMessageText") and isinstance(text, str) and not in_range:
        out.append(f"{method}: text must be 1-{MAX_TEXT} characters, got {len(text)}")
    if method == "answerCallbackQuery" and isinstance(text, str) and len(text) > 200:
        out.append(f"{method}: text must be at most {MAX_CALLBACK_ANSWER} characters")
    caption = params.get("caption")
    if isinstance(caption, str) and len(caption) > MAX_CAPTION:
        out.append(f"{method}: caption must be at most {MAX_CAPTION} characters")
    return out
