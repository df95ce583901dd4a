#!/usr/bin/env bash
# testenv.sh — the real services newsflow's integration tests run against.
#
#   scripts/testenv.sh up      install what is missing, start Apache Kafka (KRaft), PostgreSQL and
#                              Prometheus on loopback, wait until each answers, print the environment
#   scripts/testenv.sh env     print the environment of the running services (eval "$(... env)")
#   scripts/testenv.sh status  say what runs; exit 0 only when all three run (two with NEWSFLOW_TESTENV_PROMETHEUS=0)
#   scripts/testenv.sh down    stop what `up` started and remove their data
#   scripts/testenv.sh clean   down, then remove .testenv entirely (including the cached Kafka classpath)
#
# For the fault-injection suite (test/faults, scripts/test-faults.sh), on services `up` started:
#   scripts/testenv.sh restart-kafka   SIGKILL the broker, start it again on the same log and port
#   scripts/testenv.sh stop-postgres   pg_ctl stop -m fast, keeping the data
#   scripts/testenv.sh start-postgres  start the stopped cluster again and wait until it answers
#
# Progress goes to standard error, the environment to standard output, so
# `eval "$(scripts/testenv.sh up)"` works. Every failure names the service and the reason and
# exits non-zero. `up` is idempotent: services that already run (started by an earlier `up`) are
# checked, not started again.
#
# Ports (loopback only) can be changed with:
#   NEWSFLOW_TESTENV_KAFKA_PORT (39092), NEWSFLOW_TESTENV_KAFKA_CONTROLLER_PORT (39093),
#   NEWSFLOW_TESTENV_POSTGRES_PORT (35432), NEWSFLOW_TESTENV_PROMETHEUS_PORT (39090).
# Other knobs: NEWSFLOW_TESTENV_DIR (runtime folder, default <repo>/.testenv),
#   NEWSFLOW_TESTENV_MVN_FLAGS (extra Maven flags, e.g. -Dmaven.repo.local=/tmp/m2),
#   NEWSFLOW_TESTENV_TIMEOUT (seconds to wait for each service, default 90),
#   NEWSFLOW_TESTENV_FORCE_INSTALL=1 (run the apt-get install step even when nothing is missing),
#   NEWSFLOW_TESTENV_PROMETHEUS=0 (do not start Prometheus: Kafka and PostgreSQL only, as the
#   fault-injection suite needs),
#   NEWSFLOW_TESTENV_POSTGRES_DURABLE=1 (start PostgreSQL crash-safe, fsync, synchronous_commit
#   and full_page_writes on, with the production settings of docs/operations.md, as the
#   benchmarks of record run; tests run it with fsync off; takes effect when the server starts).
set -euo pipefail

COMMAND=${1:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TE=${NEWSFLOW_TESTENV_DIR:-$ROOT/.testenv}
KAFKA_PORT=${NEWSFLOW_TESTENV_KAFKA_PORT:-39092}
KAFKA_CONTROLLER_PORT=${NEWSFLOW_TESTENV_KAFKA_CONTROLLER_PORT:-39093}
PG_PORT=${NEWSFLOW_TESTENV_POSTGRES_PORT:-35432}
PROM_PORT=${NEWSFLOW_TESTENV_PROMETHEUS_PORT:-39090}
TIMEOUT=${NEWSFLOW_TESTENV_TIMEOUT:-90}
MVN_FLAGS=${NEWSFLOW_TESTENV_MVN_FLAGS:-}
WITH_PROM=${NEWSFLOW_TESTENV_PROMETHEUS:-1}
PG_DURABLE=${NEWSFLOW_TESTENV_POSTGRES_DURABLE:-0}

KAFKA_POM=$ROOT/scripts/kafka/pom.xml
PROM_CONFIG=$ROOT/deploy/prometheus/prometheus-test.yml
PG_DB=newsflow_test
ENV_FILE=$TE/env

# ---------------------------------------------------------------------------------------------
# Output helpers

step() { printf '[testenv %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# fail SERVICE REASON [LOGFILE]: names the service and the reason, shows the log's tail, exits 1.
fail() {
	printf 'testenv: %s: %s\n' "$1" "$2" >&2
	if [[ -n ${3:-} && -s $3 ]]; then
		printf -- '--- last lines of %s ---\n' "$3" >&2
		tail -n 30 "$3" >&2
		printf -- '---\n' >&2
	fi
	if [[ $COMMAND == up ]]; then
		printf 'testenv: services started before the failure keep running; scripts/testenv.sh down stops them\n' >&2
	fi
	exit 1
}

# ---------------------------------------------------------------------------------------------
# Process and port helpers

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_matches PIDFILE PATTERN: true when PIDFILE names a live process whose command line
# contains PATTERN (so a recycled pid is never taken for ours).
pid_matches() {
	local pid
	[[ -s $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# stop_pid SERVICE PIDFILE PATTERN: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
	local svc=$1 pidfile=$2 pattern=$3 pid i
	if ! pid_matches "$pidfile" "$pattern"; then
		rm -f "$pidfile"
		return 0
	fi
	pid=$(<"$pidfile")
	step "$svc: stopping (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		step "$svc: still running after 30 s, killing"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$pidfile"
}

# wait_until SERVICE LOGFILE PIDFILE DESCRIPTION COMMAND...: runs COMMAND every 0.5 s until it
# succeeds; fails if the process in PIDFILE (when given) dies or TIMEOUT seconds pass.
wait_until() {
	local svc=$1 log=$2 pidfile=$3 what=$4
	shift 4
	local deadline=$((SECONDS + TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		# Only liveness here: just after the start, the child may not have exec'd yet.
		if [[ -n $pidfile ]] && ! kill -0 "$(<"$pidfile")" 2>/dev/null; then
			fail "$svc" "the process exited before $what" "$log"
		fi
		if ((SECONDS >= deadline)); then
			fail "$svc" "no $what within ${TIMEOUT} s" "$log"
		fi
		sleep 0.5
	done
}

# check_port_free SERVICE PORT VARIABLE: fails when a process we did not start holds PORT.
check_port_free() {
	if port_open "$2"; then
		fail "$1" "port 127.0.0.1:$2 is already in use by a process testenv did not start (choose another with $3)"
	fi
}

# ---------------------------------------------------------------------------------------------
# Installation

pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] && printf '%s\n' "$d"
}

install_missing() {
	local pkgs=()
	command -v java >/dev/null || pkgs+=(default-jre-headless)
	command -v mvn >/dev/null || pkgs+=(maven)
	command -v curl >/dev/null || pkgs+=(curl)
	command -v kcat >/dev/null || pkgs+=(kcat)
	{ command -v prometheus && command -v promtool; } >/dev/null || pkgs+=(prometheus)
	{ pg_bindir && command -v psql; } >/dev/null || pkgs+=(postgresql)
	# For checking the install path on a machine that has everything (apt-get may then upgrade
	# these packages to the newest Debian release, and installs nothing else).
	[[ ${NEWSFLOW_TESTENV_FORCE_INSTALL:-} == 1 ]] && pkgs=(curl kcat prometheus postgresql)
	if ((${#pkgs[@]} == 0)); then
		step "packages: java, mvn, curl, kcat, prometheus, promtool, postgresql present"
		return
	fi
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || fail packages "missing ${pkgs[*]} and not root (no sudo) to install them"
		sudo=(sudo)
	fi
	step "packages: installing ${pkgs[*]} (apt-get)"
	# Debian's packages start their own daemons (postgresql on 5432, prometheus on 9090) when
	# installed; the tests need none of them, so service starts are refused while installing.
	local policy=/usr/sbin/policy-rc.d added_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		added_policy=1
	fi
	local rc=0
	{
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
	} >"$TE/apt.log" 2>&1 || rc=$?
	((added_policy)) && "${sudo[@]}" rm -f "$policy"
	((rc == 0)) || fail packages "apt-get install ${pkgs[*]} failed (exit $rc)" "$TE/apt.log"
	step "packages: installed ${pkgs[*]}"
}

# ---------------------------------------------------------------------------------------------
# Apache Kafka

KAFKA_DIR=$TE/kafka
KAFKA_LIBS=$KAFKA_DIR/libs
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_LOG=$KAFKA_DIR/server.log
KAFKA_PID=$KAFKA_DIR/pid
KAFKA_PATTERN=kafka.Kafka

kafka_classpath() {
	local want have=""
	want=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
	[[ -s $KAFKA_LIBS/.pom.sha256 ]] && have=$(<"$KAFKA_LIBS/.pom.sha256")
	if [[ $want == "$have" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
		step "kafka: classpath cached in ${KAFKA_LIBS#"$ROOT"/} ($(ls "$KAFKA_LIBS"/*.jar | wc -l) jars)"
		return
	fi
	step "kafka: fetching the broker's jars with Maven (scripts/kafka/pom.xml; first time downloads ~45 MB)"
	local start=$SECONDS tmp=$KAFKA_DIR/libs.tmp
	rm -rf "$tmp"
	# shellcheck disable=SC2086 # MVN_FLAGS is a list of flags
	mvn -q -B -Dstyle.color=never $MVN_FLAGS -f "$KAFKA_POM" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_DIR/maven.log" 2>&1 ||
		fail kafka "Maven could not fetch the broker's jars (scripts/kafka/pom.xml)" "$KAFKA_DIR/maven.log"
	compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || fail kafka "Maven ran but no kafka_2.13 jar was copied" "$KAFKA_DIR/maven.log"
	printf '%s\n' "$want" >"$tmp/.pom.sha256"
	rm -rf "$KAFKA_LIBS"
	mv "$tmp" "$KAFKA_LIBS"
	step "kafka: $(ls "$KAFKA_LIBS"/*.jar | wc -l) jars in $((SECONDS - start)) s"
}

# The JVM command line of the broker and its tools, sized for a small shared test machine.
KAFKA_JAVA=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
	-Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties"
	-Dkafka.logs.dir="$KAFKA_DIR" -cp "$KAFKA_LIBS/*")

# kafka_metadata_ok: a metadata request answered by one broker.
kafka_metadata_ok() {
	kcat -L -b "127.0.0.1:$KAFKA_PORT" -m 5 2>/dev/null | grep -q '1 brokers:'
}

kafka_version() {
	local v
	v=$(grep -o 'Kafka version: [^ ]*' "$KAFKA_LOG" 2>/dev/null | tail -n 1 | cut -d' ' -f3)
	if [[ -z $v ]]; then
		v=$(basename "$(ls "$KAFKA_LIBS"/kafka_2.13-*.jar | head -n 1)" .jar)
		v=${v#kafka_2.13-}
	fi
	printf '%s\n' "$v"
}

kafka_up() {
	mkdir -p "$KAFKA_DIR"
	if pid_matches "$KAFKA_PID" "$KAFKA_PATTERN"; then
		[[ $(cat "$KAFKA_DIR/port" 2>/dev/null) == "$KAFKA_PORT" ]] ||
			fail kafka "already running on port $(cat "$KAFKA_DIR/port" 2>/dev/null), not $KAFKA_PORT: run 'scripts/testenv.sh down' first"
		step "kafka: already running (pid $(<"$KAFKA_PID")), checking metadata"
		wait_until kafka "$KAFKA_LOG" "$KAFKA_PID" "answer to a metadata request" kafka_metadata_ok
		return
	fi
	check_port_free kafka "$KAFKA_PORT" NEWSFLOW_TESTENV_KAFKA_PORT
	check_port_free kafka "$KAFKA_CONTROLLER_PORT" NEWSFLOW_TESTENV_KAFKA_CONTROLLER_PORT
	kafka_classpath

	rm -rf "$KAFKA_DATA"
	mkdir -p "$KAFKA_DATA"
	sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
		-e "s|@LOG_DIR@|$KAFKA_DATA|g" "$ROOT/scripts/kafka/server.properties.in" >"$KAFKA_DIR/server.properties"

	step "kafka: formatting KRaft storage in ${KAFKA_DATA#"$ROOT"/}"
	local cluster_id
	cluster_id=$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>"$KAFKA_DIR/format.log" | tail -n 1) ||
		fail kafka "StorageTool random-uuid failed" "$KAFKA_DIR/format.log"
	[[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || fail kafka "StorageTool random-uuid printed '$cluster_id', not a cluster id" "$KAFKA_DIR/format.log"
	"${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
		>>"$KAFKA_DIR/format.log" 2>&1 || fail kafka "StorageTool format failed" "$KAFKA_DIR/format.log"

	: >"$KAFKA_LOG"
	kafka_start
	kafka_warm_up
}

# kafka_start starts the broker on the formatted storage in KAFKA_DATA and waits until it answers
# metadata requests.
kafka_start() {
	step "kafka: starting broker+controller on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
	# setsid: the broker outlives this script in its own session; 9>&- keeps it off the lock.
	setsid "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_DIR/server.properties" </dev/null >>"$KAFKA_LOG" 2>&1 9>&- &
	printf '%s\n' "$!" >"$KAFKA_PID"
	printf '%s\n' "$KAFKA_PORT" >"$KAFKA_DIR/port"

	local start=$SECONDS
	wait_until kafka "$KAFKA_LOG" "$KAFKA_PID" "listener on 127.0.0.1:$KAFKA_PORT" port_open "$KAFKA_PORT"
	wait_until kafka "$KAFKA_LOG" "$KAFKA_PID" "answer to a metadata request" kafka_metadata_ok
	step "kafka: $(kafka_version) answers metadata requests ($((SECONDS - start)) s)"
}

# kafka_restart kills the running broker with SIGKILL (a crash, not a clean shutdown) and starts
# it again on the same log directory and port, for the fault-injection tests.
kafka_restart() {
	pid_matches "$KAFKA_PID" "$KAFKA_PATTERN" || fail kafka "not running (no live process in ${KAFKA_PID#"$ROOT"/}): run 'scripts/testenv.sh up' first"
	local pid i
	pid=$(<"$KAFKA_PID")
	step "kafka: killing the broker with SIGKILL (pid $pid)"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail kafka "pid $pid still alive 30 s after SIGKILL"
	rm -f "$KAFKA_PID"
	kafka_start
}

# kafka_warm_up produces a record and reads it back in a consumer group, so that the broker
# creates __consumer_offsets now: the tests' first consumer group then joins in well under a
# second instead of retrying for several seconds while the coordinator comes up.
kafka_warm_up() {
	local b=127.0.0.1:$KAFKA_PORT topic=newsflow.testenv.warmup start=$SECONDS
	printf 'warm-up\n' | timeout "$TIMEOUT" kcat -P -b "$b" -t "$topic" 2>"$KAFKA_DIR/warmup.log" ||
		fail kafka "kcat could not produce to $topic" "$KAFKA_DIR/warmup.log"
	timeout "$TIMEOUT" kcat -C -b "$b" -G newsflow-testenv-warmup -X auto.offset.reset=earliest -e -q \
		-f '%s\n' "$topic" 2>>"$KAFKA_DIR/warmup.log" | grep -qx warm-up ||
		fail kafka "kcat could not read $topic back in a consumer group" "$KAFKA_DIR/warmup.log"
	step "kafka: produced and consumed in a consumer group ($((SECONDS - start)) s)"
}

kafka_down() {
	stop_pid kafka "$KAFKA_PID" "$KAFKA_PATTERN"
	rm -rf "$KAFKA_DATA" "$KAFKA_DIR/port"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# The cluster lives in .testenv/postgres, or, when user postgres cannot reach .testenv (a checkout
# under /root, say), in a folder under /tmp that .testenv/postgres links to.
PG_DIR=$TE/postgres
[[ -L $PG_DIR ]] && PG_DIR=$(readlink -f "$PG_DIR")
PG_PATTERN=postgres

# pg_place creates PG_DIR, owned by postgres when root, moving it under /tmp when postgres cannot
# reach .testenv.
pg_place() {
	mkdir -p "$PG_DIR"
	((EUID == 0)) || return 0
	chown postgres: "$PG_DIR"
	runuser -u postgres -- test -w "$PG_DIR" && return 0
	[[ $PG_DIR == "$TE/postgres" ]] || fail postgres "user postgres cannot write $PG_DIR"
	rmdir "$PG_DIR"
	PG_DIR=$(mktemp -d /tmp/newsflow-testenv-postgres.XXXXXX)
	chmod 755 "$PG_DIR"
	chown postgres: "$PG_DIR"
	ln -s "$PG_DIR" "$TE/postgres"
	step "postgres: user postgres cannot reach $TE, the cluster goes to $PG_DIR"
}

# as_pg COMMAND...: initdb refuses root, so the cluster belongs to the postgres user when root.
as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_psql() {
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

pg_ready() { pg_psql -d "$PG_DB" -tAc 'select 1' | grep -qx 1; }

pg_up() {
	local bindir
	bindir=$(pg_bindir) || fail postgres "no /usr/lib/postgresql/*/bin/initdb (is the postgresql package installed?)"
	pg_place
	if as_pg test -f "$PG_DIR/data/postmaster.pid" && as_pg "$bindir/pg_ctl" status -D "$PG_DIR/data" >/dev/null 2>&1; then
		[[ $(cat "$PG_DIR/port" 2>/dev/null) == "$PG_PORT" ]] ||
			fail postgres "already running on port $(cat "$PG_DIR/port" 2>/dev/null), not $PG_PORT: run 'scripts/testenv.sh down' first"
		step "postgres: already running, checking a query"
		wait_until postgres "$PG_DIR/postgres.log" "" "answer to 'select 1'" pg_ready
		return
	fi
	check_port_free postgres "$PG_PORT" NEWSFLOW_TESTENV_POSTGRES_PORT
	as_pg rm -rf "$PG_DIR/data" "$PG_DIR/run"
	as_pg mkdir -p "$PG_DIR/run"

	step "postgres: initdb in ${PG_DIR#"$ROOT"/}/data ($("$bindir/postgres" --version))"
	as_pg "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
		>"$PG_DIR/initdb.log" 2>&1 || fail postgres "initdb failed" "$PG_DIR/initdb.log"

	local start=$SECONDS
	pg_start "$bindir"

	if ! pg_psql -d postgres -tAc "select 1 from pg_database where datname = '$PG_DB'" 2>"$PG_DIR/psql.log" | grep -qx 1; then
		pg_psql -d postgres -c "create database $PG_DB" >>"$PG_DIR/psql.log" 2>&1 ||
			fail postgres "create database $PG_DB failed" "$PG_DIR/psql.log"
	fi
	wait_until postgres "$PG_DIR/postgres.log" "" "answer to 'select 1'" pg_ready
	step "postgres: $(pg_version) answers queries on database $PG_DB ($((SECONDS - start)) s)"
}

# pg_start BINDIR starts the initialised cluster in PG_DIR/data on PG_PORT and waits for it.
pg_start() {
	local bindir=$1
	# Unix sockets have a 107-byte path limit; deep checkouts go TCP-only.
	local sockdir=$PG_DIR/run
	((${#sockdir} < 90)) || sockdir=""
	# Tests need no crash safety: fsync and friends off, unless benchmarks ask
	# for a server as production runs it (the settings docs/operations.md
	# recommends for ingestion: room for the working set, rare checkpoints).
	local settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[[ $PG_DURABLE == 1 ]] &&
		settings="-c shared_buffers=2GB -c wal_buffers=64MB -c max_wal_size=8GB -c checkpoint_timeout=30min"
	step "postgres: starting on 127.0.0.1:$PG_PORT ($([[ $PG_DURABLE == 1 ]] && echo durable || echo 'fsync off'))"
	as_pg touch "$PG_DIR/postgres.log"
	as_pg "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t "$TIMEOUT" \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$sockdir' $settings" \
		start >"$PG_DIR/pg_ctl.log" 2>&1 9>&- || fail postgres "pg_ctl start failed" "$PG_DIR/postgres.log"
	printf '%s\n' "$PG_PORT" >"$PG_DIR/port"
	head -n 1 "$PG_DIR/data/postmaster.pid" >"$PG_DIR/pid"
}

# pg_running BINDIR: true when the cluster in PG_DIR/data runs.
pg_running() {
	[[ -d $PG_DIR/data ]] && as_pg "$1/pg_ctl" status -D "$PG_DIR/data" >/dev/null 2>&1
}

# pg_stop_only stops the cluster (pg_ctl stop -m fast) and keeps its data, for the fault-injection
# tests' database outages; pg_start_again starts it again and waits until it answers queries.
pg_stop_only() {
	local bindir
	bindir=$(pg_bindir) || fail postgres "no /usr/lib/postgresql/*/bin/pg_ctl"
	pg_running "$bindir" || fail postgres "not running: run 'scripts/testenv.sh up' first"
	step "postgres: stopping (pg_ctl stop -m fast; data kept)"
	as_pg "$bindir/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
		fail postgres "pg_ctl stop failed" "$PG_DIR/postgres.log"
}

pg_start_again() {
	local bindir start=$SECONDS
	bindir=$(pg_bindir) || fail postgres "no /usr/lib/postgresql/*/bin/pg_ctl"
	[[ -d $PG_DIR/data ]] || fail postgres "no cluster in $PG_DIR/data: run 'scripts/testenv.sh up' first"
	if pg_running "$bindir"; then
		step "postgres: already running"
	else
		check_port_free postgres "$PG_PORT" NEWSFLOW_TESTENV_POSTGRES_PORT
		pg_start "$bindir"
	fi
	wait_until postgres "$PG_DIR/postgres.log" "" "answer to 'select 1'" pg_ready
	step "postgres: answers queries again ($((SECONDS - start)) s)"
}

pg_version() { pg_psql -d "$PG_DB" -tAc 'show server_version' | cut -d' ' -f1; }

pg_down() {
	local bindir
	if [[ -d $PG_DIR/data ]] && bindir=$(pg_bindir) && as_pg "$bindir/pg_ctl" status -D "$PG_DIR/data" >/dev/null 2>&1; then
		step "postgres: stopping (pid $(cat "$PG_DIR/pid" 2>/dev/null))"
		as_pg "$bindir/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			fail postgres "pg_ctl stop failed" "$PG_DIR/postgres.log"
	fi
	rm -rf "$PG_DIR" "$TE/postgres"
}

# ---------------------------------------------------------------------------------------------
# Prometheus

PROM_DIR=$TE/prometheus
PROM_PID=$PROM_DIR/pid
PROM_LOG=$PROM_DIR/prometheus.log
PROM_PATTERN=prometheus

prom_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready"; }

prom_version() {
	curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/status/buildinfo" |
		grep -o '"version":"[^"]*"' | cut -d'"' -f4 | sed 's/+.*//'
}

prom_up() {
	mkdir -p "$PROM_DIR"
	if pid_matches "$PROM_PID" "$PROM_PATTERN"; then
		[[ $(cat "$PROM_DIR/port" 2>/dev/null) == "$PROM_PORT" ]] ||
			fail prometheus "already running on port $(cat "$PROM_DIR/port" 2>/dev/null), not $PROM_PORT: run 'scripts/testenv.sh down' first"
		step "prometheus: already running (pid $(<"$PROM_PID")), checking /-/ready"
		wait_until prometheus "$PROM_LOG" "$PROM_PID" "200 from /-/ready" prom_ready
		return
	fi
	check_port_free prometheus "$PROM_PORT" NEWSFLOW_TESTENV_PROMETHEUS_PORT
	promtool check config "$PROM_CONFIG" >"$PROM_DIR/promtool.log" 2>&1 ||
		fail prometheus "promtool check config rejects ${PROM_CONFIG#"$ROOT"/}" "$PROM_DIR/promtool.log"

	rm -rf "$PROM_DIR/data"
	step "prometheus: starting on 127.0.0.1:$PROM_PORT with ${PROM_CONFIG#"$ROOT"/}"
	: >"$PROM_LOG"
	setsid prometheus --config.file="$PROM_CONFIG" --storage.tsdb.path="$PROM_DIR/data" \
		--storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$PROM_PORT" \
		--web.enable-lifecycle --log.level=warn </dev/null >>"$PROM_LOG" 2>&1 9>&- &
	printf '%s\n' "$!" >"$PROM_PID"
	printf '%s\n' "$PROM_PORT" >"$PROM_DIR/port"
	local start=$SECONDS
	wait_until prometheus "$PROM_LOG" "$PROM_PID" "200 from /-/ready" prom_ready
	step "prometheus: $(prom_version) ready ($((SECONDS - start)) s)"
}

prom_down() {
	stop_pid prometheus "$PROM_PID" "$PROM_PATTERN"
	rm -rf "$PROM_DIR"
}

# ---------------------------------------------------------------------------------------------
# Client tools

kcat_version() { kcat -V 2>&1 | grep -o 'Version [^ ]*' | head -n 1 | cut -d' ' -f2; }
promtool_version() { promtool --version 2>&1 | head -n 1 | awk '{print $3}' | sed 's/+.*//'; }

tools_check() {
	local kv pv
	kv=$(kcat_version) && [[ -n $kv ]] || fail kcat "'kcat -V' did not print a version"
	pv=$(promtool_version) && [[ -n $pv ]] || fail promtool "'promtool --version' did not print a version"
	step "tools: kcat $kv ($(command -v kcat)), promtool $pv ($(command -v promtool))"
}

# ---------------------------------------------------------------------------------------------
# Commands

write_env() {
	local tmp=$ENV_FILE.tmp
	if [[ $WITH_PROM == 0 ]]; then
		cat >"$tmp" <<EOF
export NEWSFLOW_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
export NEWSFLOW_TEST_POSTGRES='postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable'
export NEWSFLOW_TEST_KCAT=$(command -v kcat)
export NEWSFLOW_TEST_SERVICES='apache-kafka $(kafka_version), postgresql $(pg_version), kcat $(kcat_version)'
EOF
		mv "$tmp" "$ENV_FILE"
		return
	fi
	cat >"$tmp" <<EOF
export NEWSFLOW_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
export NEWSFLOW_TEST_POSTGRES='postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable'
export NEWSFLOW_TEST_PROMETHEUS=http://127.0.0.1:$PROM_PORT
export NEWSFLOW_TEST_KCAT=$(command -v kcat)
export NEWSFLOW_TEST_PROMTOOL=$(command -v promtool)
export NEWSFLOW_TEST_SERVICES='apache-kafka $(kafka_version), postgresql $(pg_version), prometheus $(prom_version), kcat $(kcat_version)'
EOF
	mv "$tmp" "$ENV_FILE"
}

lock() {
	mkdir -p "$TE"
	exec 9>"$TE/.lock"
	if ! flock -n 9; then
		step "another testenv.sh holds $TE/.lock, waiting"
		flock 9
	fi
}

cmd_up() {
	local start=$SECONDS
	lock
	install_missing
	tools_check
	kafka_up
	pg_up
	if [[ $WITH_PROM == 0 ]]; then
		step "prometheus: not started (NEWSFLOW_TESTENV_PROMETHEUS=0)"
	else
		prom_up
	fi
	write_env
	step "up: all services answer ($((SECONDS - start)) s); environment in ${ENV_FILE#"$ROOT"/}:"
	cat "$ENV_FILE"
}

cmd_down() {
	local start=$SECONDS
	[[ -d $TE ]] || {
		step "down: nothing to stop ($TE does not exist)"
		return
	}
	lock
	rm -f "$ENV_FILE"
	prom_down
	pg_down
	kafka_down
	step "down: stopped, data removed ($((SECONDS - start)) s; the Kafka classpath stays cached)"
}

cmd_env() {
	[[ -s $ENV_FILE ]] || fail env "not up: no $ENV_FILE (run 'scripts/testenv.sh up')"
	cat "$ENV_FILE"
}

cmd_status() {
	local ok=0
	if pid_matches "$KAFKA_PID" "$KAFKA_PATTERN"; then
		echo "kafka:      running, pid $(<"$KAFKA_PID"), 127.0.0.1:$(cat "$KAFKA_DIR/port" 2>/dev/null)"
	else
		echo "kafka:      not running"
		ok=1
	fi
	if pid_matches "$PG_DIR/pid" "$PG_PATTERN"; then
		echo "postgres:   running, pid $(<"$PG_DIR/pid"), 127.0.0.1:$(cat "$PG_DIR/port" 2>/dev/null)"
	else
		echo "postgres:   not running"
		ok=1
	fi
	if pid_matches "$PROM_PID" "$PROM_PATTERN"; then
		echo "prometheus: running, pid $(<"$PROM_PID"), 127.0.0.1:$(cat "$PROM_DIR/port" 2>/dev/null)"
	else
		echo "prometheus: not running"
		[[ $WITH_PROM == 0 ]] || ok=1
	fi
	if [[ -s $ENV_FILE ]]; then
		echo "environment (${ENV_FILE#"$ROOT"/}):"
		cat "$ENV_FILE"
	fi
	return $ok
}

cmd_clean() {
	cmd_down
	rm -rf "$TE"
	step "clean: removed $TE"
}

case $COMMAND in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
clean) cmd_clean ;;
restart-kafka)
	lock
	kafka_restart
	;;
stop-postgres)
	lock
	pg_stop_only
	;;
start-postgres)
	lock
	pg_start_again
	;;
*)
	echo "usage: scripts/testenv.sh up|down|env|status|clean|restart-kafka|stop-postgres|start-postgres" >&2
	exit 2
	;;
esac
