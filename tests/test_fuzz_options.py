"""Fuzzing the command-line option parsers: every numeric option of every command, walked from the click
tree (a new option is fuzzed without being listed here), takes random and hostile text (NaN, infinities,
huge exponents, 400-digit integers, words) and either refuses it as a click usage error or yields a
finite number within its declared bounds; nothing else comes out."""

from __future__ import annotations

import math

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlx_distill.bench.cli import parse_temperatures
from mlx_distill.cli import main
from mlx_distill.cli_options import FiniteFloat

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

HOSTILE = [
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "-1",
    "0",
    "-0",
    "1",
    "65535",
    "65536",
    "70000",
    "1e-320",
    "0x10",
    "1_000",
    " 5 ",
    "",
    "abc",
    "9" * 400,
    "1.5",
    "-0.0",
    "٣",
]
values = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=12),
)

# `train`'s numeric options are config keys: TrainConfig checks them (one rule for the YAML file, --set
# and the option); they are fuzzed end to end below.
CHECKED_BY_CONFIG = {"train"}


def numeric_options() -> list[tuple[str, click.Option]]:
    found: list[tuple[str, click.Option]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                walk(sub, [*path, name])
            return
        for p in cmd.params:
            if isinstance(p, click.Option) and isinstance(
                p.type, (click.types.IntParamType, click.types.FloatParamType)
            ):
                found.append((" ".join(path), p))

    walk(main, [])
    return found


OPTIONS = numeric_options()
BOUNDED = [(cmd, p) for cmd, p in OPTIONS if cmd not in CHECKED_BY_CONFIG]


def test_the_walk_finds_the_numeric_options_of_every_area():
    commands = {cmd.split()[0] for cmd, _ in OPTIONS}
    assert {
        "data",
        "train",
        "fuse",
        "serve",
        "chat",
        "bench",
        "compare",
        "collect",
        "gate",
        "economics",
        "model",
    } <= commands
    assert len(BOUNDED) >= 35


@pytest.mark.parametrize("command, option", BOUNDED, ids=[f"{c} {p.opts[0]}" for c, p in BOUNDED])
def test_every_numeric_option_is_finite_and_bounded_by_its_type(command, option):
    """No plain int/float: a float is FiniteFloat, an int an IntRange with a lower bound."""
    if isinstance(option.type, click.types.FloatParamType):
        assert isinstance(option.type, FiniteFloat), f"{command} {option.opts[0]} accepts NaN"
    else:
        assert isinstance(option.type, click.IntRange) and option.type.min is not None, f"{command} {option.opts[0]}"


@pytest.mark.parametrize("command, option", BOUNDED, ids=[f"{c} {p.opts[0]}" for c, p in BOUNDED])
@FUZZ
@given(text=values)
def test_an_option_value_is_refused_as_a_usage_error_or_is_finite_and_in_range(command, option, text):
    ctx = click.Context(main)
    try:
        value = option.type(text, option, ctx)
    except click.BadParameter:
        return
    assert math.isfinite(value)
    lo, hi = option.type.min, option.type.max  # type: ignore[attr-defined]
    assert (lo is None or value >= lo) and (hi is None or value <= hi)


@FUZZ
@given(parts=st.lists(values, min_size=1, max_size=4))
def test_bench_temperatures_are_refused_or_finite_and_non_negative(parts):
    try:
        temps = parse_temperatures([",".join(parts)])
    except click.BadParameter:
        return
    assert temps and all(math.isfinite(t) and t >= 0 for t in temps)


TRAIN = [p for cmd, p in OPTIONS if cmd == "train"]


@pytest.mark.parametrize("option", TRAIN, ids=[p.opts[0] for p in TRAIN])
@settings(FUZZ, max_examples=25)
@given(text=values)
def test_train_options_end_to_end_are_one_line_refusals_or_a_finite_config(option, text):
    result = CliRunner().invoke(main, ["train", f"{option.opts[0]}={text}", "--print-config"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert "Error: Invalid value" in result.output or result.output.startswith("error: [config]: ")
        return
    import yaml

    printed = yaml.safe_load(result.output)
    value = printed[option.name]
    assert not isinstance(value, float) or math.isfinite(value)
