"""The local stack: a single-node KRaft Kafka broker and an S3 server, no Docker.

The JVM artifacts come from Maven Central through `pom.xml` beside this file; the
processes run detached, with their data, logs and pid files under the state dir.
"""

from orderbook_platform.stack.errors import StackError
from orderbook_platform.stack.launcher import ComponentStatus, Endpoints, Stack

__all__ = ["ComponentStatus", "Endpoints", "Stack", "StackError"]
