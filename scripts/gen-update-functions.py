#!/usr/bin/env python3
"""Print every CREATE FUNCTION (as CREATE OR REPLACE FUNCTION) and every
COMMENT ON FUNCTION of the extension's sources (src/sql/*.sql, in order).

Used to write the function section of an update script
(chatstore--A--B.sql): re-creating every function of the new version in
place keeps their OIDs (so nothing that depends on them breaks) and makes
an updated database's functions equal a fresh install's, which
test/t/003_upgrade.pl checks.  Relies on the layout of src/sql: a function
starts at a line "CREATE FUNCTION" and ends at the first following line that
is "$fn$;", "END;" at column 0, or a C declaration's line ending in ";" (after its AS 'MODULE_PATHNAME');
a comment starts at "COMMENT ON FUNCTION" and ends at a line ending in ";".
"""
import glob
import os
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
parts = sorted(glob.glob(os.path.join(root, 'src', 'sql', '*.sql')))
out = []
for part in parts:
    lines = open(part).read().split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('CREATE FUNCTION '):
            body = ['CREATE OR REPLACE FUNCTION ' + line[len('CREATE FUNCTION '):]]
            in_dollar = False
            c_decl = "AS 'MODULE_PATHNAME'" in line
            if c_decl and line.rstrip().endswith(';'):
                out.append(body[0])
                i += 1
                continue
            i += 1
            while i < len(lines):
                l = lines[i]
                body.append(l)
                if l.startswith('AS $fn$') or l.startswith('AS $'):
                    in_dollar = True
                if l.lstrip().startswith("AS 'MODULE_PATHNAME'"):
                    c_decl = True
                if in_dollar and l.startswith('$fn$;'):
                    break
                if not in_dollar and not c_decl and l == 'END;':
                    break
                if c_decl and l.rstrip().endswith(';'):
                    break
                i += 1
            out.append('\n'.join(body))
        elif line.startswith('COMMENT ON FUNCTION '):
            body = [line]
            while not lines[i].rstrip().endswith(';'):
                i += 1
                body.append(lines[i])
            out.append('\n'.join(body))
        i += 1
sys.stdout.write('\n\n'.join(out) + '\n')
