#!/usr/bin/env bash
# Tests scripts/check-layout.sh on small trees made here (a copy of the script, a two-row
# table, a few files): a clean tree passes, each kind of violation is found with its file
# and line, and the exit codes are 0 / 1. Prints "N passed, M failed" (scripts/test.sh
# counts it).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PASSED=0
FAILED=0
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A tree: core (may depend on common) and common; one CMake file.
make_tree() {
  rm -rf "$WORK/t" && mkdir -p "$WORK/t/scripts" "$WORK/t/docs" "$WORK/t/src/core" "$WORK/t/src/common"
  cp "$ROOT/scripts/check-layout.sh" "$WORK/t/scripts/"
  sed -i 's|^  "src/config/schema.cpp: .*"$||' "$WORK/t/scripts/check-layout.sh"  # no allow-list here
  cat >"$WORK/t/docs/ARCHITECTURE.md" <<'MD'
| folder | library | what | may depend on |
|---|---|---|---|
| `src/common` | `siax_common` | basics | fmt |
| `src/core` | `siax_core` | the core | common (results) |
MD
  printf '#include "common/result.h"\nint f() { return 1; }\n' >"$WORK/t/src/core/a.cpp"
  printf '#pragma once\nint g();\n' >"$WORK/t/src/common/result.h"
  printf 'add_library(siax_common common/result.cpp)\nadd_library(siax_core core/a.cpp)\ntarget_link_libraries(siax_core PUBLIC siax_common)\n' >"$WORK/t/src/CMakeLists.txt"
}

# expect NAME RC PATTERN: runs the checker; its exit code must be RC and its output must
# match PATTERN (grep -E).
expect() {
  local name=$1 rc=$2 pattern=$3 out got
  out=$(bash "$WORK/t/scripts/check-layout.sh" 2>&1)
  got=$?
  if [ "$got" -eq "$rc" ] && grep -qE "$pattern" <<<"$out"; then
    PASSED=$((PASSED + 1))
    echo "ok   $name"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $name: exit $got (want $rc), output:"
    echo "$out" | sed 's/^/     /'
  fi
}

make_tree
expect "a clean tree passes" 0 '^check-layout: clean'

make_tree
{ echo '#include "common/result.h"'; for i in $(seq 1 501); do echo "// line $i"; done; } >"$WORK/t/src/core/big.cpp"
expect "a file over 500 lines" 1 '^src/core/big.cpp:1: 50[0-9] lines, over 500'

make_tree
{ echo 'int long_one() {'; echo '  int x = 0;'; for i in $(seq 1 80); do echo "  x += $i;"; done; echo '  return x;'; echo '}'; } >"$WORK/t/src/core/long.cpp"
expect "a function over 80 lines" 1 '^src/core/long.cpp:1: function long_one is 84 lines, over 80'

make_tree
{ echo 'int short_one() {'; for i in $(seq 1 78); do echo "  // $i"; done; echo '}'; } >"$WORK/t/src/core/short.cpp"
expect "a function of 80 lines passes" 0 '^check-layout: clean'

make_tree
printf '#include <fmt/format.h>\n#include "core/a.h"\n' >"$WORK/t/src/common/up.h"
expect "common including core (not in its row)" 1 '^src/common/up.h:2: common includes core \("core/a.h"\), which its row \(docs/ARCHITECTURE.md:3\) does not allow'

make_tree
printf '#include "nowhere/x.h"\n' >"$WORK/t/src/core/b.cpp"
expect "an include from no module" 1 '^src/core/b.cpp:1: includes "nowhere/x.h", from no module'

make_tree
printf '#include <sqlite3.h>\n' >"$WORK/t/src/core/db.cpp"
expect "a third-party header the row does not name" 1 '^src/core/db.cpp:1: core includes <sqlite3.h> \(SQLite\)'

make_tree
echo 'target_link_libraries(siax_common PRIVATE siax_core)' >>"$WORK/t/src/CMakeLists.txt"
expect "a link against the row" 1 '^src/CMakeLists.txt:4: siax_common \(common\) links siax_core \(core\)'

make_tree
mkdir -p "$WORK/t/src/extra" && echo 'int h();' >"$WORK/t/src/extra/h.h"
expect "a folder without a row" 1 '^src/extra/h.h:1: folder not in the table'

make_tree
sed -i 's|^FILE_ALLOW=(|FILE_ALLOW=(\n  "src/core/a.cpp: a test entry"|' "$WORK/t/scripts/check-layout.sh"
expect "a stale allow-list entry" 1 'FILE_ALLOW names src/core/a.cpp, which is missing or no longer over 500 lines'

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
