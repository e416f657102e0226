#!/usr/bin/env bash
# Property test of tool calls and Responses items in model-ready windows
# (chatstore 1.4): at least 200 random agent conversations mixing chat
# messages and items (parallel calls, answers shuffled, deferred and
# interleaved, unanswered calls, orphan answers, reasoning, streams left
# in_progress, compactions), saved in random batches, then at least 3,000
# random windows read with chat_context (formats chat and responses,
# include_incomplete on and off) and chat_history with max_tokens, each
# checked for the pairing of calls and answers by id, the Chat Completions
# shape and order, and against a model of the window (see property_tools.py).
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
# CS_SEED replays a run (its seed is printed), CS_CONV one conversation of
# it, CS_DUMP=1 prints the SQL of each conversation; PROPERTY_TOOLS_CONVS /
# PROPERTY_TOOLS_WINDOWS change the size; PROPERTY_TOOLS_STRICT=0 reports the
# checks beyond the contract's text (Chat Completions adjacency, an answer
# saved before its call returned before it) as KNOWN instead of failing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../python_suite.sh"
run_python_suite property_tools "$here/property_tools.py"
