"""The data validator: every rule has a stable id, every finding names file, line, record id and rule.

Rules (severity): see RULES below and docs/data.md. Per-record rules run on each record on its own;
corpus rules (duplicate, near-duplicate, split-overlap, bench-overlap, duplicate-id) compare records
with each other and with the held-out benchmark suites. Template rules (render, mask, too-long) need
a tokenizer; at large scale they can be sampled (`render_sample`) or skipped.

Near duplicates are found with an exact token-set Jaccard join using prefix filtering (AllPairs):
tokens are ordered rarest first, each question is indexed only under its first few tokens, and only
questions sharing one of those are compared, so 100k questions take seconds, not O(n^2).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import gc
import json
import math
import os
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..io import InputError, read_jsonl
from ..schema import Record, parse_record
from .common import normalize_question, question_tokens, unit_hash
from ..progress import track

ERROR, WARNING = "error", "warning"

RULES: dict[str, tuple[str, str]] = {
    "schema": (ERROR, "the line is not valid JSON or not a valid record (schema.py)"),
    "tool-schema": (ERROR, "a tool schema in `tools` is not an OpenAI-style function schema with a valid JSON schema"),
    "unknown-tool": (ERROR, "a tool call names a tool that the record does not offer"),
    "bad-arguments": (ERROR, "tool-call arguments do not match the tool's JSON schema"),
    "role-order": (ERROR, "messages are not system? user (assistant|tool)* ... ending with an assistant turn"),
    "empty-message": (ERROR, "a user or assistant message has no content (and no tool calls)"),
    "unmatched-tool-call": (ERROR, "a tool call has no tool result after it (only a final call may stand alone)"),
    "unmatched-tool-result": (ERROR, "a tool result answers no call, or names another tool than its call"),
    "tool-result": (ERROR, "a result of one of our tools does not look like that tool's real output"),
    "label": (ERROR, "meta.label disagrees with the conversation (label tool <=> some assistant turn calls a tool)"),
    "duplicate-id": (ERROR, "two records share a meta.id"),
    "render": (ERROR, "the record does not render prefix-consistently through the model's chat template"),
    "mask": (ERROR, "supervised tokens are not exactly the assistant turns"),
    "too-long": (ERROR, "the rendered record is longer than max_seq_length tokens"),
    "duplicate": (ERROR, "same normalised user question, next to the same tools, as an earlier record"),
    "split-overlap": (ERROR, "the same (or a nearly identical) question is in two splits"),
    "bench-overlap": (ERROR, "the question is (nearly) a question of a held-out benchmark suite"),
    "bench-tool": (ERROR, "the record offers a tool that only held-out benchmark suites may offer"),
    "near-duplicate": (WARNING, "token-set Jaccard similarity >= threshold with an earlier record's question"),
    "ungrounded": (WARNING, "the final answer shares no name, path or number with the tool results"),
    "empty-tool-result": (WARNING, "a tool result is empty"),
    "bench-file": (WARNING, "a line of a benchmark suite has no question and was ignored"),
}

SPLITS = ("train", "valid", "test")


@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector during bulk work: loading 100k records builds millions of
    long-lived containers, and collections triggered by them traverse everything again and again
    (this more than halves load time). Reference counting still frees what is dropped."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class Finding:
    rule: str
    message: str
    path: str | None = None
    line: int | None = None
    record_id: str | None = None
    severity: str = ERROR

    def location(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line else str(self.path))
        if self.record_id:
            parts.append(f"record {self.record_id}")
        return " ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc + ': ' if loc else ''}{self.severity} [{self.rule}] {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "path": self.path, "line": self.line,
                "record_id": self.record_id, "message": self.message}


@dataclass
class Located:
    """A record and where it came from (file and line, or a generator name and index)."""
    record: Record
    path: str | None = None
    line: int | None = None
    split: str | None = None


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    files: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    token_counts: dict[int, int] = field(default_factory=dict)  # index into the validated items -> tokens

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(f.rule for f in self.findings).items()))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "files": self.files, "errors": len(self.errors),
                "warnings": len(self.warnings), "by_rule": self.by_rule(), "checks": self.checks,
                "findings": [f.to_json() for f in self.findings]}


# ---- per-record rules ------------------------------------------------------------------

def _add(out: list[Finding], rule: str, message: str, item: Located) -> None:
    out.append(Finding(rule, message, item.path, item.line, item.record.meta.id, RULES[rule][0]))


class _SchemaCache:
    """Compiled validators of tool parameter schemas, keyed by their JSON; our own tools go through
    tools.validate_arguments (the messages the agent shows the model)."""

    def __init__(self) -> None:
        from ..tools import TOOL_NAMES, tool_schemas

        self.ours = {s["function"]["name"]: _canon(s) for s in tool_schemas()}
        self.our_names = set(TOOL_NAMES)
        self._compiled: dict[str, Any] = {}
        self._tools_cache: dict[str, tuple[dict[str, Any], list[str]]] = {}
        self._recent: list[tuple[list[dict[str, Any]], tuple[dict[str, Any], list[str]]]] = []
        self._ours_params = {s["function"]["name"]: (s["function"]["parameters"]["properties"],
                                                     s["function"]["parameters"].get("required", []))
                             for s in tool_schemas()}

    def tools_of(self, tools: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
        """name -> ("ours" | validator | None) for each offered tool, plus problems with the schemas."""
        if not tools:
            return {n: "ours" for n in self.our_names}, []
        # Most corpora offer a handful of distinct tool lists: compare with the recent ones (a C-level
        # deep ==) before serialising anything.
        for seen, res in self._recent:
            if seen == tools:
                return res
        key = json.dumps(tools, sort_keys=True, ensure_ascii=False)
        res = self._tools_cache.get(key)
        if res is None:
            res = self._compile_tools(tools)
            if len(self._tools_cache) < 10000:
                self._tools_cache[key] = res
        self._recent.insert(0, (tools, res))
        del self._recent[8:]
        return res

    def quick_ok(self, name: str, arguments: dict[str, Any]) -> bool:
        """A fast check that valid arguments of our tools pass (anything else goes to the full validator)."""
        spec = self._ours_params.get(name)
        if spec is None:
            return False
        props, required = spec
        for k in required:
            if k not in arguments:
                return False
        for k, v in arguments.items():
            p = props.get(k)
            if p is None:
                return False
            t = p.get("type")
            if t == "string":
                if not isinstance(v, str) or ("minLength" in p and len(v) < p["minLength"]):
                    return False
            elif t == "integer":
                if type(v) is not int or ("minimum" in p and v < p["minimum"]):
                    return False
            elif t == "boolean":
                if type(v) is not bool:
                    return False
            else:
                return False
        return True

    def _compile_tools(self, tools: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        Validator = _bounded_validator()

        by_name: dict[str, Any] = {}
        problems = []
        for i, t in enumerate(tools):
            fn = t.get("function") if isinstance(t, dict) else None
            if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict) \
                    or not isinstance(fn.get("name"), str) or not fn.get("name"):
                problems.append(f"tools[{i}] is not {{'type': 'function', 'function': {{'name': ..., ...}}}}")
                continue
            name = fn["name"]
            if self.ours.get(name) == _canon(t):
                by_name[name] = "ours"
                continue
            params = fn.get("parameters", {"type": "object"})
            key = json.dumps(params, sort_keys=True)
            if key not in self._compiled:
                try:
                    if not isinstance(params, dict):
                        raise SchemaError("parameters must be an object")
                    remote = _remote_ref(params)
                    if remote:
                        raise SchemaError(f"$ref {remote!r} is not a local '#...' reference (remote refs are refused)")
                    Draft202012Validator.check_schema(params)
                    self._compiled[key] = Validator(params)
                except SchemaError as e:
                    self._compiled[key] = None
                    problems.append(f"tool {name!r}: invalid parameters schema: {e.message}")
                except (RecursionError, ValueError, TypeError) as e:  # a pattern that cannot compile, deep nesting
                    self._compiled[key] = None
                    problems.append(f"tool {name!r}: invalid parameters schema: {type(e).__name__}: {e}")
            by_name[name] = self._compiled[key]
        return by_name, problems

    def check(self, name: str, arguments: dict[str, Any], how: Any) -> list[str]:
        if how == "ours":
            if self.quick_ok(name, arguments):
                return []
            from ..tools import validate_arguments

            return validate_arguments(name, arguments)
        if how is None:
            return []
        msgs = []
        try:
            errors = sorted(how.iter_errors(arguments), key=lambda e: [str(p) for p in e.path])
        except Exception as e:  # noqa: BLE001 - an unresolvable local $ref, a recursive schema: the record's fault
            return [f"the tool's schema cannot be applied: {type(e).__name__}: {' '.join(str(e).split())[:200]}"]
        for err in errors:
            where = ".".join(str(p) for p in err.path)
            msgs.append(f"{where}: {err.message}" if where else err.message)
        return msgs


PATTERN_BUDGET_S = 0.1  # per `pattern` check of a record's tool schema: catastrophic patterns are reported


def _remote_ref(schema: Any) -> str | None:
    """The first $ref/$dynamicRef that does not point inside the schema itself."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("$ref", "$dynamicRef") and not (isinstance(v, str) and v.startswith("#")):
                    return str(v)
                stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
    return None


@functools.lru_cache(maxsize=1)
def _bounded_validator() -> Any:
    """Draft 2020-12 with `pattern` and `patternProperties` run by the `regex` engine under a time budget
    (jsonschema's own use `re`, which can backtrack for ages on a hostile pattern)."""
    import regex
    from jsonschema import Draft202012Validator, ValidationError, validators

    def search(pattern: str, text: str) -> bool | None:
        try:
            return regex.search(pattern, text, timeout=PATTERN_BUDGET_S) is not None
        except TimeoutError:
            return None

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string"):
            found = search(patrn, instance)
            if found is None:
                yield ValidationError(f"pattern {patrn!r} is too slow to check (over {PATTERN_BUDGET_S:g} s)")
            elif not found:
                yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def pattern_properties(validator: Any, patterns: dict, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            for k, v in instance.items():
                found = search(patrn, k)
                if found is None:
                    yield ValidationError(f"pattern {patrn!r} is too slow to check (over {PATTERN_BUDGET_S:g} s)")
                elif found:
                    yield from validator.descend(v, subschema, path=k, schema_path=patrn)

    return validators.extend(Draft202012Validator, {"pattern": pattern, "patternProperties": pattern_properties})


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def check_record(item: Located, schemas: _SchemaCache | None = None) -> list[Finding]:
    """Every per-record rule except the template ones (see check_rendering)."""
    schemas = schemas or _SchemaCache()
    out: list[Finding] = []
    rec = item.record
    msgs = rec.messages
    offered, problems = schemas.tools_of(rec.tools)
    for p in problems:
        _add(out, "tool-schema", p, item)
    ours_only = not rec.tools or all(v == "ours" for v in offered.values())

    # role order and call/result matching
    i = 0
    n = len(msgs)
    while i < n and msgs[i].role == "system":
        i += 1
    if any(m.role == "system" for m in msgs[i:]):
        k = next(j for j in range(i, n) if msgs[j].role == "system")
        _add(out, "role-order", f"message {k} is a system message after the conversation started", item)
    if i >= n or msgs[i].role != "user":
        _add(out, "role-order", "the first message after the system prompt must be a user message", item)
    if msgs[-1].role != "assistant":
        _add(out, "role-order", f"the conversation ends with a {msgs[-1].role} message, not an assistant turn", item)
    has_calls = False
    calls: list[tuple[int, Any]] = []  # (message index, ToolCall) of the run waiting for results
    for j, m in enumerate(msgs):
        prev = msgs[j - 1].role if j else None
        if m.role == "user":
            if not m.content.strip():
                _add(out, "empty-message", f"message {j} (user) is empty", item)
            if prev == "user":
                _add(out, "role-order", f"messages {j - 1} and {j} are consecutive user messages", item)
        if m.role in ("user", "assistant", "system") and calls:
            for k, c in calls:
                _add(out, "unmatched-tool-call", f"call {c.function.name!r} in message {k} has no tool result", item)
            calls = []
        if m.role == "assistant":
            if prev == "assistant":
                _add(out, "role-order", f"messages {j - 1} and {j} are consecutive assistant messages", item)
            if not m.content.strip() and not m.tool_calls:
                _add(out, "empty-message", f"message {j} (assistant) has neither content nor tool calls", item)
            for c in m.tool_calls or []:
                has_calls = True
                name = c.function.name
                if name not in offered:
                    known = ", ".join(sorted(offered)) or "none"
                    _add(out, "unknown-tool", f"message {j} calls {name!r}, which is not offered (offered: {known})",
                         item)
                    continue
                for problem in schemas.check(name, c.function.arguments, offered[name]):
                    _add(out, "bad-arguments", f"message {j} {name}: {problem}", item)
            if m.tool_calls and j < n - 1:
                calls = [(j, c) for c in m.tool_calls]
        if m.role == "tool":
            if prev not in ("assistant", "tool"):
                _add(out, "role-order", f"message {j} (tool) follows a {prev or 'nothing'} message", item)
            if not calls:
                _add(out, "unmatched-tool-result", f"message {j} is a tool result that answers no call", item)
                continue
            k, c = calls.pop(0)
            if c.id and m.tool_call_id and c.id != m.tool_call_id:
                _add(out, "unmatched-tool-result",
                     f"message {j} answers tool_call_id {m.tool_call_id!r} but the call is {c.id!r}", item)
            elif m.name and m.name != c.function.name:
                _add(out, "unmatched-tool-result",
                     f"message {j} is a result of {m.name!r} but answers the call to {c.function.name!r}", item)
            if not m.content.strip():
                _add(out, "empty-tool-result", f"message {j} ({c.function.name}) is empty", item)
            elif ours_only and c.function.name in schemas.our_names:
                problem = tool_result_problem(c.function.name, c.function.arguments, m.content)
                if problem:
                    _add(out, "tool-result", f"message {j} ({c.function.name}): {problem}", item)
    for k, c in calls:
        _add(out, "unmatched-tool-call", f"call {c.function.name!r} in message {k} has no tool result", item)

    label = rec.meta.label
    if label == "tool" and not has_calls:
        _add(out, "label", "label is 'tool' but no assistant turn calls a tool", item)
    elif label != "tool" and has_calls:
        _add(out, "label", f"label is {label!r} but an assistant turn calls a tool", item)

    if has_calls and msgs[-1].role == "assistant" and not msgs[-1].tool_calls:
        results = " ".join(m.content for m in msgs if m.role == "tool")
        if results and not grounded(msgs[-1].content, results):
            _add(out, "ungrounded", "the final answer mentions nothing (name, path, number) from the tool results",
                 item)
    return out


_GREP_LINE = re.compile(r"^(.+?):(\d+):")
_RUN = re.compile(r"^exit code -?\d+\n")
_WRITE = re.compile(r"^(Created|Overwrote) (.+) \((\d+) characters\)$")
_NOTE = re.compile(r"^\.\.\. \[(search stopped after .*|truncated \d+ chars)\]$")


def tool_result_problem(name: str, args: dict[str, Any], result: str) -> str | None:
    """Why `result` cannot be what tools.py returns for this call; None when it could be."""
    if result.startswith("Error: "):
        return None
    result = re.sub(r"\n\.\.\. \[truncated \d+ chars\]$", "", result)
    if name == "grep":
        if result == "No matches.":
            return None
        top = posixpath.normpath(str(args.get("path", ".")))
        glob = args.get("glob")
        for ln in result.split("\n"):
            if _NOTE.match(ln):
                continue
            m = _GREP_LINE.match(ln)
            if not m:
                return f"grep output line {ln[:60]!r} is not 'path:line:text'"
            path = m.group(1)
            if top != "." and path != top and not path.startswith(top.rstrip("/") + "/"):
                return f"grep matched {path!r}, which is outside the searched path {top!r}"
            if glob and not (fnmatch.fnmatch(posixpath.basename(path), glob) or fnmatch.fnmatch(path, glob)):
                return f"grep matched {path!r}, which does not match glob {glob!r}"
        return None
    if name == "list_files":
        if result == "No files.":
            return None
        top = posixpath.normpath(str(args.get("path", ".")))
        pattern = args.get("pattern")
        for ln in result.split("\n"):
            if _NOTE.match(ln):
                continue
            if not ln or ln.startswith("/") or ln != ln.strip():
                return f"list_files line {ln[:60]!r} is not a relative path"
            if top != "." and not ln.startswith(top.rstrip("/") + "/") and ln != top:
                return f"list_files listed {ln!r}, which is outside {top!r}"
            if pattern and not fnmatch.fnmatch(posixpath.basename(ln), pattern):
                return f"list_files listed {ln!r}, which does not match pattern {pattern!r}"
        return None
    if name == "write_file":
        m = _WRITE.match(result)
        if not m:
            return "write_file output is not 'Created|Overwrote PATH (N characters)'"
        content = args.get("content")
        if isinstance(content, str) and int(m.group(3)) != len(content):
            return f"write_file reports {m.group(3)} characters but the content has {len(content)}"
        want = posixpath.normpath(str(args.get("path", "")))
        if posixpath.normpath(m.group(2)) != want:
            return f"write_file reports path {m.group(2)!r} but the call wrote {want!r}"
        return None
    if name == "run_command":
        if not _RUN.match(result):
            return "run_command output does not start with 'exit code N' and a newline"
        return None
    if name == "read_file":
        start, end = args.get("start_line"), args.get("end_line")
        if isinstance(start, int) and isinstance(end, int) and end >= start:
            got = len(result.splitlines())
            if got > end - start + 1:
                return f"read_file returned {got} lines for lines {start}..{end}"
        return None
    return None


_SALIENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\-]*[A-Za-z0-9_]|\d")
_STOP = frozenset("""the and for that this with from are was were has have had not but you your can its it's
there their they them then than what which when where who how why into onto also only just each one two
file files line lines call calls tool tools result results found find none here does did done use used""".split())


def grounded(answer: str, results: str) -> bool:
    """Whether the answer shares some name, path, number or word (4+ letters) with the tool results."""
    hay = results.lower()
    for tok in _SALIENT.findall(answer):
        t = tok.lower().strip("./-")
        if not t or t in _STOP:
            continue
        parts = [t] + ([p for p in re.split(r"[./]", t) if len(p) >= 3] if any(ch in t for ch in "./") else [])
        for p in parts:
            if p not in _STOP and (p.isdigit() or len(p) >= 4 or any(ch in p for ch in "_./")) and p in hay:
                return True
    return False


# ---- template rules -----------------------------------------------------------------------

def check_rendering(item: Located, tokenizer: Any, max_seq_length: int | None = None) -> tuple[list[Finding], int | None]:
    """render, mask and too-long: the record through the model's chat template, as the trainer sees it.

    Returns the findings and the token count (None when it could not be rendered)."""
    from ..prompting import _hf, assistant_spans, render, tokenize_for_training

    out: list[Finding] = []
    rec = item.record
    msgs = rec.template_messages()
    tools = rec.tools or None
    try:
        text = render(msgs, tools, tokenizer)
        spans = assistant_spans(msgs, tools, tokenizer)
        ids, flags = tokenize_for_training(msgs, tools, tokenizer, mask="all_assistant")
    except InputError as e:
        _add(out, "render", e.message, item)
        return out, None
    except Exception as e:  # a template error (jinja, missing key) is a finding, not a crash
        _add(out, "render", f"{type(e).__name__}: {e}", item)
        return out, None

    assistants = [(j, m) for j, m in enumerate(msgs) if m["role"] == "assistant"]
    if len(spans) != len(assistants):
        _add(out, "mask", f"{len(spans)} supervised spans for {len(assistants)} assistant turns", item)
    else:
        for (j, m), (s, e) in zip(assistants, spans):
            seg = text[s:e]
            content = (m.get("content") or "").strip()
            if content and content not in seg:
                _add(out, "mask", f"message {j} (assistant) text is not inside its supervised span", item)
            for c in m.get("tool_calls") or []:
                fn = c.get("function", c)
                if json.dumps(fn["name"]) not in seg:
                    _add(out, "mask", f"message {j} call {fn['name']!r} is not inside its supervised span", item)
        # nothing else supervised: non-assistant contents must lie outside every span
        cursor = 0
        k = 0
        for j, m in enumerate(msgs):
            if m["role"] == "assistant":
                if k < len(spans):
                    cursor = max(cursor, spans[k][1])
                k += 1
                continue
            content = m.get("content") or ""
            if len(content.strip()) < 1:
                continue
            pos = text.find(content, cursor)
            if pos < 0:
                continue
            if any(s < pos + len(content) and pos < e for s, e in spans):
                _add(out, "mask", f"message {j} ({m['role']}) text falls inside a supervised span", item)
            cursor = pos + len(content)
    # token level: the flagged tokens must cover each span exactly
    enc = _hf(tokenizer)(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if list(enc["input_ids"]) != list(ids) or len(flags) != len(ids):
        _add(out, "mask", "tokenize_for_training does not tokenize the rendered text", item)
    else:
        bad = None
        for (a, b), f in zip(offsets, flags):
            inside = [(s, e) for s, e in spans if s < b and a < e]
            if f and not any(s <= a and b <= e for s, e in spans):
                bad = f"supervised token at chars {a}..{b} extends outside the assistant turns"
            elif not f and inside and b > a:
                bad = f"assistant text at chars {max(a, inside[0][0])}..{min(b, inside[0][1])} is not supervised"
            if bad:
                break
        if bad:
            _add(out, "mask", bad, item)
        elif assistants and not any(flags):
            _add(out, "mask", "no token is supervised", item)
    if max_seq_length and len(ids) > max_seq_length:
        _add(out, "too-long", f"{len(ids)} tokens > max_seq_length {max_seq_length} (the trainer would truncate it)",
             item)
    return out, len(ids)


# ---- corpus rules ------------------------------------------------------------------------

@dataclass
class BenchQuestion:
    question: str
    path: str
    line: int
    tools: frozenset[str] = frozenset()  # names of the case's own tools (unseen-tool suites)


def _case_tool_names(obj: dict) -> frozenset[str]:
    names = set()
    for f in obj.get("functions") or []:
        fn = f.get("function", f) if isinstance(f, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.add(fn["name"])
    return frozenset(names)


def load_bench(paths: Iterable[str | os.PathLike], findings: list[Finding] | None = None) -> list[BenchQuestion]:
    """Questions of the held-out suites: JSONL files (or directories of them); each line has a
    `question` (or `prompt`) field, or is a record whose first user message is the question."""
    out: list[BenchQuestion] = []
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(f for f in p.glob("*.jsonl") if f.is_file()))
        elif p.exists():
            files.append(p)
        else:  # a silently skipped suite would silently switch the overlap check off
            raise InputError("benchmark path does not exist", path=p, rule="bench-file")
    for f in files:
        errors: list[InputError] = []
        for lineno, obj in read_jsonl(f, errors=errors):
            q = None
            if isinstance(obj, dict):
                q = obj.get("question") or obj.get("prompt")
                if q is None and isinstance(obj.get("messages"), list):
                    q = next((m.get("content") for m in obj["messages"]
                              if isinstance(m, dict) and m.get("role") == "user"), None)
            if isinstance(q, list):  # BFCL-style [[{"role": "user", ...}]]
                flat = [m for turn in q for m in (turn if isinstance(turn, list) else [turn])]
                q = next((m.get("content") for m in flat if isinstance(m, dict) and m.get("role") == "user"), None)
            if isinstance(q, str) and q.strip():
                out.append(BenchQuestion(q, str(f), lineno, _case_tool_names(obj)))
            elif findings is not None:
                findings.append(Finding("bench-file", "no question field; line ignored", str(f), lineno, None, WARNING))
        if findings is not None:
            for e in errors:
                findings.append(Finding("bench-file", e.message, str(f), e.line, None, WARNING))
    return out


class _JaccardJoin:
    """Exact token-set Jaccard >= t join: prefix filtering with positional filtering (PPJoin).

    Tokens are ordered rarest first (by frequency over all sets the join will see). Two sets with
    Jaccard >= t share a token among the first |s| - ceil(t|s|) + 1 of each (the prefix), so each set is
    indexed under its prefix tokens only, by (position, size). A probe skips a whole (position, size)
    bucket when even a perfect overlap of the remaining tokens could not reach the required overlap
    ceil(t/(1+t) (|x|+|y|)): templated questions that differ in one rare name then cost almost nothing."""

    def __init__(self, token_sets: Sequence[frozenset[str]], threshold: float):
        self.t = threshold
        self._c = threshold / (1 + threshold)
        df: Counter[str] = Counter()
        for s in token_sets:
            df.update(s)
        self.rank = {tok: (c, tok) for tok, c in df.items()}
        self.index: dict[str, dict[tuple[int, int], list[int]]] = {}
        self.sets: list[frozenset[str]] = []

    def prefix(self, s: frozenset[str]) -> list[str]:
        """The tokens a set is indexed and probed under, rarest first."""
        if not s:
            return []
        n = len(s) - math.ceil(self.t * len(s) - 1e-9) + 1
        rank = self.rank
        if n == 1:
            return [min(s, key=lambda tok: rank.get(tok, (0, tok)))]
        return sorted(s, key=lambda tok: rank.get(tok, (0, tok)))[:n]

    def query(self, s: frozenset[str], prefix: list[str] | None = None) -> list[tuple[int, float]]:
        if not s:
            return []
        size = len(s)
        lo, hi = self.t * size - 1e-9, size / self.t + 1e-9
        c = self._c
        overlap: dict[int, int] = {}
        before = 0  # earlier prefix tokens that another set can share (a token only this set has cannot)
        rank = self.rank
        for i, tok in enumerate(prefix if prefix is not None else self.prefix(s)):
            buckets = self.index.get(tok)
            shared = rank.get(tok, (1,))[0] > 1
            if not buckets:
                before += shared
                continue
            for (j, ny), ids in buckets.items():
                if ny < lo or ny > hi:
                    continue
                need = math.ceil(c * (size + ny) - 1e-9)
                ub = 1 + min(size - i - 1, ny - j - 1)
                if before + ub < need:  # even every earlier shareable prefix token matching would not do
                    continue
                for y in ids:
                    a = overlap.get(y, 0)
                    if a < 0:
                        continue
                    overlap[y] = a + 1 if a + ub >= need else -1
            before += shared
        hits = []
        sets = self.sets
        for y, a in overlap.items():
            if a <= 0:
                continue
            other = sets[y]
            inter = len(s & other)
            jac = inter / (size + len(other) - inter)
            if jac >= self.t:
                hits.append((y, jac))
        return hits

    def add(self, s: frozenset[str], prefix: list[str] | None = None) -> int:
        idx = len(self.sets)
        self.sets.append(s)
        size = len(s)
        for j, tok in enumerate(prefix if prefix is not None else self.prefix(s)):
            self.index.setdefault(tok, {}).setdefault((j, size), []).append(idx)
        return idx


_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_SENTINEL = "zzslotzz"


def _bench_templates(bench: Sequence[BenchQuestion]) -> list[tuple[frozenset[str], re.Pattern[str], BenchQuestion]]:
    """Benchmark questions with {placeholders} (filled in at benchmark time) as regexes over normalised text:
    a training question that is the same sentence with some value in each slot is an overlap."""
    out = []
    for b in bench:
        if not _PLACEHOLDER.search(b.question):
            continue
        norm = normalize_question(_PLACEHOLDER.sub(f" {_SENTINEL} ", b.question))
        parts = [re.escape(p) for p in norm.split(_SENTINEL)]
        rx = re.compile(r"\S+(?: \S+){0,5}".join(parts))
        lit = frozenset(t for t in norm.split() if t != _SENTINEL)
        out.append((lit, rx, b))
    return out


def _split_of(path: str | None) -> str | None:
    if not path:
        return None
    stem = Path(path).stem
    return stem if stem in SPLITS else None


def _toolset_key(record: Record) -> str:
    """'' for the agent's own tools (or none); else the sorted names of the tools offered."""
    from ..tools import TOOL_NAMES

    names = sorted({t.get("function", {}).get("name") or "" for t in record.tools if isinstance(t, dict)})
    return "" if set(names) <= set(TOOL_NAMES) else "\x00tools:" + ",".join(names)


def corpus_findings(items: Sequence[Located], bench: Sequence[BenchQuestion] = (), *, near_threshold: float = 0.9,
                    bench_threshold: float = 0.8, progress: bool = False) -> list[Finding]:
    """duplicate-id, duplicate, near-duplicate, split-overlap, bench-overlap and bench-tool (later
    records are flagged)."""
    out: list[Finding] = []
    ids: dict[str, Located] = {}
    for it in items:
        rid = it.record.meta.id
        if rid in ids:
            first = ids[rid]
            _add(out, "duplicate-id", f"meta.id {rid!r} is also used at {first.path}:{first.line}", it)
        else:
            ids[rid] = it

    bench_tools: dict[str, BenchQuestion] = {}
    for b in bench:
        for name in b.tools:
            bench_tools.setdefault(name, b)
    if bench_tools:
        for it in items:
            offered = {t.get("function", {}).get("name") for t in it.record.tools if isinstance(t, dict)}
            for name in sorted(n for n in offered if n in bench_tools):
                b = bench_tools[name]
                _add(out, "bench-tool", f"offers {name!r}, a tool of the held-out case at {b.path}:{b.line}", it)

    questions = [it.record.user_text() for it in items]
    norms = [normalize_question(q) for q in questions]
    toks = [question_tokens(q) for q in questions]
    # The same question next to another tool set is another example (relevance pairs teach exactly
    # that): duplicates and near-duplicates are counted within one tool set. The agent's own tools
    # form one set, so records that offer them compare as before.
    sets = [_toolset_key(it.record) for it in items]
    near_toks = [t | {sig} if sig else t for t, sig in zip(toks, sets)]
    bench_norm = {}
    for b in bench:
        bench_norm.setdefault(normalize_question(b.question), b)
    bench_toks = [question_tokens(b.question) for b in bench]

    # exact
    first_by_norm: dict[tuple[str, str], int] = {}
    distinct: list[int] = []
    for i, (it, nq) in enumerate(zip(items, norms)):
        if not nq:
            continue
        b = bench_norm.get(nq)
        if b is not None:
            _add(out, "bench-overlap", f"question is identical to {b.path}:{b.line}", it)
        j = first_by_norm.get((nq, sets[i]))
        if j is None:
            first_by_norm[(nq, sets[i])] = i
            distinct.append(i)
            continue
        other = items[j]
        s1, s2 = it.split or _split_of(it.path), other.split or _split_of(other.path)
        rule = "split-overlap" if s1 and s2 and s1 != s2 else "duplicate"
        where = f" ({s2} vs {s1})" if rule == "split-overlap" else ""
        _add(out, rule, f"same question as record {other.record.meta.id} at {other.path}:{other.line}{where}", it)

    # near: a self-join over distinct questions (each probes the ones before it, then joins them)
    join = _JaccardJoin([near_toks[i] for i in distinct], near_threshold)
    pos_to_item: list[int] = []
    for i in track(distinct, "near-duplicates", enabled=progress):
        pre = join.prefix(near_toks[i])
        for p, jac in join.query(near_toks[i], pre):
            j = pos_to_item[p]
            it, other = items[i], items[j]
            s1, s2 = it.split or _split_of(it.path), other.split or _split_of(other.path)
            if s1 and s2 and s1 != s2:
                _add(out, "split-overlap", f"question nearly identical (Jaccard {jac:.2f}) to record "
                                           f"{other.record.meta.id} at {other.path}:{other.line} ({s2} vs {s1})", it)
            else:
                _add(out, "near-duplicate", f"question nearly identical (Jaccard {jac:.2f}) to record "
                                            f"{other.record.meta.id} at {other.path}:{other.line}", it)
            break
        join.add(near_toks[i], pre)
        pos_to_item.append(i)
    templates = _bench_templates(bench)
    matched: set[int] = set()
    if templates:
        for i in distinct:
            if norms[i] in bench_norm:
                continue
            toks_i = toks[i]
            for lit, rx, b in templates:
                if lit <= toks_i and rx.fullmatch(norms[i]):
                    _add(out, "bench-overlap", f"question is an instance of the benchmark template {b.question!r} "
                                               f"({b.path}:{b.line})", items[i])
                    matched.add(i)
                    break
    if bench:
        # index the training questions and probe with the (few) benchmark questions
        cand = [i for i in distinct if norms[i] not in bench_norm and i not in matched]
        bjoin = _JaccardJoin(bench_toks + [toks[i] for i in cand], bench_threshold)
        for i in cand:
            bjoin.add(toks[i])
        best: dict[int, tuple[float, int]] = {}
        for k, s in enumerate(bench_toks):
            for p, jac in bjoin.query(s):
                if p not in best or jac > best[p][0]:
                    best[p] = (jac, k)
        for p in sorted(best):
            jac, k = best[p]
            b = bench[k]
            _add(out, "bench-overlap", f"question nearly identical (Jaccard {jac:.2f}) to {b.path}:{b.line}",
                 items[cand[p]])
    return out


# ---- entry points ------------------------------------------------------------------------

def validate_records(records: Iterable[Record | Located], *, tokenizer: Any = None, max_seq_length: int | None = None,
                     bench: Sequence[BenchQuestion] | Iterable[str | os.PathLike] | None = None,
                     near_threshold: float = 0.9, bench_threshold: float = 0.8, render_sample: int | None = None,
                     seed: int = 0, progress: bool = False, findings: Iterable[Finding] = ()) -> Report:
    """Run every rule on records (Record or Located) and return a Report.

    tokenizer: enables render/mask/too-long (and token counts). render_sample: check only that many
    records (chosen by a seeded hash) with the template, for very large sets. bench: BenchQuestions,
    or paths of benchmark suites (files or directories of JSONL)."""
    with no_gc():
        return _validate(records, tokenizer=tokenizer, max_seq_length=max_seq_length, bench=bench,
                         near_threshold=near_threshold, bench_threshold=bench_threshold, render_sample=render_sample,
                         seed=seed, progress=progress, findings=findings)


def _validate(records: Iterable[Record | Located], *, tokenizer: Any, max_seq_length: int | None,
              bench: Sequence[BenchQuestion] | Iterable[str | os.PathLike] | None, near_threshold: float,
              bench_threshold: float, render_sample: int | None, seed: int, progress: bool,
              findings: Iterable[Finding]) -> Report:
    items = [r if isinstance(r, Located) else Located(r, None, None) for r in records]
    report = Report(findings=list(findings), records=len(items))
    bench_qs: list[BenchQuestion] = []
    if bench:
        bench = list(bench)
        if all(isinstance(b, BenchQuestion) for b in bench):
            bench_qs = bench  # type: ignore[assignment]
        else:
            bench_qs = load_bench(bench, report.findings)  # type: ignore[arg-type]
    schemas = _SchemaCache()
    for it in track(items, "checking records", enabled=progress):
        report.findings.extend(check_record(it, schemas))

    checked_render = 0
    if tokenizer is not None:
        chosen = range(len(items))
        if render_sample is not None and render_sample < len(items):
            order = sorted(range(len(items)), key=lambda i: unit_hash(seed, items[i].record.content_hash()))
            chosen = sorted(order[:render_sample])
        for i in track(list(chosen), "rendering", enabled=progress):
            found, ntok = check_rendering(items[i], tokenizer, max_seq_length)
            report.findings.extend(found)
            checked_render += 1
            if ntok is not None:
                report.token_counts[i] = ntok
    report.findings.extend(corpus_findings(items, bench_qs, near_threshold=near_threshold,
                                           bench_threshold=bench_threshold, progress=progress))
    report.checks = {"template": tokenizer is not None, "rendered": checked_render,
                     "max_seq_length": max_seq_length if tokenizer is not None else None,
                     "bench_questions": len(bench_qs), "near_threshold": near_threshold,
                     "bench_threshold": bench_threshold}
    if tokenizer is None:
        report.checks["skipped"] = ["render", "mask", "too-long"]
    report.findings.sort(key=lambda f: (f.path or "", f.line or 0, f.rule))
    return report


def load_located(paths: Iterable[str | os.PathLike]) -> tuple[list[Located], list[Finding], list[str]]:
    """Records of JSONL files (directories: their *.jsonl), with schema findings for bad lines."""
    with no_gc():
        return _load_located(paths)


def _load_located(paths: Iterable[str | os.PathLike]) -> tuple[list[Located], list[Finding], list[str]]:
    from .common import iter_input_files

    items: list[Located] = []
    findings: list[Finding] = []
    shared_tools: list[list[dict[str, Any]]] = []  # one object per distinct tool list: most records share one
    files = iter_input_files(paths, (".jsonl",))
    # train before valid before test: an overlap is reported on the later split's record
    files = sorted(files, key=lambda f: (str(f.parent), SPLITS.index(f.stem) if f.stem in SPLITS else -1, f.name))
    for f in files:
        errors: list[InputError] = []
        split = _split_of(str(f))
        for lineno, obj in read_jsonl(f, errors=errors, allow_empty=False):
            try:
                rec = parse_record(obj, path=f, line=lineno)
            except InputError as e:
                errors.append(e)
                continue
            if rec.tools:
                same = next((t for t in shared_tools if t == rec.tools), None)
                if same is None:
                    shared_tools.insert(0, rec.tools)
                    del shared_tools[8:]
                else:
                    rec.tools = same
            items.append(Located(rec, str(f), lineno, split))
        for e in errors:
            findings.append(Finding("schema", e.message, str(f), e.line, e.record_id, ERROR))
    return items, findings, [str(f) for f in files]


def validate_files(paths: Iterable[str | os.PathLike], **kwargs: Any) -> Report:
    """Validate JSONL record files; files named train/valid/test.jsonl are checked for split overlap."""
    items, findings, files = load_located(paths)
    report = validate_records(items, findings=findings, **kwargs)
    report.files = files
    report.records = len(items) + len(findings)
    return report
