"""A named teacher is checked against PydanticAI's deprecation data before anything is sent or written:
retired is one error line naming the replacement, deprecated is one stderr line per process, current is
silent. Ids and dates are real entries of pydantic-ai's table; nothing goes over the network. Every
`anthropic:` id in the docs, configs, scripts and CLI help is current."""

import re
import subprocess
import sys
import warnings
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from pydantic_ai.providers._model_deprecations import ANTHROPIC_MODEL_DEPRECATIONS

from mlx_distill.cli import main
from mlx_distill.teacher.lifecycle import RetiredModel, check_lifecycle, deprecation
from mlx_distill.testing.fake_anthropic import FakeAnthropic

ROOT = Path(__file__).resolve().parents[1]
RETIRED = "anthropic:claude-sonnet-4-5"  # retired 2026-11-30, replacement claude-sonnet-5-5
DEPRECATED = "anthropic:claude-opus-4-5"  # retires 2027-01-22, replacement claude-opus-5-5
CURRENT = "anthropic:claude-sonnet-5-5"
BEFORE = date(2026, 12, 7)  # after the first retirement, before the second


def test_a_retired_id_is_one_error_line_naming_the_replacement():
    with pytest.raises(RetiredModel) as e:
        check_lifecycle(RETIRED, today=BEFORE)
    line = str(e.value)
    assert line.startswith("anthropic:claude-sonnet-4-5 was retired by its provider on 2026-11-30")
    assert "use anthropic:claude-sonnet-5-5 instead" in line and "\n" not in line
    with pytest.raises(RetiredModel, match="claude-sonnet-4-5 was retired"):  # also as a router's teacher
        check_lifecycle(f"router:embedded:smollm2-135m+{RETIRED}?min_margin=0.5", today=BEFORE)


def test_the_same_id_before_its_retirement_date_is_a_stderr_line_not_an_error(capsys):
    check_lifecycle(RETIRED, today=date(2026, 11, 1))
    err = capsys.readouterr().err
    assert "anthropic:claude-sonnet-4-5 is deprecated by its provider and retires on 2026-11-30" in err


def test_a_deprecated_id_warns_once_per_process_on_stderr_and_a_current_one_is_silent():
    code = (
        "from datetime import date\n"
        "from mlx_distill.teacher.lifecycle import check_lifecycle\n"
        f"for name in [{DEPRECATED!r}, {DEPRECATED!r}, {CURRENT!r}, 'embedded:smollm2-135m', 'test']:\n"
        "    check_lifecycle(name, today=date(2026, 12, 7))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stderr.splitlines() == [
        "warning: anthropic:claude-opus-4-5 is deprecated by its provider and retires on 2027-01-22; "
        f"use anthropic:claude-opus-5-5 instead ({ANTHROPIC_MODEL_DEPRECATIONS['claude-opus-4-5'].source_url})"
    ]


def test_a_deprecated_teacher_speaks_once_and_pydantic_ai_does_not_warn_per_request(tmp_path, capfd):
    import asyncio

    from mlx_distill.agent import create_agent
    from mlx_distill.agent.outcome import arun_question
    from mlx_distill.teacher.model import anthropic_model

    async def twice(model):
        agent = create_agent(model, workspace=tmp_path)
        try:
            return [(await arun_question(agent, "What is a closure?")).final_text for _ in range(2)]
        finally:
            await model.client.close()

    with FakeAnthropic(default_reply="hi") as fake:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # as the suite runs: PydanticAI's or the SDK's warning would fail here
            model = anthropic_model("claude-opus-4-5", api_key="sk-ant-fake", base_url=fake.base_url, max_retries=0)
            answers = asyncio.run(twice(model))
        assert len(fake.message_requests()) == 2
    assert answers == ["hi", "hi"]
    assert capfd.readouterr().err.count("claude-opus-4-5 is deprecated") <= 1


def test_collect_with_a_retired_teacher_exits_1_with_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens: a request would fail
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": "q", "question": "What is a closure?", "label": "direct"}\n')
    store = tmp_path / "store"
    res = CliRunner().invoke(main, ["collect", "--teacher", RETIRED, "--prompts", str(prompts), "--out", str(store)])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [res.stderr.strip()] and res.stderr.startswith("error: " + RETIRED[0:10])
    assert "use anthropic:claude-sonnet-5-5 instead" in res.stderr
    assert not store.exists()


def test_bench_with_a_retired_teacher_or_router_exits_1_before_writing(tmp_path):
    for args in (
        ["-m", "test", "--teacher", RETIRED],
        ["-m", f"router:embedded:smollm2-135m+{RETIRED}"],
    ):
        out = tmp_path / "run"
        res = CliRunner().invoke(main, ["bench", *args, "--limit", "1", "--out", str(out), "--no-progress"])
        assert res.exit_code == 1, res.output
        assert "claude-sonnet-4-5 was retired" in res.stderr and res.stderr.count("\n") == 1
        assert not out.exists()


ID = re.compile(r"anthropic:([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])")
QUOTED_CHECK = re.compile(r"was retired by its provider|is deprecated by its provider")  # our own lines, quoted


def _ids(text):
    return [m for line in text.splitlines() if not QUOTED_CHECK.search(line) for m in ID.findall(line)]


def _help_texts(command, name="mlx-distill"):
    ctx = click.Context(command, info_name=name)
    yield name, command.get_help(ctx)
    for sub_name, sub in getattr(command, "commands", {}).items():
        yield from _help_texts(sub, f"{name} {sub_name}")


def test_every_anthropic_id_in_docs_configs_scripts_and_help_is_current():
    files = [
        ROOT / "README.md",
        ROOT / "train_lora.sh",
        *(ROOT / "docs").rglob("*.md"),
        *(p for p in (ROOT / "configs").rglob("*") if p.is_file()),
        *(p for p in (ROOT / "scripts").rglob("*") if p.is_file() and p.suffix in {".sh", ".py", ".md"}),
        *(ROOT / "bench").glob("*.py"),
    ]
    found = {(str(p.relative_to(ROOT)), m) for p in files for m in _ids(p.read_text(encoding="utf-8"))}
    found |= {(where, m) for where, text in _help_texts(main) for m in _ids(text)}
    assert {m for _where, m in found} >= {"claude-sonnet-5-5"}  # the scan sees the ids
    stale = sorted((where, m) for where, m in found if deprecation(f"anthropic:{m}") is not None)
    assert stale == []
