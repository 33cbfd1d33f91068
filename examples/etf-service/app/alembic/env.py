# Online migrations only: DATABASE_URL comes from the service's environment (e.g.
# postgresql:///goldfinch: the local socket, peer authentication as the OS user).
import os

from alembic import context
from sqlalchemy import create_engine

engine = create_engine(os.environ["DATABASE_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
