"""What a video's bytes say: its real length and size, and one frame of it as a JPEG.

Evidence may be a round video message (Telegram's `video_note`). The Bot API describes them as
"rounded square MPEG4 videos of up to 1 minute long" (sendVideoNote), and Telegram's apps make
them only in their own camera: "tap the mic icon to switch to camera mode … tap and hold the
camera icon and record" (Telegram's blog, "Video Messages and Telescope", v4.0); no app offers
to send a gallery file as one. So a video note is the live capture that photo-proof apps get
from their own camera — from the official apps: a modified client can send any file as one,
and the length and diameter in the message are "as defined by the sender" (Bot API,
VideoNote). The checks therefore read the file itself: its real length, whether it is square,
and one frame, which the photo checks then hash (duplicates), show (the review card) and give
to the AI judge like a photo. An ordinary video (`video`, or a video file) is evidence too, for
the reviewer to watch, with no claim of having been recorded live.

Pure and defensive, like `verification.photos`: FFmpeg (inside PyAV's wheels) reads the bytes;
a broken, truncated or hostile file yields a reason instead of an exception, a huge picture is
refused before decoding, and decoding stops after a bounded number of packets.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from fractions import Fraction

import av
from PIL import Image

from verification.photos import TIME_SLACK, Signal

# Telegram's limits: a video note lasts at most a minute (sendVideoNote); a bot downloads at
# most 20 MB (getFile). Ordinary videos as evidence are held to the same minute.
MAX_SECONDS = 60
MAX_BYTES = 20 * 1024 * 1024
# A second of slack: containers round, and a client's own count may differ by a frame.
LENGTH_SLACK = 1.0
# Refused before decoding: 4K video is 8.3 million pixels.
MAX_PIXELS = 16_777_216
# The frame is taken this far into the clip: a camera needs a moment to settle (exposure,
# focus), so the first frames are often dark or blurred.
FRAME_AT = 0.4
# Packets read at most while looking for that frame (a minute at 60 fps is 3,600 frames; after
# a seek to the nearest keyframe far fewer are needed).
MAX_PACKETS = 4_000
FRAME_QUALITY = 90


@dataclass(frozen=True)
class VideoReport:
    """What `inspect` found: a JPEG of one frame, the real length in seconds, the picture size,
    the recording time the file states (UTC, when it states one); `error` when no frame could
    be read."""

    frame: bytes | None = None
    seconds: float | None = None
    width: int | None = None
    height: int | None = None
    recorded_at: datetime | None = None
    error: str | None = None

    @property
    def square(self) -> bool:
        return self.width is not None and self.width == self.height


def inspect(data: bytes) -> VideoReport:
    """Reads a video; never raises for bad input."""
    try:
        return _inspect(data)
    except (av.FFmpegError, OSError, ValueError, IndexError, MemoryError) as exc:
        return VideoReport(error=_reason(exc))


def _reason(exc: BaseException) -> str:
    """A short reason for the reviewer: FFmpeg's own words without its error number."""
    words = exc.strerror if isinstance(exc, av.FFmpegError) else None
    text = str(words or exc).strip() or type(exc).__name__
    return text[:200]


def _inspect(data: bytes) -> VideoReport:
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            return VideoReport(error="no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > MAX_PIXELS:
            return VideoReport(width=width, height=height, error=f"{width}×{height} is too large")
        seconds = _seconds(container, stream)
        recorded = _recorded_at(container.metadata.get("creation_time"))
        picture = _frame(container, stream, seconds)
    if picture is None:
        return VideoReport(
            seconds=seconds, width=width, height=height, recorded_at=recorded, error="no frame"
        )
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="JPEG", quality=FRAME_QUALITY)
    return VideoReport(out.getvalue(), seconds, width, height, recorded)


def _seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    """The stream's length, else the container's (microseconds), else unknown."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _recorded_at(value: str | None) -> datetime | None:
    """An MP4's `creation_time` (ISO 8601, UTC), as phones write it; None when absent or not a
    plausible time (a zero date, a clock far off)."""
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    found = found if found.tzinfo else found.replace(tzinfo=UTC)
    return found.astimezone(UTC) if found.year >= 2000 else None


def _frame(
    container: av.container.InputContainer, stream: av.VideoStream, seconds: float | None
) -> Image.Image | None:
    """The first frame at or after FRAME_AT of the clip (or the last one before the end)."""
    target = Fraction(0)
    if seconds and stream.time_base:
        target = Fraction(seconds * FRAME_AT) / stream.time_base
        try:
            # Lands on the keyframe at or before the target; decoding goes on from there.
            container.seek(int(target), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.seek(0, stream=stream)
            target = Fraction(0)
    last: Image.Image | None = None
    for count, packet in enumerate(container.demux(stream)):
        if count >= MAX_PACKETS:
            break
        for frame in packet.decode():
            last = frame.to_image()
            if frame.pts is None or frame.pts >= target:
                return last
    return last


# --------------------------------------------------------------------------- signals


def signals(
    report: VideoReport,
    *,
    live: bool,
    sent_at: datetime | None,
    starts_at: datetime,
    ends_at: datetime,
    zone: tzinfo,
) -> list[Signal]:
    """A video's signals for the reviewer, in place of a photo's source, time and place: what
    it is (a `live` round video, or a video file), when it was recorded (a round video: when
    it was sent, as it is sent while recording; a file: the time it states), its real length,
    and a round video that is not square (made by something other than Telegram's camera)."""
    if report.error is not None and report.frame is None:
        return [Signal("video", "warn", "unreadable_video", {"detail": report.error})]
    seconds = round(report.seconds) if report.seconds is not None else "?"
    found = [
        Signal("source", "ok", "live_video", {"seconds": seconds})
        if live
        else Signal("source", "unknown", "video_file", {"seconds": seconds})
    ]
    when = sent_at if live else report.recorded_at
    if when is None:
        found.append(Signal("time", "unknown", "no_video_time", {}))
    else:
        during = starts_at - TIME_SLACK <= when <= ends_at + TIME_SLACK
        local = when.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        reason = ("sent_" if live else "") + ("during" if during else "outside")
        found.append(Signal("time", "ok" if during else "warn", reason, {"taken": local}))
    if report.seconds is not None and report.seconds > MAX_SECONDS + LENGTH_SLACK:
        found.append(Signal("length", "warn", "too_long", {"seconds": seconds, "max": MAX_SECONDS}))
    if live and not report.square:
        size = {"width": report.width or "?", "height": report.height or "?"}
        found.append(Signal("shape", "warn", "not_round", size))
    return found


def too_long(seconds: int | float | None) -> bool:
    """A length a person's message states that is over the limit (unknown: not refused here;
    the checks read the real one)."""
    return seconds is not None and seconds > MAX_SECONDS


def too_big(size: int | None) -> bool:
    """A file size over what a bot may download."""
    return size is not None and size > MAX_BYTES
