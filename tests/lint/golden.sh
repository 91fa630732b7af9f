#!/usr/bin/env bash
# Golden tests of lameduck lint, one directory per case:
#   rules/<rule>/bad.yaml   triggers the rule: its report must equal bad.txt (and name the rule)
#   rules/<rule>/good.yaml  the fixed manifest: its report must equal good.txt (and not name it)
#   input/<case>/input.*    hostile input: its report must equal expected.txt
# The files' names are relative in the reports: each case runs in its own directory. The last
# line of each expected file is the exit code ("exit: N").
#   tests/lint/golden.sh PATH_TO_LAMEDUCK [--update]
set -uo pipefail

lameduck=$(realpath "${1:?usage: golden.sh PATH_TO_LAMEDUCK [--update]}")
update=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
failed=0

# run DIR FILE EXPECTED [ARGS...]
run() {
  local dir=$1 file=$2 expected=$3
  shift 3
  local actual
  actual=$(cd "$dir" && "$lameduck" lint --color never "$@" "$file" 2>&1; echo "exit: $?")
  if [ "$update" = --update ]; then
    printf '%s\n' "$actual" >"$dir/$expected"
    return 0
  fi
  if ! diff -u "$dir/$expected" <(printf '%s\n' "$actual"); then
    printf 'golden: FAILED: %s/%s differs from %s\n' "${dir#"$here"/}" "$file" "$expected" >&2
    failed=1
  fi
}

for dir in "$here"/rules/*/; do
  dir=${dir%/}
  rule=$(basename "$dir")
  run "$dir" bad.yaml bad.txt
  run "$dir" good.yaml good.txt
  grep -q "  $rule  " "$dir/bad.txt" || { printf 'golden: FAILED: rules/%s/bad.txt does not name %s\n' "$rule" "$rule" >&2; failed=1; }
  if grep -q "  $rule  " "$dir/good.txt"; then
    printf 'golden: FAILED: rules/%s/good.txt names %s\n' "$rule" "$rule" >&2
    failed=1
  fi
done
for dir in "$here"/input/*/; do
  dir=${dir%/}
  input=$(cd "$dir" && ls input.* | head -n 1)
  run "$dir" "$input" expected.txt
done

# A 50 MB manifest, as a file and on standard input: refused whole, quickly, exit 2.
big=$(mktemp -d)
trap 'rm -rf "$big"' EXIT
pod=$'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n---\n'
for _ in $(seq 12); do pod+=$pod; done
for _ in $(seq 200); do printf '%s' "$pod"; done | head -c 50000000 >"$big/huge.yaml"
report=$("$lameduck" lint --color never "$big/huge.yaml" 2>&1); status=$?
if [ "$status" != 2 ] || [[ "$report" != *"huge.yaml:1:1: error: larger than 16 MiB"* ]]; then
  printf 'golden: FAILED: a 50 MB file: exit %s, %s\n' "$status" "$report" >&2
  failed=1
fi
report=$("$lameduck" lint --color never - <"$big/huge.yaml" 2>&1); status=$?
if [ "$status" != 2 ] || [[ "$report" != *"stdin:1:1: error: standard input is larger than 16 MiB"* ]]; then
  printf 'golden: FAILED: 50 MB on standard input: exit %s, %s\n' "$status" "$report" >&2
  failed=1
fi

# A reader that hangs up early (`| head`) costs lameduck a failed write, never SIGPIPE's death.
findings=$'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {terminationGracePeriodSeconds: 900, containers: [{name: c}]}\n---\n'
for _ in $(seq 11); do findings+=$findings; done
printf '%s' "$findings" >"$big/findings.yaml"
"$lameduck" lint --color never "$big/findings.yaml" | head -c 1 >/dev/null
status=${PIPESTATUS[0]}
if [ "$status" -gt 128 ]; then
  printf 'golden: FAILED: lameduck lint | head: killed by signal %s\n' "$((status - 128))" >&2
  failed=1
fi

[ "$failed" = 0 ] && printf 'golden: %d rules, %d input cases\n' "$(ls -d "$here"/rules/*/ | wc -l)" "$(ls -d "$here"/input/*/ 2>/dev/null | wc -l)"
exit "$failed"
