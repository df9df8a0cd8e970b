"""Test databases: SQLite files, or fresh databases on the throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

USE_POSTGRES = os.environ.get("WABRIDGE_TEST_DB") == "postgres"
ENGINE_NAME = "postgresql" if USE_POSTGRES else "sqlite"


def _admin_url() -> str:
    url = os.environ.get("WABRIDGE_TEST_POSTGRES_URL")
    if not url:
        raise RuntimeError("WABRIDGE_TEST_DB=postgres needs WABRIDGE_TEST_POSTGRES_URL")
    return url


def new_database_url(tmp_dir: Path, name: str = "wabridge") -> str:
    """A brand-new, empty database for one test (or one session)."""
    if not USE_POSTGRES:
        return f"sqlite+aiosqlite:///{tmp_dir / (name + '.db')}"
    return _create_postgres_database(name)


def copy_database(template_url: str, tmp_dir: Path, name: str = "migrated") -> str:
    """A new database holding what ``template_url`` holds (a migrated schema, say): a copy
    of the file on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. Nothing may be
    connected to the template meanwhile."""
    template = make_url(template_url)
    if not USE_POSTGRES:
        assert template.database is not None
        target = tmp_dir / (name + ".db")
        shutil.copyfile(template.database, target)
        return template.set(database=str(target)).render_as_string(hide_password=False)
    return _create_postgres_database(name, template=template.database)


def _create_postgres_database(name: str, *, template: str | None = None) -> str:
    admin = make_url(_admin_url())
    database = f"{name}_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    like = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"{like}')
    return admin.set(database=database).render_as_string(hide_password=False)
