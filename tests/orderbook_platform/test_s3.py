"""S3 through boto3 against the real S3-compatible server of the local stack."""

import hashlib
import os
import uuid

import pytest

from orderbook_platform.config import Settings
from orderbook_platform.s3 import s3_client

pytestmark = pytest.mark.integration


def test_put_list_and_get_objects(settings: Settings):
    client = s3_client(settings.s3)
    prefix = f"probe-{uuid.uuid4().hex[:8]}/"
    bodies = {
        f"{prefix}date=2026-11-25/hour={h:02d}/part-0.parquet": os.urandom(1024 + h)
        for h in range(3)
    }
    for key, body in bodies.items():
        client.put_object(Bucket=settings.s3.bucket, Key=key, Body=body)

    listed = client.list_objects_v2(Bucket=settings.s3.bucket, Prefix=prefix)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(bodies)
    assert {o["Key"]: o["Size"] for o in listed["Contents"]} == {
        k: len(v) for k, v in bodies.items()
    }

    for key, body in bodies.items():
        fetched = client.get_object(Bucket=settings.s3.bucket, Key=key)["Body"].read()
        assert hashlib.sha256(fetched).digest() == hashlib.sha256(body).digest()


def test_a_large_multipart_upload_reads_back_whole(settings: Settings, tmp_path):
    client = s3_client(settings.s3)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(12 * 1024 * 1024))
    key = f"probe-{uuid.uuid4().hex[:8]}/big.bin"
    client.upload_file(str(path), settings.s3.bucket, key)  # boto3 goes multipart above 8 MiB
    target = tmp_path / "back.bin"
    client.download_file(settings.s3.bucket, key, str(target))
    assert target.read_bytes() == path.read_bytes()


def test_wrong_credentials_are_refused(settings: Settings):
    from botocore.exceptions import ClientError
    from pydantic import SecretStr

    wrong = settings.s3.model_copy(update={"secret_key": SecretStr("not-the-secret")})
    with pytest.raises(ClientError):
        s3_client(wrong).list_objects_v2(Bucket=settings.s3.bucket)
