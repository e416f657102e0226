#!/usr/bin/env python3
"""The checks of the client:readme suite (run.sh gives the function list).

  (a) README.md is at most 30,720 bytes;
  (b) every installed function appears in doc/*.md as `name( , and neither
      README.md nor doc/*.md names a chat_ / _chat_ function or object that
      the extension lacks (a name followed by "(", or alone in backticks);
  (c) every SQLSTATE raised in src/ is in the SQLSTATE table of doc/ (the
      section headed "SQLSTATEs"), and every code of that table is a real
      SQLSTATE (PostgreSQL's, or one raised in src/);
  (d) every relative link in README.md and doc/*.md points to an existing
      file, and every #anchor to an existing heading.

Prints one line per check; exits 1 when any fails.
"""
import argparse
import glob
import os
import re
import sys

README_MAX_BYTES = 30720

# chat_ names in the docs that are not objects of the extension: the seed
# systems' own tables and columns (doc/migration.md)
FOREIGN_NAMES = {"chat_sessions", "chat_session_id"}

# the condition names src/sql uses, for a server without errcodes.txt or
# plerrcodes.h; an unknown name fails the check (add it here)
FALLBACK_CONDITIONS = {
    "foreign_key_violation": "23503",
    "insufficient_privilege": "42501",
    "invalid_parameter_value": "22023",
    "invalid_schema_name": "3F000",
    "no_data_found": "P0002",
    "null_value_not_allowed": "22004",
    "numeric_value_out_of_range": "22003",
    "object_not_in_prerequisite_state": "55000",
    "program_limit_exceeded": "54000",
    "serialization_failure": "40001",
    "undefined_column": "42703",
    "undefined_table": "42P01",
    "unique_violation": "23505",
}

PLPGSQL_LEVELS = {"debug", "log", "info", "notice", "warning", "exception"}
NON_ERROR_ELEVELS = {"DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5", "LOG",
                     "LOG_SERVER_ONLY", "COMMERROR", "INFO", "NOTICE", "WARNING"}

failures = []


def fail(check, lines):
    failures.append(check)
    print(f"FAILED {check}:", file=sys.stderr)
    for line in lines:
        print(f"    {line}", file=sys.stderr)


def ok(check, text):
    print(f"ok {check}: {text}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------------------
# Markdown helpers

FENCE = re.compile(r"^\s*(```|~~~)")


def split_fenced(text):
    """(prose lines, all lines): prose has fenced code blocks blanked."""
    prose, in_fence = [], False
    for line in text.split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
            prose.append("")
            continue
        prose.append("" if in_fence else line)
    return prose


def slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links: their text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen, result = {}, set()
        for line in split_fenced(read(path)):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            result.add(s if n == 0 else f"{s}-{n}")
        cache[path] = result
    return cache[path]


LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(path):
    """(line number, target) of every inline link outside code."""
    for no, line in enumerate(split_fenced(read(path)), 1):
        line = re.sub(r"`[^`]*`", "", line)           # inline code spans
        for m in LINK.finditer(line):
            yield no, m.group(1)


# ---------------------------------------------------------------------------
# SQLSTATE helpers

def errcode_macros(include_server):
    path = os.path.join(include_server, "utils", "errcodes.h")
    macros = {}
    for m in re.finditer(r"#define\s+(ERRCODE_\w+)\s+MAKE_SQLSTATE\(([^)]*)\)", read(path)):
        macros[m.group(1)] = "".join(re.findall(r"'(.)'", m.group(2)))
    if not macros:
        sys.exit(f"no ERRCODE_ macro found in {path}")
    return macros


def condition_names(sharedir, include_server, macros):
    txt = os.path.join(sharedir, "errcodes.txt")
    if os.path.exists(txt):
        names = {}
        for line in read(txt).split("\n"):
            parts = line.split()
            # a name given twice (null_value_not_allowed: 22004 and 39004)
            # means its first code, as in PL/pgSQL
            if len(parts) >= 4 and re.fullmatch(r"[0-9A-Z]{5}", parts[0]):
                names.setdefault(parts[3], parts[0])
        return names, txt
    plh = os.path.join(include_server, "plerrcodes.h")
    if os.path.exists(plh):
        names = {}
        for m in re.finditer(r'\{\s*"(\w+)"\s*,\s*(ERRCODE_\w+)\s*\}', read(plh)):
            if m.group(2) in macros:
                names.setdefault(m.group(1), macros[m.group(2)])
        return names, plh
    return dict(FALLBACK_CONDITIONS), "the fallback list in check_docs.py"


def balanced(text, start):
    """text[start] is "(": the text up to its matching ")"."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return text[start:]


def raised_in_c(root, macros, problems):
    """{sqlstate: {places}} of ereport(ERROR-or-above, errcode(ERRCODE_*)).
    chatstore's own codes are ERRCODE_CHATSTORE_* macros of src/*.h."""
    found = {}
    macros = dict(macros)
    for path in sorted(glob.glob(os.path.join(root, "src", "*.h"))):
        for m in re.finditer(r"#define\s+(ERRCODE_\w+)\s+MAKE_SQLSTATE\(([^)]*)\)", read(path)):
            macros[m.group(1)] = "".join(re.findall(r"'(.)'", m.group(2)))
    for path in sorted(glob.glob(os.path.join(root, "src", "*.c"))):
        text = read(path)
        for m in re.finditer(r"\bereport\s*\(", text):
            call = balanced(text, m.end() - 1)
            level = re.match(r"\(\s*(\w+)", call)
            if level and level.group(1) in NON_ERROR_ELEVELS:
                continue
            for e in re.finditer(r"\berrcode\s*\(\s*(ERRCODE_\w+)\s*\)", call):
                code = macros.get(e.group(1))
                line = text.count("\n", 0, m.start()) + 1
                where = f"{os.path.relpath(path, root)}:{line}"
                if code is None:
                    problems.append(f"{where}: {e.group(1)} is not in errcodes.h")
                    continue
                found.setdefault(code, set()).add(where)
    return found


def raised_in_sql(root, names, source, problems):
    """{sqlstate: {places}} of ERRCODE = '...', RAISE SQLSTATE '...' and
    RAISE <condition> in src/sql/*.sql."""
    found = {}

    def add(value, where):
        if re.fullmatch(r"[0-9A-Z]{5}", value):
            code = value
        else:
            code = names.get(value.lower())
            if code is None:
                problems.append(f"{where}: unknown condition name '{value}' "
                                f"(not in {source})")
                return
        found.setdefault(code, set()).add(where)

    for path in sorted(glob.glob(os.path.join(root, "src", "sql", "*.sql"))):
        rel = os.path.relpath(path, root)
        # whole-line comments out, keeping the line numbers
        text = "\n".join("" if re.match(r"\s*--", l) else l
                         for l in read(path).split("\n"))
        for m in re.finditer(r"\bERRCODE\s*=\s*'([^']+)'", text, re.I):
            add(m.group(1), f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
        for m in re.finditer(r"\bRAISE\s+(?:EXCEPTION\s+)?SQLSTATE\s+'([^']+)'", text, re.I):
            add(m.group(1), f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
        for m in re.finditer(r"\bRAISE\s+(?:EXCEPTION\s+)?([A-Za-z_]\w*)\s*(?:;|USING\b)", text, re.I):
            if m.group(1).lower() in PLPGSQL_LEVELS | {"sqlstate"}:
                continue
            add(m.group(1), f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
    return found


def sqlstate_tables(docs):
    """[(file, {codes})] of the sections headed "SQLSTATEs" in doc/."""
    tables = []
    for path in docs:
        level, codes = None, None
        for line in split_fenced(read(path)):
            h = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
            if h:
                if codes is not None and len(h.group(1)) <= level:
                    tables.append((path, codes))
                    codes = None
                if h.group(2).strip().lower() == "sqlstates":
                    level, codes = len(h.group(1)), set()
                continue
            if codes is not None:
                r = re.match(r"^\|\s*`?([0-9A-Z]{5})`?\s*\|", line)
                if r:
                    codes.add(r.group(1))
        if codes is not None:
            tables.append((path, codes))
    return tables


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--functions", required=True, help="file: one function name a line")
    ap.add_argument("--relations", required=True, help="file: the extension's table and type names")
    ap.add_argument("--include-server", required=True)
    ap.add_argument("--sharedir", required=True)
    args = ap.parse_args()
    root = args.root
    readme = os.path.join(root, "README.md")
    docs = sorted(glob.glob(os.path.join(root, "doc", "*.md")))
    rel = lambda p: os.path.relpath(p, root)

    functions = sorted(set(read(args.functions).split()))
    relations = set(read(args.relations).split())
    if not functions:
        sys.exit("the extension has no function: is chatstore installed?")
    if not docs:
        sys.exit("no doc/*.md")

    # (a) ------------------------------------------------------------------
    size = os.path.getsize(readme)
    if size > README_MAX_BYTES:
        fail("(a) README size", [f"README.md has {size} bytes; the limit is {README_MAX_BYTES}: "
                                 "move detail to doc/"])
    else:
        ok("(a) README size", f"{size} of at most {README_MAX_BYTES} bytes")

    # (b) ------------------------------------------------------------------
    doc_text = "\n".join(read(p) for p in docs)
    missing = [f for f in functions if not re.search("`" + re.escape(f) + r"\(", doc_text)]
    if missing:
        fail("(b) functions documented",
             ["not in doc/*.md as `name( (add them to doc/reference.md):"] + missing)
    else:
        ok("(b) functions documented", f"all {len(functions)} functions of the extension are in doc/")
    known = set(functions) | relations | FOREIGN_NAMES
    unknown = []
    for path in [readme] + docs:
        for no, line in enumerate(read(path).split("\n"), 1):
            named = [m.group(1) for m in
                     re.finditer(r"(?<![A-Za-z0-9_])(_?chat_[a-z0-9_]+)\(", line)]
            named += re.findall(r"`(_?chat_[a-z0-9_]+)`", line)
            for name in named:
                if name not in known:
                    unknown.append(f"{rel(path)}:{no}: {name}")
    if unknown:
        fail("(b) no unknown functions",
             ["named in the docs but not a function or object of the extension "
              "(a seed system's name goes into FOREIGN_NAMES of check_docs.py):"] + unknown)
    else:
        ok("(b) no unknown functions", "README.md and doc/ name no chat_ function or object the extension lacks")

    # (c) ------------------------------------------------------------------
    problems = []
    macros = errcode_macros(args.include_server)
    names, source = condition_names(args.sharedir, args.include_server, macros)
    raised = raised_in_c(root, macros, problems)
    for code, places in raised_in_sql(root, names, source, problems).items():
        raised.setdefault(code, set()).update(places)
    tables = sqlstate_tables(docs)
    if problems:
        fail("(c) SQLSTATEs of src/", problems)
    if len(tables) != 1:
        fail("(c) SQLSTATE table", [f"doc/ must have exactly one section headed \"SQLSTATEs\"; found "
                                    f"{len(tables)}: " + ", ".join(rel(p) for p, _ in tables)])
    else:
        table_file, documented = tables[0]
        absent = sorted(c for c in raised if c not in documented)
        if absent:
            fail("(c) SQLSTATEs documented",
                 [f"raised in src/ but not in the SQLSTATE table of {rel(table_file)}:"] +
                 [f"{c}  ({', '.join(sorted(raised[c]))})" for c in absent])
        else:
            ok("(c) SQLSTATEs documented",
               f"all {len(raised)} SQLSTATEs raised in src/ are in {rel(table_file)} "
               f"({len(documented)} listed)")
        real = set(names.values()) | set(macros.values()) | set(raised)
        bogus = sorted(c for c in documented if c not in real)
        if bogus:
            fail("(c) SQLSTATE table", ["listed but neither PostgreSQL's nor raised in src/:"] + bogus)

    # (d) ------------------------------------------------------------------
    bad, count = [], 0
    for path in [readme] + docs:
        for no, target in links(path):
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target):
                continue                                   # http:, mailto:, ...
            count += 1
            file_part, _, anchor = target.partition("#")
            dest = path if file_part == "" else os.path.normpath(
                os.path.join(os.path.dirname(path), file_part))
            where = f"{rel(path)}:{no}: {target}"
            if not os.path.exists(dest):
                bad.append(f"{where}: no such file")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                bad.append(f"{where}: no heading with that anchor in {rel(dest)}")
    if bad:
        fail("(d) links", bad)
    else:
        ok("(d) links", f"all {count} relative links of README.md and doc/*.md resolve")

    if failures:
        print(f"documentation check failed: {', '.join(failures)}", file=sys.stderr)
        sys.exit(1)
    print("documentation check passed")


if __name__ == "__main__":
    main()
