#!/usr/bin/env bash
# Property test of chat_save_messages: at least 10,000 generated batches,
# valid and invalid, each checked against a model (see property.py).
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
# PROPERTY_BATCHES / PROPERTY_SEED change the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../python_suite.sh"
run_python_suite property "$here/property.py"
