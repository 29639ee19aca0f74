"""Optional AI judge: does the photo show what the mission's evidence rule asks for?

OpenAI's Responses API with an image input and structured output (a small JSON schema), through
the official SDK, so any OpenAI-compatible server works. The answer is one signal among
others for the human reviewer, never a decision: a timeout, an API error or output that does
not parse gives verdict "unavailable" with the reason. The photo is downscaled before it leaves
(enough to judge, less to send); nothing about the person is in the prompt.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

import openai
import pydantic
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)
SIDE = 1024
YES, NO, UNSURE, UNAVAILABLE = "yes", "no", "unsure", "unavailable"

INSTRUCTIONS = """You help a human reviewer check photo evidence for a neighbourhood meetup \
mission. Say whether the photo plausibly shows what the evidence rule asks for: "yes", "no", or \
"unsure" when it cannot be told. Give a short reason (one sentence, English) about what is \
visible. Do not identify or describe people."""

# Added when the participant was given a proof word at check-in.
PROOF_WORD_INSTRUCTIONS = (
    "The participant was asked to show a one-time proof word in the photo, written on paper "
    'or on a phone screen (the request\'s "proof_word"). Say whether exactly that word can be '
    'read in the photo ("word_visible": "yes", "no" or "unsure"), and copy any handwritten or '
    'on-screen word you can read into "visible_text" (empty when there is none); ignore '
    "printed signs and logos."
)


@dataclass(frozen=True)
class JudgeConfig:
    api_key: str
    model: str
    base_url: str | None = None
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class Judgement:
    verdict: str  # yes | no | unsure | unavailable
    reason: str
    word_visible: str = UNSURE  # yes | no | unsure: is the proof word readable?
    visible_text: str = ""  # handwritten or on-screen words the model read


def _without_defaults(schema: dict[str, Any]) -> None:
    """Structured outputs take every field as required and no "default" keyword; the
    defaults only let an answer without the proof-word fields parse."""
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for field_schema in properties.values():
            if isinstance(field_schema, dict):
                field_schema.pop("default", None)


class _Answer(BaseModel):
    """The structured-output schema the model fills."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    verdict: Literal["yes", "no", "unsure"]
    reason: str = Field(max_length=300)
    word_visible: Literal["yes", "no", "unsure"] = "unsure"
    visible_text: str = Field(default="", max_length=200)


def preview_jpeg(data: bytes, side: int = SIDE) -> bytes:
    """The image upright, at most `side` pixels long, as JPEG; raises for unreadable bytes."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG":
            image.draft("RGB", (side, side))
        upright = ImageOps.exif_transpose(image) or image
        upright = upright.convert("RGB")
        upright.thumbnail((side, side))
        out = io.BytesIO()
        upright.save(out, format="JPEG", quality=85)
        return out.getvalue()


async def judge(
    config: JudgeConfig, jpeg: bytes, mission: str, rule: str, proof_word: str | None = None
) -> Judgement:
    """Asks the model about one photo (and its proof word, if any); never raises."""
    client = openai.AsyncOpenAI(
        api_key=config.api_key,
        base_url=config.base_url,
        timeout=config.timeout_seconds,
        max_retries=0,
    )
    image_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    asked: dict[str, str] = {"mission": mission, "evidence_rule": rule}
    instructions = INSTRUCTIONS
    if proof_word:
        asked["proof_word"] = proof_word
        instructions += "\n\n" + PROOF_WORD_INSTRUCTIONS
    request = json.dumps(asked, ensure_ascii=False)
    try:
        async with asyncio.timeout(config.timeout_seconds):
            response = await client.responses.parse(
                model=config.model,
                instructions=instructions,
                input=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": request},
                            {"type": "input_image", "image_url": image_url, "detail": "low"},
                        ],
                    }
                ],
                text_format=_Answer,
            )
    except (openai.APITimeoutError, TimeoutError):
        return Judgement(UNAVAILABLE, "timeout")
    except (pydantic.ValidationError, json.JSONDecodeError):
        return Judgement(UNAVAILABLE, "malformed answer")
    except openai.APIError as exc:
        return Judgement(UNAVAILABLE, f"API error ({type(exc).__name__})")
    finally:
        await client.close()
    parsed = response.output_parsed
    if not isinstance(parsed, _Answer):
        return Judgement(UNAVAILABLE, "no answer")
    return Judgement(
        parsed.verdict, parsed.reason.strip(), parsed.word_visible, parsed.visible_text.strip()
    )
