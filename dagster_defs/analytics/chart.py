"""The hour's candlestick chart as PNG bytes (matplotlib, headless Agg backend)."""

from __future__ import annotations

import io

import polars as pl

MAX_PANELS = 6


def candlestick_png(candles: pl.DataFrame, title: str) -> bytes:
    """One panel per symbol (the busiest first), candles over volume bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    busiest = (
        candles.group_by("symbol").agg(pl.col("volume").sum()).sort("volume", descending=True)
    )["symbol"].to_list()[:MAX_PANELS]
    panels = max(1, len(busiest))
    figure, axes = plt.subplots(
        panels * 2, 1, figsize=(10, 3.2 * panels), sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": [3, 1] * panels},
    )  # fmt: skip
    width = 1 / 24 / 60 * 0.7  # 70 % of a minute, in days
    for index, symbol in enumerate(busiest):
        price_ax, volume_ax = axes[2 * index][0], axes[2 * index + 1][0]
        rows = candles.filter(pl.col("symbol") == symbol).sort("minute")
        for row in rows.iter_rows(named=True):
            x = mdates.date2num(row["minute"])
            rising = row["close"] >= row["open"]
            colour = "#2e7d32" if rising else "#c62828"
            price_ax.vlines(x, row["low"], row["high"], color=colour, linewidth=1)
            bottom, top = sorted((row["open"], row["close"]))
            price_ax.add_patch(
                matplotlib.patches.Rectangle(
                    (x - width / 2, bottom), width, max(top - bottom, 1e-9), color=colour
                )
            )
            volume_ax.bar(x, row["volume"], width=width, color=colour, alpha=0.6)
        price_ax.plot(
            [mdates.date2num(m) for m in rows["minute"]], rows["vwap"].to_list(),
            color="#1565c0", linewidth=1, label="VWAP 1m",
        )  # fmt: skip
        price_ax.set_ylabel(f"{symbol} price")
        price_ax.legend(loc="upper left", fontsize=8)
        price_ax.grid(alpha=0.3)
        volume_ax.set_ylabel("lots")
        volume_ax.grid(alpha=0.3)
        price_ax.autoscale_view()
    if not busiest:
        axes[0][0].text(0.5, 0.5, "no trades in this hour", ha="center", va="center")
    axes[-1][0].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz="UTC"))
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


# Dagster 1.13's UI renders a markdown metadata value inline only below 1,000 characters
# (longer ones sit behind "[Show Markdown]"): the inline thumbnail must fit in that.
INLINE_MARKDOWN_LIMIT = 1000


def sparkline_markdown(candles: pl.DataFrame, limit: int = INLINE_MARKDOWN_LIMIT) -> str:
    """The busiest symbol's 1-minute closes as a 1-bit PNG line, as a markdown image with a
    data: URI short enough to be shown inline; narrower until it fits."""
    import base64

    if candles.is_empty():
        return "_no trades in this hour_"
    symbol = (
        candles.group_by("symbol").agg(pl.col("volume").sum()).sort("volume", descending=True)
    )["symbol"][0]
    closes = candles.filter(pl.col("symbol") == symbol).sort("minute")["close"].to_list()
    for width in (240, 200, 160, 120, 90, 60):
        png = _sparkline_png(closes, width, height=48)
        text = f"![{symbol} closes](data:image/png;base64,{base64.b64encode(png).decode()})"
        if len(text) < limit:
            return text
    return f"_{symbol}: {len(closes)} candles (chart too detailed for an inline preview)_"


def _sparkline_png(values: list[float], width: int, height: int) -> bytes:
    from PIL import Image, ImageDraw

    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 1) / max(1, len(values) - 1)
    points = [
        (round(i * step), round((height - 3) * (1 - (v - low) / span)) + 1)
        for i, v in enumerate(values)
    ]
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    if len(points) == 1:
        draw.point(points[0], fill=0)
    else:
        draw.line(points, fill=0, width=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
