#!/bin/sh
# Run once by the postgres image on an empty data folder
# (/docker-entrypoint-initdb.d). It creates the read-only role Grafana's
# PostgreSQL data source logs in with: it can read every table the sink
# creates (now or later, by its migrations) and write nothing.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v reader="$NEWSFLOW_GRAFANA_DB_USER" -v password="$NEWSFLOW_GRAFANA_DB_PASSWORD" \
	-v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'password';
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
ALTER ROLE :"reader" SET statement_timeout = '30s';
SQL
