"""Collection prompts: one JSON object per line, and the workspace each one runs in.

    {"id": "q1", "question": "...", "label": "tool"|"direct", "category": "read",
     "workspace": {"path": "DIR"} | {"generator": "NAME", "seed": 1007, ...params},
     "answer": {"type": "contains", "value": "{file_name}"}}

Only `question` is required. Without `workspace` a prompt runs in an empty scratch directory; a `path`
workspace (relative to the current directory) is copied (in a git checkout, only what git shows: no
ignored outputs; elsewhere all but hidden entries), and the original is never touched; a `generator` workspace is built by the benchmark's seeded workspace builders
(`mlx_distill.bench.workspaces`; the key `generator` names one, as `workspace.kind` does in a suite), and `{placeholders}` in the question and `answer` (the benchmark's
answer spec) are filled from the facts it returns, which is what lets verification check the answer.

Built workspaces never reproduce a held-out benchmark workspace: the benchmark draws a case's
files from the stream (seed, case id) with seeds 0..N-1, and a prompt draws them from (seed,
`TRAINING_STREAM`) with seed >= `MIN_TRAINING_SEED`: `load_prompts` refuses a lower seed, and a test
proves no benchmark case is called `TRAINING_STREAM`, so the two never draw from the same stream.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError
from ..io import read_objects
from ..questions import Question

MIN_TRAINING_SEED = 1000
TRAINING_STREAM = "teacher-prompt"


class PathWorkspace(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)


class BuiltWorkspace(BaseModel):
    model_config = ConfigDict(extra="allow")  # the builder's parameters
    generator: str = Field(min_length=1)
    seed: int = Field(ge=MIN_TRAINING_SEED)

    @model_validator(mode="after")
    def _known(self) -> "BuiltWorkspace":
        from ..bench.workspaces import WORKSPACE_BUILDERS

        if self.generator not in WORKSPACE_BUILDERS:
            raise ValueError(
                f"unknown workspace builder {self.generator!r} (known: {', '.join(sorted(WORKSPACE_BUILDERS))})"
            )
        return self

    def spec(self) -> dict[str, Any]:
        """The benchmark's workspace spec: {"kind": builder, **params}."""
        params = {k: v for k, v in (self.model_extra or {}).items()}
        return {"kind": self.generator, **params}


class Prompt(Question):
    """A teacher prompt: the shared `Question`, its workspace a directory to copy or a builder to run."""

    workspace: Optional[Union[PathWorkspace, BuiltWorkspace]] = None

    @field_validator("workspace", mode="before")
    @classmethod
    def _one_kind(cls, v: Any) -> Any:
        """Pick the workspace kind by its key, so an error names the right fields."""
        if isinstance(v, dict):
            if "generator" in v:
                return BuiltWorkspace.model_validate(v)
            if "path" in v:
                return PathWorkspace.model_validate(v)
            raise ValueError('workspace needs "path" (a directory to copy) or "generator" and "seed"')
        return v

    def key_fields(self) -> dict[str, Any]:
        """What the record key hashes (everything but the id)."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"id"})


def load_prompts(path: str | os.PathLike) -> list[Prompt]:
    """Every prompt of a JSONL file; the first bad line raises InputError naming file:line and the field.
    Prompts without an id get `<file stem>-<line>`."""
    stem = Path(path).stem

    def prompt(obj: dict[str, Any], lineno: int) -> Prompt:
        try:
            made = Prompt.model_validate(obj)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "greater_than_equal" and loc.endswith("seed"):
                msg += " (training seeds start at 1000: lower ones are the held-out benchmark's)"
            raise ValueError(f"{loc or '<prompt>'}: {msg}") from None
        made.id = made.id or f"{stem}-{lineno}"
        return made

    return read_objects(path, prompt, rule="prompt", empty="no prompts in file", id_of=lambda p: p.id or "")


def _ignore_hidden(directory: str, names: list[str]) -> set[str]:
    from ..tools import SKIPPED_DIRS

    return {n for n in names if n.startswith(".") or n in SKIPPED_DIRS}


def _git_files(src: Path) -> list[str] | None:
    """The files git shows in `src` (tracked, and untracked but not ignored), or None outside a checkout:
    a repository's ignored outputs (virtual environments, runs, adapters) never enter a workspace."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "-C", str(src), "ls-files", "-z", "-co", "--exclude-standard"],
            capture_output=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [f for f in out.decode("utf-8", "replace").split("\0") if f]


def copy_directory(src: Path, root: Path) -> None:
    """Copy a `path` workspace: what git shows of a checkout, else everything but hidden entries."""
    files = _git_files(src)
    if files is None:
        shutil.copytree(src, root, ignore=_ignore_hidden, dirs_exist_ok=True, symlinks=True)
        return
    root.mkdir(parents=True, exist_ok=True)
    for rel in files:
        source, dest = src / rel, root / rel
        if source.is_file() or source.is_symlink():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest, follow_symlinks=False)


def prepare_workspace(prompt: Prompt, root: str | os.PathLike) -> dict[str, Any]:
    """Fill the empty directory `root` with the prompt's workspace; returns the builder's facts ({} otherwise)."""
    root = Path(root)
    ws = prompt.workspace
    if isinstance(ws, PathWorkspace):
        src = Path(ws.path).expanduser()
        if not src.is_dir():
            raise InputError(f"workspace path {ws.path!r} is not a directory", record_id=prompt.id, rule="workspace")
        copy_directory(src, root)
        return {}
    if isinstance(ws, BuiltWorkspace):
        from ..bench.workspaces import build_workspace

        return build_workspace(ws.spec(), root, case_id=TRAINING_STREAM, seed=ws.seed)
    root.mkdir(parents=True, exist_ok=True)
    return {}


def question_text(prompt: Prompt, facts: dict[str, Any]) -> str:
    """The question as asked: {placeholders} filled from the workspace's facts."""
    if not facts:
        return prompt.question
    from ..bench.suites import fill

    try:
        return fill(prompt.question, facts)
    except (KeyError, IndexError, ValueError) as e:
        raise InputError(
            f"question placeholder {e} is not a fact of workspace builder "
            f"{getattr(prompt.workspace, 'generator', '?')} (facts: {', '.join(sorted(facts))})",
            record_id=prompt.id,
            rule="prompt",
        ) from None


def asked_questions(prompts: list[Prompt]) -> list[str]:
    """Each prompt's question as the teacher would see it (built workspaces made in a scratch directory)."""
    import tempfile

    out = []
    for p in prompts:
        facts: dict[str, Any] = {}
        if isinstance(p.workspace, BuiltWorkspace):
            with tempfile.TemporaryDirectory(prefix="mlx-distill-prompt-") as tmp:
                facts = prepare_workspace(p, tmp)
        out.append(question_text(p, facts))
    return out


def leakage_findings(prompts: list[Prompt], bench: list[str | os.PathLike], *, path: str | None = None) -> list[Any]:
    """The validator's corpus rules (bench-overlap: a held-out benchmark question or an instance of one
    of its templates; duplicates) over the prompts' questions as asked: leakage found before any call."""
    from ..data.validate import Located, corpus_findings, load_bench
    from ..schema import Record

    items = [
        Located(
            Record.model_validate(
                {
                    "messages": [{"role": "user", "content": q}],
                    "meta": {"id": p.id, "source": "prompt", "category": p.category or "x", "label": p.label or "tool"},
                }
            ),
            path,
            i + 1,
        )
        for i, (p, q) in enumerate(zip(prompts, asked_questions(prompts)))
    ]
    return corpus_findings(items, load_bench(bench))
