#!/usr/bin/env bash
# Run today's trust tests (tests/trust) against the code before issue 16's fixes, to show that
# each fails there for the reason the issue gave. Writes benchmarks/results/trust-old-code.txt.
# Usage: scripts/trust_old_code.sh [BASE]   (default 6b2accc, the parent of the first fix)
set -euo pipefail
base=${1:-6b2accc}
root=$(git rev-parse --show-toplevel)
old=$(mktemp -d)/old
git -C "$root" worktree add -q "$old" "$base"
trap 'git -C "$root" worktree remove --force "$old"' EXIT
cp "$root"/tests/trust/*.py "$old/tests/trust/"
cd "$old"
PYTHONPATH="$old" python -m pytest -p no:cacheprovider -q tests/trust -o addopts="" \
    --continue-on-collection-errors --tb=line 2>&1 \
    | grep -E "^(/.*/tests/trust/|FAILED|PASSED|[0-9]+ (passed|failed))" \
    | sed "s#$old/##" > "$root/benchmarks/results/trust-old-code.txt" || true
echo "tests/trust at $(git -C "$root" rev-parse --short HEAD) on the code of $base:" \
    | cat - "$root/benchmarks/results/trust-old-code.txt" > "$root/benchmarks/results/trust-old-code.tmp"
mv "$root/benchmarks/results/trust-old-code.tmp" "$root/benchmarks/results/trust-old-code.txt"
tail -1 "$root/benchmarks/results/trust-old-code.txt"
