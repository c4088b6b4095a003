"""The miner: candidates of every scanned repository, answered by really running the tools, taken
round-robin over categories and templates."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from typing import Any, Iterable, Sequence

from ....schema import Record, ToolCall, build_record
from ....tools import CommandOutput, ToolResult, Workspace
from ....vocab import TOOL_CATEGORIES as CATEGORIES
from ....questions import normalize_question
from ...ids import stable_id
from .candidate import Candidate, Step, planned_steps
from .classes import class_candidates
from .functions import function_candidates
from .modules import module_candidates
from .repository import repo_candidates
from .scanner import Repo, scan_repo

SOURCE = "domain"


def candidates(repo: Repo) -> list[Candidate]:
    out = repo_candidates(repo)
    for mod in repo.modules:
        out.extend(module_candidates(repo, mod))
        for c in mod.classes:
            out.extend(class_candidates(repo, mod, c))
        for f in mod.functions:
            out.extend(function_candidates(repo, mod, f))
    return out


class _ScratchWrites:
    """write_file really runs, in a scratch copy of the target's directory, so the repository is untouched."""

    def __init__(self) -> None:
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="mlx-distill-domain-")

    def execute(self, args: dict[str, Any]) -> ToolResult:
        return Workspace(self._dir.name).execute("write_file", args)

    def close(self) -> None:
        self._dir.cleanup()


def _run(c: Candidate, ws: Workspace, scratch: _ScratchWrites,
         max_chars: int) -> tuple[list[Step], list[ToolResult]] | None:
    """The candidate's calls, really run; None when one fails, is cut short, or is longer than max_chars."""
    steps: list[Step] = []
    results: list[ToolResult] = []
    planned = planned_steps(c)
    n = len(planned) if planned else c.n_steps
    for i in range(n):
        step = planned[i] if planned else c.steps([r.data for r in results])  # type: ignore[operator]
        if step is None:
            return None
        name, args = step
        res = scratch.execute(args) if name == "write_file" else ws.execute(name, args)
        if not res.ok or res.truncated or getattr(res.data, "stopped_after", None) or len(res.text) > max_chars:
            return None
        if isinstance(res.data, CommandOutput) and res.data.exit_code != 0:
            if not (c.kind == "grep-count" and res.data.exit_code == 1):  # grep -c finding nothing
                return None
        steps.append(step)
        results.append(res)
    return steps, results


def generate_domain(paths: Iterable[str | os.PathLike], *, seed: int = 0, limit: int | None = None,
                    include: Sequence[str] | None = None, max_result_chars: int = 1500,
                    categories: Sequence[str] | None = None, run_commands: bool = True,
                    system_prompt: str | None = None) -> list[Record]:
    """Mine each repository in `paths` into tool-using records (see the module docstring)."""
    from ....prompting import DEFAULT_SYSTEM_PROMPT
    from ....tools import tool_schemas

    tools = tool_schemas()
    rng = random.Random(seed)
    pools: dict[str, dict[str, list[tuple[Repo, Candidate]]]] = defaultdict(lambda: defaultdict(list))
    repos = []
    for p in paths:
        repo = scan_repo(p, include)
        repos.append(repo)
        for c in candidates(repo):
            if categories and c.category not in categories:
                continue
            if not run_commands and c.category == "run":
                continue
            pools[c.category][c.kind].append((repo, c))
    # Two-level round robin: categories in a fixed order, and within each, its kinds (templates) in a
    # seeded order, each kind's candidates shuffled; so a limit keeps both categories and kinds varied.
    streams: dict[str, list[list[tuple[Repo, Candidate]]]] = {}
    for cat in CATEGORIES:
        if cat not in pools:
            continue
        kinds = sorted(pools[cat])
        rng.shuffle(kinds)
        for k in kinds:
            rng.shuffle(pools[cat][k])
        streams[cat] = [pools[cat][k] for k in kinds]
    # The commands are the generator's own (wc, grep -c), never a model's: they run the same with or
    # without an OS sandbox, so a machine without one builds the same data.
    workspaces = {id(r): Workspace(r.root, writable=False, dangerously_unsandboxed=True) for r in repos}
    scratch = _ScratchWrites()
    records: list[Record] = []
    seen_q: set[str] = set()
    pos = {cat: [0] * len(st) for cat, st in streams.items()}
    turn = {cat: 0 for cat in streams}

    def next_from(cat: str) -> Record | None:
        st = streams[cat]
        while any(pos[cat][i] < len(st[i]) for i in range(len(st))):
            i = turn[cat] % len(st)
            turn[cat] += 1
            if pos[cat][i] >= len(st[i]):
                continue
            repo, c = st[i][pos[cat][i]]
            pos[cat][i] += 1
            rec = _make(repo, c, workspaces[id(repo)], scratch, rng, seen_q, tools,
                        system_prompt or DEFAULT_SYSTEM_PROMPT, max_result_chars)
            if rec is not None:
                return rec
        return None

    try:
        active = list(streams)
        while active and (limit is None or len(records) < limit):
            for cat in list(active):
                if limit is not None and len(records) >= limit:
                    break
                rec = next_from(cat)
                if rec is None:
                    active.remove(cat)
                else:
                    records.append(rec)
    finally:
        scratch.close()
    return records


def _make(repo: Repo, c: Candidate, ws: Any, scratch: _ScratchWrites, rng: random.Random, seen_q: set[str],
          tools: list[dict[str, Any]], system_prompt: str, max_chars: int) -> Record | None:
    phrasings = list(c.questions)
    rng.shuffle(phrasings)
    question = next((q for q in phrasings if normalize_question(q) not in seen_q), None)
    if question is None:
        return None
    ran = _run(c, ws, scratch, max_chars)
    if ran is None:
        return None
    steps, results = ran
    answer = c.answer([r.data for r in results])
    if not answer:
        return None
    seen_q.add(normalize_question(question))
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt},
                                      {"role": "user", "content": question}]
    for (name, args), res in zip(steps, results):
        messages.append({"role": "assistant", "content": "", "tool_calls": [ToolCall.of(name, args).to_json()]})
        messages.append({"role": "tool", "name": name, "content": res.text})
    messages.append({"role": "assistant", "content": answer})
    return build_record(messages, tools, id=stable_id("domain", repo.name, c.kind, c.key, question),
                        source=SOURCE, category=c.category, label="tool", template=c.kind, repo=repo.name)
