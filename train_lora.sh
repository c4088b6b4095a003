#!/usr/bin/env bash
# The main job, one command on a fresh clone: set up the environment, build the training data,
# train a LoRA adapter, then benchmark the base model against the adapted one through the agent on
# the held-out discrimination suite and print the comparison table.
#
#   ./train_lora.sh [CONFIG]        CONFIG defaults to configs/default.yaml (embedded student, CPU)
#
# Environment:
#   DATA_CONFIG=configs/data.yaml   the data recipe
#   BENCH_SUITES="discrimination unseen_tools"   held-out suites (also: clarify refuse workspace_negatives)
#   BENCH_LIMIT=6                   held-out cases per suite and model (spread over labels); "all" for every case
#   BENCH_MAX_TOKENS=128            generation cap per agent turn in the benchmark
#   BENCH=0                         skip the benchmark
#   DECISION_LIMIT=8                decision-only evaluation (one prompt forward a case, no generation) of base
#                                   vs adapter: cases per suite of unseen_tools and discrimination (8 x 2 suites
#                                   x 2 models = 32 forwards, ~2.5 minutes at the 13-14 cases/min measured on 2
#                                   idle cores, docs/performance.md); "all" for every case, 0 to skip
#   TEACHER=anthropic:claude-sonnet-5-5   collect verified teacher trajectories first (docs/teacher.md), add them
#                                   to the data, and benchmark the teacher beside the base and adapted student
#   TEACHER_PROMPTS=FILE            prompts for the teacher (default: the built-in set, data/teacher/prompts.jsonl)
#   TEACHER_BUDGET_USD=5            the most the collection may spend; TEACHER_BATCH=1 uses Message Batches
set -euo pipefail
cd "$(dirname "$0")"

CONFIG=${1:-configs/default.yaml}
DATA_CONFIG=${DATA_CONFIG:-configs/data.yaml}
BENCH_SUITES=${BENCH_SUITES:-discrimination unseen_tools}
BENCH_LIMIT=${BENCH_LIMIT:-6}
BENCH_MAX_TOKENS=${BENCH_MAX_TOKENS:-128}
DECISION_LIMIT=${DECISION_LIMIT:-8}
if [ ! -f "$CONFIG" ]; then
  echo "error: no config file $CONFIG; recipes: $(ls configs/*.yaml | tr '\n' ' ')" >&2
  exit 2
fi

t0=$(date +%s)
stage() { printf '\n== %s   [%dm%02ds]\n' "$1" $(( ($(date +%s) - t0) / 60 )) $(( ($(date +%s) - t0) % 60 )); }

stage "1/5 set-up (.venv, dependencies)"
./scripts/setup.sh
MD=.venv/bin/mlx-distill
MODEL=$(.venv/bin/python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['model'])" "$CONFIG")
RUN=$(basename "$CONFIG" .yaml)
ADAPTER="adapters/$RUN"

stage "2/5 model $MODEL"
$MD model info "$MODEL"
$MD model sample "$MODEL"

teacher_store=()
if [ -n "${TEACHER:-}" ]; then
  stage "teacher: collect and verify ($TEACHER -> runs/teacher)"
  collect_args=(--teacher "$TEACHER" --out runs/teacher)
  if [ -n "${TEACHER_PROMPTS:-}" ]; then collect_args+=(--prompts "$TEACHER_PROMPTS"); fi
  if [ -n "${TEACHER_BUDGET_USD:-}" ]; then collect_args+=(--budget-usd "$TEACHER_BUDGET_USD"); fi
  if [ "${TEACHER_BATCH:-0}" = "1" ]; then collect_args+=(--batch); fi
  $MD collect "${collect_args[@]}"
  teacher_store=(--teacher-store runs/teacher)
else
  echo "no teacher: add one with TEACHER=anthropic:claude-sonnet-5-5 (and ANTHROPIC_API_KEY) to distill its judgement too (docs/teacher.md)"
fi

stage "3/5 data ($DATA_CONFIG)"
$MD data build -c "$DATA_CONFIG" "${teacher_store[@]}"

stage "4/5 training ($CONFIG -> $ADAPTER)"
$MD train -c "$CONFIG" --adapter-path "$ADAPTER"

if [ "${BENCH:-1}" != "0" ]; then
  stage "5/5 benchmark: base vs adapter on the held-out suites ($BENCH_SUITES)"
  limit=()
  if [ "$BENCH_LIMIT" != "all" ]; then limit=(--limit "$BENCH_LIMIT"); fi
  teacher_col=()
  if [ -n "${TEACHER:-}" ]; then teacher_col=(--teacher "$TEACHER"); fi
  suites=()
  for s in $BENCH_SUITES; do suites+=(--suite "$s"); done
  $MD bench -m "$MODEL" --adapter-path "$ADAPTER" --include-base "${teacher_col[@]}" "${suites[@]}" "${limit[@]}" \
    --max-tokens "$BENCH_MAX_TOKENS" --out "runs/bench/$RUN"
  if [ "$DECISION_LIMIT" != "0" ]; then
    stage "decision only: base vs adapter, call or not, one forward a case (unseen_tools, discrimination)"
    dlimit=()
    if [ "$DECISION_LIMIT" != "all" ]; then dlimit=(--limit "$DECISION_LIMIT"); fi
    $MD decide -m "$MODEL" --adapter-path "$ADAPTER" --include-base --suite unseen_tools --suite discrimination \
      "${dlimit[@]}" --out "runs/decide/$RUN"
  fi
fi

stage "done"
echo "adapter:   $ADAPTER  (metrics.jsonl, loss.png, adapter_config.json)"
if [ "${BENCH:-1}" != "0" ]; then echo "benchmark: runs/bench/$RUN  (report.md, report.json, chart.png)"; fi
if [ "${BENCH:-1}" != "0" ] && [ "$DECISION_LIMIT" != "0" ]; then echo "decision:  runs/decide/$RUN  (report.md, report.json, cases.jsonl)"; fi
echo "try it:    $MD chat --model $MODEL --adapter-path $ADAPTER --workspace ."
