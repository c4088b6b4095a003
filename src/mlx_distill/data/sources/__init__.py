"""Every record source of the data build, behind one registry keyed by the config's `type`
(`registry.py`): `hand_authored` (YAML/JSONL examples), `domain` (a repository mined with the real
tools; a package of small modules), `direct` (general-knowledge Q/A mined from Markdown and
docstrings), `convert` (`converters.py`: public formats), `records` (JSONL records as they are),
`teacher` (`teacher_store.py`: the accepted records of a teacher store, the store's read side) and
`catalogue` (questions over generated tool sets). `data build` looks a source up instead of branching."""
