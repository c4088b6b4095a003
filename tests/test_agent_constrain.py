"""Constrained tool calls (agent/constrain.py) on the tiny model's real tokenizer and the tiny model itself:
random tokens the constraint allows always make a call to an offered tool with schema-valid arguments;
free text passes through untouched; batched sequences each keep their own tool set."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import jsonschema
import mlx.core as mx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from click.testing import CliRunner
from hypothesis import strategies as st
from pydantic_ai import Tool
from pydantic_ai.exceptions import UserError

from mlx_distill import prompting
from mlx_distill.agent import MLXModel, create_agent, run_question
from mlx_distill.agent.constrain import ToolCallConstraint, constraint_for, grammars_for
from mlx_distill.agent.generation import Generator
from mlx_distill.agent.model import load_cached
from mlx_distill.agent.parsing import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, parse_tool_calls
from mlx_distill.cli import main


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_cached(str(tiny_model_dir))


def tool(name, properties, required=()):
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool.",
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(required),
                "additionalProperties": False,
            },
        },
    }


# -- random small schemas ---------------------------------------------------------------------------------
NAMES = st.text(alphabet="abcdefgh_", min_size=1, max_size=8).filter(lambda s: s.strip("_"))


@st.composite
def value_schemas(draw):
    kind = draw(st.sampled_from(["string", "enum", "integer", "number", "boolean", "array"]))
    if kind == "string":
        return {"type": "string", "maxLength": draw(st.integers(1, 6))}
    if kind == "enum":
        return {"type": "string", "enum": draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))}
    if kind == "integer":
        low = draw(st.integers(-5, 5))
        return {"type": "integer", "minimum": low, "maximum": low + draw(st.integers(0, 50))}
    if kind == "number":
        return {"type": "number", "minimum": 0}
    if kind == "boolean":
        return {"type": "boolean"}
    return {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "maxItems": 3}


@st.composite
def tool_sets(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    tools = []
    for name in names:
        props = draw(st.dictionaries(NAMES, value_schemas(), max_size=3))
        required = [k for k in props if draw(st.booleans())]
        tools.append(tool(name, props, required))
    return tools


def allowed_tokens(logits):
    return [int(i) for i in np.flatnonzero(np.isfinite(np.array(logits[0])))]


def closing_first(grammars, candidates):
    """Tokens that end a value or an object, when there are any: a random walk inside a string or a
    number could otherwise go on for ever."""
    for marks in (b"}", b'"', b"]"):
        ending = [t for t in candidates if marks in grammars.token_bytes(t)]
        if ending:
            return ending
    return candidates


def drive(constraint, tokenizer, pick, vocab, max_steps=400):
    """Write the opener as the model would, then let `pick` choose among the allowed tokens until the
    call is closed. Returns the generated text."""
    opener = tokenizer.encode(TOOL_CALL_OPEN, add_special_tokens=False)
    tokens = [0]
    logits = mx.zeros((1, vocab))
    for token in opener:
        out = constraint(mx.array(tokens), logits)
        assert out is logits  # no call open yet: the logits are the model's
        tokens.append(token)
    for step in range(max_steps):
        out = constraint(mx.array(tokens), logits)
        if not constraint.in_call:
            break
        tokens.append(pick(step, allowed_tokens(out)))
    else:
        raise AssertionError(f"the call was not closed within {max_steps} tokens")
    return tokenizer.decode(tokens[1:])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tools=tool_sets(), data=st.data())
def test_random_allowed_tokens_always_write_a_call_to_an_offered_tool_with_valid_arguments(tiny_tokenizer, tools, data):
    grammars = grammars_for(tiny_tokenizer)
    constraint = ToolCallConstraint(grammars, tools)

    def pick(step, allowed):
        assert allowed, "the constraint left no token to choose"
        choices = allowed if step < 30 else closing_first(grammars, allowed)
        return data.draw(st.sampled_from(choices))

    text = drive(constraint, tiny_tokenizer, pick, vocab=grammars.vocab_size)
    assert constraint.calls == 1 and constraint.broken == 0
    assert text.rstrip().endswith(TOOL_CALL_CLOSE)
    parsed = parse_tool_calls(text, tools)
    assert parsed.ok and len(parsed.calls) == 1, (text, parsed.errors)
    call = parsed.calls[0]
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    assert call.name in schemas
    jsonschema.validate(call.arguments, schemas[call.name])


def test_free_text_passes_through_with_the_same_logits_before_and_after_a_call(tiny_tokenizer):
    grammars = grammars_for(tiny_tokenizer)
    tools = [tool("grep", {"pattern": {"type": "string", "enum": ["x"]}}, ["pattern"])]
    constraint = ToolCallConstraint(grammars, tools)
    rng = np.random.default_rng(0)
    logits = mx.array(rng.normal(size=(1, grammars.vocab_size)).astype(np.float32))
    text = "A tuple is immutable; <tool and _call are just words > here. "
    tokens = [0]
    for token in tiny_tokenizer.encode(text, add_special_tokens=False):
        assert constraint(mx.array(tokens), logits) is logits
        tokens.append(token)
    assert constraint.calls == 0
    # a call: constrained...
    call = f'{TOOL_CALL_OPEN}\n{{"name": "grep", "arguments": {{"pattern": "x"}}}}\n{TOOL_CALL_CLOSE}'
    constrained = 0
    for token in tiny_tokenizer.encode(call, add_special_tokens=False):
        out = constraint(mx.array(tokens), logits)
        if out is not logits:
            constrained += 1
            assert token in allowed_tokens(out)  # the trained form of the call is always allowed
        tokens.append(token)
    assert constrained > 5 and constraint.calls == 1 and constraint.broken == 0
    # ...and free again after the closing tag
    for token in tiny_tokenizer.encode(" Done.", add_special_tokens=False):
        assert constraint(mx.array(tokens), logits) is logits
        tokens.append(token)
    assert not constraint.in_call


def test_an_unoffered_tool_name_cannot_be_written(tiny_tokenizer):
    grammars = grammars_for(tiny_tokenizer)
    constraint = ToolCallConstraint(grammars, [tool("read_file", {"path": {"type": "string"}}, ["path"])])
    tokens = [0, *tiny_tokenizer.encode(TOOL_CALL_OPEN + '\n{"name": "', add_special_tokens=False)]
    for i in range(1, len(tokens) + 1):
        out = constraint(mx.array(tokens[:i]), mx.zeros((1, grammars.vocab_size)))
    allowed = allowed_tokens(out)
    assert allowed and all("read_file".startswith(tiny_tokenizer.decode([t])) for t in allowed)
    grep = tiny_tokenizer.encode("grep", add_special_tokens=False)[0]
    assert grep not in allowed


def force_opener(tokenizer):
    """A logits processor that makes the model open a tool call, then leaves the choice to it."""
    script = tokenizer.encode("\n" + TOOL_CALL_OPEN, add_special_tokens=False)
    state = {"i": 0}

    def processor(_tokens, logits):
        i, state["i"] = state["i"], state["i"] + 1
        if i >= len(script):
            return logits
        hot = mx.broadcast_to(mx.arange(logits.shape[-1]) == script[i], logits.shape)
        return mx.where(hot, mx.array(0.0, dtype=logits.dtype), mx.array(-1e9, dtype=logits.dtype))

    return processor


ENUM_TOOLS = {
    "a": [
        tool("set_mode", {"mode": {"type": "string", "enum": ["fast", "slow"]}, "on": {"type": "boolean"}}, ["mode"]),
        tool("count", {"n": {"type": "integer", "minimum": 1, "maximum": 9}}, ["n"]),
    ],
    "b": [tool("pick_color", {"color": {"type": "string", "enum": ["red", "blue"]}}, ["color"])],
}


def ask(gen, tokenizer, tools, seed=None):
    text = prompting.render(prompting.conversation("Do it."), tools, tokenizer, add_generation_prompt=True)
    constraint = constraint_for(tokenizer, tools)
    result = gen.generate(
        text,
        max_tokens=80,
        temperature=1.0 if seed is not None else 0.0,
        seed=seed,
        logits_processors=[force_opener(tokenizer), constraint],
    )
    return result, constraint


def check_call(result, constraint, tools):
    assert constraint.calls >= 1 and constraint.broken == 0
    assert TOOL_CALL_CLOSE in result.text, result.text
    parsed = parse_tool_calls(result.text, tools)
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    assert parsed.ok and parsed.calls, (result.text, parsed.errors)
    for call in parsed.calls:
        assert call.name in schemas
        jsonschema.validate(call.arguments, schemas[call.name])


def test_the_tiny_model_sampling_freely_writes_only_valid_calls_once_it_opens_one(loaded):
    gen = Generator(loaded.model, loaded.tokenizer)
    for seed in range(3):
        result, constraint = ask(gen, loaded.tokenizer, ENUM_TOOLS["a"], seed=seed)
        check_call(result, constraint, ENUM_TOOLS["a"])


def test_batched_sequences_each_keep_their_own_tool_set(loaded):
    gen = Generator(loaded.model, loaded.tokenizer)
    start = threading.Barrier(4)

    def one(key):
        start.wait()
        return key, *ask(gen, loaded.tokenizer, ENUM_TOOLS[key])

    with gen.batching(4) as scheduler, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, ["a", "b", "a", "b"]))
    assert scheduler.stats["max_active"] >= 2  # they did decode together
    for key, result, constraint in results:
        check_call(result, constraint, ENUM_TOOLS[key])
        names = {c.name for c in parse_tool_calls(result.text, ENUM_TOOLS[key]).calls}
        assert names <= {t["function"]["name"] for t in ENUM_TOOLS[key]}


def pick_color(color: Literal["red", "blue"]) -> str:
    """Pick a color."""
    return f"picked {color}"


def opening_first_request(tokenizer):
    """`MLXModel.logits_processors` factory: the first request opens a tool call, later ones are free."""
    state = {"i": 0}

    def factory():
        state["i"] += 1
        return [force_opener(tokenizer)] if state["i"] == 1 else []

    return factory


def run_opened(tiny_model_dir, constrain_calls):
    model = MLXModel(str(tiny_model_dir), constrain_calls=constrain_calls)
    model.logits_processors = opening_first_request(model.tokenizer)
    agent = create_agent(
        model, tools=None, extra_tools=[Tool(pick_color)], model_settings={"max_tokens": 60}, max_requests=2
    )
    run_question(agent, "Pick a color.")
    return model.results[0].text


def test_the_agent_holds_an_opened_call_to_its_tools_unless_unconstrained(tiny_model_dir):
    constrained = run_opened(tiny_model_dir, True)
    parsed = parse_tool_calls(constrained)
    assert parsed.ok and [c.name for c in parsed.calls] == ["pick_color"], constrained
    assert parsed.calls[0].arguments["color"] in ("red", "blue")
    raw = run_opened(tiny_model_dir, False)  # the same random model, the same opener, no constraint
    assert not parse_tool_calls(raw).calls, raw


def test_create_agent_constrains_by_default_and_unconstrained_shows_the_raw_model(tiny_model_dir):
    assert create_agent(str(tiny_model_dir)).model.constrain_calls is True
    assert create_agent(str(tiny_model_dir), unconstrained=True).model.constrain_calls is False
    with pytest.raises(UserError, match="constrain_calls=False"):
        create_agent(MLXModel(str(tiny_model_dir)), unconstrained=True)
    assert create_agent(MLXModel(str(tiny_model_dir), constrain_calls=False)).model.constrain_calls is False


def test_bench_unconstrained_is_recorded_in_the_report_and_the_label(tiny_model_dir, tmp_path):
    suite = tmp_path / "mini.jsonl"
    case = {"id": "d1", "question": "What is a mutex?", "label": "direct", "category": "concept"}
    suite.write_text(json.dumps(case) + "\n")
    reports = {}
    for flags in ([], ["--unconstrained"]):
        res = CliRunner().invoke(
            main,
            ["bench", "--model", str(tiny_model_dir), "--suite", str(suite), "--max-tokens", "4"]
            + ["--out", str(tmp_path / f"run{len(flags)}"), "--json", "--no-progress", *flags],
        )
        assert res.exit_code == 0, res.output
        reports[bool(flags)] = json.loads(res.stdout)["models"][0]
    assert reports[False]["constrain_calls"] is True and "unconstrained" not in reports[False]["label"]
    assert reports[True]["constrain_calls"] is False and reports[True]["label"].endswith("(unconstrained)")


def test_chat_unconstrained_runs_the_raw_model(tiny_model_dir, tmp_path):
    from mlx_distill.agent.cli import chat

    args = ["--model", str(tiny_model_dir), "--workspace", str(tmp_path), "--max-tokens", "4", "-q", "Hello?"]
    result = CliRunner().invoke(chat, [*args, "--unconstrained"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "you> Hello?" in result.output and "Traceback" not in result.output, result.output
