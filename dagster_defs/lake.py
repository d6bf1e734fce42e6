"""The parquet lake: a local folder or an S3 bucket (any endpoint), addressed by relative paths.

Spark writes the raw layer (`raw/<topic>/date=YYYY-MM-DD/hour=HH/part-*.parquet`); polars reads
it and writes the analytics layer (`analytics/<asset>/date=YYYY-MM-DD/hour=HH/data.parquet`).
Both address the same files through this class, so the layout lives in one place.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dagster_defs.partitions import hour_dir


@dataclass(frozen=True)
class S3Access:
    endpoint_url: str | None
    access_key: str
    secret_key: str
    region: str

    def client(self) -> Any:
        from orderbook_platform.s3 import make_s3_client

        return make_s3_client(self.endpoint_url, self.access_key, self.secret_key, self.region)


def raw_path(topic: str) -> str:
    return f"raw/{topic}"


def analytics_path(name: str) -> str:
    return f"analytics/{name}"


def partition_path(table: str, hour: Any) -> str:
    return f"{table}/{hour_dir(hour)}"


@dataclass(frozen=True)
class Lake:
    """`root` is an absolute local folder or `s3://bucket[/prefix]` (with `s3` access)."""

    root: str
    s3: S3Access | None = None

    def __post_init__(self) -> None:
        if self.is_s3 and self.s3 is None:
            raise ValueError(f"lake {self.root} needs S3 access settings")

    @property
    def is_s3(self) -> bool:
        return self.root.startswith(("s3://", "s3a://"))

    @property
    def bucket(self) -> str:
        return self.root.split("://", 1)[1].split("/", 1)[0]

    @property
    def _prefix(self) -> str:
        rest = self.root.split("://", 1)[1].split("/", 1)
        return rest[1].strip("/") + "/" if len(rest) > 1 and rest[1].strip("/") else ""

    def _key(self, relative: str) -> str:
        return self._prefix + relative.strip("/")

    def uri(self, relative: str) -> str:
        """Where `relative` lives, for people: `s3://bucket/...` or an absolute path."""
        if self.is_s3:
            return f"s3://{self.bucket}/{self._key(relative)}"
        return str(Path(self.root) / relative)

    def spark_uri(self, relative: str) -> str:
        if self.is_s3:
            return f"s3a://{self.bucket}/{self._key(relative)}"
        # Not Path.as_uri(): it percent-encodes the `=` of Hive-style folder names.
        return "file://" + str(Path(self.root, relative).resolve())

    # -- listing -------------------------------------------------------------------------
    def files(self, relative: str, suffix: str = ".parquet") -> list[tuple[str, int]]:
        """(location, size) of the data files under `relative`, skipping Spark's markers."""
        if self.is_s3:
            assert self.s3 is not None
            client = self.s3.client()
            found: list[tuple[str, int]] = []
            prefix = self._key(relative) + "/"
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for item in page.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if name.endswith(suffix) and not name.startswith(("_", ".")):
                        found.append((item["Key"], int(item["Size"])))
            return sorted(found)
        folder = Path(self.root, relative)
        return sorted(
            (str(p), p.stat().st_size)
            for p in folder.glob(f"**/*{suffix}")
            if not p.name.startswith(("_", "."))
        )

    def exists(self, relative: str) -> bool:
        return bool(self.files(relative, suffix=""))

    def size_bytes(self, relative: str) -> int:
        return sum(size for _, size in self.files(relative))

    # -- parquet -------------------------------------------------------------------------
    def read_parquet(self, relative: str, columns: list[str] | None = None) -> pl.DataFrame | None:
        """All parquet files under `relative` as one frame (only `columns`, if given), or None
        when there are none."""
        files = self.files(relative)
        if not files:
            return None
        if self.is_s3:
            assert self.s3 is not None
            client = self.s3.client()
            frames = [
                pl.read_parquet(
                    io.BytesIO(client.get_object(Bucket=self.bucket, Key=key)["Body"].read()),
                    columns=columns,
                )
                for key, _ in files
            ]
        else:
            frames = [
                pl.read_parquet(path, columns=columns, hive_partitioning=False) for path, _ in files
            ]
        return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]

    def write_parquet(self, frame: pl.DataFrame, relative_file: str) -> str:
        """Replace one parquet file atomically (local rename; S3 puts are atomic)."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        return self.write_bytes(relative_file, buffer.getvalue())

    def write_bytes(self, relative_file: str, data: bytes) -> str:
        if self.is_s3:
            assert self.s3 is not None
            self.s3.client().put_object(Bucket=self.bucket, Key=self._key(relative_file), Body=data)
            return self.uri(relative_file)
        target = Path(self.root, relative_file)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        staging.write_bytes(data)
        os.replace(staging, target)
        return str(target)

    def read_bytes(self, relative_file: str) -> bytes | None:
        """One file's bytes, or None when it does not exist."""
        if self.is_s3:
            assert self.s3 is not None
            client = self.s3.client()
            try:
                return client.get_object(Bucket=self.bucket, Key=self._key(relative_file))[
                    "Body"
                ].read()
            except client.exceptions.NoSuchKey:
                return None
        path = Path(self.root, relative_file)
        return path.read_bytes() if path.is_file() else None

    def publish_folder(self, local_folder: Path, relative: str) -> None:
        """Make `relative` hold exactly the parquet files of `local_folder` (S3 lakes).

        New objects are put first and stale ones deleted after, so a reader never finds
        the partition empty; S3 puts are atomic per object.
        """
        assert self.s3 is not None
        client = self.s3.client()
        stale = {key for key, _ in self.files(relative, suffix="")}
        for path in sorted(local_folder.glob("*.parquet")):
            key = self._key(f"{relative}/{path.name}")
            client.upload_file(str(path), self.bucket, key)
            stale.discard(key)
        marker = self._key(f"{relative}/_SUCCESS")
        client.put_object(Bucket=self.bucket, Key=marker, Body=b"")
        stale.discard(marker)
        for key in sorted(stale):
            client.delete_object(Bucket=self.bucket, Key=key)

    def delete(self, relative: str) -> None:
        if self.is_s3:
            assert self.s3 is not None
            client = self.s3.client()
            for key, _ in self.files(relative, suffix=""):
                client.delete_object(Bucket=self.bucket, Key=key)
            return
        shutil.rmtree(Path(self.root, relative), ignore_errors=True)

    def ensure_bucket(self) -> None:
        """Create the bucket if missing (local lakes need nothing)."""
        if not self.is_s3:
            Path(self.root).mkdir(parents=True, exist_ok=True)
            return
        assert self.s3 is not None
        client = self.s3.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            client.create_bucket(Bucket=self.bucket)
