"""A small partition-aware parquet IO manager over the lake, for polars frames.

dagster-polars would be the obvious choice, but its 0.27 line calls
`scan_parquet(rechunk=...)`, removed in polars 2, and pinning polars < 2 for
one IO manager would hold back every other user of polars in the repo. Thirty lines of
explicit parquet I/O through `Lake` are easier to own (docs/data-platform.md).

Where a table lives comes from the asset's `lake_path` metadata (`raw/trades`,
`analytics/ohlc_1m`); each hourly partition is one folder under it.
"""

import dagster as dg
import polars as pl

from dagster_defs.lake import Lake, analytics_path, partition_path
from dagster_defs.partitions import hour_start
from dagster_defs.resources import LakeResource

LAKE_PATH = "lake_path"
DATA_FILE = "data.parquet"


def table_of(asset_key: dg.AssetKey, metadata: dict | None) -> str:
    value = (metadata or {}).get(LAKE_PATH)
    if isinstance(value, dg.TextMetadataValue):
        value = value.value
    return str(value) if value else analytics_path(asset_key.path[-1])


def read_partition(lake: Lake, table: str, partition_key: str) -> pl.DataFrame:
    """One hour of a table; a partition that was never written is an error, not an empty frame."""
    relative = partition_path(table, hour_start(partition_key))
    frame = lake.read_parquet(relative)
    if frame is None:
        raise dg.Failure(
            f"{lake.uri(relative)} holds no parquet file: materialise {table} for {partition_key} first"
        )
    return frame


def well_formed(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of a raw frame that parsed into their contract, without the error columns.

    Malformed records stay in the lake with their coordinates (the checks report them);
    the analytics never see them. Partitions written before the columns existed pass as is.
    """
    if "kafka_value_error" not in frame.columns:
        return frame
    kept = frame.filter(pl.col("kafka_value_error").is_null())
    return kept.drop("kafka_value_error", "kafka_value", strict=False)


class LakeIOManager(dg.ConfigurableIOManager):
    lake: LakeResource

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:  # written by the asset itself (Spark); nothing to store
            return
        table = table_of(context.asset_key, dict(context.definition_metadata or {}))
        lake = self.lake.lake()
        relative = partition_path(table, hour_start(context.asset_partition_key))
        lake.delete(relative)
        uri = lake.write_parquet(obj, f"{relative}/{DATA_FILE}")
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(uri),
                # Dagster's reserved key: the asset page shows it as the row count.
                "dagster/row_count": obj.height,
                "bytes": lake.size_bytes(relative),
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        upstream = context.upstream_output
        assert upstream is not None
        table = table_of(context.asset_key, dict(upstream.definition_metadata or {}))
        lake = self.lake.lake()
        frames = [
            well_formed(read_partition(lake, table, key)) for key in context.asset_partition_keys
        ]
        return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
