"""Collecting a teacher's judgement through the real agent and tools (`mlx-distill collect`).

- `prompts`: prompt lines and the workspaces they are asked in
- `collect`: the collection run (concurrent, resumable, within a budget)
- `journal`: one prompt's requests, journaled and replayed on resume
- `message_batches`: the same run through Anthropic's Message Batches (half price, turn by turn)
- `verify`: execution-checked verification of each record before it may reach training
"""
