#!/usr/bin/env bash
# Runs every fuzz target of the repository for DURATION each (default 30s),
# one after the other, and fails if any of them finds a crash. A crash leaves
# its input in the package's testdata/fuzz/<FuzzName>/: commit it with the
# fix, and it runs as a regression case in every plain `go test`.
#
#   scripts/fuzz.sh           # 30s per target
#   scripts/fuzz.sh 3m        # what docs/reliability.md reports
#
# Targets are found by `go test -list '^Fuzz'` in the packages whose tests
# declare one. Minimisation of new inputs is capped at 10s so that a slow
# input cannot eat a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s}

mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
failed=()
total=0
for dir in "${pkgs[@]}"; do
  pkg=$(go list "$dir")
  mapfile -t targets < <(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
  for target in "${targets[@]}"; do
    total=$((total + 1))
    echo "fuzz: $pkg $target for $duration"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" -fuzzminimizetime 10s "$pkg"; then
      failed+=("$pkg $target")
    fi
  done
done
if [[ $total -eq 0 ]]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  printf 'fuzz: crash found by %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: $total targets ran for $duration each without a crash"
