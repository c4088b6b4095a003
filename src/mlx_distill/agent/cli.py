"""Click commands `serve` and `chat` (registered by the root cli.py)."""

from __future__ import annotations

import click

from ..cli_errors import one_line
from ..cli_options import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, PORT, POSITIVE
from ..models import EMBEDDED_DEFAULT
from .server_limits import MAX_BODY_BYTES, MAX_PROMPT_CHARS


@click.command("serve")
@click.option(
    "--model",
    default=EMBEDDED_DEFAULT,
    show_default=True,
    help="embedded:smollm2-135m or a local mlx-lm model directory.",
)
@click.option("--adapter-path", default=None, help="A LoRA adapter directory to apply.")
@click.option("--port", type=PORT, default=8080, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only.")
@click.option("--timeout", type=POSITIVE, default=300.0, show_default=True, help="Seconds to wait for /health.")
@click.option(
    "--max-body-bytes",
    type=COUNT,
    default=MAX_BODY_BYTES,
    show_default=True,
    help="A larger request is answered 413 unread.",
)
@click.option(
    "--max-prompt-chars",
    type=COUNT,
    default=MAX_PROMPT_CHARS,
    show_default=True,
    help="A request whose messages, prompt and tools hold more characters is answered 413.",
)
def serve(
    model: str,
    adapter_path: str | None,
    port: int,
    host: str,
    timeout: float,
    max_body_bytes: int,
    max_prompt_chars: int,
) -> None:
    """Serve a model (with its adapter) through mlx_lm.server's OpenAI-compatible API on 127.0.0.1.

    Agents use it with create_agent(model="http://127.0.0.1:PORT/v1"); requests must name the model
    `default_model`, the only name mlx_lm.server applies the adapter to (create_agent does this)."""
    from .server import start_server, stop_on_signals

    with stop_on_signals():  # SIGTERM/SIGHUP/Ctrl-C, while starting or serving: the server stops too
        handle = start_server(
            model,
            adapter_path,
            port=port or None,
            host=host,
            timeout=timeout,
            max_body_bytes=max_body_bytes,
            max_prompt_chars=max_prompt_chars,
        )
        click.echo(
            f"serving {model}"
            + (f" + {handle.adapter_path}" if handle.adapter_path else "")
            + f" at {handle.url} (pid {handle.pid}, model name 'default_model', log {handle.log_path})"
        )
        click.echo("Ctrl-C to stop.", err=True)
        try:
            status = handle._proc.wait() if handle._proc else None
            raise SystemExit(f"mlx_lm.server exited with status {status}")
        except KeyboardInterrupt:
            handle.stop()
            click.echo("stopped", err=True)


@click.command("chat")
@click.option(
    "--model",
    default=EMBEDDED_DEFAULT,
    show_default=True,
    help="An MLX model name or directory, a server URL http://127.0.0.1:PORT/v1, "
    "or a PydanticAI model name (anthropic:claude-sonnet-5-5).",
)
@click.option("--adapter-path", default=None, help="A LoRA adapter directory to apply (MLX models).")
@click.option(
    "--workspace",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="The directory the tools work in.",
)
@click.option("--max-tokens", type=COUNT, default=512, show_default=True)
@click.option("--temperature", type=NON_NEGATIVE, default=0.0, show_default=True)
@click.option("--max-requests", type=COUNT, default=8, show_default=True, help="Model requests per question.")
@click.option("--max-tool-calls", type=NON_NEGATIVE_INT, default=6, show_default=True, help="Tool calls per question.")
@click.option("--system-prompt", default=None, help="Replace the default system prompt.")
@click.option(
    "-q", "--question", "questions", multiple=True, help="Ask these questions in turn and exit (non-interactive)."
)
@click.option(
    "--dangerously-unsandboxed",
    is_flag=True,
    help="Let run_command run without an OS sandbox when none works here (the model's commands "
    "can then write anywhere you can). Same as MLX_DISTILL_DANGEROUSLY_RUN_UNSANDBOXED=1.",
)
@click.option(
    "--unconstrained",
    is_flag=True,
    help="Leave the model's tool calls as it writes them (by default, once it opens a call, the call "
    "is held to the offered tool names and argument schemas).",
)
def chat(
    model: str,
    adapter_path: str | None,
    workspace: str,
    max_tokens: int,
    temperature: float,
    max_requests: int,
    max_tool_calls: int,
    system_prompt: str | None,
    questions: tuple[str, ...],
    dangerously_unsandboxed: bool,
    unconstrained: bool,
) -> None:
    """Talk to an agent in the terminal; tool calls and their results are shown as they happen."""
    if dangerously_unsandboxed:
        import os

        from ..sandbox import OPT_OUT_ENV

        os.environ[OPT_OUT_ENV] = "1"
    from rich.console import Console

    from .chat import HELP, chat_session
    from .factory import create_agent

    from pydantic_ai.exceptions import UserError

    console = Console()
    with console.status(f"loading {model}…"), one_line(UserError):  # an unknown model name: one line
        agent = create_agent(
            model,
            adapter_path=adapter_path,
            workspace=workspace,
            system_prompt=system_prompt,
            model_settings={"max_tokens": max_tokens, "temperature": temperature},
            max_requests=max_requests,
            max_tool_calls=max_tool_calls,
            unconstrained=unconstrained,
        )
    banner = None if questions else f"[bold]{model}[/] in {workspace}. {HELP}"
    failures = chat_session(agent, console=console, questions=list(questions) if questions else None, banner=banner)
    if questions and failures:
        raise SystemExit(1)
