"""The trader swarm: strategies with state (pure core) and the edges that run them.

Pure core (no Kafka, no clock): `base`, `market`, `news`, `strategies/`, `swarm`,
`realism`. Edges: `pool` (live, Kafka), `simulate` (fast-forward, files and optionally
Kafka), `cli`.
"""
