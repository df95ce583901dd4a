#!/usr/bin/env bash
# test-faults.sh — the fault-injection suite (make test-faults): brings up real Apache Kafka and
# PostgreSQL with scripts/testenv.sh, runs test/faults with NEWSFLOW_FAULTS=1 (SIGKILLs the stages,
# restarts the broker, stops the database, sends poison messages, compares what a feed farm
# served with what storage holds), prints the summary lines and stops the services again.
#
# The suite restarts Kafka and stops PostgreSQL, so by default it uses its own testenv folder and
# ports (.testenv/faults, git-ignored with .testenv; Kafka 39192/39193, PostgreSQL 35532, Prometheus 39190) and never
# disturbs the services of `make test`. Override with the NEWSFLOW_TESTENV_* variables of
# scripts/testenv.sh. Extra arguments go to `go test` (e.g. -run TestEmbeddedFaults).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export NEWSFLOW_TESTENV_DIR=${NEWSFLOW_TESTENV_DIR:-$ROOT/.testenv/faults}
export NEWSFLOW_TESTENV_KAFKA_PORT=${NEWSFLOW_TESTENV_KAFKA_PORT:-39192}
export NEWSFLOW_TESTENV_KAFKA_CONTROLLER_PORT=${NEWSFLOW_TESTENV_KAFKA_CONTROLLER_PORT:-39193}
export NEWSFLOW_TESTENV_POSTGRES_PORT=${NEWSFLOW_TESTENV_POSTGRES_PORT:-35532}
export NEWSFLOW_TESTENV_PROMETHEUS_PORT=${NEWSFLOW_TESTENV_PROMETHEUS_PORT:-39190}
# The suite needs no Prometheus.
export NEWSFLOW_TESTENV_PROMETHEUS=${NEWSFLOW_TESTENV_PROMETHEUS:-0}

down() { scripts/testenv.sh down || true; }
trap down EXIT

scripts/testenv.sh up >/dev/null
# shellcheck disable=SC1091 # written by testenv.sh up
source "$NEWSFLOW_TESTENV_DIR/env"
export NEWSFLOW_FAULTS=1

log=$NEWSFLOW_TESTENV_DIR/test-faults.log
start=$SECONDS
rc=0
go test -v -count=1 -timeout 25m -run . "$@" ./test/faults/... 2>&1 | tee "$log" || rc=$?
echo "--- test-faults summary ($((SECONDS - start)) s, exit $rc) ---"
grep -hE '^\s*(faults|faults-embedded|secrets):' "$log" | sed 's/^\s*//' || echo "(no summary line: see $log)"
exit "$rc"
