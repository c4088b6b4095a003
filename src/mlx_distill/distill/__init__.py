"""The teacher side: collect a teacher's judgement through the real agent, verify it, store it once,
and account for every call.

- `teacher`: `resolve_teacher(name)` -> a PydanticAI model (Anthropic, any PydanticAI name, local MLX)
- `prices`: the dated price table and `cost(model_id, usage, batch=False)`
- `ledger`: `ledger.jsonl`, one row per teacher call, and its totals
- `store`: the append-only, content-hash keyed record store that resumes after a kill
- `gate`: is the student good enough? balanced agreement with the teacher per decision class
- `router`: student first, teacher when the student's turn is unusable (a FallbackModel)
- `drift`: a sample of the student's turns also asked of the teacher; rolling agreement, warnings

The loopback fake of the Messages API that tests and benchmarks use is
`mlx_distill.testing.fake_anthropic`.
"""
