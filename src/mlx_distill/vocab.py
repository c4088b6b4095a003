"""The project's vocabulary: the decision labels, the question categories, the split names and
When2Call's class names. Data, training, agent and benchmark import these; none defines its own.

Categories are per label. A tool category says what the question asks of the workspace; the data
sources (domain, hand-authored, converted records of our own tools) use all six, while the built-in
benchmark suite has no `structure` questions yet (listing a directory is exercised inside `count`).
Sources with other tool sets use their own categories (`catalogue_*`, BFCL's, When2Call's), which are
free text in `Meta.category`.
"""

from __future__ import annotations

from typing import Literal

Label = Literal["tool", "direct", "clarify", "refuse"]
LABELS: tuple[str, ...] = ("tool", "direct", "clarify", "refuse")

# Questions about the workspace, answered with the agent's tools.
TOOL_CATEGORIES: tuple[str, ...] = ("search", "read", "count", "structure", "run", "write")
# Questions answered from general knowledge, without tools.
DIRECT_CATEGORIES: tuple[str, ...] = ("concept", "comparison", "best_practice", "syntax", "architecture")
# The category a call of one of the agent's tools stands for (converted records of our own tools).
CATEGORY_OF_TOOL: dict[str, str] = {
    "grep": "search",
    "read_file": "read",
    "list_files": "structure",
    "run_command": "run",
    "write_file": "write",
}
# The category of a record without a call, by label (converted public data).
CATEGORY_OF_LABEL: dict[str, str] = {"direct": "general", "clarify": "clarify", "refuse": "refuse"}

SPLITS: tuple[str, ...] = ("train", "valid", "test")

# When2Call's four answer classes -> our labels.
WHEN2CALL_LABELS: dict[str, Label] = {
    "tool_call": "tool",
    "direct": "direct",
    "request_for_info": "clarify",
    "cannot_answer": "refuse",
}
