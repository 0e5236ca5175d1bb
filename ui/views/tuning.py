"""Tuning: the collection's tuned models with their cards and before/after figures, adopt and revert, and a
tuning job run in the background with its progress."""

from __future__ import annotations

import common
import streamlit as st

from evals.tuning.tuner import TuneOptions, tune_embedder

METRICS = ("ndcg@10", "hit@10", "mrr")


@st.cache_resource
def jobs() -> dict:
    """Tuning jobs of this process: id -> {"collection", "stage", "done", "total", "info", "state", ...}."""
    return {}


class _JobProgress:
    def __init__(self, job: dict):
        self.job = job

    def stage(self, name: str, total: int | None) -> None:
        self.job.update(stage=name, total=total, done=0, info="")

    def advance(self, count: int = 1, info: str = "") -> None:
        self.job["done"] += count
        self.job["info"] = info or self.job["info"]


def tune_in_background(collection: str, options: TuneOptions) -> None:
    if any(job["state"] == "running" for job in jobs().values()):
        st.warning("A tuning job is already running in this app; wait for it to finish.")
        return
    job = {"collection": collection, "stage": "starting", "done": 0, "total": None, "info": ""}
    common.start_job(jobs(), job, "card",
                     lambda: tune_embedder(common.workspace(), collection, options, _JobProgress(job)))


@st.fragment(run_every=2)
def progress() -> None:
    for _, job in sorted(jobs().items(), reverse=True)[:3]:
        if job["state"] == "running":
            total = job["total"]
            label = f"{job['collection']}: {job['stage']} {job['info']}"
            st.progress(min(job["done"] / total, 1.0) if total else 0.0, text=common.inert(label))
        elif job["state"] == "failed":
            st.error(f"Tuning {job['collection']} failed: {job['error']}")
        else:
            st.success(f"{job['collection']}: {job['card']['gate']['reason']}")


def figures(card: dict) -> list[dict]:
    rows = []
    for name in METRICS:
        rows.append({"metric": f"held-out dense {name}", "base": card["before"]["held_out"][name],
                     "tuned": card["after"]["held_out"][name]})
    for method in card["before"].get("labelled") or {}:
        rows.append({"metric": f"labelled {method} nDCG@10", "base": card["before"]["labelled"][method]["ndcg@10"],
                     "tuned": card["after"]["labelled"][method]["ndcg@10"]})
    return rows


def model_detail(row: dict) -> None:
    card = row["card"] or {}
    st.subheader(f"Tuned model {row['id']} ({row['status']})")
    if "gate" in card:
        st.markdown(common.inert(card["gate"]["reason"]))
        data = figures(card)
        st.dataframe(data, hide_index=True)
        st.bar_chart({"base": [r["base"] for r in data], "tuned": [r["tuned"] for r in data]}, stack=False)
        training = card.get("training", {})
        st.caption(f"{card.get('train_examples')} training / {card.get('held_out_examples')} held-out questions "
                   f"({card.get('questions')}); {training.get('steps')} steps in {training.get('train_seconds')} s; "
                   f"evaluation runs {card['runs']['before']} and {card['runs']['after']}")
    with st.expander("Card"):
        st.json(card)
    workspace = common.workspace()
    if row["status"] in ("trained", "rejected", "retired"):
        force = row["status"] == "rejected" and st.checkbox("Use it although the gate rejected it", key="force")
        if st.button("Use this model", key=f"use-{row['id']}", disabled=row["status"] == "rejected" and not force):
            with st.spinner("Embedding what is missing and rebuilding the index..."):
                workspace.use_tuned(row["id"], force=force)
            st.rerun()
    if row["status"] == "adopted" and st.button("Revert to the base model", key=f"revert-{row['id']}"):
        with st.spinner("Rebuilding the index from the base model's vectors..."):
            workspace.revert_tuned(row["collection"])
        st.rerun()


def main() -> None:
    st.title("Tuning")
    names = [c.name for c in common.collections()]
    if not names:
        st.info("No collections yet: ingest documents on the Documents page first.")
        return
    collection = st.selectbox("Collection", names, key="tune_collection")
    progress()
    rows = common.workspace().tuned_models(collection)
    if rows:
        table = [{"id": r["id"], "kind": r["kind"], "status": r["status"], "created": r["created"][:16],
                  "held-out before": (r["card"] or {}).get("before", {}).get("held_out", {}).get("ndcg@10"),
                  "after": (r["card"] or {}).get("after", {}).get("held_out", {}).get("ndcg@10")}
                 for r in rows]
        st.dataframe(table, hide_index=True)
        chosen = st.selectbox("Model", [r["id"] for r in rows], key="tuned_choice")
        model_detail(next(r for r in rows if r["id"] == chosen))
    else:
        st.caption("No tuned models for this collection yet.")
    with st.form("tune"):
        st.markdown("**Tune the embedder on this collection** (a long job on CPU: minutes to hours)")
        examples = st.number_input("Chunks to write questions for", 200, 20000, 1500, step=100)
        questions = st.radio("Questions", ["auto", "heuristic", "model"], horizontal=True)
        if st.form_submit_button("Start tuning"):
            tune_in_background(collection, TuneOptions(examples=int(examples), questions=questions))
            st.rerun()


main()
