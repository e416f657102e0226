#!/usr/bin/env python3
"""Generate chatstore/async_store.py (AsyncChatStore) from chatstore/store.py (ChatStore).

    /usr/bin/python3 tools/gen_async.py          # rewrite async_store.py
    /usr/bin/python3 tools/gen_async.py --check  # exit 1 when it is out of date (a test runs this)
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "chatstore"


def generate(src: str) -> str:
    out = src
    out = out.replace('"""ChatStore: typed wrappers over chatstore\'s SQL functions, on psycopg 3 (sync).',
                      '"""AsyncChatStore: typed wrappers over chatstore\'s SQL functions, on psycopg 3 (async).\n\n'
                      'GENERATED from store.py by tools/gen_async.py: do not edit.', 1)
    out = out.replace("SyncRunner", "AsyncRunner")
    out = out.replace('__all__ = ["ChatStore"]', '__all__ = ["AsyncChatStore"]')
    out = out.replace("class ChatStore:", "class AsyncChatStore:")
    out = out.replace("psycopg ``Connection`` or a pool", "psycopg ``AsyncConnection`` or an async pool")
    # every method but __init__ becomes a coroutine, and awaits the runner
    out = re.sub(r"^    def (?!__init__)", "    async def ", out, flags=re.M)
    out = out.replace("return self._runner.run", "return await self._runner.run")
    out = out.replace("return self._run(", "return await self._run(")
    out = out.replace("return self._run_tx(", "return (await self._run_tx(")
    out = re.sub(r"(return \(await self\._run_tx\(.*\))\[1\]$", r"\1)[1]", out, flags=re.M)
    return out


def main() -> int:
    src = (ROOT / "store.py").read_text()
    want = generate(src)
    target = ROOT / "async_store.py"
    if "--check" in sys.argv:
        have = target.read_text() if target.exists() else ""
        if have != want:
            print("async_store.py is out of date: run tools/gen_async.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
