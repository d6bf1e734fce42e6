"""PySpark batch ingestion of one Kafka topic for exact hour windows into the raw lake.

No Dagster here: the assets, the CLI and the bench all call `ingest_topic`.

Why each Kafka option:
- `startingTimestamp`/`endingTimestamp` turn the window into per-partition offsets with
  `offsetsForTimes`; `startingOffsetsByTimestampStrategy=latest` makes a partition with no
  record after the start read nothing instead of failing;
- the `timestamp` filter is still applied, because offsets follow append order while record
  timestamps are producer-set and may be slightly out of order;
- `kafka.isolation.level=read_committed`: Java clients default to read_uncommitted, which would
  let an aborted engine transaction's records into the lake;
- `failOnDataLoss=true`: offsets that vanish while Spark reads fail the read. Offsets deleted
  before the read are invisible to it (the timestamp lookup starts at what is left), so
  `ingestion/lifetime.py` compares the log start with the lake before anything is read;

The end of the window is NOT looked up with `endingTimestamp` by default. `offsetsForTimes`
returns the first offset whose timestamp is >= the bound, and transaction markers carry the
broker's wall-clock time: a commit/abort marker written after the hour's end but placed
before some of the hour's records (a lagging producer, a replay, a backfill) makes the lookup
stop early and silently drops those records (reproduced in tests/dagster_defs). So the read
ends at the latest committed offset (`endingOffsets=latest`, the LSO under read_committed)
and the `timestamp` filter bounds the window; `ending="timestamp"` opts back into the
lookup for topics with monotonic timestamps and no transactions. The start bound is safe:
a marker can only move it earlier, and the filter drops the extra records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dagster_defs.lake import Lake, S3Access, partition_path, raw_path
from dagster_defs.partitions import hours_in
from orderbook_platform.config import KafkaSettings

_TEXT = T.StringType()
_PRICE = T.DoubleType()
_LOTS = T.LongType()
_NANOS = T.LongType()

_BOOK_LEVEL = T.StructType(
    [
        T.StructField("price", _PRICE),
        T.StructField("quantity", _LOTS),
        T.StructField("orders", _LOTS),
    ]
)

# Explicit schemas mirror orderbook_platform.contracts; JSON is never schema-inferred.
TOPIC_SCHEMAS: dict[str, T.StructType] = {
    "orders": T.StructType(
        [
            T.StructField("order_id", _TEXT),
            T.StructField("order_type", _TEXT),
            T.StructField("price", _PRICE),
            T.StructField("quantity", _LOTS),
            T.StructField("time", _NANOS),
            T.StructField("symbol", _TEXT),
            T.StructField("trader_id", _TEXT),
            T.StructField("time_in_force", _TEXT),
            T.StructField("post_only", T.BooleanType()),
        ]
    ),
    "trades": T.StructType(
        [
            T.StructField("trade_id", _TEXT),
            T.StructField("left_order_id", _TEXT),
            T.StructField("right_order_id", _TEXT),
            T.StructField("quantity", _LOTS),
            T.StructField("price", _PRICE),
            T.StructField("action", _TEXT),
            T.StructField("status", _TEXT),
            T.StructField("symbol", _TEXT),
            T.StructField("time", _NANOS),
            T.StructField("sequence", T.LongType()),
            T.StructField("maker_trader_id", _TEXT),
            T.StructField("taker_trader_id", _TEXT),
        ]
    ),
    "prices": T.StructType(
        [
            T.StructField("mid_price", _PRICE),
            T.StructField("best_bid", _PRICE),
            T.StructField("best_ask", _PRICE),
            T.StructField("bid_size", _LOTS),
            T.StructField("ask_size", _LOTS),
            T.StructField("symbol", _TEXT),
            T.StructField("time", _NANOS),
            T.StructField("sequence", T.LongType()),
        ]
    ),
    "book": T.StructType(
        [
            T.StructField("symbol", _TEXT),
            T.StructField("bids", T.ArrayType(_BOOK_LEVEL)),
            T.StructField("asks", T.ArrayType(_BOOK_LEVEL)),
            T.StructField("time", _NANOS),
            T.StructField("sequence", T.LongType()),
        ]
    ),
    "order_events": T.StructType(
        [
            T.StructField("order_id", _TEXT),
            T.StructField("event", _TEXT),
            T.StructField("reason", _TEXT),
            T.StructField("symbol", _TEXT),
            T.StructField("trader_id", _TEXT),
            T.StructField("order_type", _TEXT),
            T.StructField("side", _TEXT),
            T.StructField("price", _PRICE),
            T.StructField("quantity", _LOTS),
            T.StructField("filled", _LOTS),
            T.StructField("remaining", _LOTS),
            T.StructField("time", _NANOS),
            T.StructField("sequence", T.LongType()),
        ]
    ),
}

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp", "kafka_key")
# Every record becomes a row, whatever its bytes: a record that does not parse into its
# contract keeps its coordinates, says why in `kafka_value_error` (null for good rows) and
# keeps its original bytes in `kafka_value` (null for good rows). Checks report such rows
# and the analytics skip them (docs/data-platform.md).
ERROR_COLUMNS = ("kafka_value_error", "kafka_value")
_CORRUPT = "_corrupt_record"

# Fields the contract requires (no default): a record without one is malformed, not a row
# with nulls. Mirrors orderbook_platform.contracts (tests/dagster_defs check the mirror).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "order_type"),
    "trades": (
        "trade_id", "left_order_id", "right_order_id", "quantity", "price", "action", "status",
    ),
    "prices": (),
    "book": ("symbol", "bids", "asks"),
    "order_events": ("order_id", "event"),
}  # fmt: skip


def spark_conf(
    *,
    master: str = "local[*]",
    jars: Iterable[Path] = (),
    s3: S3Access | None = None,
    driver_memory: str = "2g",
    shuffle_partitions: int = 4,
    app_name: str = "orderbook-platform",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The SparkSession settings: Maven-fetched jars as `spark.jars` (no Ivy), S3A for any S3."""
    conf = {
        "spark.master": master,
        "spark.app.name": app_name,
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.driver.memory": driver_memory,
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        # polars and pandas read TIMESTAMP_MICROS natively; Spark's INT96 default is legacy.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.parquet.compression.codec": "zstd",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "true",
    }
    if s3 is not None:
        conf |= {
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.endpoint.region": s3.region or "us-east-1",
            "spark.hadoop.fs.s3a.aws.credentials.provider": (
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
            ),
            "spark.hadoop.fs.s3a.access.key": s3.access_key,
            "spark.hadoop.fs.s3a.secret.key": s3.secret_key,
        }
        if s3.endpoint_url:
            conf["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint_url
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
                s3.endpoint_url.startswith("https")
            ).lower()
    conf |= {k: str(v) for k, v in (extra or {}).items()}
    return conf


def spark_session(conf: Mapping[str, str]) -> SparkSession:
    """Get or create the process's session. JVM options apply only at the first call."""
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # Hadoop settings can still change on a running session (e.g. a test's S3 endpoint).
    hadoop = session.sparkContext._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    for key, value in conf.items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key.removeprefix("spark.hadoop."), value)
    return session


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def spark_kafka_options(kafka: KafkaSettings) -> dict[str, str]:
    """The `kafka.`-prefixed options of Spark's Kafka source (bootstrap servers, security)."""
    return {f"kafka.{k}": v for k, v in kafka.java_client_options().items()}


def _in_window(timestamp: Column, start: datetime, end: datetime) -> Column:
    """`timestamp` in [start, end), compared at millisecond precision like the Kafka bounds."""
    return (timestamp >= F.timestamp_millis(F.lit(_millis(start)))) & (
        timestamp < F.timestamp_millis(F.lit(_millis(end)))
    )


def read_topic_window(
    spark: SparkSession,
    kafka_options: Mapping[str, str],
    topic: str,
    start: datetime,
    end: datetime,
    ending: str = "latest",
) -> DataFrame:
    """Committed records of `topic` with a Kafka timestamp in [start, end), typed."""
    end_bound = (
        {"endingTimestamp": str(_millis(end))}
        if ending == "timestamp"
        else {"endingOffsets": "latest"}
    )
    records = (
        spark.read.format("kafka")
        .options(**kafka_options)
        .option("subscribe", topic)
        .option("startingTimestamp", str(_millis(start)))
        .options(**end_bound)
        .option("startingOffsetsByTimestampStrategy", "latest")
        .option("kafka.isolation.level", "read_committed")
        .option("failOnDataLoss", "true")
        .load()
        .where(_in_window(F.col("timestamp"), start, end))
    )
    return typed_records(records, topic)


def typed_records(records: DataFrame, topic: str) -> DataFrame:
    """Kafka source rows (key, value, topic, partition, offset, timestamp) as the topic's
    typed rows: one row per record, malformed ones flagged (see ERROR_COLUMNS)."""
    schema = TOPIC_SCHEMAS[topic]
    typed = records.select(
        _parsed(F.col("value"), schema).alias("m"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("value").alias("value"),
    ).withColumn("kafka_value_error", _value_error(F.col("value"), topic))

    def field(name: str) -> Column:
        if name == "symbol":
            # Producers key every record by symbol: the key fills a message without one.
            return F.coalesce(F.col("m.symbol"), F.col("kafka_key"))
        return F.col(f"m.{name}")

    bad = F.col("kafka_value_error").isNotNull()
    # A malformed record's fields are nulls, never a partial parse that looks like data.
    return typed.select(
        *[F.when(~bad, field(name)).alias(name) for name in schema.fieldNames()],
        *KAFKA_COLUMNS,
        "kafka_value_error",
        F.when(bad, F.col("value")).alias("kafka_value"),
    )


def _text(value: Column) -> Column:
    """The value as text, null when it is not valid UTF-8 (Spark would keep the bad bytes)."""
    text = value.cast("string")
    return F.when(F.is_valid_utf8(text), text)


def _parsed(value: Column, schema: T.StructType) -> Column:
    with_corrupt = T.StructType([*schema.fields, T.StructField(_CORRUPT, T.StringType())])
    return F.from_json(
        _text(value),
        with_corrupt,
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT},
    )


def _value_error(value: Column, topic: str) -> Column:
    """Why a record is not a row of its contract, or null. The first reason that applies."""
    message = F.col("m")
    missing = [F.when(message[name].isNull(), F.lit(name)) for name in REQUIRED_FIELDS[topic]]
    missing_list = F.concat_ws(", ", *missing) if missing else F.lit("")
    return (
        F.when(value.isNull(), F.lit("no value (a null record)"))
        .when(_text(value).isNull(), F.lit("not valid UTF-8"))
        .when(
            message.isNull() | message[_CORRUPT].isNotNull(),
            F.lit(
                "not a JSON object of the contract: malformed or too deeply nested JSON, or "
                "a field of the wrong type or out of range (e.g. a quantity beyond 64 bits)"
            ),
        )
        .when(missing_list != "", F.concat(F.lit("missing required field(s): "), missing_list))
    )


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    first: int
    last: int
    records: int


@dataclass(frozen=True)
class HourWritten:
    topic: str
    hour: datetime
    uri: str
    rows: int
    bytes: int
    offsets: list[PartitionOffsets] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)

    @property
    def offset_range(self) -> str:
        return (
            ", ".join(f"p{o.partition}: {o.first}..{o.last} ({o.records})" for o in self.offsets)
            or "none"
        )


def ingest_topic(
    spark: SparkSession,
    kafka_options: Mapping[str, str],
    lake: Lake,
    topic: str,
    start: datetime,
    end: datetime,
    preview_rows: int = 5,
    staging_dir: Path | None = None,
) -> list[HourWritten]:
    """Write every hour of [start, end) to `raw/<topic>/date=…/hour=…/`, replacing it.

    A range is read from Kafka once and split by hour, so a backfill pays for one scan.
    Every hour is overwritten even when empty, which keeps re-runs idempotent; callers that
    may re-ingest an hour whose records Kafka no longer has check `ingestion/lifetime.py`
    first (the Dagster asset does, for every topic, before writing any).

    With `staging_dir`, an S3 lake is written in two steps: Spark writes the hour to the
    local staging folder and the lake publishes the files with plain puts. Hadoop's
    rename-based FileOutputCommitter needs a store whose listings carry object sizes for
    "directory" entries, which S3Proxy's filesystem backend does not provide (docs/data-platform.md).
    """
    hours = hours_in(start, end)
    window = read_topic_window(spark, kafka_options, topic, hours[0], end)
    if len(hours) > 1:
        window = window.persist()
    written: list[HourWritten] = []
    try:
        for hour in hours:
            next_hour = min(hour + timedelta(hours=1), end)
            one_hour = window.where(_in_window(F.col("kafka_timestamp"), hour, next_hour))
            relative = partition_path(raw_path(topic), hour)
            if lake.is_s3 and staging_dir is not None:
                staged = staging_dir / relative
                one_hour.write.mode("overwrite").parquet("file://" + str(staged.resolve()))
                lake.publish_folder(staged, relative)
            else:
                one_hour.write.mode("overwrite").parquet(lake.spark_uri(relative))
            if lake.is_s3:
                # Read back through S3A: the lake's own view of what was published.
                written.append(_describe_hour(spark, lake, topic, hour, relative, preview_rows))
            else:
                # A local hour is described by polars, without two more Spark jobs.
                written.append(_describe_local_hour(lake, topic, hour, relative, preview_rows))
    finally:
        if len(hours) > 1:
            window.unpersist()
    return written


def _describe_local_hour(
    lake: Lake, topic: str, hour: datetime, relative: str, preview_rows: int
) -> HourWritten:
    import polars as pl

    files = [path for path, _ in lake.files(relative)]
    stored = pl.scan_parquet(files, hive_partitioning=False) if files else None
    if stored is None:
        return HourWritten(topic, hour, lake.uri(relative), 0, 0)
    per_partition = (
        stored.group_by("kafka_partition")
        .agg(
            first=pl.col("kafka_offset").min(),
            last=pl.col("kafka_offset").max(),
            records=pl.len(),
        )
        .sort("kafka_partition")
        .collect()
    )
    offsets = [
        PartitionOffsets(r["kafka_partition"], r["first"], r["last"], r["records"])
        for r in per_partition.iter_rows(named=True)
    ]
    return HourWritten(
        topic=topic,
        hour=hour,
        uri=lake.uri(relative),
        rows=sum(o.records for o in offsets),
        bytes=lake.size_bytes(relative),
        offsets=offsets,
        preview=stored.head(preview_rows).collect().to_dicts(),
    )


def _describe_hour(
    spark: SparkSession, lake: Lake, topic: str, hour: datetime, relative: str, preview_rows: int
) -> HourWritten:
    stored = spark.read.parquet(lake.spark_uri(relative))
    per_partition = (
        stored.groupBy("kafka_partition")
        .agg(
            F.min("kafka_offset").alias("first"),
            F.max("kafka_offset").alias("last"),
            F.count(F.lit(1)).alias("records"),
        )
        .orderBy("kafka_partition")
        .collect()
    )
    offsets = [
        PartitionOffsets(r["kafka_partition"], r["first"], r["last"], r["records"])
        for r in per_partition
    ]
    preview = [row.asDict(recursive=True) for row in stored.limit(preview_rows).collect()]
    return HourWritten(
        topic=topic,
        hour=hour,
        uri=lake.uri(relative),
        rows=sum(o.records for o in offsets),
        bytes=lake.size_bytes(relative),
        offsets=offsets,
        preview=preview,
    )
