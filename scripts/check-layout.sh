#!/usr/bin/env bash
# Checks the layout rules of docs/STYLE.md on src/ (issue 11), in a second or two:
#   1. no file over 500 lines (allow-list below, each entry with its reason);
#   2. no function over 80 lines (universal-ctags gives each function's first and last line);
#   3. module dependencies: every `#include "module/..."` of a file in src/<module>/, every
#      siax_* library in a src/**/CMakeLists.txt target_link_libraries, and the third-party
#      headers that make a part impure (libsystemd, SQLite, Beast, OpenSSL, libgcrypt, Nettle, RE2, libcurl,
#      toml++) must be allowed by the module's row in the table of docs/ARCHITECTURE.md
#      ("may depend on", followed transitively: units -> ports -> core -> common). The table
#      is parsed, so the doc is the one source.
# Prints each violation as file:line: message; exit 0 when there is none, 1 when there are,
# 2 when it cannot run (ctags or python3 missing, table not found).
# Usage: scripts/check-layout.sh
set -uo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || { echo "check-layout: python3 is missing"; exit 2; }
ctags --version 2>/dev/null | grep -q 'Universal Ctags' ||
  { echo "check-layout: universal-ctags is missing: apt-get install universal-ctags"; exit 2; }

MAX_FILE_LINES=500
MAX_FUNCTION_LINES=80

# Files allowed over the file limit, each with its reason ("path: reason").
FILE_ALLOW=()
# Functions allowed over the function limit ("path:name: reason"). Keep it empty.
FUNCTION_ALLOW=()

tags=$(ctags --langmap=C++:+.ipp --fields=+neK -x --_xformat='%n %e %F %N %K' --kinds-C++=f --kinds-C=f -R src 2>/dev/null) ||
  { echo "check-layout: ctags failed"; exit 2; }

export MAX_FILE_LINES MAX_FUNCTION_LINES
python3 - "$tags" "$(printf '%s\n' "${FILE_ALLOW[@]+"${FILE_ALLOW[@]}"}")" "$(printf '%s\n' "${FUNCTION_ALLOW[@]+"${FUNCTION_ALLOW[@]}"}")" <<'EOF'
import os, re, sys
from pathlib import Path

tags, file_allow_text, function_allow_text = sys.argv[1], sys.argv[2], sys.argv[3]
max_file = int(os.environ["MAX_FILE_LINES"])
max_function = int(os.environ["MAX_FUNCTION_LINES"])
violations = []

def allow_list(text):
    out = {}
    for line in text.splitlines():
        if line.strip():
            key, _, reason = line.rpartition(": ")
            out[key.strip()] = reason.strip()
    return out

file_allow = allow_list(file_allow_text)
function_allow = allow_list(function_allow_text)
sources = sorted(p for p in Path("src").rglob("*") if p.suffix in (".cpp", ".h", ".ipp", ".hpp"))

# --- 1. file length -------------------------------------------------------------------
lines_of = {}
for p in sources:
    n = lines_of[str(p)] = sum(1 for _ in p.open(encoding="utf-8", errors="replace"))
    if n > max_file and str(p) not in file_allow:
        violations.append(f"{p}:1: {n} lines, over {max_file}: split it by concept")
for key in file_allow:
    if lines_of.get(key, 0) <= max_file:
        violations.append(f"scripts/check-layout.sh:1: FILE_ALLOW names {key}, which is missing or no longer over "
                          f"{max_file} lines: remove it from the list")

# --- 2. function length ---------------------------------------------------------------
for line in tags.splitlines():
    parts = line.split()
    if len(parts) < 5 or parts[-1] != "function" or not parts[1].isdigit():
        continue
    start, end, path, name = int(parts[0]), int(parts[1]), parts[2], parts[3]
    n = end - start + 1
    if n > max_function and f"{path}:{name}" not in function_allow:
        violations.append(f"{path}:{start}: function {name} is {n} lines, over {max_function}: "
                          "split it into named steps")

# --- 3. module dependencies -----------------------------------------------------------
arch = Path("docs/ARCHITECTURE.md").read_text(encoding="utf-8").splitlines()
rows = {}       # module -> (line number in the doc, [dependency tokens])
libraries = {}  # library name -> module
for i, line in enumerate(arch, 1):
    if not line.startswith("| `src/"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 4:
        continue
    folders = re.findall(r"`src/([^`]+?)`", cells[0])
    deps_text = re.sub(r"\([^)]*\)", "", cells[-1])
    deps = [d.strip() for d in re.split(r"[,;]", deps_text) if d.strip()]
    for f in folders:
        module = "cli" if f == "main.cpp" else f
        rows[module] = (i, deps)
if not rows:
    print("check-layout: no module table found in docs/ARCHITECTURE.md")
    sys.exit(2)

modules = set(rows)
# Third-party headers that the table names, by the token used in the table.
EXTERNAL = [
    (re.compile(r"^systemd/"), "libsystemd"),
    (re.compile(r"^sqlite3\.h$"), "SQLite"),
    (re.compile(r"^boost/(beast|asio)"), "Beast"),
    (re.compile(r"^openssl/"), "OpenSSL"),
    (re.compile(r"^gcrypt\.h$"), "libgcrypt"),
    (re.compile(r"^nettle/"), "Nettle"),
    (re.compile(r"^re2/"), "RE2"),
    (re.compile(r"^curl/"), "libcurl"),
    (re.compile(r"^toml\+\+/"), "toml++"),
]

def direct(module):
    line, deps = rows[module]
    mods, ext = set(), set()
    for d in deps:
        word = d.split()[0] if d.split() else d
        if d.startswith("everything") or word == "everything":
            mods |= modules - {module}
            ext |= {e for _, e in EXTERNAL}
        elif word in modules:
            mods.add(word)
        else:
            ext.add(d.lower())
    return mods, ext

closure = {}
for m in modules:
    seen, ext, todo = set(), set(), [m]
    while todo:
        x = todo.pop()
        if x in seen:
            continue
        seen.add(x)
        dm, de = direct(x)
        ext |= de
        todo.extend(dm - seen)
    closure[m] = (seen - {m}, ext)

def module_of(path):
    rel = Path(path).relative_to("src").as_posix()
    if rel == "main.cpp":
        return "cli"
    for m in sorted(modules, key=len, reverse=True):
        if rel.startswith(m + "/"):
            return m
    return None

def row_ref(m):
    return f"docs/ARCHITECTURE.md:{rows[m][0]}"

include_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
for p in sources:
    m = module_of(p)
    if m is None:
        violations.append(f"{p}:1: folder not in the table of docs/ARCHITECTURE.md: add a row")
        continue
    allowed, ext = closure[m]
    for n, line in enumerate(p.open(encoding="utf-8", errors="replace"), 1):
        mt = include_re.match(line)
        if not mt:
            continue
        kind, inc = mt.groups()
        if kind == '"':
            if "/" not in inc:
                continue  # a file of the same folder
            target = next((x for x in sorted(modules, key=len, reverse=True)
                           if inc.startswith(x + "/")), None)
            if target is None:
                violations.append(f"{p}:{n}: includes \"{inc}\", from no module of the table")
            elif target != m and target not in allowed:
                violations.append(f"{p}:{n}: {m} includes {target} (\"{inc}\"), which its row "
                                  f"({row_ref(m)}) does not allow")
        else:
            for pattern, name in EXTERNAL:
                if pattern.search(inc) and name.lower() not in ext:
                    violations.append(f"{p}:{n}: {m} includes <{inc}> ({name}), which its row "
                                      f"({row_ref(m)}) does not allow")

# CMake: the siax_* libraries each target links.
def cmake_calls(text, name):
    for mt in re.finditer(name + r"\s*\(([^)]*)\)", text):
        yield text.count("\n", 0, mt.start()) + 1, mt.group(1).split()

cmake_files = [Path("src/CMakeLists.txt")] + sorted(Path("src").glob("*/CMakeLists.txt"))
targets = {}  # target -> module
for cf in cmake_files:
    text = re.sub(r"#[^\n]*", "", cf.read_text(encoding="utf-8"))
    for call in ("add_library", "add_executable"):
        for _, args in cmake_calls(text, call):
            name, srcs = args[0], [a for a in args[1:] if a.endswith((".cpp", ".h"))]
            if cf.parent != Path("src"):
                targets[name] = module_of(cf.parent / "x")
            elif name == "siax-agent":
                targets[name] = "app"
            elif srcs:
                targets[name] = module_of(Path("src") / srcs[0])
            elif name.startswith("siax_") and name[5:] in modules:
                targets[name] = name[5:]
for cf in cmake_files:
    text = re.sub(r"#[^\n]*", "", cf.read_text(encoding="utf-8"))
    for n, args in cmake_calls(text, "target_link_libraries"):
        owner = targets.get(args[0])
        if owner is None:
            continue
        allowed, _ = closure[owner]
        for lib in args[1:]:
            dep = targets.get(lib)
            if dep is not None and dep != owner and dep not in allowed:
                violations.append(f"{cf}:{n}: {args[0]} ({owner}) links {lib} ({dep}), which its "
                                  f"row ({row_ref(owner)}) does not allow")

for v in violations:
    print(v)
if violations:
    print(f"check-layout: {len(violations)} violation(s)")
    sys.exit(1)
print(f"check-layout: clean ({len(sources)} files: none over {max_file} lines, no function over "
      f"{max_function} lines, includes and links as docs/ARCHITECTURE.md allows)")
EOF
