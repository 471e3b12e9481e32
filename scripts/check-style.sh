#!/usr/bin/env bash
# Checks the C++ lines a change touches against .clang-format and .clang-tidy (naming and a
# few bug-prone checks). Never rewrites anything. Usage: scripts/check-style.sh [BASE]
# (default BASE: HEAD~1, the last commit). Needs build/debug/compile_commands.json for tidy.
# Exit 0 when clean, 1 when something is reported, 2 when it cannot run.
set -uo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-HEAD~1}
git rev-parse -q --verify "$BASE" >/dev/null || { echo "check-style: no base $BASE, nothing to check"; exit 0; }
mapfile -t files < <(git diff --name-only --diff-filter=AM "$BASE" -- 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h')
((${#files[@]})) || { echo "check-style: no C++ file changed since $BASE"; exit 0; }
status=0
echo "check-style: ${#files[@]} C++ file(s) changed since $BASE"
fmt=$(git clang-format --quiet --diff "$BASE" -- "${files[@]}" 2>&1)
if [ -n "$fmt" ] && ! grep -q "^no modified files" <<<"$fmt" && ! grep -q "did not modify" <<<"$fmt"; then
  echo "check-style: clang-format would change these lines:"; echo "$fmt" | head -60; status=1
fi
if [ -f build/debug/compile_commands.json ]; then
  srcs=(); for f in "${files[@]}"; do [[ $f == src/*.cpp ]] && srcs+=("$f"); done
  if ((${#srcs[@]})); then
    tidy=$(clang-tidy -p build/debug --quiet "${srcs[@]}" 2>/dev/null | grep -E "warning:|error:")
    if [ -n "$tidy" ]; then echo "check-style: clang-tidy:"; echo "$tidy" | head -60; status=1; fi
  fi
else
  echo "check-style: no build/debug/compile_commands.json, clang-tidy skipped"
fi
[ $status -eq 0 ] && echo "check-style: clean"
exit $status
