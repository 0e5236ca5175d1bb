"""Models `rag tune` trained on a collection (embedder, reranker, generator adapter), with their cards.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "tuned_models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("model_id", sa.String(500), nullable=False, unique=True),
        sa.Column("base_model", sa.String(500), nullable=False),
        sa.Column("base_sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("card", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("adopted_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("tuned_models")
