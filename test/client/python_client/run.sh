#!/usr/bin/env bash
# The Python client (clients/python): its unittest suite (clients/python/tests)
# against a database of its own: every ChatStore / AsyncChatStore wrapper, the
# LangChain chat-history protocol and the OpenAI Agents Session protocol (the
# frameworks are not installable here: tested by duck typing).  Runs from the
# source tree with PYTHONPATH (no pip on a fresh machine), on Debian's
# python3-psycopg.  Gets PGHOST/PGPORT/PGUSER from scripts/test.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
source "$here/../python_suite.sh"
export PYTHONPATH="$root/clients/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
run_python_suite python_client "$here/run_tests.py"
