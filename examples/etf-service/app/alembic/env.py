# DATABASE_URL comes from the service's environment (e.g. postgresql:///goldfinch: the local socket,
# peer authentication as the OS user). Offline mode (`alembic upgrade A:head --sql`) prints the SQL
# without a database: slipway lints it with PostgreSQL's parser before anything runs.
import os

from alembic import context
from sqlalchemy import create_engine

if context.is_offline_mode():
    context.configure(url=os.environ.get("DATABASE_URL", "postgresql://"), literal_binds=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(os.environ["DATABASE_URL"])
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
