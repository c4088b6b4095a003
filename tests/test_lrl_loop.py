"""The LRL teacher loop against the loopback fake of the Messages API (the real anthropic SDK through
pydantic-ai): journal entries per batch about the verifier's verdicts, strategy rewrites, everything in the
run directory, and a SIGKILL-and-resume that loses and repeats nothing."""

import json
import os
import signal
import subprocess
import sys
import time

from mlx_distill.teacher.ledger import read_ledger
from mlx_distill.lrl.loop import run_loop
from mlx_distill.lrl.pipeline import Pipeline, load_config
from mlx_distill.lrl.task import get_task
from mlx_distill.lrl.teacher import JournaledTeacher
from mlx_distill.testing.fake_anthropic import FakeAnthropic

TEACHER = "anthropic:claude-sonnet-5-5"


def yes_sayer(question, turn, body):
    """A teacher that answers YES to every problem (wrong on every NO), journals, and rewrites strategies."""
    if question.startswith("Meetings:"):
        return "I think they fit.\nAnswer: YES"
    if question.startswith("You answered"):
        wrong = question.count("The verifier says this is wrong")
        return f"I said YES {wrong} times when the meetings did not fit: count overlaps before answering."
    if question.startswith("Task: meeting-rooms"):
        entries = question.count("\n- ")
        return f"1. Sweep the events in time order, ends before starts.\n2. Peak <= rooms: YES. ({entries} entries)"
    return "?"


def test_loop_journals_mistakes_and_rewrites_the_strategy(tmp_path, monkeypatch):
    task = get_task("meeting-rooms")
    with FakeAnthropic(yes_sayer) as fake:
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        teacher = JournaledTeacher(TEACHER, tmp_path / "loop" / "teacher", max_tokens=256)
        result = run_loop(
            task,
            teacher,
            tmp_path,
            batches=3,
            batch_size=4,
            rewrite_every=2,
            difficulties=[1, 2],
            seed=0,
            strategy="Think.",
        )
        journal_asks = [
            b for b in fake.message_requests() if b["messages"][0]["content"][0]["text"].startswith("You answered")
        ]
    assert [b["accuracy"] for b in result.batches] == [0.5, 0.5, 0.5]  # YES is right on the balanced half
    assert result.versions == 2  # after batch 2 and after the last batch
    assert (tmp_path / "loop" / "strategy-v0.md").read_text() == "Think."
    assert "(2 entries)" in (tmp_path / "loop" / "strategy-v1.md").read_text()
    assert result.strategy.strip().endswith("(3 entries)")
    # the journal prompt tells the teacher which answers were wrong and the solver's truth
    first = journal_asks[0]["messages"][0]["content"][0]["text"]
    assert first.startswith("You answered 2 of 4") and first.count("the correct answer is NO") == 2
    batch = json.loads((tmp_path / "loop" / "batch-002.json").read_text())
    assert batch["strategy_version"] == 1 and batch["difficulty"] == 1
    assert "I said YES 2 times" in (tmp_path / "loop" / "journal.md").read_text()
    # the answers were asked with the strategy in the system prompt
    assert batch["answers"][0]["text"].endswith("Answer: YES")
    assert len(read_ledger(tmp_path / "loop" / "teacher")) == 3 * (4 + 1) + 2
    assert all(r["kind"] == "lrl" and r["cost_usd"] > 0 for r in read_ledger(tmp_path / "loop" / "teacher"))


def _lines(path):
    return path.read_text().count("\n") if path.exists() else 0


def _kill_when(cmd, predicate, env):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    try:
        while not (predicate() or proc.poll() is not None):
            assert time.monotonic() - t0 < 120, "timed out"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_sigkill_and_resume_loses_and_repeats_nothing(tmp_path, monkeypatch):
    recipe = tmp_path / "lrl.yaml"
    recipe.write_text("loop: {batches: 4, batch_size: 4, rewrite_every: 2, difficulties: [1, 2]}\n")
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    cmd = [
        sys.executable,
        "-m",
        "mlx_distill.cli",
        "lrl",
        "loop",
        "-c",
        str(recipe),
        "--task",
        "meeting-rooms",
        "--teacher",
        TEACHER,
        "--run-dir",
        str(killed),
    ]
    turns = killed / "loop" / "teacher" / "turns.jsonl"
    with FakeAnthropic(yes_sayer, latency_s=0.05) as fake:
        env = {**os.environ, **fake.env()}
        _kill_when(cmd, lambda: _lines(turns) >= 3, env)  # mid first batch
        _kill_when(cmd, lambda: _lines(turns) >= 12, env)  # after the first strategy rewrite
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        killed_bodies = [json.dumps(b, sort_keys=True) for b in fake.message_requests()]
        fake.requests.clear()
        for k, v in fake.env().items():  # the same recipe, uninterrupted, in this process
            monkeypatch.setenv(k, v)
        Pipeline(load_config(recipe, {"teacher": TEACHER, "run_dir": str(clean)})).strategy()
        clean_bodies = [json.dumps(b, sort_keys=True) for b in fake.message_requests()]
    # 4 batches of 4 answers and a journal entry, a rewrite every 2 batches -> 4 * (4 + 1) + 2 calls
    assert len(clean_bodies) == len(set(clean_bodies)) == 4 * 5 + 2
    assert set(killed_bodies) == set(clean_bodies)
    assert len(killed_bodies) - len(set(killed_bodies)) <= 2  # only what was in flight at each kill
    rows = read_ledger(killed / "loop" / "teacher")
    assert len(rows) == len({r["call_id"] for r in rows}) == 4 * 5 + 2
    for name in [f"batch-{b:03d}.json" for b in range(4)] + [f"strategy-v{v}.md" for v in range(3)] + ["journal.md"]:
        assert (killed / "loop" / name).read_text() == (clean / "loop" / name).read_text(), name
    assert (killed / "strategy.md").read_text() == (clean / "strategy.md").read_text()
