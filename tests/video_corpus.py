"""Small videos made at test time with PyAV: a round video message (square MPEG4, as
Telegram's camera records one) and an ordinary landscape clip, each with a picture that
changes over time so its frames differ, and an optional `creation_time`."""

from __future__ import annotations

import io
from datetime import datetime

import av
import numpy as np


def clip(
    seed: int,
    *,
    size: tuple[int, int] = (240, 240),
    seconds: float = 2.0,
    fps: int = 10,
    recorded: datetime | None = None,
) -> bytes:
    """An H.264 MP4 of `seconds` at `fps`: coloured bands drawn from `seed` that move, so two
    seeds give frames far apart in perceptual hash."""
    width, height = size
    rng = np.random.default_rng(seed)
    bands = rng.integers(0, 256, size=(8, 3), dtype=np.uint8)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        if recorded is not None:
            container.metadata["creation_time"] = recorded.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(max(1, round(seconds * fps))):
            rows = (np.arange(height)[:, None] * 8 // height + index // fps) % 8
            picture = np.broadcast_to(bands[rows], (height, width, 3)).copy()
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def video_note(seed: int, seconds: float = 2.0, diameter: int = 240) -> bytes:
    """A round video message as Telegram's camera records it: square, at most a minute."""
    return clip(seed, size=(diameter, diameter), seconds=seconds)
