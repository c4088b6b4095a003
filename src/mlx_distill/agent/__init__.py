"""The agent: a PydanticAI model over mlx-lm (prompted exactly as trained), tool-call parsing, the agent
factory with its loop guard, the benchmark's `run_question`, and the local OpenAI-compatible server."""

from .factory import create_agent
from .guards import LoopDetected, LoopGuard, RequestLimitReached, ToolCallLimitReached, ToolCallParsing
from .model import MLXModel, load_cached, to_record_messages
from .outcome import RunOutcome, ToolCallRecord, arun_question, run_question
from .parsing import ParsedCall, ParseResult, parse_tool_calls
from .server import ServerHandle, start_server

__all__ = [
    "MLXModel",
    "create_agent",
    "run_question",
    "arun_question",
    "RunOutcome",
    "ToolCallRecord",
    "LoopDetected",
    "LoopGuard",
    "RequestLimitReached",
    "ToolCallLimitReached",
    "ToolCallParsing",
    "load_cached",
    "to_record_messages",
    "parse_tool_calls",
    "ParsedCall",
    "ParseResult",
    "ServerHandle",
    "start_server",
]
