"""The data pipeline (docs/data.md): sources -> validator -> balancer/splitter -> data/mlx_format/.

Modules, one concept each: `hand_authored` (data/hand_authored/), `converters` (public formats),
`domain` (repositories mined with real tool runs), `direct` (docs and docstrings), `validate` (rules
with stable ids), `balance` (label ratio, category caps, stable split), `config` (configs/data.yaml),
`build` (the whole pipeline and its manifest), `cli` (the `mlx-distill data` commands).
"""
