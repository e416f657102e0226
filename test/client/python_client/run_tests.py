"""Runs the unittest suite of clients/python (tests/test_*.py) against the database
named by PGDATABASE; exits non-zero when a test fails.  Called by run.sh."""

import importlib.util
import sys
import time
import unittest
from pathlib import Path

root = Path(__file__).resolve().parents[3] / "clients" / "python"
sys.path.insert(0, str(root))

for name in ("langchain_core", "agents"):
    found = importlib.util.find_spec(name) is not None
    print(f"{name}: {'installed' if found else 'not installed (protocol tested by duck typing)'}")

start = time.monotonic()
suite = unittest.defaultTestLoader.discover(str(root / "tests"), pattern="test_*.py", top_level_dir=str(root))
result = unittest.TextTestRunner(verbosity=2).run(suite)
print(f"python client: {result.testsRun} tests, {len(result.failures)} failures, {len(result.errors)} errors, "
      f"{len(result.skipped)} skipped, {time.monotonic() - start:.1f} s")
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
