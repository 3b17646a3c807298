#!/bin/bash
# ci/mutants.sh — the planted-bug harness: every mutant of ci/mutants.txt (or --sample: the fixed
# sample make test runs, or the ids given) applied to a scratch copy of the tree per preset,
# rebuilt incrementally and run against the tests it names; a table and the score on stdout and in
# build/mutants/report.md (sample.md). Options and verdicts: ci/mutants.py.
#   ci/mutants.sh --sample        ci/mutants.sh heap-remote-canary zero-cursor-stays
#   ci/mutants.sh --check         stale mutants only (no build)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "mutants: python3 not found"; exit 1; }
exec python3 ci/mutants.py "$@"
