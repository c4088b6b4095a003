"""`mlx-distill chat`: an interactive agent session in the terminal. The reply streams as it is generated;
tool calls and their results are shown as they happen."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Iterable

from pydantic_ai import capture_run_messages
from pydantic_ai.exceptions import OutputTokenLimitExceeded, UsageLimitExceeded
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from rich.console import Console
from rich.markup import escape

from .guards import LoopDetected

EXIT = {"/exit", "/quit", "exit", "quit", ":q"}
HELP = "Commands: /reset (new conversation), /exit. Anything else is a question for the agent."


def _short(text: str, limit: int = 600) -> str:
    text = text.rstrip()
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


class ChatPrinter:
    """Prints one run's events: streamed text, tool calls (→) and their results (←)."""

    def __init__(self, console: Console, result_limit: int = 600):
        self.console, self.result_limit = console, result_limit
        self.in_text = False
        self.streamed = ""  # text shown since the last tool call

    def _end_text(self) -> None:
        if self.in_text:
            self.console.print()
            self.in_text = False

    def text(self, delta: str) -> None:
        if not delta:
            return
        self.streamed += delta
        if not self.in_text:
            self.console.print("[bold green]agent>[/] ", end="")
            self.in_text = True
        self.console.print(escape(delta), end="", soft_wrap=True, highlight=False)

    def tool_call(self, name: str, args: Any) -> None:
        self._end_text()
        self.streamed = ""
        shown = json.dumps(args, ensure_ascii=False) if isinstance(args, dict) else str(args)
        self.console.print(f"[bold cyan]→ {escape(name)}[/]({escape(shown)})", highlight=False)

    def tool_result(self, name: str, content: str) -> None:
        self._end_text()
        self.console.print(f"[dim]← {escape(name)}:[/]", highlight=False)
        self.console.print(escape(_short(content, self.result_limit)), style="dim", highlight=False)

    async def handle(self, ctx: Any, events: Any) -> None:
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                self.text(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                self.text(event.delta.content_delta)
            elif isinstance(event, FunctionToolCallEvent):
                try:
                    args: Any = event.part.args_as_dict()
                except Exception:  # noqa: BLE001
                    args = event.part.args
                self.tool_call(event.part.tool_name, args)
            elif isinstance(event, FunctionToolResultEvent):
                self.tool_result(event.part.tool_name, event.part.model_response_str())
        self._end_text()


async def ask(agent: Any, question: str, printer: ChatPrinter, history: list | None) -> tuple[list | None, str | None]:
    """One turn: (the conversation's messages afterwards, or None to keep the old history; an error line)."""
    printer.streamed = ""
    with capture_run_messages() as messages:
        try:
            result = await agent.run(question, message_history=history, event_stream_handler=printer.handle)
        except LoopDetected as e:
            return None, f"stopped: {e}"
        except (UsageLimitExceeded, OutputTokenLimitExceeded) as e:
            return None, f"stopped: {e}"
        except Exception as e:  # noqa: BLE001 - a session survives a failed turn
            return None, f"error: {type(e).__name__}: {e}"
    printer._end_text()
    output = str(result.output)
    if printer.streamed.strip() != output.strip():  # not streamed (or streamed differently): show the answer
        printer.text(output)
        printer._end_text()
    del messages
    return result.all_messages(), None


def chat_session(
    agent: Any,
    *,
    console: Console | None = None,
    questions: Iterable[str] | None = None,
    input_fn: Callable[[str], str] | None = None,
    banner: str | None = None,
) -> int:
    """Run a session: `questions` (non-interactive) or lines read from the terminal until /exit or EOF.
    Returns the number of turns that ended in an error or a stop."""
    console = console or Console()
    printer = ChatPrinter(console)
    history: list | None = None
    failures = 0
    if banner:
        console.print(banner, highlight=False)
    source = iter(questions) if questions is not None else None
    while True:
        if source is not None:
            question = next(source, None)
            if question is None:
                break
            console.print(f"[bold]you>[/] {escape(question)}", highlight=False)
        else:
            try:
                question = (input_fn or console.input)("[bold]you>[/] ")
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
        question = question.strip()
        if not question:
            continue
        if question in EXIT:
            break
        if question == "/reset":
            history = None
            console.print("[dim](new conversation)[/]")
            continue
        if question in ("/help", "?"):
            console.print(HELP)
            continue
        new_history, error = asyncio.run(ask(agent, question, printer, history))
        if error:
            failures += 1
            console.print(f"[bold red]{escape(error)}[/]", highlight=False)
        else:
            history = new_history
    return failures
