"""The teacher core that collection, economics and LRL share: one teacher model, one price table, one
ledger, one store.

- `model`: `resolve_teacher(name)` -> a PydanticAI model (Anthropic, any PydanticAI name, local MLX)
- `lifecycle`: is a named model still served (checked before anything is sent)
- `prices`: the dated price table and `cost(model_id, usage, batch=False)`
- `ledger`: `ledger.jsonl`, one row per teacher call, and its totals
- `store`: the append-only, content-hash keyed record store that resumes after a kill
- `budget`: a run's dollar cap
- `redact`: secrets out of stored text

The loopback fake of the Messages API that tests and benchmarks use is
`mlx_distill.testing.fake_anthropic`.
"""
