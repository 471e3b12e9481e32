#!/usr/bin/env bash
# Checks the C++ files a branch changes against .clang-format and .clang-tidy (naming and a
# few bug-prone checks). Never rewrites anything.
# Usage: scripts/check-style.sh [BASE]   (default BASE: the merge base with main, else HEAD~1)
# Only lines added since BASE count: clang-format looks at changed lines only
# (git clang-format --diff), and a clang-tidy warning counts when it points at an added
# line; warnings on older lines of the changed files are reported as "pre-existing".
# Code moved from one file to another counts as added (git sees new lines), so a split
# reports the moved lines too: scripts/test.sh reports the result and does not count it.
# Needs build/debug/compile_commands.json for clang-tidy (skipped, and said, without it).
# clang-tidy runs on the changed src/*.cpp files (the tests are checked by clang-format
# only, to keep it fast), 2 at a time (SIAX_STYLE_JOBS to change).
# Exit 0 when no new violation, 1 when there are, 2 when it cannot run.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -ge 1 ]; then
  BASE=$1
else
  BASE=$(git merge-base HEAD main 2>/dev/null || git rev-parse -q --verify HEAD~1 2>/dev/null || true)
fi
if [ -z "$BASE" ] || ! git rev-parse -q --verify "$BASE^{commit}" >/dev/null; then
  echo "check-style: no base '${BASE:-}' to compare with, nothing to check"
  exit 0
fi
command -v clang-format >/dev/null && git clang-format -h >/dev/null 2>&1 ||
  { echo "check-style: clang-format (git clang-format) is missing: apt-get install clang-format"; exit 2; }

mapfile -t files < <(git diff --name-only --diff-filter=AMR "$BASE" -- 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h')
if ((${#files[@]} == 0)); then
  echo "check-style: no C++ file changed since $(git rev-parse --short "$BASE")"
  exit 0
fi
echo "check-style: ${#files[@]} C++ file(s) changed since $(git rev-parse --short "$BASE")"

declare -A bad=()  # file -> 1 when it has a new violation

# --- clang-format, changed lines only --------------------------------------------------
fmt=$(git clang-format --quiet --diff "$BASE" -- "${files[@]}" 2>&1)
if [ -n "$fmt" ] && ! grep -q "^no modified files" <<<"$fmt" && ! grep -q "did not modify" <<<"$fmt"; then
  echo "check-style: clang-format would change these lines:"
  echo "$fmt" | head -80
  while read -r f; do bad[$f]=1; done < <(grep -E '^\+\+\+ b/' <<<"$fmt" | sed 's|^+++ b/||')
fi

# --- clang-tidy, warnings on added lines only ------------------------------------------
# added_lines FILE: the line numbers added since BASE, one per line.
added_lines() {
  git diff -U0 "$BASE" -- "$1" | sed -nE 's/^@@ -[0-9,]+ \+([0-9]+)(,([0-9]+))? @@.*/\1 \3/p' |
    while read -r start count; do
      count=${count:-1}
      for ((i = 0; i < count; i++)); do echo $((start + i)); done
    done
}

if [ -f build/debug/compile_commands.json ] && command -v clang-tidy >/dev/null; then
  srcs=()
  for f in "${files[@]}"; do
    [[ $f == src/*.cpp ]] && grep -q "\"file\": \"[^\"]*/$f\"" build/debug/compile_commands.json && srcs+=("$f")
  done
  if ((${#srcs[@]})); then
    tidy=$(printf '%s\n' "${srcs[@]}" |
      xargs -P "${SIAX_STYLE_JOBS:-2}" -n 1 clang-tidy -p build/debug --quiet 2>/dev/null |
      grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' | sort -u)
    declare -A added=()
    for f in "${files[@]}"; do
      while read -r n; do added["$f:$n"]=1; done < <(added_lines "$f")
    done
    new=""
    old=0
    while IFS= read -r line; do
      [ -z "$line" ] && continue
      path=${line%%:*}
      rel=${path#"$PWD/"}
      rest=${line#*:}
      num=${rest%%:*}
      if [ -n "${added["$rel:$num"]:-}" ]; then
        new+="$rel:${rest}"$'\n'
        bad[$rel]=1
      else
        old=$((old + 1))
      fi
    done <<<"$tidy"
    if [ -n "$new" ]; then
      echo "check-style: clang-tidy on added lines:"
      printf '%s' "$new" | head -80
    fi
    ((old)) && echo "check-style: $old pre-existing clang-tidy warning(s) on unchanged lines (not counted)"
  fi
else
  echo "check-style: no build/debug/compile_commands.json or clang-tidy, clang-tidy skipped"
fi

if ((${#bad[@]} == 0)); then
  echo "check-style: clean (no new violation)"
  exit 0
fi
echo "check-style: new violations in ${#bad[@]} file(s): ${!bad[*]}"
exit 1
