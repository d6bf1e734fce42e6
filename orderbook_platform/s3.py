"""boto3 clients built from the platform's S3 settings (any endpoint: S3Proxy, MinIO, AWS)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from orderbook_platform.config import S3Settings


def make_s3_client(endpoint_url: str | None, access_key: str, secret_key: str, region: str) -> Any:
    """One S3 client configuration for the whole platform (path-style, bounded retries)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            # S3-compatible servers (S3Proxy, older MinIO) reject the newer default checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def s3_client(settings: S3Settings) -> Any:
    return make_s3_client(
        settings.endpoint_url,
        settings.access_key,
        settings.secret_key.get_secret_value(),
        settings.region,
    )
