"""Spark batch ingestion of the Kafka topics into the raw lake."""
