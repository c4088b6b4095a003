"""The discrimination benchmark: does the model call a tool when the question needs the workspace,
answer directly when it does not, stop, and not loop — measured through the agent.

- `suites`: the built-in held-out suite, suite files, BFCL categories, When2Call files -> `Case`s
- `workspaces`: seeded workspace builders whose facts are the ground truth
- `scoring`: pure metrics over trajectories; BFCL's AST matcher
- `answers`: is an answer, a catalogue call or a call's arguments right
- `runner`: models × temperatures × seeds × cases through `create_agent` / `run_question`
- `report`: rich table, report.md / report.json, PNG chart
- `sharding`: cases split over `mlx.launch` processes, merged on rank 0
- `compare`: the same prompts through several models, side by side (rendered from the runner's results)
- `cli`: the `bench` and `compare` click commands; `decision_cli`: `decide`, `curve` and `calibrate`
"""

from .runner import BenchResult, ModelSpec, RunConfig, run_benchmark, run_case
from .scoring import CaseScore, aggregate, bfcl_ast_match, score_case, summarize
from .suites import Case, Suite, load_suite, load_suite_file
from .workspaces import WORKSPACE_BUILDERS, build_workspace

__all__ = [
    "BenchResult",
    "Case",
    "CaseScore",
    "WORKSPACE_BUILDERS",
    "ModelSpec",
    "RunConfig",
    "Suite",
    "aggregate",
    "bfcl_ast_match",
    "build_workspace",
    "load_suite",
    "load_suite_file",
    "run_benchmark",
    "run_case",
    "score_case",
    "summarize",
]
