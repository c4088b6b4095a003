"""Direct-answer examples mined from Markdown documents and Python docstrings.

A direct question must be answerable from general programming knowledge: the agent is taught to
answer such questions without tools, and to look at the workspace for everything else. So the miner
only turns text that states something general into questions, with patterns per category:

- concept: definitions ("`term` is a ...", glossary bullets "- **term**: ...")
- comparison: "X vs Y", "use X instead of / rather than Y", "X, not Y"
- best_practice: normative sentences ("Never ...", "Always ...", "Avoid ...", "Prefer ...", "X should ...")
- syntax: a fenced code block (python, bash, yaml, json, toml) with its lead-in sentence
- architecture: design statements about layers, modules, pipelines and boundaries

and drops any question that mentions a file path or a name defined in the mined sources (a module,
class or function): questions about the workspace belong to tool examples. Answers are the source
sentences, cleaned. Deterministic for a seed.
"""

from __future__ import annotations

import ast
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ...schema import Record, build_record
from ...vocab import DIRECT_CATEGORIES
from ...questions import normalize_question
from ..ids import stable_id
from ..inputs import iter_input_files
from .registry import SourceRun, source

SOURCE = "direct"


@dataclass
class Unit:
    """A piece of prose with where it came from."""
    text: str
    path: str
    line: int
    heading: str = ""
    code: str | None = None  # a code block following the text
    lang: str | None = None
    kind: str = "md"  # "md" (prose written for readers) or "doc" (a docstring: mostly about the code itself)


@dataclass
class QA:
    category: str
    question: str
    answer: str
    path: str
    line: int
    pattern: str


# ---- reading ------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*```\s*([\w+-]*)\s*$")
_HEAD = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_units(path: Path, text: str) -> Iterator[Unit]:
    """Paragraphs (list items on their own) with their heading; a fenced code block is attached to the
    paragraph just before it (its lead-in), blank lines in between allowed."""
    heading = ""
    para: list[str] = []
    start = 0
    lines = text.splitlines()
    pending: Unit | None = None  # the last paragraph, held back in case a code block follows

    def flush() -> Unit | None:
        body = " ".join(x.strip() for x in para).strip()
        return Unit(body, str(path), start, heading) if body else None

    out: list[Unit] = []

    def emit(u: Unit | None) -> None:
        nonlocal pending
        if pending is not None:
            out.append(pending)
        pending = u

    i = 0
    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if m:
            lang = m.group(1).lower() or None
            j = i + 1
            while j < len(lines) and not _FENCE.match(lines[j]):
                j += 1
            code = "\n".join(lines[i + 1:j])
            u = flush()
            para = []
            if u is None and pending is not None and pending.code is None:
                u, pending = pending, None
            if u is not None:
                u.code, u.lang = code, lang
            emit(u)
            emit(None)
            i = j + 1
            continue
        h = _HEAD.match(line)
        if h:
            emit(flush())
            emit(None)
            para, heading = [], h.group(2).strip()
        elif not line.strip() or line.lstrip().startswith(("|", "<", "---")):
            u = flush()
            if u is not None:
                emit(u)
            para = []
        elif line.lstrip().startswith(("- ", "* ")) and para:
            emit(flush())
            para, start = [line.lstrip()[2:]], i + 1
        else:
            if not para:
                start = i + 1
                line = re.sub(r"^\s*(?:[-*]|\d+\.)\s+", "", line)
            para.append(line)
        i += 1
    emit(flush())
    emit(None)
    yield from out


def docstring_units(path: Path, text: str) -> tuple[list[Unit], set[str]]:
    """Docstring paragraphs, and the names the module defines (for the workspace guard)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return [], set()
    units: list[Unit] = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper())
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(node)
            if not doc:
                continue
            line = node.body[0].lineno if getattr(node, "body", None) else 1
            heading = getattr(node, "name", "")
            for para in re.split(r"\n\s*\n", doc):
                body = " ".join(x.strip() for x in para.splitlines()).strip()
                if body:
                    units.append(Unit(body, str(path), line, heading, kind="doc"))
    return units, names


# ---- patterns ----------------------------------------------------------------------------

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*\"(])")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s.strip()]


def _clean(s: str) -> str:
    s = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", s)  # links -> text
    s = s.replace("**", "")
    return re.sub(r"\s+", " ", s).strip()


def _term(s: str) -> str:
    return s.strip().strip("*").strip()


_DEF = re.compile(r"^(?:(?P<art>An?|The)\s+(?P<t1>[A-Za-z][\w-]*(?: [\w-]+){0,2})|(?P<t2>`[^`]{2,40}`|\*\*[^*]{2,40}\*\*|"
                  r"[A-Z][\w-]*(?: [\w-]+){0,2})) (?:is|are|means|refers to) "
                  r"(?P<rest>(?:an?|the|one|how|what|where|when) .{10,})$")
_GLOSS = re.compile(r"^(?P<term>`[^`]{2,40}`|\*\*[^*]{2,40}\*\*)\s*(?::|—|--| - )\s*(?P<rest>.{15,})$")
_VS = re.compile(r"(?P<x>`[^`]{1,40}`|\b[\w.+-]{2,30}) (?:vs\.?|versus) (?P<y>`[^`]{1,40}`|[\w.+-]{2,30}\b)",
                 re.IGNORECASE)
_INSTEAD = re.compile(r"\b(?:[Uu]se|[Pp]refer|[Cc]hoose|[Pp]ick) (?P<x>`[^`]{1,40}`|[\w.+-]+(?: [\w.+-]+){0,3}) "
                      r"(?:instead of|rather than|over) (?P<y>`[^`]{1,40}`|[\w.+-]+(?: [\w.+-]+){0,3})")
_NOT = re.compile(r"^(?P<subj>[A-Z][^,:;]{3,60}?) (?P<verb>are|is|should be|must be) (?P<x>[^,;:]{2,40}), "
                  r"(?:never|not) (?P<y>[^,;:.]{2,40})")
_NORM = re.compile(r"^(?P<verb>Never|Always|Avoid|Prefer|Don't|Do not|Keep|Make sure)\b (?P<rest>[^.!?]{8,160})[.!?]?")
_SHOULD = re.compile(r"^(?P<subj>(?:[A-Z][\w`-]*)(?: [\w`-]+){0,5}) (?P<verb>should|must|should never|must never|"
                     r"should not|must not) (?P<rest>[^.!?]{6,160})")
_ARCH_WORDS = re.compile(r"\b(layer|layers|module|modules|component|components|pipeline|boundary|boundaries|"
                         r"decoupl\w*|separat\w*|thin|one place|single source|one code path|registry|plugin)\b",
                         re.IGNORECASE)
_ARCH = re.compile(r"^(?P<subj>(?:The|A|An|Each|Every)? ?[\w`-]+(?: [\w`-]+){0,3}) (?P<verb>is|are|owns|own|keeps|"
                   r"keep|stays|stay|separates|separate|registers|register) (?P<rest>.{10,200})$")


_IMPERATIVES = ("(?:Use|Run|Install|Write|Create|Call|Pass|Format|Define|Declare|Read|Open|Convert|Parse|Sort|Add|"
                "Import|Set|Configure|Start|Build|Loop|Iterate|Print|Check|Make|Split|Join|Merge|Compute|Get|Load|"
                "Save|Serialize|Match|Replace|Filter|Map|Raise|Catch|Handle|Return|Send|Type|Annotate|Unpack|"
                "Reverse|Count|Group|Find|Remove|Delete|Copy|Move|Rename|List|Show|Undo|Revert|Squash|Stash)")


def _q(rng: random.Random, options: list[str]) -> str:
    return rng.choice(options)


def _phrase(verb: str, rest: str) -> tuple[str, str]:
    rest = rest.strip().rstrip(".")
    v = verb.lower()
    if v in ("never", "don't", "do not"):
        return "best_practice", f"Is it a good idea to {rest}?"
    if v == "always":
        return "best_practice", f"Should I always {rest}?"
    if v == "avoid":
        return "best_practice", f"Why should I avoid {rest}?"
    if v == "prefer":
        return "best_practice", f"Should I prefer {rest}?"
    if v == "keep":
        return "best_practice", f"Should I keep {rest}?"
    return "best_practice", f"Should I make sure {rest}?"


_FUNCTION_WORDS = {"a", "an", "the", "any", "this", "that", "these", "those", "it", "its", "without", "with", "each",
                   "every", "one", "new", "other", "some", "all", "no", "not", "both", "which", "what", "when", "where",
                   "if", "so", "then", "there", "here", "they", "we", "you", "i", "he", "she", "and", "or", "but"}
_CONTEXT = re.compile(r"\b(here|below|above|this (?:module|file|project|package|repo|repository|function|class|page|"
                      r"command|tool|guide|document|step|test)|we|our|us|these machines|see )\b", re.IGNORECASE)


def _good_term(term: str) -> bool:
    words = term.strip("`").split()
    if not words or len(words) > 3:
        return False
    if term.startswith("`"):
        return not any(ch in term for ch in "{}[]()<>=:,")
    return not any(w.lower() in _FUNCTION_WORDS for w in words)


def _complete(answer: str) -> bool:
    """A self-contained answer: whole sentences, balanced quotes, no references to its surroundings."""
    if answer.count("`") % 2 or answer.count("(") != answer.count(")") or answer.count('"') % 2:
        return False
    if not answer.rstrip().endswith((".", "!", "?", "```")):
        return False
    return not _CONTEXT.search(answer.split("```")[0])


def _short_phrase(x: str) -> bool:
    x = x.strip()
    return 2 <= len(x) <= 40 and not re.search(r"[.;:!?]$", x) and len(x.split()) <= 4


def qas_from_unit(u: Unit, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    sents = sentences(u.text)
    prose = u.kind == "md"
    for k, raw in enumerate(sents):
        s = raw.strip()
        follow = sents[k + 1] if k + 1 < len(sents) else ""
        two = _clean(s + (" " + follow if follow and len(s) < 160 else ""))
        m = _DEF.match(s) if prose else None
        if m and _good_term(_term(m.group("t1") or m.group("t2"))) and len(s) >= 40:
            term = _term(m.group("t1") or m.group("t2"))
            if m.group("t1"):
                term = f"{m.group('art').lower()} {term}"
            q = _q(rng, [f"What is {term}?", f"Can you explain what {term} is?", f"Briefly, what is {term}?"])
            out.append(QA("concept", q, _clean(s), u.path, u.line, "definition"))
            continue
        m = _GLOSS.match(s) if prose else None
        if m and _good_term(_term(m.group("term"))):
            term = _term(m.group("term"))
            q = _q(rng, [f"What is {term}?", f"What does {term} mean?", f"Briefly, what is {term}?"])
            rest = m.group("rest").strip()
            out.append(QA("concept", q, _clean(f"{term}: {rest[0].upper()}{rest[1:]}"), u.path, u.line, "glossary"))
            continue
        m = _VS.search(s)
        if m and _short_phrase(m.group("x").rstrip(".,;:!?")) and _short_phrase(m.group("y").rstrip(".,;:!?")):
            x, y = _term(m.group("x").rstrip(".,;:!?")), _term(m.group("y").rstrip(".,;:!?"))
            q = _q(rng, [f"What is the difference between {x} and {y}?", f"{x} vs {y}: how do they differ?",
                         f"How does {x} compare with {y}?"])
            out.append(QA("comparison", q, two, u.path, u.line, "versus"))
            continue
        m = _INSTEAD.search(s) if prose else None
        if m and _short_phrase(m.group("x").rstrip(".,;:!?")) and _short_phrase(m.group("y").rstrip(".,;:!?")):
            x, y = _term(m.group("x").rstrip(".,;:!?")), _term(m.group("y").rstrip(".,;:!?"))
            q = _q(rng, [f"Should I use {x} or {y}?", f"When is {x} better than {y}?",
                         f"{x} or {y}: which should I pick?"])
            out.append(QA("comparison", q, two, u.path, u.line, "instead"))
            continue
        m = _NOT.match(s)
        if m and _short_phrase(m.group("x")) and _short_phrase(m.group("y")) and len(m.group("subj").split()) <= 4:
            subj = m.group("subj").strip()
            subj = subj[0].lower() + subj[1:] if not subj[:2].isupper() else subj
            q = _q(rng, [f"Should {subj} be {m.group('x').strip()} or {m.group('y').strip()}?",
                         f"Is it better for {subj} to be {m.group('x').strip()} or {m.group('y').strip()}?"])
            out.append(QA("best_practice", q, two, u.path, u.line, "x-not-y"))
            continue
        m = _NORM.match(s) if prose else None
        if m and not re.match(r"\w+s\b", m.group("rest")):  # "Never raises ..." describes code, it is no advice
            cat, q = _phrase(m.group("verb"), m.group("rest"))
            out.append(QA(cat, q, two, u.path, u.line, "normative"))
            continue
        m = _SHOULD.match(s) if prose else None
        if m and len(m.group("subj").split()) <= 4 and _good_term(m.group("subj").split(" ", 1)[-1]):
            subj = m.group("subj")
            subj = subj[0].lower() + subj[1:] if not subj[:2].isupper() else subj
            neg = "not" in m.group("verb") or "never" in m.group("verb")
            q = _q(rng, [f"Should {subj} {m.group('rest').strip()}?" if not neg else
                         f"Is it OK for {subj} to {m.group('rest').strip()}?"])
            out.append(QA("best_practice", q, two, u.path, u.line, "should"))
            continue
        if prose and _ARCH_WORDS.search(s):
            m = _ARCH.match(s)
            if m and len(m.group("subj").split()) <= 4 and _good_term(m.group("subj").split(" ", 1)[-1]):
                subj = m.group("subj").strip()
                subj_l = subj[0].lower() + subj[1:] if not subj[:2].isupper() else subj
                q = _q(rng, [f"How should {subj_l} be organised in a well-structured project?",
                             f"What role does {subj_l} play in a clean architecture?",
                             f"How do you design {subj_l} so the system stays maintainable?"])
                out.append(QA("architecture", q, two, u.path, u.line, "design"))
    if prose and u.code is not None and u.lang in ("python", "py", "bash", "sh", "shell", "yaml", "yml", "json",
                                                   "toml"):
        lead = _clean(sentences(u.text)[-1]) if u.text else ""
        m = re.match(r"^(?P<verb>" + _IMPERATIVES + r") (?P<rest>[^:]{6,120}?)(?:,? e\.g\.[^:]*)?:$", lead)
        code = u.code.strip("\n")
        if m and 0 < len(code) <= 600 and code.count("\n") <= 20:
            lang = {"py": "python", "sh": "bash", "shell": "bash", "yml": "yaml"}.get(u.lang, u.lang)
            verb = m.group("verb").lower()
            q = _q(rng, [f"How do I {verb} {m.group('rest')} in {lang}?", f"What's the {lang} syntax to {verb} "
                                                                          f"{m.group('rest')}?"])
            fence = "```" + (lang or "")
            out.append(QA("syntax", q, f"{lead[:-1]}:\n\n{fence}\n{code}\n```", u.path, u.line, "code-block"))
    return [qa for qa in out if _complete(qa.answer)]


# ---- the workspace guard ------------------------------------------------------------------

_PATHLIKE = re.compile(r"(?:^|[\s`(])(?:\.{0,2}/)?[\w.-]+/[\w./-]+|\b[\w-]+\.(?:py|md|yaml|yml|json|jsonl|toml|sh|txt|cfg)\b")


def workspace_specific(question: str, names: set[str]) -> bool:
    """True when a question refers to the workspace: a path, or a name defined in the mined sources."""
    if _PATHLIKE.search(question):
        return True
    words = set(re.findall(r"[A-Za-z_][\w-]*", question.replace("`", " ")))
    return any(w in names for w in words)


# ---- entry point --------------------------------------------------------------------------

_GENERIC_NAMES = {"main", "run", "load", "save", "get", "set", "test", "data", "config", "model", "models", "path",
                  "name", "names", "list", "dict", "file", "files", "text", "value", "values", "items", "item", "call",
                  "check", "build", "render", "format", "parse", "read", "write", "open", "close", "start", "stop",
                  "record", "records", "tools", "tool", "agent", "report", "describe", "prepare", "train", "split",
                  "score", "step", "status", "result", "results", "error", "errors", "info", "sample", "task",
                  "convert", "validate", "balance", "export", "conversation", "messages", "message", "schema", "io"}


def generate_direct(paths: Iterable[str | os.PathLike], *, seed: int = 0, limit: int | None = None,
                    system_prompt: str | None = None, extra_names: Iterable[str] = ()) -> list[Record]:
    """Mine Markdown (.md) files and Python docstrings under `paths` into direct-answer records."""
    from ...prompting import DEFAULT_SYSTEM_PROMPT
    from ...tools import tool_schemas

    rng = random.Random(seed)
    units: list[Unit] = []
    names: set[str] = set(extra_names)
    files: list[tuple[Path, Path]] = []
    for p in paths:
        p = Path(p)
        files.extend((f, p if p.is_dir() else p.parent) for f in iter_input_files([p], (".md", ".py")))
    for f, top in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if f.suffix == ".py":
            us, ns = docstring_units(f, text)
            units.extend(us)
            names |= ns
            names.add(f.stem)
            names.update(part for part in f.relative_to(top).parts if part.isidentifier())
        else:
            units.extend(markdown_units(f, text))
            names.add(f.stem)
    names = {n for n in names if len(n) > 2 and n.lower() not in _GENERIC_NAMES}
    qas: list[QA] = []
    for u in units:
        qas.extend(qas_from_unit(u, rng))
    seen: set[str] = set()
    by_cat: dict[str, list[QA]] = {c: [] for c in DIRECT_CATEGORIES}
    for qa in qas:
        nq = normalize_question(qa.question)
        if nq in seen or len(qa.answer) < 30 or len(qa.answer) > 900 or len(qa.question) > 200:
            continue
        if workspace_specific(qa.question, names) or workspace_specific(qa.answer.split("```")[0], names):
            continue
        seen.add(nq)
        by_cat[qa.category].append(qa)
    for c in DIRECT_CATEGORIES:
        rng.shuffle(by_cat[c])
    picked: list[QA] = []
    while any(by_cat.values()) and (limit is None or len(picked) < limit):
        for c in DIRECT_CATEGORIES:
            if by_cat[c] and (limit is None or len(picked) < limit):
                picked.append(by_cat[c].pop(0))
    tools = tool_schemas()
    system = system_prompt or DEFAULT_SYSTEM_PROMPT
    out = []
    for qa in picked:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": qa.question},
                    {"role": "assistant", "content": qa.answer}]
        out.append(build_record(messages, tools, id=stable_id("direct", qa.path, qa.line, qa.question),
                                source=SOURCE, category=qa.category, label="direct", template=qa.pattern,
                                origin=f"{qa.path}:{qa.line}"))
    return out


@source("direct")
def read_direct(spec: Any, run: SourceRun) -> list[Any]:
    return run.located(generate_direct([p for p in run.paths if p.exists()], seed=run.seed, limit=spec.limit))
