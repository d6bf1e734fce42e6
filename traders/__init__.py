"""The trader swarm: strategies with state (pure core) and the edges that run them.

Pure core (no Kafka, no clock, no I/O): `base` (state and exact accounting), `market`
(shared per-symbol views), `news` (the exogenous fair value), `strategies/` (one module
per strategy), `swarm` (mixes, heterogeneous parameters, wake-up times), `realism`
(stylized facts). Edges: `simulate` (fast-forward, engine core in process, JSONL files),
`publish` (files to Kafka), `pool` (live, Kafka), `settings`, `metrics`, `cli`.
See docs/market-realism.md.
"""
