#!/usr/bin/env bash
# The steps of the purpleharness GitHub Action (action.yml at the
# repository root), kept here so they run the same way in a test: build
# validate from the action's own source, lint the rules, replay a recorded
# run (or run the suite live, as root), diff the rules against a base
# revision, and write the job summary. Inputs come as INPUT_* variables.
# Exit 1 when the lint finds a problem, a verdict fails or the diff loses
# an attack detection; 2 on bad inputs.
set -uo pipefail

rules="${INPUT_RULES:-rules}"
suite="${INPUT_SUITE:-scenarios}"
atomics="${INPUT_ATOMICS:-atomics}"
replay="${INPUT_REPLAY:-}"
live="${INPUT_LIVE:-false}"
corpus="${INPUT_CORPUS:-}"
base="${INPUT_BASE_REF:-}"
out="${INPUT_OUT:-validate-out}"
summary="${GITHUB_STEP_SUMMARY:-/dev/stdout}"

if [ -z "$replay" ] && [ "$live" != true ]; then
  echo "::error::purpleharness: give 'replay' (a recorded run directory) or 'live: true' (run the suite as root)"
  exit 2
fi

action_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/purpleharness-validate"
(cd "$action_dir" && go build -o "$bin" ./cmd/validate) || exit 1

status=0
"$bin" lint --format github "$rules" || status=1

if [ -n "$replay" ]; then
  "$bin" run --replay "$replay" --rules "$rules" --suite "$suite" --atomics "$atomics" --out "$out"
else
  sudo -E "$bin" run --rules "$rules" --suite "$suite" --atomics "$atomics" --out "$out"
  replay="$out"
fi
rc=$?
[ -f "$out/summary.md" ] && cat "$out/summary.md" >> "$summary"
[ "$rc" -eq 0 ] || status=$rc
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "report-dir=$out"; echo "junit=$out/junit.xml"; } >> "$GITHUB_OUTPUT"
fi

if [ -n "$base" ] && [ -d "$replay" ]; then
  args=(diff "$base:$rules" "$rules" --replay "$replay" --suite "$suite" --atomics "$atomics" --format markdown)
  for f in $corpus; do args+=(--corpus "$f"); done
  diff_md="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/purpleharness-diff.md"
  "$bin" "${args[@]}" > "$diff_md"
  drc=$?
  { echo; cat "$diff_md"; } >> "$summary"
  rm -f "$diff_md"
  if [ "$drc" -eq 1 ]; then
    echo "::error::purpleharness: the rules lose an attack detection against $base"
    status=1
  elif [ "$drc" -gt 1 ]; then
    status=$drc
  fi
fi
exit "$status"
