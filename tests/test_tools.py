"""The agent's tools: schemas match the implementations, every call stays inside the workspace,
and nothing the model sends can make `Workspace.call` raise."""

import inspect
import json
import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mlx_distill.tools import (
    DEFAULT_ALLOWED_COMMANDS,
    TOOL_NAMES,
    CommandOutput,
    FileExcerpt,
    FileList,
    GrepHit,
    GrepMatches,
    ToolResult,
    Workspace,
    Written,
    read_result,
    tool_schema,
    tool_schemas,
    validate_arguments,
)

PARAMS = {
    "read_file": ({"path"}, {"path", "start_line", "end_line"}),
    "write_file": ({"path", "content"}, {"path", "content"}),
    "grep": ({"pattern"}, {"pattern", "path", "glob", "ignore_case"}),
    "list_files": (set(), {"path", "pattern"}),
    "run_command": ({"command"}, {"command"}),
}


@pytest.fixture
def ws(tmp_path):
    """A small project next to (not inside) a secret the agent must never reach."""
    root = tmp_path / "ws"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "app.py").write_text("import os\nimport svcs\n\ndef main():\n    return svcs.run()\n")
    (root / "src" / "pkg" / "util.py").write_text("def helper():\n    return 'Svcs'\n")
    (root / "README.md").write_text("# Demo\nuses svcs\n")
    (root / "logo.bin").write_bytes(b"\x89PNG\x00\x01svcs\x00")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("svcs in git config\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "app.cpython.pyc").write_text("svcs cached\n")
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    return Workspace(root)


# -- schemas -------------------------------------------------------------------------------


def test_schemas_are_valid_json_schema_and_match_the_implementations():
    schemas = tool_schemas()
    assert [s["function"]["name"] for s in schemas] == list(TOOL_NAMES)
    for s in schemas:
        fn = s["function"]
        assert s["type"] == "function" and len(fn["description"]) > 40
        params = fn["parameters"]
        Draft202012Validator.check_schema(params)
        assert params["additionalProperties"] is False
        required, allowed = PARAMS[fn["name"]]
        assert set(params.get("required", [])) == required
        assert set(params["properties"]) == allowed
        assert all(p.get("description") for n, p in params["properties"].items() if n in required)
        assert set(inspect.signature(getattr(Workspace, fn["name"])).parameters) - {"self"} == allowed


def test_tool_schemas_selects_in_canonical_order_and_returns_copies():
    assert [s["function"]["name"] for s in tool_schemas(["run_command", "grep"])] == ["grep", "run_command"]
    tool_schema("grep")["function"]["name"] = "mutated"
    assert tool_schema("grep")["function"]["name"] == "grep"


def test_unknown_tool_name_is_a_value_error_listing_the_known_ones():
    with pytest.raises(ValueError, match="'delete_file'.*read_file, write_file"):
        tool_schemas(["grep", "delete_file"])
    with pytest.raises(ValueError, match="nope"):
        tool_schema("nope")


# -- argument validation -------------------------------------------------------------------


def test_validate_arguments_accepts_valid_calls():
    assert validate_arguments("read_file", {"path": "a.py", "start_line": 2, "end_line": 3}) == []
    assert validate_arguments("list_files", {}) == []
    assert validate_arguments("grep", {"pattern": "x", "ignore_case": True}) == []


def test_validate_arguments_reports_missing_unknown_and_wrong_types():
    assert validate_arguments("read_file", {}) == ["missing required argument 'path'"]
    assert validate_arguments("read_file", {"file": "a.py"}) == [
        "missing required argument 'path'",
        "unknown argument 'file'",
    ]
    assert validate_arguments("read_file", {"path": 3}) == ["'path' must be string"]
    assert validate_arguments("read_file", {"path": "a", "start_line": "2"}) == ["'start_line' must be integer"]
    assert validate_arguments("read_file", {"path": "a", "start_line": True}) == ["'start_line' must be integer"]
    assert validate_arguments("read_file", {"path": "a", "start_line": 0}) == ["'start_line' must be >= 1"]
    assert validate_arguments("grep", {"pattern": "x", "ignore_case": "yes"}) == ["'ignore_case' must be boolean"]
    assert validate_arguments("write_file", {"path": "a"}) == ["missing required argument 'content'"]
    assert validate_arguments("run_command", {"command": ""}) == ["'command' must not be empty"]
    assert validate_arguments("grep", ["x"]) == ["arguments must be a JSON object, got array"]
    assert validate_arguments("rm", {}) == [
        "unknown tool 'rm' (known: read_file, write_file, grep, list_files, run_command)"
    ]


# -- the tools on a real workspace --------------------------------------------------------


def test_root_is_resolved(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert Workspace(tmp_path / "link").root == (tmp_path / "real").resolve()
    with pytest.raises(NotADirectoryError):
        Workspace(tmp_path / "missing")


def test_read_file_whole_and_by_lines(ws):
    assert ws.read_file("src/app.py").text.startswith("import os\nimport svcs\n")
    assert ws.call("read_file", {"path": "src/app.py", "start_line": 2, "end_line": 2}) == "import svcs\n"
    assert ws.call("read_file", {"path": "src/app.py", "start_line": 4}) == "def main():\n    return svcs.run()\n"
    assert ws.call("read_file", {"path": str(ws.root / "README.md")}) == "# Demo\nuses svcs\n"
    assert ws.call("read_file", {"path": "src/app.py", "start_line": 3, "end_line": 2}).startswith("Error: ")
    assert ws.call("read_file", {"path": "src/app.py", "start_line": 99}) == (
        "Error: start_line 99 is past the end of 'src/app.py' (5 lines)"
    )


def test_read_file_refuses_missing_directory_and_binary(ws):
    assert ws.call("read_file", {"path": "nope.py"}) == "Error: file 'nope.py' does not exist"
    assert ws.call("read_file", {"path": "src"}) == "Error: 'src' is a directory, not a file (use list_files)"
    assert ws.call("read_file", {"path": "logo.bin"}) == "Error: 'logo.bin' is a binary file"


def test_write_file_creates_parents_and_overwrites(ws):
    assert ws.call("write_file", {"path": "docs/new/notes.md", "content": "hello\n"}) == (
        "Created docs/new/notes.md (6 characters)"
    )
    assert (ws.root / "docs" / "new" / "notes.md").read_text() == "hello\n"
    assert ws.call("write_file", {"path": "docs/new/notes.md", "content": "bye"}).startswith("Overwrote")
    assert ws.read_file("docs/new/notes.md").data.text == "bye"
    assert [p.name for p in (ws.root / "docs" / "new").iterdir()] == ["notes.md"]  # no temp files left
    assert ws.call("write_file", {"path": "src", "content": "x"}) == "Error: 'src' is a directory"


def test_write_file_refused_when_read_only(ws):
    ro = Workspace(ws.root, writable=False)
    assert ro.call("write_file", {"path": "x.txt", "content": "x"}) == (
        "Error: the workspace is read-only; write_file is disabled"
    )
    assert not (ws.root / "x.txt").exists()


def test_grep_format_sorting_and_skips(ws):
    assert ws.call("grep", {"pattern": "svcs"}).splitlines() == [
        "README.md:2:uses svcs",
        "src/app.py:2:import svcs",
        "src/app.py:5:    return svcs.run()",
    ]  # not logo.bin (binary), .git/ (hidden), __pycache__/, nor the differently-cased util.py
    assert ws.call("grep", {"pattern": "svcs", "path": "src/pkg", "ignore_case": True}) == (
        "src/pkg/util.py:2:    return 'Svcs'"
    )
    assert ws.call("grep", {"pattern": "svcs", "glob": "*.md"}) == "README.md:2:uses svcs"
    assert ws.call("grep", {"pattern": r"^def \w+", "path": "src/app.py"}) == "src/app.py:4:def main():"
    assert ws.call("grep", {"pattern": "absent_symbol"}) == "No matches."


def test_grep_reports_an_invalid_regex(ws):
    out = ws.call("grep", {"pattern": "import (svcs"})
    assert out == "Error: invalid regular expression 'import (svcs': missing ) at position 12"


def test_list_files_recursive_sorted_and_filtered(ws):
    assert ws.call("list_files", {}).splitlines() == ["README.md", "logo.bin", "src/app.py", "src/pkg/util.py"]
    assert ws.call("list_files", {"path": "src", "pattern": "*.py"}).splitlines() == ["src/app.py", "src/pkg/util.py"]
    assert ws.call("list_files", {"pattern": "*.rs"}) == "No files."
    assert ws.call("list_files", {"path": "missing"}) == "Error: path 'missing' does not exist"


# -- the sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../secret.txt", "src/../../secret.txt", "..", "ABSOLUTE"])
def test_paths_outside_the_root_are_refused(ws, path):
    if path == "ABSOLUTE":
        path = str(ws.root.parent / "secret.txt")
    message = f"Error: path '{path}' is outside the workspace"
    assert ws.call("read_file", {"path": path}) == message
    assert ws.call("write_file", {"path": path, "content": "pwned"}) == message
    assert ws.call("grep", {"pattern": "SECRET", "path": path}) == message
    assert ws.call("list_files", {"path": path}) == message
    assert (ws.root.parent / "secret.txt").read_text() == "TOP SECRET\n"


def test_symlink_escapes_are_refused_for_read_and_write(ws):
    secret = ws.root.parent / "secret.txt"
    (ws.root / "leak.txt").symlink_to(secret)
    (ws.root / "dangling.txt").symlink_to(ws.root.parent / "created-outside.txt")
    assert ws.call("read_file", {"path": "leak.txt"}) == "Error: path 'leak.txt' is outside the workspace"
    assert ws.call("write_file", {"path": "leak.txt", "content": "pwned"}).startswith("Error: path 'leak.txt'")
    assert ws.call("write_file", {"path": "dangling.txt", "content": "x"}).startswith("Error: ")
    assert secret.read_text() == "TOP SECRET\n"
    assert not (ws.root.parent / "created-outside.txt").exists()
    # Walking tools skip links that lead outside, instead of following them.
    assert "leak.txt" not in ws.call("list_files", {})
    assert ws.call("grep", {"pattern": "SECRET"}) == "No matches."


def test_symlinked_directory_escape_is_refused(ws):
    outside = ws.root.parent / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("outside data\n")
    (ws.root / "linked").symlink_to(outside, target_is_directory=True)
    assert ws.call("read_file", {"path": "linked/data.txt"}).startswith("Error: path 'linked/data.txt' is outside")
    assert ws.call("write_file", {"path": "linked/new.txt", "content": "x"}).startswith("Error: ")
    assert ws.call("list_files", {"path": "linked"}).startswith("Error: path 'linked' is outside")
    assert not (outside / "new.txt").exists()
    assert "linked" not in ws.call("list_files", {})
    assert ws.call("grep", {"pattern": "outside data"}) == "No matches."


def test_symlinks_that_stay_inside_are_followed(ws):
    (ws.root / "alias.py").symlink_to(ws.root / "src" / "app.py")
    assert ws.call("read_file", {"path": "alias.py"}).startswith("import os")
    ws.call("write_file", {"path": "alias.py", "content": "rewritten\n"})
    assert (ws.root / "alias.py").is_symlink()  # the link survives; its target was written
    assert (ws.root / "src" / "app.py").read_text() == "rewritten\n"


# -- run_command ---------------------------------------------------------------------------


def test_links_are_resolved_beneath_the_root_relative_targets_and_loops_included(ws):
    (ws.root / "up").symlink_to("../secret.txt")  # climbs out with ..
    (ws.root / "src" / "back").symlink_to("../README.md")  # climbs, but stays inside
    (ws.root / "src" / "pkg" / "abs").symlink_to(ws.root / "src")  # absolute, inside
    (ws.root / "loop1").symlink_to("loop2")
    (ws.root / "loop2").symlink_to("loop1")
    assert ws.call("read_file", {"path": "up"}) == "Error: path 'up' is outside the workspace"
    assert ws.call("read_file", {"path": "src/back"}) == "# Demo\nuses svcs\n"
    assert ws.call("read_file", {"path": "src/pkg/abs/back"}) == "# Demo\nuses svcs\n"
    assert (
        ws.call("write_file", {"path": "src/pkg/abs/new.txt", "content": "x"}) == "Created src/new.txt (1 characters)"
    )
    assert ws.call("read_file", {"path": "loop1"}) == "Error: path 'loop1' has more than 40 levels of symlinks"
    assert ws.call("list_files", {"path": "src"}).splitlines() == [
        "src/app.py",
        "src/back",
        "src/new.txt",
        "src/pkg/util.py",
    ]
    assert (ws.root.parent / "secret.txt").read_text() == "TOP SECRET\n"


def test_run_command_runs_allowed_programs_in_the_root(ws):
    assert ws.call("run_command", {"command": "pwd"}) == f"exit code 0\n{ws.root}\n"
    assert ws.call("run_command", {"command": "echo 'two words'"}) == "exit code 0\ntwo words\n"
    out = ws.call("run_command", {"command": "python -c \"import sys; print('oops', file=sys.stderr); sys.exit(3)\""})
    assert out == "exit code 3\noops\n"


def test_run_command_refuses_programs_not_allowed(ws):
    out = ws.call("run_command", {"command": "rm -rf src"})
    assert out == f"Error: command 'rm' is not allowed (allowed: {', '.join(DEFAULT_ALLOWED_COMMANDS)})"
    out = ws.call("run_command", {"command": "/bin/rm README.md"})
    assert out.startswith("Error: command '/bin/rm' is not allowed")
    assert ws.call("run_command", {"command": "echo 'unbalanced"}).startswith("Error: cannot parse command")
    assert ws.call("run_command", {"command": "   "}) == "Error: empty command"
    assert (ws.root / "src" / "app.py").exists() and (ws.root / "README.md").exists()
    narrow = Workspace(ws.root, allowed_commands=("echo",))
    assert narrow.call("run_command", {"command": "ls"}) == "Error: command 'ls' is not allowed (allowed: echo)"


def test_run_command_never_uses_a_shell(ws):
    out = ws.call("run_command", {"command": "echo hi; rm README.md && rm -rf src | cat > pwned $(rm logo.bin)"})
    assert out == "exit code 0\nhi; rm README.md && rm -rf src | cat > pwned $(rm logo.bin)\n"
    assert (ws.root / "README.md").exists() and (ws.root / "src").is_dir() and (ws.root / "logo.bin").exists()
    assert not (ws.root / "pwned").exists()


def test_run_command_times_out_and_kills_the_command(ws):
    slow = Workspace(ws.root, timeout_s=0.5)
    start = time.monotonic()
    assert slow.call("run_command", {"command": 'python -c "import time; time.sleep(5)"'}) == (
        "Error: command timed out after 0.5s"
    )
    assert time.monotonic() - start < 4


def test_run_command_does_not_inherit_stdin(ws):
    """An agent's stdin may be a terminal or an open pipe: `cat` must see EOF, not hang on it."""
    code = (
        "import os, sys; from mlx_distill.tools import Workspace\n"
        "r, w = os.pipe(); os.dup2(r, 0)  # a stdin that never ends\n"
        f"print(Workspace({str(ws.root)!r}, timeout_s=2).call('run_command', {{'command': 'cat'}}), end='')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout == "exit code 0\n", proc.stderr


# -- output capping and robustness ---------------------------------------------------------


def test_outputs_are_capped_with_a_note(ws):
    small = Workspace(ws.root, max_output_chars=100)
    (ws.root / "big.txt").write_text("x" * 250)
    assert small.call("read_file", {"path": "big.txt"}) == "x" * 100 + "\n... [truncated 150 chars]"
    out = small.call("run_command", {"command": "python -c \"print('y' * 300)\""})
    assert out.startswith("exit code 0\nyyy") and out.endswith("... [truncated 213 chars]")
    (ws.root / "many.py").write_text("svcs = 1\n" * 200)
    grep = small.call("grep", {"pattern": "svcs"})
    assert len(grep) < 200 and grep.endswith("chars]")


CALLS = [
    ("read_file", {"path": "src/app.py"}),
    ("read_file", {"path": "src/app.py", "start_line": 2, "end_line": 3}),
    ("read_file", {"path": "empty.txt"}),
    ("read_file", {"path": "nope.py"}),
    ("write_file", {"path": "docs/n.md", "content": "hi\n"}),
    ("grep", {"pattern": "svcs", "ignore_case": True}),
    ("grep", {"pattern": "absent_symbol"}),
    ("grep", {"pattern": "svcs"}),  # on the capped workspace: stopped, then truncated
    ("list_files", {"path": "src"}),
    ("list_files", {"pattern": "*.none"}),
    ("run_command", {"command": "echo " + "y" * 300}),
    ("run_command", {"command": "ls no_such_file"}),
    ("run_command", {"command": "rm -rf /"}),
    ("nosuch", {}),
]


@pytest.mark.parametrize("cap", [8000, 100])
def test_results_carry_their_data_and_the_text_is_its_rendering(ws, cap):
    small = Workspace(ws.root, max_output_chars=cap)
    (ws.root / "empty.txt").write_text("")
    (ws.root / "many.py").write_text("svcs = 1\n" * 200)
    for name, args in CALLS:
        res = small.execute(name, args)
        assert isinstance(res, ToolResult)
        if name not in ("write_file", "run_command"):  # call() is the text of execute()
            assert small.call(name, args) == res.text
        assert (res.data is None) == (not res.ok)
        shown = res.data.render() if res.ok else f"Error: {res.error}"
        assert res.text == (shown if not res.truncated else f"{shown[:cap]}\n... [truncated {res.truncated} chars]")
        if name != "nosuch" and not res.truncated:  # the text a record stores reads back into the same result
            assert read_result(name, args, res.text) == res


def test_each_tool_returns_its_own_data(ws):
    assert ws.read_file("src/app.py", start_line=4, end_line=5).data == FileExcerpt(
        "src/app.py", "def main():\n    return svcs.run()\n", 4, 5
    )
    assert ws.write_file("out/x.txt", "abc").data == Written("out/x.txt", 3, created=True)
    assert ws.write_file("out/x.txt", "abcd").data == Written("out/x.txt", 4, created=False)
    assert ws.grep("svcs", path="src").data == GrepMatches(
        (GrepHit("src/app.py", 2, "import svcs"), GrepHit("src/app.py", 5, "    return svcs.run()"))
    )
    assert ws.list_files("src").data == FileList(("src/app.py", "src/pkg/util.py"))
    assert ws.run_command("echo hi").data == CommandOutput(0, "hi\n")


def test_a_path_holding_colon_number_colon_stays_whole_in_the_data(ws):
    """`a:7:b.py:3:x` cannot be split by the text alone; the data never needed splitting."""
    (ws.root / "v:7:x").mkdir()
    (ws.root / "v:7:x" / "mod.py").write_text("a = 1\ndef helper():\n    pass\n")
    res = ws.execute("grep", {"pattern": "def helper", "glob": "*.py", "path": "v:7:x"})
    assert res.data.hits == (GrepHit("v:7:x/mod.py", 2, "def helper():"),)
    assert res.text == "v:7:x/mod.py:2:def helper():"
    assert read_result("grep", {}, res.text).data.hits[0].path == "v"  # the text alone is ambiguous
    assert read_result("grep", {}, res.text, accept_path=lambda p: p.endswith(".py")).data == res.data


def test_read_result_names_text_no_tool_could_have_returned():
    for name, text, why in [
        ("grep", "just words", "not 'path:line:text'"),
        ("list_files", "/etc/passwd", "not a relative path"),
        ("write_file", "Wrote it", "not 'Created|Overwrote"),
        ("run_command", "ok", "exit code N"),
    ]:
        with pytest.raises(ValueError, match=why):
            read_result(name, {}, text)


def test_call_reports_unknown_tools_and_bad_arguments(ws):
    assert ws.call("delete_file", {"path": "x"}) == (
        "Error: unknown tool 'delete_file' (known: read_file, write_file, grep, list_files, run_command)"
    )
    assert ws.call("read_file", {"file": "x"}) == (
        "Error: invalid arguments for read_file: missing required argument 'path'; unknown argument 'file'"
    )
    assert ws.call("read_file", '{"path": "README.md"}') == "# Demo\nuses svcs\n"  # OpenAI-style JSON string
    assert ws.call("read_file", "{not json").startswith("Error: arguments for read_file are not valid JSON")
    assert ws.call("read_file", {"path": "bad\0path"}).startswith("Error: ")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_keys = st.sampled_from(
    ["path", "content", "pattern", "glob", "ignore_case", "start_line", "end_line", "command", "file"]
) | st.text(max_size=8)
_paths = st.sampled_from(
    [
        ".",
        "..",
        "/",
        "/etc/passwd",
        "src",
        "src/app.py",
        "../secret.txt",
        "logo.bin",
        "new/f.txt",
        "~",
        "a\0b",
        "",
        "src/../..",
        "README.md",
    ]
) | st.text(max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(TOOL_NAMES) | st.text(max_size=12) | st.none() | st.integers(),
    arguments=st.dictionaries(_keys, _json_values | _paths, max_size=4) | _json_values,
)
def test_call_never_raises(ws, name, arguments):
    fuzz = Workspace(ws.root, allowed_commands=("echo",), timeout_s=2, max_output_chars=500)
    out = fuzz.call(name, arguments)
    assert isinstance(out, str)
    assert len(out) <= 500 + len("\n... [truncated 999999999 chars]")
    assert (ws.root.parent / "secret.txt").read_text() == "TOP SECRET\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_paths, content=st.text(max_size=20))
def test_fuzzed_paths_never_touch_anything_outside(ws, path, content):
    outside_before = sorted(os.listdir(ws.root.parent))
    for name, args in [
        ("read_file", {"path": path}),
        ("write_file", {"path": path, "content": content}),
        ("list_files", {"path": path}),
        ("grep", {"pattern": "SECRET", "path": path}),
    ]:
        out = ws.call(name, args)
        assert "TOP SECRET" not in out and "root:" not in out
    assert sorted(os.listdir(ws.root.parent)) == outside_before
    assert (ws.root.parent / "secret.txt").read_text() == "TOP SECRET\n"


def test_python_on_path_is_available():
    """run_command tests rely on a `python` on PATH (not necessarily this interpreter)."""
    assert sys.executable and Workspace(".").call("run_command", {"command": 'python -c "print(1)"'}) == (
        "exit code 0\n1\n"
    )


# -- hostile arguments and special files ---------------------------------------------------


def test_grep_reports_a_catastrophic_pattern_as_too_slow_instead_of_hanging(ws, monkeypatch):
    monkeypatch.setattr("mlx_distill.tools.workspace.GREP_BUDGET_S", 0.5)
    (ws.root / "long.txt").write_text("a" * 30_000 + "b\n")
    start = time.monotonic()
    for pattern in ("^(a+)+$", "(a|aa)+$"):
        out = ws.call("grep", {"pattern": pattern})
        assert out.startswith(f"Error: pattern too slow: {pattern!r} ran past the 0.5 s budget (at long.txt:1)")
    assert time.monotonic() - start < 5
    assert ws.call("grep", {"pattern": "^a+b$"}).startswith("long.txt:1:aaa")


def test_grep_refuses_a_pattern_that_would_compile_huge_before_compiling_it(ws):
    """`a{1000000000}` (15 characters) used to grow past 22 GB while compiling; the size budget refuses
    it, and nested counts multiply, before anything is compiled."""
    (ws.root / "dates.txt").write_text("released 2024-05-17\n")
    start = time.monotonic()
    for pattern, size in (
        ("a{1000000000}", "1,000,000,000"),
        ("(ab{1000}){1000}", "1,001,000"),
        ("x{,200000}", "200,000"),
    ):
        out = ws.call("grep", {"pattern": pattern})
        assert out == (
            f"Error: pattern too large: {pattern!r} would compile to about {size} repeated items "
            "(at most 100,000); use a smaller repetition count such as {1,100} or +"
        )
    assert time.monotonic() - start < 1
    assert ws.call("grep", {"pattern": r"\d{4}-\d{2}-\d{2}", "glob": "*.txt"}) == "dates.txt:1:released 2024-05-17"
    assert ws.call("grep", {"pattern": r"[{]\w{1,64}[}]|\p{Lu}{2}"}) == "No matches."  # braces that are not counts


def test_special_files_are_refused_without_blocking(ws):
    os.mkfifo(ws.root / "pipe")
    start = time.monotonic()
    assert ws.call("read_file", {"path": "pipe"}) == "Error: 'pipe' is not a regular file (a FIFO, socket or device)"
    assert ws.call("write_file", {"path": "pipe", "content": "x"}).startswith("Error: 'pipe' is not a regular file")
    assert ws.call("grep", {"pattern": "x", "path": "pipe"}) == "No matches."
    assert ws.call("grep", {"pattern": "svcs"}).startswith("README.md:2:")
    assert (ws.root / "pipe").is_fifo() and time.monotonic() - start < 5
    outside = Workspace("/dev")
    assert outside.call("read_file", {"path": "zero"}).startswith("Error: 'zero' is not a regular file")


def test_write_file_keeps_the_mode_and_leaves_hard_links_alone(ws):
    script = ws.root / "run.sh"
    script.write_text("echo 1\n")
    script.chmod(0o751)
    ws.call("write_file", {"path": "run.sh", "content": "echo 2\n"})
    assert script.read_text() == "echo 2\n" and (script.stat().st_mode & 0o777) == 0o751
    os.link(ws.root / "README.md", ws.root / "twin.md")
    assert ws.call("write_file", {"path": "twin.md", "content": "x"}) == (
        "Error: 'twin.md' has 2 hard links; write_file leaves such files alone"
    )
    assert (ws.root / "README.md").read_text() == "# Demo\nuses svcs\n"
    ws.call("write_file", {"path": "fresh.txt", "content": "new"})
    assert (ws.root / "fresh.txt").stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_oversized_and_deeply_nested_arguments_get_one_line_errors(ws):
    assert ws.call("read_file", {"path": "a" * 5000}) == (
        "Error: invalid arguments for read_file: 'path' is too long (5000 characters; at most 4096)"
    )
    assert ws.call("grep", {"pattern": "x" * 3000}).startswith(
        "Error: invalid arguments for grep: 'pattern' is too long"
    )
    assert ws.call("run_command", {"command": "echo " + "x" * 20_000}).startswith(
        "Error: invalid arguments for run_command: 'command' is too long"
    )
    deep = "[" * 100_000 + "]" * 100_000
    out = ws.call("read_file", '{"path": ' + deep + "}")
    assert out.startswith("Error: arguments for read_file are not valid JSON") and "\n" not in out
    out = ws.call("read_file", {"path": json.loads("[" * 500 + "]" * 500)})
    assert out == "Error: invalid arguments for read_file: 'path' must be string"
    assert ws.call("grep", {"pattern": "(" * 1000}).startswith("Error: invalid regular expression")


# -- races: a directory swapped for a symlink while the tools run ---------------------------------


FLIPPER = """
import ctypes, os, shutil, sys, time
d, spare, outside, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
os.symlink(outside, spare)
try:  # Linux: renameat2(RENAME_EXCHANGE) swaps the directory and the link in one step, d never missing
    renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    flip = lambda: renameat2(-100, d.encode(), -100, spare.encode(), 2) == 0 or sys.exit("renameat2 failed")
except AttributeError:  # elsewhere: three renames through a third name
    def flip():
        os.rename(d, d + ".swap"); os.rename(spare, d); os.rename(d + ".swap", spare)
flips, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    flip()
    flips += 1
print(flips)
"""


def test_a_directory_flipped_with_a_symlink_to_outside_never_leaks_a_byte_or_a_file(ws):
    """Another process swaps `d` between a directory and a symlink to an outside directory holding a
    secret, as fast as it can for 4 s (both ways: what is a link one moment is the directory the next), while every file tool runs on paths through `d` in a loop (a
    process, not a thread: the swaps must land between any two system calls of a tool)."""
    outside = ws.root.parent / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("OUTSIDE SECRET\n")
    (outside / "only-outside.txt").write_text("OUTSIDE SECRET\n")
    d, spare = ws.root / "d", ws.root / "d-swap"
    d.mkdir()
    (d / "f.txt").write_text("inside\n")
    seconds = 4.0
    flipper = subprocess.Popen(
        [sys.executable, "-c", FLIPPER, str(d), str(spare), str(outside), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: dict[str, int] = {}
    try:
        while flipper.poll() is None:
            outs = [
                ws.call("read_file", {"path": "d/f.txt"}),
                ws.call("write_file", {"path": "d/f.txt", "content": "inside\n"}),
                ws.call("write_file", {"path": "d/new.txt", "content": "written\n"}),
                ws.call("grep", {"pattern": "SECRET|inside", "path": "d"}),
                ws.call("list_files", {"path": "d"}),
                ws.call("list_files", {}),
            ]
            for out in outs:
                assert "OUTSIDE" not in out and "only-outside" not in out, out
                kind = "outside" if "is outside the workspace" in out else out.split(" ")[0]
                seen[kind] = seen.get(kind, 0) + 1
    finally:
        flips = int(flipper.communicate(timeout=seconds + 30)[0] or 0)
    assert sorted(os.listdir(outside)) == ["f.txt", "only-outside.txt"]  # no write, no temp file
    assert {(outside / n).read_text() for n in os.listdir(outside)} == {"OUTSIDE SECRET\n"}
    assert flips > 100 and seen.get("inside\n", 0) > 0 and seen.get("outside", 0) > 0, (flips, seen)
