"""Evaluations: the stored runs, one run's report (metrics, charts, per-item table), and two runs compared."""

from __future__ import annotations

import streamlit as st

import common
from evals.compare import compare_runs
from evals.reports import judge_agreement_note, to_html
from rag.runs import list_runs, load_run


def show_run(run) -> None:
    st.subheader(f"Run {run.id}: {run.kind} on {run.dataset}")
    st.caption(f"{run.created_at:%Y-%m-%d %H:%M} UTC · {run.seconds:.1f} s · dataset sha256 "
               f"{str(run.dataset_sha256)[:12]} · seed {run.seed}")
    note = ""
    if run.kind in ("answers", "squad"):
        note = judge_agreement_note(common.store(), "evidence-alignment")
        st.info(note)
    metrics = {k: v for k, v in run.metrics.items() if not isinstance(v, (dict, list))}
    st.dataframe([{"metric": k, "value": str(v)} for k, v in metrics.items()], hide_index=True)
    unit = {k: v for k, v in metrics.items() if isinstance(v, float) and 0 <= v <= 1 and not k.endswith("_ms")}
    if unit:
        st.bar_chart(unit, horizontal=True)
    if run.items:
        st.markdown("**Items**")
        columns = [c for c in ("id", "question", "claim", "answer", "faithfulness", "f1", "ndcg@10", "label",
                               "score", "abstained") if c in run.items[0]]
        st.dataframe([{c: str(item.get(c, "")) for c in columns} for item in run.items[:500]], hide_index=True)
    st.download_button("Download the HTML report", to_html(run, note), file_name=f"run-{run.id}.html",
                       mime="text/html")


def compare(runs) -> None:
    st.subheader("Compare two runs")
    labels = {f"{r.id}: {r.kind} · {r.dataset}": r.id for r in runs}
    left, right = st.columns(2)
    a = left.selectbox("Baseline (A)", list(labels), key="run-a")
    b = right.selectbox("Compared (B)", list(labels), index=min(1, len(labels) - 1), key="run-b")
    if a and b and a != b and st.button("Compare"):
        result = compare_runs(load_run(common.store(), labels[a]), load_run(common.store(), labels[b]), 1000)
        st.caption(f"{result['paired_items']} paired items; 95% bootstrap intervals of B - A")
        st.dataframe([{"metric": name, "A": row["a"], "B": row["b"], "delta": row["delta"],
                       "95% CI": str(row.get("ci95", "-")), "significant": row.get("significant", "")}
                      for name, row in result["metrics"].items()], hide_index=True)


def main() -> None:
    st.title("Evaluations")
    runs = list_runs(common.store())
    if not runs:
        st.info("No runs yet: `rag eval retrieval|squad|answers|judge ...` stores them here.")
        return
    st.dataframe([{"run": r.id, "kind": r.kind, "dataset": r.dataset, "created": f"{r.created_at:%Y-%m-%d %H:%M}"}
                  for r in runs], hide_index=True)
    chosen = st.selectbox("Open run", [r.id for r in runs])
    show_run(load_run(common.store(), chosen))
    if len(runs) > 1:
        compare(runs)


main()
