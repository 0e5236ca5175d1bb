"""Notes on an ingested document (an attachment skipped, a tolerant reader used) and the OCR confidence of a
chunk's text (null when it came from a text layer).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch (copy-and-move) on SQLite would drop the chunks' FTS triggers.
    op.add_column("documents", sa.Column("notes", sa.JSON))
    op.add_column("chunks", sa.Column("ocr_confidence", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("ocr_confidence")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("notes")
