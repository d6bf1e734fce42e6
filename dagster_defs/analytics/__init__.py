"""Hourly polars analytics: pure compute, the chart, thin assets."""
