"""`mlx-distill data ...`: a thin click layer over the data library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..cli_errors import OneLineErrorsGroup
from ..cli_options import COUNT, FRACTION, NON_NEGATIVE_INT


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)  # whole lines in log files (rich wraps at 80 columns there)


@click.group(cls=OneLineErrorsGroup, context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """Build, convert and validate training data (docs/data.md)."""
    from ..runtime import offline_by_default

    offline_by_default()


@data.command("convert")
@click.option("--from", "fmt", required=True, help="Source format: legacy, glaive, hermes, xlam, openai, bfcl, when2call.")
@click.argument("in_path", metavar="IN", type=click.Path(dir_okay=False))
@click.argument("out_path", metavar="OUT", type=click.Path(dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Write bad items to OUT.rejects.jsonl (with reasons) and go on.")
@click.option("--answers", type=click.Path(dir_okay=False), help="bfcl: the possible_answer file "
              "(default: possible_answer/<IN's name> next to IN).")
@click.option("--system", type=click.Choice(["default", "source"]), default=None,
              help="System prompt: ours (default for most formats) or the source's own.")
@click.option("--limit", type=COUNT, default=None, help="Stop after this many converted records.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def convert_cmd(fmt: str, in_path: str, out_path: str, skip_invalid: bool, answers: str | None, system: str | None,
                limit: int | None, as_json: bool) -> None:
    """Convert IN (a public tool-calling format) into records in OUT (JSONL)."""
    from .sources.converters import FORMATS, convert_file

    if fmt not in FORMATS:
        raise click.BadParameter(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}", param_hint="--from")
    res = convert_file(fmt, in_path, out_path, skip_invalid=skip_invalid, system=system, answers=answers, limit=limit)
    if as_json:
        click.echo(json.dumps(res.to_json(), indent=2))
        return
    click.echo(f"{res.written} records written to {res.output} ({fmt})")
    if res.rejected:
        why = ", ".join(f"{k} {v}" for k, v in sorted(res.reasons.items()))
        click.echo(f"{res.rejected} rejected ({why}); see {res.rejects_path}")
    click.echo("labels: " + ", ".join(f"{k} {v}" for k, v in sorted(res.by_label.items())))


@data.command("domain")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output JSONL.")
@click.option("--seed", type=NON_NEGATIVE_INT, default=0, show_default=True)
@click.option("--limit", type=COUNT, default=None, help="Number of records (balanced across categories).")
@click.option("--include", multiple=True, help="Only mine this subdirectory/file of each repository (repeatable).")
@click.option("--max-result-chars", type=COUNT, default=1500, show_default=True,
              help="Skip questions whose tool output is longer.")
@click.option("--no-run", is_flag=True, help="Leave out run_command examples.")
def domain_cmd(paths: tuple[str, ...], output: str, seed: int, limit: int | None, include: tuple[str, ...],
               max_result_chars: int, no_run: bool) -> None:
    """Mine repositories into tool-using examples whose results come from really running the tools."""
    from collections import Counter

    from ..schema import save_records
    from .sources.domain import generate_domain

    recs = generate_domain(paths, seed=seed, limit=limit, include=list(include) or None,
                           max_result_chars=max_result_chars, run_commands=not no_run)
    save_records(output, recs)
    cats = Counter(r.meta.category for r in recs)
    click.echo(f"{len(recs)} records written to {output}: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())))


@data.command("direct")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output JSONL.")
@click.option("--seed", type=NON_NEGATIVE_INT, default=0, show_default=True)
@click.option("--limit", type=COUNT, default=None)
def direct_cmd(paths: tuple[str, ...], output: str, seed: int, limit: int | None) -> None:
    """Mine Markdown docs and Python docstrings into direct-answer examples."""
    from collections import Counter

    from ..schema import save_records
    from .sources.direct import generate_direct

    recs = generate_direct(paths, seed=seed, limit=limit)
    save_records(output, recs)
    cats = Counter(r.meta.category for r in recs)
    click.echo(f"{len(recs)} records written to {output}" +
               (": " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())) if cats else ""))


@data.command("hand-authored")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also write the records as JSONL.")
def hand_authored_cmd(paths: tuple[str, ...], output: str | None) -> None:
    """Load and check the hand-authored examples (default data/hand_authored) and show their coverage."""
    from ..schema import save_records
    from .sources.hand_authored import DEFAULT_DIR, coverage, load_hand_authored

    items = load_hand_authored(paths or (DEFAULT_DIR,))
    recs = [it.record for it in items]
    cov = coverage(recs)
    click.echo(f"{len(recs)} examples")
    click.echo("tools: " + ", ".join(f"{t} {'yes' if ok else 'NO'}" for t, ok in cov["tools"].items()))
    click.echo("categories: " + ", ".join(f"{k} {v}" for k, v in sorted(cov["categories"].items())))
    if output:
        save_records(output, recs)
        click.echo(f"written to {output}")


def print_report(report, console=None, max_rows: int = 50) -> None:
    from rich.table import Table

    console = console or _console()
    summary = Table(title="data validate", show_header=True)
    summary.add_column("rule")
    summary.add_column("severity")
    summary.add_column("findings", justify="right")
    from .validate import RULES

    for rule, n in report.by_rule().items():
        sev = RULES.get(rule, ("error", ""))[0]
        summary.add_row(rule, f"[red]{sev}[/red]" if sev == "error" else f"[yellow]{sev}[/yellow]", str(n))
    if not report.findings:
        summary.add_row("-", "-", "0")
    console.print(summary)
    if report.findings:
        rows = Table(show_header=True, title=f"findings (first {min(max_rows, len(report.findings))} of "
                                              f"{len(report.findings)})")
        for col in ("location", "record", "rule", "message"):
            rows.add_column(col, overflow="fold")
        for f in report.findings[:max_rows]:
            loc = f"{f.path}:{f.line}" if f.path else "-"
            rows.add_row(loc, f.record_id or "-", f.rule, f.message)
        console.print(rows)
    skipped = report.checks.get("skipped")
    note = f"; not checked: {', '.join(skipped)} (pass --model)" if skipped else \
        f"; template checks on {report.checks.get('rendered')} records"
    verdict = "[green]OK[/green]" if report.ok else "[red]FAILED[/red]"
    console.print(f"{verdict}: {report.records} records, {len(report.errors)} errors, "
                  f"{len(report.warnings)} warnings{note}")


@data.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--model", default=None, help="Check rendering, masks and length with this model's tokenizer "
              "(e.g. embedded:smollm2-135m or a model directory).")
@click.option("--max-seq-length", type=COUNT, default=2048, show_default=True)
@click.option("--bench", "bench", multiple=True, type=click.Path(), help="Held-out suites to check overlap with "
              "(default: data/bench if it exists).")
@click.option("--no-bench", is_flag=True, help="Skip the benchmark-overlap check.")
@click.option("--render-sample", type=COUNT, default=None, help="Template-check only this many records.")
@click.option("--near-threshold", type=FRACTION, default=0.9, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def validate_cmd(paths: tuple[str, ...], model: str | None, max_seq_length: int, bench: tuple[str, ...],
                 no_bench: bool, render_sample: int | None, near_threshold: float, as_json: bool) -> None:
    """Check record files; exit status 1 when any rule reports an error."""
    from .validate import validate_files

    tok = None
    if model:
        from ..models import load_tokenizer

        tok = load_tokenizer(model)
    bench_paths: list[str] = []
    if not no_bench:
        bench_paths = list(bench) or ([p for p in ["data/bench"] if Path(p).exists()])
    report = validate_files(paths, tokenizer=tok, max_seq_length=max_seq_length, bench=bench_paths,
                            render_sample=render_sample, near_threshold=near_threshold, progress=not as_json)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        print_report(report)
    sys.exit(0 if report.ok else 1)


@data.command("build")
@click.option("-c", "--config", "config_path", default="configs/data.yaml", show_default=True,
              type=click.Path(dir_okay=False))
@click.option("-o", "--output-dir", default=None, help="Override output_dir.")
@click.option("--no-template", is_flag=True, help="Skip the chat-template checks (render, mask, too-long).")
@click.option("--teacher-store", "teacher_stores", multiple=True, type=click.Path(file_okay=False),
              help="Add the accepted records of a `mlx-distill collect` store as a teacher source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
def build_cmd(config_path: str, output_dir: str | None, no_template: bool, teacher_stores: tuple[str, ...],
              as_json: bool) -> None:
    """Generate, validate, balance and split into {train,valid,test}.jsonl and manifest.json."""
    from rich.table import Table

    from .build import build
    from .config import SourceSpec, load_config

    err = _console(stderr=True)
    cfg = load_config(config_path)
    cfg.sources += [SourceSpec(type="teacher", name="teacher", paths=list(teacher_stores))] if teacher_stores else []
    res = build(cfg, output_dir=output_dir, use_template=not no_template, progress=not as_json,
                log=(lambda m: err.print(m)) if not as_json else None, config_path=config_path)
    m = res.manifest
    if as_json:
        click.echo(json.dumps({k: m[k] for k in ("counts", "validation", "balance", "tokens", "build_hash")},
                              indent=2))
        return
    table = Table(title=f"data build -> {res.output_dir}")
    table.add_column("split")
    labels = sorted(m["counts"]["by_label"])
    for lab in labels:
        table.add_column(lab, justify="right")
    table.add_column("total", justify="right")
    for name, n in m["counts"]["by_split"].items():
        per = m["counts"]["by_split_label"][name]
        table.add_row(name, *[str(per.get(lab, 0)) for lab in labels], str(n))
    table.add_row("all", *[str(m["counts"]["by_label"][lab]) for lab in labels], str(m["counts"]["total"]))
    con = _console()
    con.print(table)
    cats = Table(title="by category")
    cats.add_column("category")
    cats.add_column("records", justify="right")
    for c, n in m["counts"]["by_category"].items():
        cats.add_row(c, str(n))
    con.print(cats)
    tok = m["tokens"]
    if tok.get("records"):
        con.print(f"tokens ({tok['tokenizer']}): mean {tok['mean']}, p95 {tok['p95']}, max {tok['max']} "
                  f"(max_seq_length {tok['max_seq_length']})")
    con.print(f"build {m['build_hash'][:16]}  manifest: {res.output_dir / 'manifest.json'}")


if __name__ == "__main__":
    data()
