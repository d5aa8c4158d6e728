#!/usr/bin/env bash
# Creates one login role and one database per service, on the first start of an empty data volume
# (the postgres image runs /docker-entrypoint-initdb.d/* only then, against a server that listens on
# its unix socket alone). Each service owns its database and no other role may connect to it, so
# "nobody else reads it" is enforced by PostgreSQL, not only by convention.
#
# The passwords come from the container's environment (docker-compose.yml, from .env). Changing them
# in .env later does not change the roles: run ALTER ROLE ... PASSWORD as well (deploy/README.md).
#
# Works whether the entrypoint executes this file or sources it (it sources files that are not
# executable): no `exit`, no `set -u`, required variables checked with ${VAR:?}.
set -Eeo pipefail

create_service_database() {
	local database="$1" password="$2"
	# psql substitutes :"name" (identifier) and :'value' (literal) itself, so a password never needs
	# shell or SQL quoting. The role is named like its database.
	psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
		--username "${POSTGRES_USER:-postgres}" --dbname postgres \
		--set db="$database" --set password="$password" <<-'SQL'
		CREATE ROLE :"db" LOGIN PASSWORD :'password';
		CREATE DATABASE :"db" OWNER :"db" ENCODING 'UTF8' TEMPLATE template0;
		REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
		SQL
	echo "init-databases: created role and database ${database}"
}

create_service_database mpp_identity "${MPP_IDENTITY_DB_PASSWORD:?MPP_IDENTITY_DB_PASSWORD is not set}"
create_service_database mpp_catalog "${MPP_CATALOG_DB_PASSWORD:?MPP_CATALOG_DB_PASSWORD is not set}"
create_service_database mpp_application "${MPP_APPLICATION_DB_PASSWORD:?MPP_APPLICATION_DB_PASSWORD is not set}"
create_service_database mpp_tracking "${MPP_TRACKING_DB_PASSWORD:?MPP_TRACKING_DB_PASSWORD is not set}"
