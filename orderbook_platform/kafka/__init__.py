"""Kafka at the edge: client factories and the declared topics."""
