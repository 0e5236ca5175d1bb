"""Tuning: the collection's tuned models with their cards and before/after figures, adopt and revert, and a
tuning job run in the background with its progress."""

from __future__ import annotations

import common
import streamlit as st

from evals.tuning.training import TrainConfig
from evals.tuning.tuner import KINDS, TuneOptions, tune


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


def tune_in_background(collection: str, kind: str, options: TuneOptions) -> None:
    if any(job["state"] == "running" for job in jobs().values()):
        st.warning("A tuning job is already running in this app; wait for it to finish.")
        return
    job = {"collection": collection, "stage": "starting", "done": 0, "total": None, "info": ""}
    common.start_job(jobs(), job, "card",
                     lambda: tune(common.workspace(), collection, kind, options, _JobProgress(job)))


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
    """The card's before/after rows (`seconds` figures are left out of the chart's 0-1 scale)."""
    return [{"metric": name, "base": before, "tuned": after} for name, before, after in card.get("figures", [])
            if isinstance(before, (int, float)) and isinstance(after, (int, float))]


def model_detail(row: dict) -> None:
    card = row["card"] or {}
    st.subheader(f"Tuned model {row['id']} ({row['status']})")
    if "gate" in card:
        st.markdown(common.inert(card["gate"]["reason"]))
        data = figures(card)
        st.dataframe(data, hide_index=True)
        shares = [r for r in data if "seconds" not in r["metric"]]
        st.bar_chart({"base": [r["base"] for r in shares], "tuned": [r["tuned"] for r in shares]}, stack=False)
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
            with st.spinner("Switching (an embedder: embedding what is missing and rebuilding the index)..."):
                workspace.use_tuned(row["id"], force=force)
            st.rerun()
    if row["status"] == "adopted" and st.button("Revert to the base model", key=f"revert-{row['id']}"):
        with st.spinner("Switching back (an embedder: rebuilding the index from the base model's vectors)..."):
            workspace.revert_tuned(row["collection"], row["kind"])
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
                  "held-out before": ((r["card"] or {}).get("gate") or {}).get("before"),
                  "after": ((r["card"] or {}).get("gate") or {}).get("after")}
                 for r in rows]
        st.dataframe(table, hide_index=True)
        chosen = st.selectbox("Model", [r["id"] for r in rows], key="tuned_choice")
        model_detail(next(r for r in rows if r["id"] == chosen))
    else:
        st.caption("No tuned models for this collection yet.")
    with st.form("tune"):
        st.markdown("**Tune on this collection** (a long job on CPU: minutes for the retriever, hours for the "
                    "generator's LoRA)")
        kind = st.radio("What", list(KINDS), horizontal=True, key="tune_kind")
        examples = st.number_input("Chunks to write questions for (0: the default for what is tuned)", 0, 20000, 0,
                                   step=100)
        questions = st.radio("Questions", ["auto", "heuristic", "model"], horizontal=True)
        if st.form_submit_button("Start tuning"):
            defaults = KINDS[kind].defaults
            tune_in_background(collection, kind, TuneOptions(
                examples=int(examples) or defaults["examples"], questions=questions,
                train=TrainConfig(batch_size=defaults["batch_size"], learning_rate=defaults["learning_rate"],
                                  epochs=defaults["epochs"])))
            st.rerun()


main()
