"""The LRL recipe and its stages, each resumable from the run directory:

    test set -> [teacher loop -> strategy] -> synthesis + data build -> training -> evaluation

    RUN/config.yaml       the resolved recipe
    RUN/test.jsonl        the held-out, class-balanced problems (fixed before anything is trained)
    RUN/loop/             the teacher loop (loop.py), when no strategy file is given
    RUN/strategy.md       the strategy every synthetic prompt carries
    RUN/synthetic.jsonl   the verified records; RUN/data/ the data build over them (train/valid)
    RUN/adapter/          the `mlx-distill train` run directory (adapter, metrics, loss.png)
    RUN/eval/             report.md, report.json, answers.jsonl, chart.png; answers-<column>.jsonl caches

A stage whose output exists is skipped, so a killed run continues where it stopped; a teacher is never
asked the same thing twice (teacher.py). With a strategy file and no teacher, everything runs offline.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Sequence, Union

from pydantic import Field

from ..config import StrictModel as _Strict
from ..config import apply_overrides, read_yaml, validate
from ..errors import InputError
from ..io import atomic_write_text, read_jsonl, read_text, sha256_file, write_jsonl
from .prompt import strategy_hash
from .task import Task, class_balance, describe_balance, get_task, mixed_set, target_format_name, with_target_format


class SynthSpec(_Strict):
    n: int = Field(default=200, ge=2)
    difficulties: list[int] = Field(default_factory=lambda: [1])
    seed: int = 0
    valid: float = Field(default=0.1, ge=0, lt=1)
    curriculum: bool = False  # train easiest first: the train file in difficulty order, batches in file order
    balance_steps: bool = False  # problems whose worked judgements come out even (task.step_outcomes)


AUTO_MARGIN = 8  # tokens beyond the longest worked solution: room for a slightly longer reply, no more


class EvalSpec(_Strict):
    n: int = Field(default=200, ge=2)
    difficulties: list[int] = Field(default_factory=lambda: [1])
    seed: int = 1_000_000  # far from the synthesis and loop seeds; questions are excluded from both anyway
    max_tokens: Union[int, Literal["auto"]] = "auto"  # auto: the test set's longest worked solution + AUTO_MARGIN
    batch_size: int = Field(default=20, ge=1)
    base: bool = True  # also evaluate the student without the adapter
    teacher: bool = True  # also evaluate the teacher, with and without the strategy (when there is a teacher)


class LoopSpec(_Strict):
    batches: int = Field(default=6, ge=1)
    batch_size: int = Field(default=8, ge=2)
    rewrite_every: int = Field(default=2, ge=1)
    difficulties: list[int] = Field(default_factory=lambda: [1, 2, 3])
    seed: int = 500_000
    max_tokens: int = Field(default=2048, ge=16)


class LRLConfig(_Strict):
    task: str = "meeting-rooms"
    teacher: Optional[str] = None  # any name resolve_teacher accepts; None: offline (needs `strategy`)
    strategy: Optional[str] = None  # a strategy file ("{target_format}" in it: the format's name); skips the loop
    target_format: Optional[str] = None  # how the worked solutions are written (the task's formats); None: its default
    student: str = "embedded:smollm2-135m"
    run_dir: str = "runs/lrl/meeting-rooms"
    loop: LoopSpec = Field(default_factory=LoopSpec)
    synth: SynthSpec = Field(default_factory=SynthSpec)
    train: dict[str, Any] = Field(
        default_factory=dict
    )  # `mlx-distill train` keys; data/adapter_path/model are set here
    eval: EvalSpec = Field(default_factory=EvalSpec)


def load_config(path: str | os.PathLike | None, overrides: dict[str, Any] | None = None) -> LRLConfig:
    """A recipe file (or the defaults) with `overrides` (CLI options; None values ignored) on top. Relative
    paths in the file are relative to the current directory, as everywhere in mlx-distill."""
    raw: dict[str, Any] = read_yaml(path) if path else {}
    raw = apply_overrides(raw, {k: v for k, v in (overrides or {}).items() if v is not None}, LRLConfig)
    return validate(LRLConfig, raw, path=path)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class Pipeline:
    """The stages of one run; each method can be called on its own (the CLI's `lrl synth/train/eval`)."""

    def __init__(self, cfg: LRLConfig, *, log: Callable[[str], None] | None = None):
        import yaml

        self.cfg = cfg
        self.task: Task = with_target_format(get_task(cfg.task), cfg.target_format)
        self.dir = Path(cfg.run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.say = log or (lambda _m: None)
        atomic_write_text(self.dir / "config.yaml", yaml.safe_dump(cfg.model_dump(), sort_keys=False))
        self._teacher: Any = None

    # -- pieces ------------------------------------------------------------------------------------------
    def teacher(self) -> Any:
        if self._teacher is None:
            if not self.cfg.teacher:
                raise InputError(
                    "this stage needs a teacher (--teacher MODEL) or a strategy file (--strategy FILE)", rule="config"
                )
            from .teacher import JournaledTeacher

            self._teacher = JournaledTeacher(
                self.cfg.teacher, self.dir / "loop" / "teacher", max_tokens=self.cfg.loop.max_tokens
            )
        return self._teacher

    def test_problems(self) -> list[dict[str, Any]]:
        """The held-out set, written once: later stages and re-runs read the same problems."""
        path = self.dir / "test.jsonl"
        if path.exists():
            return [row for _line, row in read_jsonl(path)]
        e = self.cfg.eval
        problems = mixed_set(self.task, e.n, seed=e.seed, difficulties=e.difficulties)
        write_jsonl(path, problems)
        self.say(f"held-out test set: {len(problems)} problems, {describe_balance(class_balance(self.task, problems))}")
        return problems

    def held_out_questions(self) -> set[str]:
        return {self.task.render(p) for p in self.test_problems()}

    # -- stages ------------------------------------------------------------------------------------------
    def strategy(self) -> str:
        """The given strategy file, or the teacher loop's final strategy (RUN/strategy.md)."""
        path = self.dir / "strategy.md"
        if self.cfg.strategy:
            src = Path(self.cfg.strategy.replace("{target_format}", target_format_name(self.task) or ""))
            if not src.exists():
                raise InputError("strategy file not found", path=src, rule="config")
            text = read_text(src, rule="config")
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                atomic_write_text(path, text)
            return text
        if path.exists():
            return path.read_text(encoding="utf-8")
        from .loop import run_loop

        lp = self.cfg.loop
        self.say(f"teacher loop: {lp.batches} batches of {lp.batch_size} with {self.cfg.teacher}")
        result = run_loop(
            self.task,
            self.teacher(),
            self.dir,
            batches=lp.batches,
            batch_size=lp.batch_size,
            rewrite_every=lp.rewrite_every,
            difficulties=lp.difficulties,
            seed=lp.seed,
            exclude=self.held_out_questions(),
            log=self.say,
        )
        self.say(
            f"teacher accuracy by batch: {', '.join(f'{a:.0%}' for a in result.accuracy_by_batch)}; "
            f"{result.versions} strategy versions"
        )
        atomic_write_text(path, result.strategy)
        return result.strategy

    def synthesize(self) -> Path:
        """synthetic.jsonl and the data build over it (data/); skipped when both exist for this strategy,
        target format and synthesis recipe."""
        from ..schema import load_records, save_records
        from .synth import balance_line, build_data, synthesize

        strategy = self.strategy()
        records_path, data_dir = self.dir / "synthetic.jsonl", self.dir / "data"
        stamp = self.dir / "synthetic.strategy"
        made_by = f"{strategy_hash(strategy)} {target_format_name(self.task)} {self.cfg.synth.model_dump_json()}"
        if not (records_path.exists() and stamp.exists() and stamp.read_text() == made_by):
            s = self.cfg.synth
            records = synthesize(
                self.task,
                s.n,
                strategy=strategy,
                seed=s.seed,
                difficulties=s.difficulties,
                exclude=self.held_out_questions(),
                balance_steps=s.balance_steps,
            )
            save_records(records_path, records)
            atomic_write_text(stamp, made_by)
            self.say(f"synthesized {balance_line(self.task, records)}")
            if (data_dir / "manifest.json").exists():
                (data_dir / "manifest.json").unlink()
        if not (data_dir / "manifest.json").exists():
            result = build_data(
                records_path,
                data_dir,
                task=self.task,
                valid=self.cfg.synth.valid,
                seed=self.cfg.synth.seed,
                model=self.cfg.student,
                curriculum=self.cfg.synth.curriculum,
                log=self.say,
            )
            train = load_records(result.files["train"])
            self.say(f"data build: train {balance_line(self.task, train)}")
        return data_dir

    def train(self) -> Path:
        """`mlx-distill train` on data/ into adapter/ (resumed when a previous run stopped early)."""
        from ..train import load_config as load_train_config
        from ..train import train

        data_dir = self.synthesize()
        run_dir = self.dir / "adapter"
        same_data = _trained_on(run_dir, data_dir)
        if (run_dir / "result.json").exists() and same_data:
            return run_dir
        order = {"batch_order": "file"} if self.cfg.synth.curriculum else {}
        overrides = {
            **order,
            **self.cfg.train,
            "model": self.cfg.student,
            "data": str(data_dir),
            "adapter_path": str(run_dir),
        }
        cfg = load_train_config(None, overrides)
        resume = (run_dir / "state.json").exists() and same_data
        if run_dir.exists() and not same_data:
            self.say("the adapter in the run directory was trained on other data: training again")
        self.say(f"training {self.cfg.student}: {cfg.iters} steps{' (resuming)' if resume else ''}")
        result = train(cfg, resume=resume, overwrite=not resume and run_dir.exists())
        self.say(f"trained: loss {result.first_loss:.3f} -> {result.last_loss:.3f} in {result.seconds:.0f} s")
        return run_dir

    def trained_adapter(self) -> Path | None:
        run_dir = self.dir / "adapter"
        return run_dir if (run_dir / "result.json").exists() and _trained_on(run_dir, self.dir / "data") else None

    def evaluate(self, adapter_path: str | os.PathLike | None = None) -> dict[str, Any]:
        """Every column on the held-out set (answers cached per column), then the report in eval/: the base
        student, the adapted one (when an adapter is given), the teacher with and without the strategy
        (when the recipe has a teacher)."""
        from .evaluate import Subject, evaluate, model_answerer, student, write_report

        e = self.cfg.eval
        strategy = self.strategy()
        problems = self.test_problems()
        max_tokens = self.max_tokens(problems)
        subjects = []
        if e.base:
            subjects.append(
                Subject(
                    "base student",
                    student(
                        self.task, self.cfg.student, strategy=strategy, max_tokens=max_tokens, batch_size=e.batch_size
                    ),
                    strategy_used=True,
                )
            )
        if adapter_path is not None:
            subjects.append(
                Subject(
                    "adapted student",
                    student(
                        self.task,
                        self.cfg.student,
                        adapter_path=str(adapter_path),
                        strategy=strategy,
                        max_tokens=max_tokens,
                        batch_size=e.batch_size,
                    ),
                    strategy_used=True,
                )
            )
        if e.teacher and self.cfg.teacher:
            t = self.teacher()
            subjects.append(Subject("teacher", model_answerer(self.task, t)))
            subjects.append(
                Subject("teacher + strategy", model_answerer(self.task, t, strategy=strategy), strategy_used=True)
            )
        out = self.dir / "eval"
        asked = f"{strategy_hash(strategy)} {target_format_name(self.task)} {max_tokens}"  # what the answers depend on
        cached = [
            Subject(s.name, _cached(out / f"answers-{_slug(s.name)}.jsonl", s.answer, asked), s.strategy_used, s.info)
            for s in subjects
        ]
        if adapter_path is not None:  # a new adapter: its old answers are stale
            stale = out / "answers-adapted-student.jsonl"
            if stale.exists() and stale.stat().st_mtime < Path(adapter_path, "adapters.safetensors").stat().st_mtime:
                stale.unlink()
        data = evaluate(self.task, problems, cached, log=self.say)
        data["strategy"] = strategy
        paths = write_report(data, out)
        self.say(f"report: {paths['markdown']}  chart: {paths['chart']}")
        return data

    def max_tokens(self, problems: Sequence[dict[str, Any]]) -> int:
        """The students' reply budget: the recipe's number, or (auto) the longest worked solution of the
        test set in the student's tokens plus a margin, so every format gets room for its own steps."""
        if self.cfg.eval.max_tokens != "auto":
            return self.cfg.eval.max_tokens
        from ..models import load_tokenizer
        from .task import explain

        tokenizer = load_tokenizer(self.cfg.student)
        longest = max(len(tokenizer.encode(explain(self.task, p), add_special_tokens=False)) for p in problems)
        self.say(f"students answer in at most {longest + AUTO_MARGIN} tokens (longest worked solution {longest})")
        return longest + AUTO_MARGIN

    def run(self) -> dict[str, Any]:
        tic = time.perf_counter()
        data = self.evaluate(self.train())
        self.say(f"done in {time.perf_counter() - tic:.0f} s")
        return data


def _trained_on(run_dir: Path, data_dir: Path) -> bool:
    """Whether the training run in `run_dir` (finished or not) read the data build now in `data_dir`: a new
    target format, strategy or curriculum rebuilds the data, and its adapter is then trained again."""
    run, manifest = run_dir / "run.json", data_dir / "manifest.json"
    if not (run.exists() and manifest.exists()):
        return not run.exists()
    return json.loads(run.read_text(encoding="utf-8")).get("data_manifest_sha256") == sha256_file(manifest)


def _cached(
    path: Path, answer: Callable[[Sequence[Any]], list[str]], asked: str
) -> Callable[[Sequence[Any]], list[str]]:
    """Answers are written once per column: a re-run (or a run killed in a later column) reuses them, as
    long as they were asked the same way (`asked`: the strategy, target format and reply budget)."""

    def run(problems: Sequence[Any]) -> list[str]:
        if path.exists():
            rows = [row for _line, row in read_jsonl(path)]
            if len(rows) == len(problems) and all(r.get("asked") == asked for r in rows):
                return [r["text"] for r in rows]
        texts = answer(problems)
        write_jsonl(path, [{"text": t, "asked": asked} for t in texts])
        return texts

    return run
