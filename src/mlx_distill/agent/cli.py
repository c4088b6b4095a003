"""Click commands `serve` and `chat` (registered by the root cli.py)."""

from __future__ import annotations

import click

from ..models import EMBEDDED_DEFAULT


@click.command("serve")
@click.option(
    "--model",
    default=EMBEDDED_DEFAULT,
    show_default=True,
    help="embedded:smollm2-135m or a local mlx-lm model directory.",
)
@click.option("--adapter-path", default=None, help="A LoRA adapter directory to apply.")
@click.option("--port", type=int, default=8080, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for /health.")
def serve(model: str, adapter_path: str | None, port: int, host: str, timeout: float) -> None:
    """Serve a model (with its adapter) through mlx_lm.server's OpenAI-compatible API on 127.0.0.1.

    Agents use it with create_agent(model="http://127.0.0.1:PORT/v1"); requests must name the model
    `default_model`, the only name mlx_lm.server applies the adapter to (create_agent does this)."""
    from .server import start_server, stop_on_signals

    with stop_on_signals():  # SIGTERM/SIGHUP/Ctrl-C, while starting or serving: the server stops too
        handle = start_server(model, adapter_path, port=port or None, host=host, timeout=timeout)
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
    "or a PydanticAI model name (anthropic:claude-sonnet-4-5).",
)
@click.option("--adapter-path", default=None, help="A LoRA adapter directory to apply (MLX models).")
@click.option(
    "--workspace",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="The directory the tools work in.",
)
@click.option("--max-tokens", type=int, default=512, show_default=True)
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--max-requests", type=int, default=8, show_default=True, help="Model requests per question.")
@click.option("--max-tool-calls", type=int, default=6, show_default=True, help="Tool calls per question.")
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

    console = Console()
    with console.status(f"loading {model}…"):
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
