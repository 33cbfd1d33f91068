"""etf_updates: every update a celery task made (from the API or from beat)"""
revision = "0002"
down_revision = "0001"
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.create_table(
        "etf_updates",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("symbol", sa.Text, nullable=False),
        sa.Column("nav", sa.Numeric),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("release", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="ok"),
        sa.Column("duration_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("etf_updates_at", "etf_updates", ["at"])


def downgrade():
    op.drop_table("etf_updates")
