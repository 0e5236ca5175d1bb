"""The store's queries for evaluation runs (mixed into `Store`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rag.store.tables import EvalRun


class RunQueries:
    def add_run(self, session: Session, **fields) -> int:
        run = EvalRun(**fields)
        session.add(run)
        session.flush()
        return run.id

    def run(self, session: Session, run_id: int) -> EvalRun | None:
        """The run, detached from the session (usable after it closes)."""
        run = session.get(EvalRun, run_id)
        if run is not None:
            session.expunge(run)
        return run

    def runs(self, session: Session) -> list[EvalRun]:
        found = list(session.scalars(select(EvalRun).order_by(EvalRun.id.desc())))
        for run in found:
            session.expunge(run)
        return found

    def run_summaries(self, session: Session, limit: int = 100) -> list[dict]:
        """The newest evaluation runs without their per-item rows (those can be large)."""
        rows = session.execute(select(EvalRun.id, EvalRun.kind, EvalRun.dataset, EvalRun.collection,
                                      EvalRun.metrics, EvalRun.seconds, EvalRun.created_at)
                               .order_by(EvalRun.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]
