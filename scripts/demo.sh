#!/usr/bin/env bash
# The newcomer's demo: installs what is missing, builds, installs, starts a
# throwaway cluster, saves a conversation, re-saves it with one new message,
# prints the history and the model-ready context, stops the cluster.
source "$(dirname "$0")/lib.sh"
cs_setup_packages
cs_build_install
cs_cluster_start
trap cs_cluster_stop EXIT
log "running the demo (test/demo.sql)"
psql -X -v ON_ERROR_STOP=1 -d postgres -f "$CS_ROOT/test/demo.sql"
