"""etf: one row per fund, its latest NAV"""
revision = "0001"
down_revision = None
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.create_table(
        "etf",
        sa.Column("symbol", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("nav", sa.Numeric),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )


def downgrade():
    op.drop_table("etf")
