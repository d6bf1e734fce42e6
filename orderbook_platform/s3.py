"""boto3 clients built from the platform's S3 settings (any endpoint: S3Proxy, MinIO, AWS)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from orderbook_platform.config import S3Settings


def s3_client(settings: S3Settings) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key.get_secret_value(),
        region_name=settings.region,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
