#!/bin/bash
# Configure, build and test each preset given (default: every preset), from scratch, and print
# the time each took. Exit non-zero if any preset fails.
set -uo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release debug asan ubsan tsan msan valgrind)
failed=()
summary=()
for p in "${presets[@]}"; do
  echo "=== preset $p ==="
  start=$(date +%s)
  if cmake --workflow --preset "$p" --fresh; then status=ok; else status=FAILED; failed+=("$p"); fi
  summary+=("$(printf '%-10s %-7s %4ds' "$p" "$status" $(( $(date +%s) - start )))")
done
echo "=== summary ==="
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed presets: ${failed[*]}"
  exit 1
fi
