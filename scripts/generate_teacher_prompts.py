#!/usr/bin/env python3
"""Write the built-in teacher prompt set, data/teacher/prompts.jsonl: questions over seeded generator
workspaces (seeds from 1000 up, disjoint from the benchmark's), questions over this repository, and
direct-answer questions, each labelled and categorised. Deterministic: re-running writes the same file.

    .venv/bin/python scripts/generate_teacher_prompts.py [OUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlx_distill.collection.prompts import MIN_TRAINING_SEED, Prompt, asked_questions
from mlx_distill.io import write_jsonl

SEEDS_PER_TEMPLATE = 8

# (generator, category, question template, answer spec); templates with {placeholders} get
# SEEDS_PER_TEMPLATE seeds, the others one (the same question twice would be a near-duplicate).
WORKSPACE_TEMPLATES = [
    (
        "function_definition",
        "search",
        "I need to edit `{function}`. In which file of this repo does it live?",
        {"type": "contains", "value": "{file_name}"},
    ),
    (
        "function_definition",
        "search",
        "Show me the module that holds the definition of {function}.",
        {"type": "contains", "value": "{file_name}"},
    ),
    (
        "importers",
        "search",
        "Does any code here use the {library} library? Name the files that import it.",
        {"type": "contains", "fact": "importer_names"},
    ),
    (
        "importers",
        "count",
        "Count the Python modules in this project that pull in {library}.",
        {"type": "number", "value": "{importer_count}"},
    ),
    (
        "error_code",
        "search",
        "A customer reported the error {code}. Track down the module that raises it.",
        {"type": "contains", "value": "{file_name}"},
    ),
    (
        "env_var",
        "search",
        "Where does the code look up the {variable} setting from the environment?",
        {"type": "contains", "value": "{file_name}"},
    ),
    (
        "config_value",
        "read",
        "Check {path} for me: what is configured for {key}?",
        {"type": "contains", "value": "{value}"},
    ),
    (
        "constant_value",
        "read",
        "Tell me the value assigned to {constant} in {path}.",
        {"type": "contains", "value": "{value}"},
    ),
    (
        "package_version",
        "read",
        "What version constraint does the project put on {dependency}?",
        {"type": "contains", "value": "{pin}"},
    ),
    (
        "package_version",
        "read",
        "Which release number is this package at, according to its metadata?",
        {"type": "contains", "value": "{version}"},
    ),
    (
        "changelog",
        "read",
        "When did {latest_version} ship? Look it up in the change log.",
        {"type": "contains", "value": "{latest_date}"},
    ),
    (
        "changelog",
        "read",
        "Which version is the oldest entry in the change history here?",
        {"type": "contains", "value": "{oldest_version}"},
    ),
    (
        "todo_count",
        "count",
        "Tally the TODO comments in the src tree and give me the number.",
        {"type": "number", "value": "{count}"},
    ),
    (
        "file_count",
        "count",
        "In {folder}/, count the files whose extension is .{ext}.",
        {"type": "number", "value": "{count}"},
    ),
    ("line_count", "count", "Count the lines of {path} for me.", {"type": "number", "value": "{count}"}),
    (
        "function_count",
        "count",
        "{path}: how many functions sit at its top level?",
        {"type": "number", "value": "{count}"},
    ),
    (
        "script_output",
        "run",
        "Execute {script} with python and report exactly what it writes to stdout.",
        {"type": "contains", "value": "{output}"},
    ),
    (
        "failing_check",
        "run",
        "One of the checks in checks.py is failing right now. Find out which by running it.",
        {"type": "contains", "value": "{failing}"},
    ),
    (
        "exit_code",
        "run",
        "Run validate.py with python and report the status code the process ends with.",
        {"type": "number", "value": "{code}"},
    ),
    (
        "write_note",
        "write",
        "Please jot {token} down in a fresh note saved as {path}.",
        {"type": "file_contains", "path": "{path}", "values": ["{token}"]},
    ),
    (
        "write_function",
        "write",
        "I need a helper: put a function {function} that gives back {value} into a new file {path}.",
        {"type": "file_contains", "path": "{path}", "values": ["{function}", "{value}"]},
    ),
    (
        "write_config",
        "write",
        "Store the setting {key}={value} in a new JSON document at {path}.",
        {"type": "file_contains", "path": "{path}", "values": ["{key}", "{value}"]},
    ),
]

# Questions about this repository (a copy of the current directory): stable facts only.
REPO = [
    (
        "search",
        "Which module of mlx-distill defines `build_workspace`?",
        {"type": "contains", "value": "registry.py"},
    ),
    (
        "search",
        "Which file holds the function `render` that every training example goes through?",
        {"type": "contains", "value": "prompting.py"},
    ),
    ("search", "Which file defines the class `LoopGuard`?", {"type": "contains", "value": "guards.py"}),
    (
        "search",
        "Where is the exception `InputError` defined in this codebase?",
        {"type": "contains", "value": "errors.py"},
    ),
    (
        "search",
        "In which file is the `Workspace` class with the sandboxed tools?",
        {"type": "contains", "value": "workspace.py"},
    ),
    ("search", "Which module implements `MLXModel`?", {"type": "contains", "value": "model.py"}),
    (
        "search",
        "Which function in the benchmark runner runs a single case end to end?",
        {"type": "contains", "value": "run_case"},
    ),
    ("search", "Where does this project keep the teacher price table?", {"type": "contains", "value": "prices.yaml"}),
    ("search", "Which source file defines the chat template string?", {"type": "contains", "value": "chat_template"}),
    ("search", "Find the module where `create_agent` is implemented.", {"type": "contains", "value": "factory.py"}),
    ("search", "Which file registers the `collect` command with the CLI?", {"type": "contains", "value": "cli.py"}),
    ("search", "Where is `resolve_teacher` defined?", {"type": "contains", "value": "model.py"}),
    (
        "read",
        "Which Python version does this project's pyproject require at minimum?",
        {"type": "contains", "value": "3.11"},
    ),
    ("read", "What version number does pyproject.toml give mlx-distill?", {"type": "contains", "value": "0.1.0"}),
    (
        "read",
        "What is the name of the console script that pyproject.toml installs?",
        {"type": "contains", "value": "mlx-distill"},
    ),
    ("read", "What max_tokens does the agent factory use by default?", {"type": "contains", "value": "512"}),
    (
        "read",
        "Which command-line library does src/mlx_distill/cli.py build on?",
        {"type": "contains", "value": "click"},
    ),
    ("read", "What does scripts/test.sh run after setting up?", {"type": "contains", "value": "pytest"}),
    (
        "read",
        "Which labels does the record schema in schema.py allow?",
        {"type": "any_of", "keywords": ["tool", "direct", "clarify", "refuse"], "min": 3},
    ),
    (
        "read",
        "Which programs may run_command start, according to tools/command.py?",
        {"type": "any_of", "keywords": ["pytest", "git", "ls", "grep", "python"], "min": 3},
    ),
    (
        "read",
        "Which directories do grep and list_files never walk into?",
        {"type": "any_of", "keywords": ["__pycache__", "node_modules"], "min": 1},
    ),
    ("read", "What is the name of the embedded default student model?", {"type": "contains", "value": "smollm2"}),
    ("read", "Which exit status does the CLI use for bad input?", {"type": "contains", "value": "2"}),
    (
        "read",
        "Which YAML recipes are in the configs folder?",
        {"type": "any_of", "keywords": ["default", "data", "qwen"], "min": 2},
    ),
    ("read", "What batch discount does the teacher price table apply?", {"type": "contains", "value": "0.5"}),
    (
        "read",
        "Which tool names does TOOL_NAMES list, in order?",
        {"type": "any_of", "keywords": ["read_file", "write_file", "grep", "list_files", "run_command"], "min": 4},
    ),
    ("count", "How many tools does TOOL_NAMES list?", {"type": "number", "value": "5"}),
    ("count", "How many teacher models have a price in the price table?", {"type": "number", "value": "8"}),
]

DIRECT = {
    "concept": [
        "What is a closure in programming?",
        "Explain what a hash table is and why lookups are fast.",
        "What does garbage collection do?",
        "What is the purpose of a mutex?",
        "What is a generator in Python?",
        "Explain what dependency injection is.",
        "What is an abstract syntax tree?",
        "What does Big-O notation describe?",
        "What is a semaphore used for?",
        "Explain eventual consistency.",
        "What is a Bloom filter?",
        "What does a compiler's linker do?",
        "What is a coroutine?",
        "Explain what currying is.",
        "What is a virtual environment in Python for?",
    ],
    "comparison": [
        "How does a list differ from a tuple in Python?",
        "Compare git merge with git rebase.",
        "What's the difference between `==` and `is` in Python?",
        "How do stacks and queues differ?",
        "Compare REST and GraphQL APIs.",
        "How does horizontal scaling differ from vertical scaling?",
        "What separates a compiled language from an interpreted one?",
        "Compare SQL joins: inner versus left outer.",
        "How is authentication different from authorization?",
        "Concurrency versus parallelism: what is the distinction?",
        "Compare breadth-first and depth-first search.",
        "How do cookies differ from local storage in a browser?",
        "What is the difference between an interface and an abstract class?",
        "How do symmetric and asymmetric encryption differ?",
    ],
    "best_practice": [
        "How should I structure error handling in a Python library?",
        "What are good habits for code review?",
        "How do you keep a Python dependency list reproducible?",
        "What should go into a project's README?",
        "How can I avoid SQL injection?",
        "What makes a function easy to test?",
        "How should database migrations be managed in a team?",
        "When is it worth adding a cache to a service?",
        "How do I choose good names for variables and functions?",
        "How should configuration be kept out of code?",
        "What is a sensible branching strategy for a small team?",
        "How do you handle timezones correctly in an app?",
        "How should a command-line tool report errors to its users?",
        "What are good practices for writing docstrings?",
    ],
    "syntax": [
        "How do you define a dataclass in Python?",
        "How do I write an f-string that formats a float to two decimals?",
        "What is the syntax for a dictionary comprehension in Python?",
        "How do you write an async function in JavaScript?",
        "How do you declare a struct in Go?",
        "How do I unpack a tuple into variables in Python?",
        "How do you write a ternary expression in Python?",
        "How do you define an enum in TypeScript?",
        "How do I write a match statement in Python 3.10?",
        "What is the syntax for a type hint of a list of strings?",
        "How do you write a for loop over a map in Go?",
        "How do you declare a function with default arguments in Python?",
        "How do I use `*args` and `**kwargs` in a Python function?",
        "How do you write a try/except/finally block?",
    ],
    "architecture": [
        "What is a service mesh?",
        "Explain the circuit breaker pattern.",
        "What problem does an API gateway solve?",
        "When should a team split a database per service?",
        "What is the strangler fig pattern?",
        "Explain event sourcing.",
        "What is the role of a reverse proxy?",
        "What is a saga in distributed transactions?",
        "Why use a write-ahead log in a database?",
        "What is sharding and when is it needed?",
        "Explain the publish/subscribe pattern.",
        "What is a content delivery network used for?",
        "What does a layered architecture look like?",
    ],
}


def prompts() -> list[dict]:
    """Every prompt; a seed whose question (as asked) repeats an earlier one is skipped, as the validator
    would drop the second record as a duplicate."""
    out: list[dict] = []
    asked: set[str] = set()
    for i, (gen, category, question, answer) in enumerate(WORKSPACE_TEMPLATES):
        wanted = SEEDS_PER_TEMPLATE if "{" in question else 1
        kept = 0
        for s in range(4 * wanted):
            if kept == wanted:
                break
            row = {
                "id": f"ws-{gen}-{i:02d}-{s}",
                "question": question,
                "label": "tool",
                "category": category,
                "workspace": {"generator": gen, "seed": MIN_TRAINING_SEED + 100 * i + s},
                "answer": answer,
            }
            q = asked_questions([Prompt.model_validate(row)])[0]
            if q not in asked:
                asked.add(q)
                out.append(row)
                kept += 1
    for i, (category, question, answer) in enumerate(REPO):
        out.append(
            {
                "id": f"repo-{i:02d}",
                "question": question,
                "label": "tool",
                "category": category,
                "workspace": {"path": "."},
                "answer": answer,
            }
        )
    for category, questions in DIRECT.items():
        for i, question in enumerate(questions):
            out.append(
                {"id": f"direct-{category}-{i:02d}", "question": question, "label": "direct", "category": category}
            )
    return out


if __name__ == "__main__":
    path = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data/teacher/prompts.jsonl"
    )
    rows = prompts()
    write_jsonl(path, rows)
    print(f"{len(rows)} prompts written to {path}")
