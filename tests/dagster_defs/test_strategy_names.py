import polars as pl
import pytest

from dagster_defs.analytics.compute import strategy_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("trader_id", "strategy"),
    [
        ("mm-3", "mm"),
        ("rmwvztkn2.fundamental-41", "fundamental"),  # the live pool's `<run>.` prefix
        ("a.b.momentum-0", "momentum"),
        ("roundtrip", "roundtrip"),  # no numeric suffix: its own strategy
        (None, "unknown"),
    ],
)
def test_strategy_is_the_trader_id_without_run_prefix_and_number(trader_id, strategy):
    frame = pl.DataFrame({"trader_id": [trader_id]}, schema={"trader_id": pl.String})
    assert frame.select(strategy_of(pl.col("trader_id"))).item() == strategy
