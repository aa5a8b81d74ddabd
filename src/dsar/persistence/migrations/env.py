"""Alembic environment: runs on the connection the engine hands over (see database.migrate)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from dsar.persistence import tables

tables.register_all()  # every table on SQLModel.metadata, those kept with their repositories too

target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run_migrations_online()
