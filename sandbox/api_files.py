"""Bot API, files: uploads and file_ids in send calls, storing photos, documents, videos and
video notes, getFile.

Photos are stored as several re-encoded JPEG sizes (`sandbox.media`), documents, videos and
video notes byte for byte; `file_bytes` serves what `GET /file/bot<token>/<file_path>`
downloads.
"""

from __future__ import annotations

import copy
import mimetypes
import re
import secrets
from pathlib import Path
from typing import Any

from sandbox.errors import bad
from sandbox.media import VideoFacts, photo_sizes
from sandbox.records import FileRecord
from sandbox.world import World

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
OCTETS = "application/octet-stream"
HEIF_TYPES = {".heic": "image/heic", ".heif": "image/heif"}
# How Telegram names a file's type when refusing it ("can't use file of type Video as Photo").
_TYPE_NAMES = {
    "photo": "Photo", "document": "Document", "video": "Video", "video_note": "VideoNote",
}  # fmt: skip


class FilesApi(World):
    """Files the bot sends or receives, and getFile."""

    def _input_file(
        self, p: dict[str, Any], f: dict[str, tuple[str, bytes]], name: str
    ) -> tuple[str, bytes] | str:
        value = p.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            key = value.removeprefix("attach://")
            if key not in f:
                raise bad("wrong file identifier/HTTP URL specified")
            return f[key]
        if value is None:
            return f[name]
        return str(value)

    def _known_file(self, file_id: str, kind: str) -> FileRecord:
        if re.match(r"https?://", file_id):
            raise bad("failed to get HTTP URL content")
        record = self.files.get(file_id)
        if record is None:
            raise bad("wrong file identifier/HTTP URL specified")
        if record.kind != kind:
            raise bad(f"can't use file of type {_TYPE_NAMES[record.kind]} as {_TYPE_NAMES[kind]}")
        return record

    def _store_photo(self, data: bytes, *, from_person: bool = False) -> list[dict[str, Any]]:
        """Stores an image as several re-encoded sizes and returns its PhotoSize list (a bot's
        upload, unless `from_person`: a person's app converts a HEIC itself)."""
        records = []
        for width, height, jpeg in photo_sizes(data, by_bot=not from_person):
            n = self._next_counter()
            file_id = f"AgACAgIAAxk{n:08d}{secrets.token_urlsafe(12)}"
            unique = f"AQAD{n:08d}"
            meta = {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": width,
                "height": height,
                "file_size": len(jpeg),
            }
            records.append(FileRecord(file_id, unique, f"photos/file_{n}.jpg", "photo", jpeg, meta))
        ids = [r.file_id for r in records]
        for record in records:
            record.photo_set = ids
            self.files[record.file_id] = record
        return [copy.deepcopy(r.meta) for r in records]

    def _store_document(self, data: bytes, filename: str, mime_type: str | None) -> dict[str, Any]:
        """Stores a file byte for byte and returns its Document object."""
        n = self._next_counter()
        file_id = f"BQACAgIAAxk{n:08d}{secrets.token_urlsafe(12)}"
        unique = f"AgAD{n:08d}"
        suffix = Path(filename).suffix.lower()
        if mime_type in (None, "", OCTETS):
            # The client names the type by the extension when it has none better (an iPhone's
            # originals are image/heic); mimetypes may not know HEIC on every system.
            mime_type = HEIF_TYPES.get(suffix) or mimetypes.guess_type(filename)[0]
        mime = mime_type or OCTETS
        meta = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": filename,
            "mime_type": mime,
            "file_size": len(data),
        }
        path = f"documents/file_{n}{suffix}"
        self.files[file_id] = FileRecord(file_id, unique, path, "document", data, meta)
        return copy.deepcopy(meta)

    def _store_video_note(self, data: bytes, length: int, duration: int) -> dict[str, Any]:
        """Stores a round video message byte for byte and returns its VideoNote object
        (`length` and `duration` "as defined by the sender", Bot API VideoNote)."""
        n = self._next_counter()
        file_id = f"DQACAgIAAxk{n:08d}{secrets.token_urlsafe(12)}"
        unique = f"AgAE{n:08d}"
        meta = {
            "file_id": file_id,
            "file_unique_id": unique,
            "length": length,
            "duration": duration,
            "file_size": len(data),
        }
        path = f"video_notes/file_{n}.mp4"
        self.files[file_id] = FileRecord(file_id, unique, path, "video_note", data, meta)
        return copy.deepcopy(meta)

    def _store_video(
        self, data: bytes, filename: str, facts: VideoFacts, duration: int | None = None
    ) -> dict[str, Any]:
        """Stores a video byte for byte and returns its Video object (size and length read
        from the file unless the sender states a length)."""
        n = self._next_counter()
        file_id = f"BAACAgIAAxk{n:08d}{secrets.token_urlsafe(12)}"
        unique = f"AgAF{n:08d}"
        meta = {
            "file_id": file_id,
            "file_unique_id": unique,
            "width": facts.width,
            "height": facts.height,
            "duration": facts.seconds if duration is None else duration,
            "file_name": filename,
            "mime_type": mimetypes.guess_type(filename)[0] or "video/mp4",
            "file_size": len(data),
        }
        path = f"videos/file_{n}{Path(filename).suffix.lower() or '.mp4'}"
        self.files[file_id] = FileRecord(file_id, unique, path, "video", data, meta)
        return copy.deepcopy(meta)

    async def _get_file(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        record = self.files.get(p["file_id"])
        if record is None:
            raise bad("invalid file_id")
        if len(record.data) > MAX_DOWNLOAD_BYTES:
            raise bad("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
            "file_path": record.file_path,
        }

    def file_bytes(self, file_path: str) -> bytes | None:
        """The bytes behind a file_path from getFile, or None."""
        for record in self.files.values():
            if record.file_path == file_path:
                if len(record.data) > MAX_DOWNLOAD_BYTES:
                    return None
                return record.data
        return None

    def file_by_id(self, file_id: str) -> FileRecord | None:
        """A stored file by its file_id (for the user side: showing images)."""
        return self.files.get(file_id)
