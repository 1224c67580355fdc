"""The PostgreSQL reader role: researcher queries run without the login's powers.

A READ ONLY transaction stops writes to tables, not a superuser's other powers:
`COPY ... TO PROGRAM` runs a shell command, `pg_read_file` reads any file the server can,
`pg_terminate_backend` ends other sessions. So `dfwatch query` runs the statement as the
role `dfwatch_reader` (NOLOGIN, SELECT on the research tables and views, nothing else).

`SET ROLE` alone is not enough when the login is a superuser: inside the same statement,
`set_config('role', 'none', true)` switches back, and a function such as `query_to_xml`
then runs any SQL text with the superuser's powers. PostgreSQL refuses to change the role
inside a SECURITY DEFINER function, so for such logins the statement runs inside
`dfwatch_reader_query(text)`, a function owned by the reader (it returns each row as JSON
text). Logins without superuser and without the server-file roles (POWER_ROLES) could only
switch back to themselves, so their statements run directly, as the reader.

`ensure_reader` (called by `crawler.db.engine.upgrade`) creates the role once per cluster,
race-safe (the role is cluster-wide; several processes may upgrade at once), and grants it
what it needs in the schema in use (tests use one schema each). `inspect_login` tells the
query path what the current login may do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("dfwatch.db")

READER_ROLE = "dfwatch_reader"
WRAPPER = "dfwatch_reader_query"
# Predefined roles that reach the operating system or other sessions.
POWER_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_signal_backend",
)

_CREATE_ROLE = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
    CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
      NOREPLICATION NOBYPASSRLS;
  END IF;
EXCEPTION
  -- another process created it between our check and our CREATE
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$
"""
# The row comes back as JSON text: the function's result type cannot depend on the query.
# The newline before the closing parenthesis ends a trailing `--` comment in the statement.
_WRAPPER_BODY = "BEGIN RETURN QUERY EXECUTE 'SELECT row_to_json(q)::text FROM (' || stmt || E'\\n) AS q'; END"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _step(conn: Connection, what: str, sql: str) -> bool:
    """Run one setup statement in its own transaction; a refusal is logged, not raised."""
    try:
        with conn.begin():
            conn.exec_driver_sql(sql)
        return True
    except DBAPIError as exc:
        log.warning("reader role: could not %s: %s", what, str(exc.orig).splitlines()[0])
        return False


def ensure_reader(engine: Engine, role: str = READER_ROLE) -> None:
    """Create `dfwatch_reader` if the login may, and grant it SELECT in the current schema.

    Idempotent. A login that may not create roles leaves the role absent: queries then run
    as the login itself, which is safe only if it has no server powers (inspect_login).
    `role` is for tests of the role's creation (the role is cluster-wide).
    """
    with engine.connect() as conn:
        with conn.begin():
            row = conn.execute(
                text(
                    "SELECT r.rolsuper, r.rolcreaterole, current_schema() AS schema, "
                    "EXISTS (SELECT FROM pg_roles WHERE rolname = :role) AS reader, "
                    "EXISTS (SELECT FROM pg_roles p WHERE p.rolname = :role "
                    "        AND pg_has_role(current_user, p.oid, 'MEMBER')) AS member "
                    "FROM pg_roles r WHERE r.rolname = current_user"
                ),
                {"role": role},
            ).one()
        superuser, createrole, schema, exists, member = row
        if schema is None:
            log.warning("reader role: no current schema (search_path is empty); not set up")
            return
        if not exists:
            if not (superuser or createrole):
                log.info(
                    "reader role: %s does not exist and this login may not create roles; "
                    "dfwatch query runs as the login itself",
                    role,
                )
                return
            if not _step(conn, f"create role {role}", _CREATE_ROLE.format(role=role)):
                return
        if not (superuser or member):
            _step(conn, f"grant {role} to this login", f"GRANT {role} TO CURRENT_USER")
        s = _quote_ident(schema)
        _step(conn, f"grant usage on schema {schema}", f"GRANT USAGE ON SCHEMA {s} TO {role}")
        _step(conn, "grant select", f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {role}")
        # Tables created later by this login (APScheduler's job store) are readable too.
        _step(
            conn,
            "set default privileges",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {role}",
        )
        if superuser:
            fn = f"{s}.{WRAPPER}(text)"
            _step(
                conn,
                f"create {WRAPPER}",
                f"CREATE OR REPLACE FUNCTION {s}.{WRAPPER}(stmt text) RETURNS SETOF text "
                f"LANGUAGE plpgsql SECURITY DEFINER AS $${_WRAPPER_BODY}$$;\n"
                f"ALTER FUNCTION {fn} OWNER TO {role};\n"
                f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC",
            )


@dataclass(frozen=True)
class Login:
    """What the database login of a query connection may do."""

    name: str
    superuser: bool
    powers: tuple[str, ...]  # the POWER_ROLES it can switch to
    reader: bool  # dfwatch_reader exists and the login may SET ROLE to it
    wrapper: str | None  # the qualified name of a genuine dfwatch_reader_query, if any

    @property
    def powerful(self) -> bool:
        """It could reach the operating system or other sessions if a query got its role."""
        return self.superuser or bool(self.powers)


def inspect_login(conn: Any) -> Login:
    """Ask the server about the session user (psycopg connection, inside the transaction)."""
    row = conn.execute(
        "SELECT session_user::text, r.rolsuper, "
        "ARRAY(SELECT p.rolname::text FROM pg_roles p WHERE p.rolname = ANY(%(powers)s) "
        "      AND pg_has_role(session_user, p.oid, 'MEMBER') ORDER BY 1), "
        "EXISTS (SELECT FROM pg_roles p WHERE p.rolname = %(role)s "
        "        AND pg_has_role(session_user, p.oid, 'MEMBER')), "
        "(SELECT format('%%I.%%I', n.nspname, f.proname) FROM pg_proc f "
        "   JOIN pg_namespace n ON n.oid = f.pronamespace "
        "   JOIN pg_roles o ON o.oid = f.proowner "
        "  WHERE n.nspname = current_schema() AND f.proname = %(fn)s AND f.prosecdef "
        "    AND o.rolname = %(role)s AND f.proargtypes = '25'::oidvector) "
        "FROM pg_roles r WHERE r.rolname = session_user",
        {"powers": list(POWER_ROLES), "role": READER_ROLE, "fn": WRAPPER},
    ).fetchone()
    name, superuser, powers, reader, wrapper = row
    return Login(name, bool(superuser), tuple(powers), bool(reader), wrapper)
