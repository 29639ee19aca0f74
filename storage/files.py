"""Photo bytes under content-addressed keys (the SHA-256 of the bytes): a local directory by
default, S3 (boto3) when a bucket is configured.

The same bytes always get the same key, so storing twice (a retried job, two people sending one
picture) writes once. boto3 is synchronous: its calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Stores the bytes; returns their key."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes of a key; raises KeyError when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Removes the bytes of a key; a key with none is fine (deleting twice is a no-op)."""
        ...


def _checked(key: str) -> str:
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise KeyError(key)
    return key


class LocalFileStore:
    """`<root>/ab/cd/abcd…`: two levels of fan-out keep directories small."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key[2:4] / key

    async def put(self, data: bytes) -> str:
        key = content_key(data)
        await asyncio.to_thread(self._write, self.path(key), data)
        return key

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file, a crash leaves no partial key.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except FileNotFoundError:
            raise KeyError(key) from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._remove, self.path(key))

    def _remove(self, target: Path) -> None:
        target.unlink(missing_ok=True)
        # The fan-out directories go too once empty (another key may still be in them).
        for directory in (target.parent, target.parent.parent):
            if directory == self.root:
                break
            try:
                directory.rmdir()
            except OSError:
                break


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str = "evidence/"
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


class S3FileStore:
    """Objects `<prefix><key>` in one bucket; credentials from the config or boto3's chain."""

    def __init__(self, config: S3Config) -> None:
        import boto3
        from botocore.config import Config

        self.config = config
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            # Fail within seconds when S3 is unreachable: the verification job puts the photo
            # back and tries again on its next run, so long waits here only hold it up.
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3}
            ),
        )

    def _name(self, key: str) -> str:
        return f"{self.config.prefix}{_checked(key)}"

    async def put(self, data: bytes) -> str:
        key = content_key(data)
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.config.bucket,
            Key=self._name(key),
            Body=data,
            ContentType="application/octet-stream",
            # S3 checks the bytes it received against this digest and refuses a mismatch.
            ChecksumAlgorithm="SHA256",
        )
        return key

    async def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = await asyncio.to_thread(
                self.client.get_object, Bucket=self.config.bucket, Key=self._name(key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise
        body = response["Body"]
        try:
            return bytes(await asyncio.to_thread(body.read))
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        # S3 answers a missing key with success too, so deleting twice is harmless.
        await asyncio.to_thread(
            self.client.delete_object, Bucket=self.config.bucket, Key=self._name(key)
        )


def open_store(local_root: Path, s3: S3Config | None) -> FileStore:
    """S3 when configured, else the local directory."""
    return S3FileStore(s3) if s3 is not None else LocalFileStore(local_root)
