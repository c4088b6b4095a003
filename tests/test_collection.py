"""Teacher collection through the real agent against the loopback Messages API fake: records,
verification, faults, the budget, batches, resume after SIGKILL, and the CLI."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlx_distill.cli import main
from mlx_distill.collection.collect import CollectError, CollectSettings, collect
from mlx_distill.teacher.ledger import read_ledger
from mlx_distill.collection.prompts import Prompt, load_prompts
from mlx_distill.teacher.store import TeacherStore
from mlx_distill.testing.fake_anthropic import FakeAnthropic, Fault
from mlx_distill.testing.teacher_scripts import tool_results

TEACHER = "anthropic:claude-sonnet-5-5"
ROOT = Path(__file__).resolve().parents[1]


def oracle(question, turn, body):
    """A teacher that looks things up the way a good one does, and answers from what the tools showed."""
    m = re.search(r"`(\w+)`", question)
    if "defines" in question and m:
        if turn == 0:
            return {"tool": "grep", "input": {"pattern": f"def {m.group(1)}"}}
        path = tool_results(body)[-1].split(":", 1)[0]
        return f"`{m.group(1)}` is defined in {path}."
    if "notes.txt" in question:
        return (
            {"tool": "read_file", "input": {"path": "notes.txt"}}
            if turn == 0
            else f"It says: {tool_results(body)[-1].strip()}"
        )
    return "A closure is a function that captures variables from its enclosing scope."


PROMPTS = [
    Prompt(
        id="gen",
        question="Which module defines `{function}`?",
        label="tool",
        category="search",
        workspace={"generator": "function_definition", "seed": 1003},
        answer={"type": "contains", "value": "{file_name}"},
    ),
    Prompt(id="direct", question="What is a closure?", label="direct", category="concept"),
]


@pytest.fixture
def env(monkeypatch):
    """start(fake) points the SDK (here and in child processes) at the fake."""

    def start(fake):
        fake.start()
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        return fake

    return start


@pytest.fixture
def notes_dir(tmp_path):
    d = tmp_path / "project"
    d.mkdir()
    (d / "notes.txt").write_text("ship on friday\n")
    return d


def _records(store):
    lines = (Path(store) / "records.jsonl").read_text().splitlines()
    return {json.loads(line)["meta"]["id"]: json.loads(line) for line in lines}


def test_interactive_and_batch_collection_give_identical_verified_records(tmp_path, env, notes_dir):
    prompts = PROMPTS + [
        Prompt(
            id="path",
            question="What does notes.txt say?",
            label="tool",
            category="read",
            workspace={"path": str(notes_dir)},
        )
    ]
    with env(FakeAnthropic(oracle)):
        live = collect(TEACHER, prompts, tmp_path / "live", concurrency=3)
    with env(FakeAnthropic(oracle, batch_polls=1)) as fake:
        batched = collect(TEACHER, prompts, tmp_path / "batch", batch=True, poll_interval_s=0.01)
        assert len(fake.batches) == 2  # turn-synchronous: all first turns, then the second turns
    assert live.accepted == batched.accepted == 3 and not live.rejected
    a, b = _records(tmp_path / "live"), _records(tmp_path / "batch")
    for rid in a:
        assert a[rid]["messages"] == b[rid]["messages"] and a[rid]["tools"] == b[rid]["tools"]
        same = ("key", "verdict", "label", "category", "source", "teacher", "stop_reason", "settings", "requests")
        assert {k: a[rid]["meta"][k] for k in same} == {k: b[rid]["meta"][k] for k in same}
        ua, ub = a[rid]["meta"]["usage"], b[rid]["meta"]["usage"]  # which call wrote the cache depends on timing
        assert sum(ua.values()) == sum(ub.values()) and ua["output_tokens"] == ub["output_tokens"]
    assert sum(r["meta"]["cost_usd"] for r in b.values()) < 0.6 * sum(r["meta"]["cost_usd"] for r in a.values())
    gen = a["gen"]
    assert gen["meta"]["source"] == "teacher" and gen["meta"]["verdict"]["accepted"]
    assert [m["role"] for m in gen["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert gen["messages"][3]["content"].startswith("src/") and "def " in gen["messages"][3]["content"]
    assert gen["messages"][2]["tool_calls"][0]["function"]["arguments"]["pattern"].startswith("def ")
    assert a["path"]["messages"][-1]["content"] == "It says: ship on friday"
    assert (notes_dir / "notes.txt").read_text() == "ship on friday\n" and len(list(notes_dir.iterdir())) == 1
    usage = gen["meta"]["usage"]
    assert usage["cache_write_tokens"] + usage["cache_read_tokens"] > 0 and gen["meta"]["requests"] == 2


def test_a_rerun_skips_everything_already_recorded_and_pays_nothing(tmp_path, env):
    with env(FakeAnthropic(oracle)) as fake:
        collect(TEACHER, PROMPTS, tmp_path / "s")
        calls = len(fake.message_requests())
        again = collect(TEACHER, PROMPTS, tmp_path / "s")
        assert len(fake.message_requests()) == calls
    assert again.skipped == 2 and again.run["calls"] == 0 and again.store_accepted == 2


BAD = [  # (prompt, scripted turns, expected rejection reason)
    (
        Prompt(id="unknown", question="Q unknown tool?"),
        [{"tool": "delete_everything", "input": {}}, "done"],
        "unknown-tool",
    ),
    (
        Prompt(id="badargs", question="Q bad args?"),
        [{"tool": "read_file", "input": {"file": "x"}}, "done"],
        "invalid-arguments",
    ),
    (
        Prompt(id="toolerr", question="Q missing file?"),
        [{"tool": "read_file", "input": {"path": "nope.txt"}}, "done"],
        "tool-error",
    ),
    (Prompt(id="cut", question="Q cut off?"), [{"text": "The answer is", "stop_reason": "max_tokens"}], "unclean-end"),
    (Prompt(id="loop", question="Q loop?"), [{"tool": "list_files", "input": {}}], "unclean-end"),
    (
        Prompt(
            id="wrong",
            question="Which module defines `{function}`?",
            label="tool",
            workspace={"generator": "function_definition", "seed": 1004},
            answer={"type": "contains", "value": "{file_name}"},
        ),
        [{"tool": "grep", "input": {"pattern": "def"}}, "It is in nowhere.py."],
        "wrong-answer",
    ),
    (Prompt(id="mismatch", question="Q should look?", label="tool"), ["I just know it."], "decision-mismatch"),
    (
        Prompt(id="mismatch2", question="Q should answer?", label="direct"),
        [{"tool": "list_files", "input": {}}, "Nothing here."],
        "decision-mismatch",
    ),
]


def test_verification_rejects_each_bad_kind_with_its_reason_and_keeps_the_record(tmp_path, env):
    prompts = [p for p, _, _ in BAD]
    script = {p.question: turns for p, turns, _ in BAD if "{" not in p.question}

    def teacher(question, turn, body):
        if "defines" in question:
            return BAD[5][1][min(turn, 1)]
        return script[question][min(turn, len(script[question]) - 1)]

    with env(FakeAnthropic(teacher)):
        summary = collect(TEACHER, prompts, tmp_path / "s", concurrency=4)
    recs = _records(tmp_path / "s")
    got = {rid: r["meta"]["verdict"]["reason"] for rid, r in recs.items()}
    assert got == {p.id: reason for p, _, reason in BAD}
    assert summary.accepted == 0 and summary.rejected == dict(Counter(reason for _, _, reason in BAD))
    assert "max_tokens" in recs["cut"]["meta"]["verdict"]["detail"] and recs["loop"]["meta"]["outcome"] == "loop"
    assert "delete_everything" in recs["unknown"]["meta"]["verdict"]["detail"]
    assert TeacherStore(tmp_path / "s").records(accepted=True) == []


@pytest.mark.parametrize(
    "fault", [Fault(429, retry_after_s=0.01), Fault(500), Fault(529), Fault("drop"), Fault("slow", delay_s=1.5)]
)
def test_each_transient_fault_ends_in_a_recorded_record(tmp_path, env, fault):
    with env(FakeAnthropic(oracle)) as fake:
        fake.inject(fault)
        summary = collect(TEACHER, PROMPTS[1:], tmp_path / "s", timeout_s=0.5)
        assert len(fake.message_requests()) == 2
    assert summary.accepted == 1 and summary.run["calls"] == 1


def test_a_persistent_fault_leaves_the_prompt_for_the_next_run(tmp_path, env):
    with env(FakeAnthropic(oracle)) as fake:
        fake.inject(Fault(500, times=10))
        first = collect(TEACHER, PROMPTS[1:], tmp_path / "s", max_retries=1)
        assert first.failed and "direct: " in first.failed[0] and "500" in first.failed[0]
        assert not (tmp_path / "s" / "records.jsonl").exists()
        fake._faults.clear()
        second = collect(TEACHER, PROMPTS[1:], tmp_path / "s")
    assert second.accepted == 1 and not second.failed


@pytest.mark.parametrize("status", [400, 401, 403])
def test_a_refused_request_is_one_clear_error_naming_the_prompt_and_writes_no_record(tmp_path, env, status):
    with env(FakeAnthropic(oracle)) as fake:
        fake.inject(Fault(status, question="What is a closure?"))
        with pytest.raises(CollectError, match=rf"prompt direct: .*{status}"):
            collect(TEACHER, PROMPTS, tmp_path / "s", concurrency=1)
    recs = _records(tmp_path / "s") if (tmp_path / "s" / "records.jsonl").exists() else {}
    assert "direct" not in recs


def test_the_budget_stops_before_a_call_would_pass_it(tmp_path, env):
    prompts = [Prompt(id=f"d{i}", question=f"What is thing number {i}?") for i in range(12)]
    with env(FakeAnthropic(oracle)) as fake:
        # what a call costs here: the first writes the prompt cache, later ones read it (far cheaper)
        collect(TEACHER, prompts[:2], tmp_path / "probe", concurrency=1, settings=CollectSettings(max_tokens=64))
        first, cached = (r["cost_usd"] for r in read_ledger(tmp_path / "probe"))
        budget = first + 4.5 * cached
        summary = collect(
            TEACHER, prompts, tmp_path / "s", budget_usd=budget, concurrency=3, settings=CollectSettings(max_tokens=64)
        )
        spent = sum(r["cost_usd"] for r in read_ledger(tmp_path / "s"))
        assert spent <= budget
        assert 1 <= summary.accepted < 12 and summary.budget_stopped == 12 - summary.accepted
        assert len(fake.message_requests()) == 2 + summary.accepted  # nothing sent that was not recorded
        rest = collect(TEACHER, prompts, tmp_path / "s", settings=CollectSettings(max_tokens=64))
    assert rest.skipped == summary.accepted and rest.accepted == 12 - summary.accepted


def test_batch_requests_that_expire_twice_are_rejected_with_the_reason(tmp_path, env):
    with env(FakeAnthropic(oracle, batch_polls=0)) as fake:
        fake.batch_expire["What is a closure?"] = 2
        fake.batch_error[PROMPTS[0].question] = 0
        summary = collect(TEACHER, PROMPTS[1:], tmp_path / "s", batch=True, poll_interval_s=0.01)
        assert len(fake.batches) == 2
    rec = _records(tmp_path / "s")["direct"]
    assert rec["meta"]["verdict"]["reason"] == "batch-expired" and summary.rejected == {"batch-expired": 1}


def test_batch_needs_a_teacher_with_a_batch_api(tmp_path, tiny_model_dir):
    with pytest.raises(CollectError, match="--batch needs a teacher with a batch API"):
        collect(str(tiny_model_dir), PROMPTS[1:], tmp_path / "s", batch=True)


# -- SIGKILL and resume -------------------------------------------------------------------------


def _collect_cmd(prompts_file, store, *extra):
    return [
        sys.executable,
        "-m",
        "mlx_distill.cli",
        "collect",
        "--teacher",
        TEACHER,
        "--prompts",
        str(prompts_file),
        "--out",
        str(store),
        *extra,
    ]


def _wait_for(predicate, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("timed out")


def _lines(path):
    return path.read_text().count("\n") if path.exists() else 0


def _kill_when(cmd, predicate, env):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: predicate() or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _prompt_file(tmp_path, n):
    path = tmp_path / "prompts.jsonl"
    rows = [
        {
            "id": f"g{i}",
            "question": "Which module defines `{function}`?",
            "label": "tool",
            "workspace": {"generator": "function_definition", "seed": 1100 + i},
            "answer": {"type": "contains", "value": "{file_name}"},
        }
        for i in range(n // 2)
    ]
    rows += [{"id": f"d{i}", "question": f"What is a closure, case {i}?", "label": "direct"} for i in range(n - n // 2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_sigkill_at_several_points_then_resume_records_every_prompt_exactly_once(tmp_path):
    prompts_file, store = _prompt_file(tmp_path, 8), tmp_path / "store"
    with FakeAnthropic(oracle, latency_s=0.15) as fake:
        env = {**os.environ, **fake.env()}
        cmd = _collect_cmd(prompts_file, store, "--concurrency", "2")
        _kill_when(cmd, lambda: _lines(store / "ledger.jsonl") >= 1, env)  # mid-trajectory, nothing recorded
        _kill_when(cmd, lambda: _lines(store / "turns.jsonl") >= 9, env)  # some recorded, some half-way
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "accepted 8" in done.stdout or "already in" in done.stdout
        bodies = [json.dumps(b["messages"], sort_keys=True) for b in fake.message_requests()]
    ids = [json.loads(line)["meta"]["id"] for line in (store / "records.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted([f"g{i}" for i in range(4)] + [f"d{i}" for i in range(4)])  # each exactly once
    rows = read_ledger(store)
    turns = [json.loads(line) for line in (store / "turns.jsonl").read_text().splitlines()]
    assert len({(t["key"], t["fingerprint"]) for t in turns}) == len(turns) == len(rows) == 12
    assert len(bodies) - len(set(bodies)) <= 2 * 2  # re-asked: at most what was in flight at each kill
    assert all(
        json.loads(line)["meta"]["verdict"]["accepted"] for line in (store / "records.jsonl").read_text().splitlines()
    )


def test_sigkill_during_a_batch_resumes_polling_and_never_resubmits(tmp_path):
    prompts_file, store = _prompt_file(tmp_path, 6), tmp_path / "store"
    with FakeAnthropic(oracle, batch_polls=4) as fake:
        env = {**os.environ, **fake.env()}
        cmd = _collect_cmd(prompts_file, store, "--batch", "--poll-interval", "0.1")

        def events():
            path = store / "batches.jsonl"
            return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

        _kill_when(cmd, lambda: any(e["event"] == "submitted" for e in events()), env)
        assert len(fake.batches) == 1
        _kill_when(cmd, lambda: sum(e["event"] == "submitted" for e in events()) >= 2, env)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        submitted = [r["custom_id"] for b in fake.batches.values() for r in b["_results"]]
        polls = [b["_polls"] for b in fake.batches.values()]
    assert len(fake.batches) == 2 == sum(e["event"] == "submitted" for e in events())  # one batch per turn
    assert len(submitted) == len(set(submitted)) == 9  # 6 first turns + 3 second turns, each sent once
    assert all(p >= 5 for p in polls)  # each batch polled to its end, across the kills
    assert sorted(json.loads(x)["meta"]["id"] for x in (store / "records.jsonl").read_text().splitlines()) == sorted(
        [f"g{i}" for i in range(3)] + [f"d{i}" for i in range(3)]
    )


# -- CLI -----------------------------------------------------------------------------------------


def test_collect_cli_prints_the_summary_and_a_bad_prompt_line_is_one_located_error(tmp_path, env):
    prompts_file = _prompt_file(tmp_path, 4)
    with env(FakeAnthropic(oracle)):
        res = CliRunner().invoke(
            main, ["collect", "--teacher", TEACHER, "--prompts", str(prompts_file), "--out", str(tmp_path / "s")]
        )
    assert res.exit_code == 0, res.output
    assert "accepted 4, rejected 0" in res.stdout and "cache hit rate" in res.stdout
    assert "per accepted record" in res.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?"}\n{"question": "x", "workspace": {"generator": "todo_count", "seed": 3}}\n')
    res = CliRunner().invoke(
        main, ["collect", "--teacher", TEACHER, "--prompts", str(bad), "--out", str(tmp_path / "b")]
    )
    assert res.exit_code == 2 and f"{bad}:2" in res.stderr and "seed" in res.stderr and "1000" in res.stderr
    assert not (tmp_path / "b").exists()


def test_collect_cli_without_a_key_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    res = CliRunner().invoke(
        main,
        ["collect", "--teacher", TEACHER, "--prompts", str(_prompt_file(tmp_path, 2)), "--out", str(tmp_path / "s")],
    )
    assert res.exit_code == 1 and res.stderr.strip().count("\n") == 0 and "ANTHROPIC_API_KEY" in res.stderr


# -- the built-in prompt set ---------------------------------------------------------------------


def test_builtin_prompts_are_many_labelled_and_leak_nothing_from_the_benchmark():
    from mlx_distill.bench.suites import load_suite
    from mlx_distill.collection.prompts import TRAINING_STREAM, leakage_findings

    prompts = load_prompts(ROOT / "data" / "teacher" / "prompts.jsonl")
    assert len(prompts) >= 200
    labels = Counter(p.label for p in prompts)
    assert labels["tool"] >= 100 and labels["direct"] >= 50 and all(p.category for p in prompts)
    kinds = Counter(type(p.workspace).__name__ for p in prompts)
    assert kinds["BuiltWorkspace"] >= 100 and kinds["PathWorkspace"] >= 20
    assert leakage_findings(prompts, [ROOT / "data" / "bench"]) == []
    from mlx_distill.bench.suites import builtin_suites

    assert all(TRAINING_STREAM not in {c.id for c in load_suite(s).cases} for s in builtin_suites())
    assert all(p.workspace.seed >= 1000 for p in prompts if type(p.workspace).__name__ == "BuiltWorkspace")


def test_a_local_mlx_teacher_is_collected_through_the_same_path_for_free(tmp_path, scripted, notes_dir):
    call = '<tool_call>\n{"name": "read_file", "arguments": {"path": "notes.txt"}}\n</tool_call>'
    teacher = scripted([call, "It says ship on friday."])
    prompt = Prompt(
        id="local",
        question="What does notes.txt say?",
        label="tool",
        category="read",
        workspace={"path": str(notes_dir)},
    )
    summary = collect(teacher, [prompt], tmp_path / "s", settings=CollectSettings(max_tokens=48))
    rec = _records(tmp_path / "s")["local"]
    assert summary.accepted == 1 and rec["meta"]["teacher"].startswith("mlx:") and rec["meta"]["cost_usd"] == 0
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert rec["messages"][3]["content"] == "ship on friday\n" and summary.run["calls"] == 2


def test_a_path_workspace_in_a_git_checkout_is_copied_without_ignored_outputs(tmp_path):
    from mlx_distill.collection.prompts import prepare_workspace

    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "out").mkdir()
    (repo / ".gitignore").write_text("out/\n")
    (repo / "src" / "app.py").write_text("def main(): pass\n")
    (repo / "out" / "big.bin").write_text("ignored build output\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "src/app.py", ".gitignore"], check=True)
    (repo / "notes.md").write_text("untracked, not ignored\n")
    ws = tmp_path / "ws"
    prepare_workspace(Prompt(question="q", workspace={"path": str(repo)}), ws)
    assert (ws / "src" / "app.py").read_text() == "def main(): pass\n" and (ws / "notes.md").exists()
    assert not (ws / "out").exists() and not (ws / ".git").exists()
    (ws / "src" / "app.py").write_text("changed")
    assert (repo / "src" / "app.py").read_text() == "def main(): pass\n"


def test_the_budget_caps_a_batch_run_too_and_the_next_run_replays_what_was_paid(tmp_path, env):
    prompts = [Prompt(id=f"d{i}", question=f"What is thing number {i}?") for i in range(6)]
    with env(FakeAnthropic(oracle, batch_polls=0)) as fake:
        probe = collect(
            TEACHER,
            prompts[:1],
            tmp_path / "probe",
            batch=True,
            poll_interval_s=0.01,
            settings=CollectSettings(max_tokens=64),
        )
        budget = 3.5 * probe.run["cost_usd"]
        capped = collect(
            TEACHER,
            prompts,
            tmp_path / "s",
            batch=True,
            poll_interval_s=0.01,
            budget_usd=budget,
            settings=CollectSettings(max_tokens=64),
        )
        assert sum(r["cost_usd"] for r in read_ledger(tmp_path / "s")) <= budget
        assert 1 <= capped.accepted < 6 and capped.budget_stopped == 6 - capped.accepted
        sent = sum(len(b["_results"]) for b in fake.batches.values())
        rest = collect(
            TEACHER, prompts, tmp_path / "s", batch=True, poll_interval_s=0.01, settings=CollectSettings(max_tokens=64)
        )
        assert sum(len(b["_results"]) for b in fake.batches.values()) - sent == 6 - capped.accepted
    assert rest.skipped == capped.accepted and rest.accepted == 6 - capped.accepted


# -- settings the provider rejects ---------------------------------------------------------------


def test_keys_and_ledger_record_the_settings_the_teacher_received_and_the_user_reads_one_line(tmp_path):
    """Anthropic API version 2026-10-21 (the SDK's default) rejects temperature: PydanticAI drops it, so
    the records must not claim the teacher ran at temperature 0, and no warning repeats per request."""
    from mlx_distill.teacher.store import record_key
    from mlx_distill.prompting import DEFAULT_SYSTEM_PROMPT
    from mlx_distill.tools import TOOL_NAMES, tool_schemas

    prompts_file, store = _prompt_file(tmp_path, 4), tmp_path / "store"
    cmd = [sys.executable, "-W", "error", "-m", "mlx_distill.cli", "collect", "--teacher", TEACHER]
    cmd += ["--prompts", str(prompts_file), "--out", str(store), "--max-tokens", "300"]
    with FakeAnthropic(oracle) as fake:
        done = subprocess.run(cmd, env={**os.environ, **fake.env()}, capture_output=True, text=True, timeout=300)
        bodies = fake.message_requests()
    assert done.returncode == 0, done.stderr
    assert len(bodies) == 6 and all("temperature" not in b and b["max_tokens"] == 300 for b in bodies)
    notes = [line for line in done.stderr.splitlines() if not line.startswith("collect ")]  # progress lines
    assert notes == [
        f"note: {TEACHER} does not take temperature (PydanticAI drops them for this model or API version); "
        "requests go without them"
    ]
    sent = {"max_tokens": 300, "max_requests": 8, "max_tool_calls": 6}
    prompts = {p.id: p for p in load_prompts(prompts_file)}
    for rid, rec in _records(store).items():
        assert rec["meta"]["settings"] == sent
        key = record_key(
            prompts[rid].key_fields(),
            teacher=TEACHER,
            settings=sent,
            system_prompt=DEFAULT_SYSTEM_PROMPT,
            tools=tool_schemas(TOOL_NAMES),
        )
        assert rec["meta"]["key"] == key
    assert [r["settings"] for r in read_ledger(store)] == [{"max_tokens": 300}] * 6
