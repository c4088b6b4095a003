"""Tool-call parsing from generated text: every format, several calls a turn, malformed output explained."""

from mlx_distill.agent.parsing import holdback, parse_tool_calls, retry_message
from mlx_distill.tools import tool_schemas

TOOLS = tool_schemas()


def calls(text, tools=TOOLS):
    r = parse_tool_calls(text, tools)
    assert r.ok, r.errors
    return [(c.name, c.arguments) for c in r.calls], r.content


def test_qwen_json_calls_several_in_one_turn_with_text_around():
    text = (
        'Let me check.\n<tool_call>\n{"name": "grep", "arguments": {"pattern": "import svcs", "path": "."}}\n'
        '</tool_call>\n<tool_call>\n{"name": "read_file", "arguments": {"path": "src/app.py"}}\n</tool_call>'
    )
    found, content = calls(text)
    assert found == [("grep", {"pattern": "import svcs", "path": "."}), ("read_file", {"path": "src/app.py"})]
    assert content == "Let me check."


def test_python_literal_body_unclosed_tag_and_double_encoded_arguments():
    assert calls("<tool_call>{'name': 'list_files', 'arguments': {'path': 'src', 'pattern': None}}</tool_call>")[0] == [
        ("list_files", {"path": "src", "pattern": None})
    ]
    # generation stopped right after the call: no closing tag
    assert calls('<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}')[0] == [
        ("read_file", {"path": "a.py"})
    ]
    assert calls('<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\"}"}</tool_call>')[0] == [
        ("read_file", {"path": "a.py"})
    ]
    # "parameters" and the OpenAI {"function": {...}} shape
    assert calls('<tool_call>{"function": {"name": "grep", "parameters": {"pattern": "x"}}}</tool_call>')[0] == [
        ("grep", {"pattern": "x"})
    ]


def test_fenced_json_calls_but_not_other_fenced_code():
    found, content = calls('Running it:\n```json\n{"name": "run_command", "arguments": {"command": "pytest -q"}}\n```')
    assert found == [("run_command", {"command": "pytest -q"})] and content == "Running it:"
    text = 'Use a dict:\n```json\n{"a": 1}\n```\nand\n```python\nprint("hi")\n```'
    found, content = calls(text)
    assert found == [] and content == text


def test_qwen3_xml_calls_typed_by_the_schema():
    text = (
        "<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/app.py\n</parameter>\n"
        "<parameter=start_line>\n10\n</parameter>\n</function>\n</tool_call>\n"
        "<function=grep><parameter=pattern>def main</parameter><parameter=ignore_case>true</parameter></function>"
    )
    found, content = calls(text)
    assert found == [
        ("read_file", {"path": "src/app.py", "start_line": 10}),
        ("grep", {"pattern": "def main", "ignore_case": True}),
    ]
    assert content == ""


def test_a_bare_json_reply_naming_a_known_tool_is_a_call_and_plain_text_is_not():
    assert calls('{"name": "list_files", "arguments": {}}')[0] == [("list_files", {})]
    assert calls('{"name": "Alice", "arguments": {}}')[0] == []  # not a tool: just text
    found, content = calls("The capital of France is Paris.")
    assert found == [] and content == "The capital of France is Paris."


def test_malformed_calls_are_explained_not_dropped():
    r = parse_tool_calls('<tool_call>{"name": "grep", "arguments": {"pattern": }</tool_call>', TOOLS)
    assert not r.ok and "not valid JSON" in r.errors[0] and "tool call 1" in r.errors[0]
    r = parse_tool_calls('<tool_call>{"arguments": {"path": "a"}}</tool_call>', TOOLS)
    assert 'no "name"' in r.errors[0]
    r = parse_tool_calls('<tool_call>{"name": "grep", "arguments": ["x"]}</tool_call>', TOOLS)
    assert "must be a JSON object" in r.errors[0]
    r = parse_tool_calls("<tool_call></tool_call>", TOOLS)
    assert "empty" in r.errors[0]
    r = parse_tool_calls('```json\n{"name": "grep", "arguments": {"pattern": "x"\n```', TOOLS)
    assert "fenced block is not valid JSON" in r.errors[0]
    # one good, one bad: both reported
    r = parse_tool_calls(
        '<tool_call>{"name": "grep", "arguments": {"pattern": "x"}}</tool_call><tool_call>{name: grep}</tool_call>',
        TOOLS,
    )
    assert [c.name for c in r.calls] == ["grep"] and len(r.errors) == 1 and "tool call 2" in r.errors[0]
    msg = retry_message(r.errors, ["grep", "read_file"])
    assert "could not be read" in msg and "<tool_call>" in msg and "grep, read_file" in msg


def test_streaming_holds_back_from_a_possible_call_marker():
    assert holdback("Hello there") == len("Hello there")
    assert holdback("Let me look. <tool_") == len("Let me look. ")
    assert holdback("Let me look.\n<tool_call>\n{") == len("Let me look.\n")
    assert holdback("x ``") == 2
