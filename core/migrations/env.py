"""Alembic environment: runs on the connection `Database.migrate` hands over."""
from alembic import context

from core.app import load_tables
from core.orm import Base

load_tables()  # every package's tables, assembled by the composition root

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
