"""Reports of evaluation runs: one self-contained HTML file (charts embedded), Markdown, and JSON.

The HTML holds metric bars, the distribution of per-item scores, latency per stage, and a per-item table in
which unsupported sentences are highlighted and sources shown. Every text from a dataset, a document or a model
is escaped: a report never runs what it displays. Reports that use a judge print that judge's measured
agreement with human labels (the latest `rag eval judge` run of it), or say that it has not been measured.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

ITEMS_SHOWN = 300
SCORE_OF_ITEM = ("faithfulness", "f1", "ndcg@10", "score")


def _chart(draw) -> str:
    """A matplotlib drawing as an embedded PNG <img>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=100)
    draw(axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _unit_metrics(metrics: dict) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, float) and 0 <= v <= 1 and not k.endswith("_ms")}


def _latencies(metrics: dict) -> dict[str, float]:
    return {k[:-3]: v for k, v in metrics.items() if k.endswith("_ms") and isinstance(v, (int, float))}


def _item_scores(items: list[dict]) -> tuple[str, list[float]] | None:
    for name in SCORE_OF_ITEM:
        values = [float(i[name]) for i in items if isinstance(i.get(name), (int, float))]
        if values:
            return name, values
    return None


def judge_agreement_note(store, judge_name: str) -> str:
    """The judge's agreement with human labels from its latest `rag eval judge` run, or a note that it is missing."""
    from rag.runs import list_runs

    for run in list_runs(store):
        if run.kind == "judge" and run.metrics.get("judge") == judge_name:
            m = run.metrics
            kinds = "; ".join(f"{kind} {k['roc_auc']}" for kind, k in (m.get("by_kind") or {}).items()
                              if k.get("roc_auc") is not None)
            return (f"Judge {judge_name}: ROC AUC {m.get('roc_auc')}, balanced accuracy {m.get('balanced_accuracy')} "
                    f"on {m.get('n')} human-labelled pairs of {Path(run.dataset).name} (run {run.id})"
                    + (f"; AUC per task kind: {kinds}" if kinds else "") + ".")
    return f"Judge {judge_name}: agreement with human labels not measured yet (run `rag eval judge`)."


def to_markdown(run, agreement: str = "") -> str:
    lines = [f"# Evaluation run {run.id}: {run.kind}", "",
             f"- dataset: `{run.dataset}` (sha256 {str(run.dataset_sha256)[:12]})",
             f"- collection: {run.collection or '-'}; index checksum {str(run.index_checksum)[:12]}",
             f"- created {run.created_at:%Y-%m-%d %H:%M} UTC, took {run.seconds:.1f} s, seed {run.seed}",
             f"- versions: {', '.join(f'{k} {v}' for k, v in run.versions.items())}"]
    if agreement:
        lines += [f"- {agreement}"]
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in run.metrics.items() if not isinstance(v, (dict, list))]
    if run.metrics.get("by_kind"):
        lines += ["", "## Per task kind", "", "| kind | n | supported | ROC AUC | balanced accuracy |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_md_cell(kind)} | {k['n']} | {k['positives']} | {k['roc_auc']} | {k['balanced_accuracy']} |"
                  for kind, k in run.metrics["by_kind"].items()]
    if run.metrics.get("reliability"):
        lines += ["", f"## Reliability (expected calibration error {run.metrics.get('ece')})", "",
                  "| score bin | n | mean score | share supported |", "|---|---|---|---|"]
        lines += [f"| {b['bin']} | {b['n']} | {b['mean_score']} | {b['supported_share']} |"
                  for b in run.metrics["reliability"]]
    items = run.items or []
    if items and "question" in items[0]:
        lines += ["", "## Questions", "", "| id | question | answer | score | unsupported |", "|---|---|---|---|---|"]
        for item in items[:ITEMS_SHOWN]:
            score = next((item[n] for n in SCORE_OF_ITEM if isinstance(item.get(n), (int, float))), "")
            unsupported = "; ".join(u["sentence"] for u in item.get("unsupported", []))
            answer = str(item.get("answer", item.get("ranked", "")))
            lines.append("| " + " | ".join(_md_cell(x) for x in (item["id"], item["question"], answer, score,
                                                                   unsupported)) + " |")
    return "\n".join(lines) + "\n"


def _md_cell(value) -> str:
    return html.escape(str(value)).replace("|", "\\|").replace("\n", " ")[:400]


def to_html(run, agreement: str = "") -> str:
    e = html.escape
    metrics = run.metrics
    parts = [f"<h1>Evaluation run {run.id}: {e(run.kind)}</h1>",
             f"<p>Dataset <code>{e(run.dataset)}</code> (sha256 {e(str(run.dataset_sha256)[:12])}), collection "
             f"{e(str(run.collection or '-'))}, created {run.created_at:%Y-%m-%d %H:%M} UTC, {run.seconds:.1f} s, "
             f"seed {run.seed}.</p>",
             f"<p class='note'>{e(agreement)}</p>" if agreement else "",
             "<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>"]
    parts += [f"<tr><td>{e(k)}</td><td>{e(str(v))}</td></tr>" for k, v in metrics.items()
              if not isinstance(v, (dict, list))]
    parts.append("</table>")
    unit = _unit_metrics(metrics)
    if unit:
        parts.append(_chart(lambda ax: (ax.barh(list(unit), list(unit.values()), color="#4a7ab5"),
                                        ax.set_xlim(0, 1), ax.set_title("metrics"))))
    items = run.items or []
    scored = _item_scores(items)
    if scored:
        name, values = scored
        parts.append(_chart(lambda ax: (ax.hist(values, bins=20, color="#6a9955"),
                                        ax.set_title(f"distribution of per-item {name}"))))
    if metrics.get("by_kind"):
        parts.append("<h2>Per task kind</h2><table><tr><th>kind</th><th>n</th><th>supported</th>"
                     "<th>ROC AUC</th><th>balanced accuracy</th></tr>")
        parts += [f"<tr><td>{e(kind)}</td><td>{k['n']}</td><td>{k['positives']}</td><td>{k['roc_auc']}</td>"
                  f"<td>{k['balanced_accuracy']}</td></tr>" for kind, k in metrics["by_kind"].items()]
        parts.append("</table>")
    if metrics.get("reliability"):
        parts.append(f"<h2>Reliability</h2><p>Expected calibration error {e(str(metrics.get('ece')))}: how far "
                     "the judge's score is from the share of pairs that humans labelled supported.</p>")
        parts.append(_chart(lambda ax: _reliability(ax, metrics["reliability"], metrics.get("ece"))))
    latency = _latencies(metrics)
    if latency:
        parts.append(_chart(lambda ax: (ax.barh(list(latency), list(latency.values()), color="#c07030"),
                                        ax.set_xlabel("ms"), ax.set_title("latency"))))
    if items:
        parts.append(_items_table(items))
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
             "vertical-align:top;font-size:14px}mark{background:#ffd9d9}.note{background:#eef4ff;padding:6px}"
             ".src{color:#555;font-size:12px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Run {run.id}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def _reliability(ax, table: list[dict], ece) -> None:
    """Mean score against the share of pairs humans labelled supported, per score bin: on the diagonal, a
    score of 0.7 is right 70 % of the time."""
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    ax.plot([b["mean_score"] for b in table], [b["supported_share"] for b in table], marker="o", color="#4a7ab5")
    for b in table:
        ax.annotate(str(b["n"]), (b["mean_score"], b["supported_share"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlim(0, 1), ax.set_ylim(0, 1), ax.set_xlabel("judge score (bin mean)")
    ax.set_ylabel("share supported"), ax.set_title(f"reliability (ECE {ece}; numbers: pairs per bin)")


def _items_table(items: list[dict]) -> str:
    e = html.escape
    rows = ["<h2>Items</h2><table><tr><th>id</th><th>item</th><th>result</th><th>score</th></tr>"]
    for item in items[:ITEMS_SHOWN]:
        text = item.get("question") or item.get("claim", "")
        answer = e(str(item.get("answer", item.get("ranked", item.get("label", "")))))
        for unsupported in item.get("unsupported", []):
            sentence = e(unsupported["sentence"])
            answer = answer.replace(sentence, f"<mark title='not supported by its sources'>{sentence}</mark>")
        sources = "".join(f"<div class='src'>[{s['number']}] {e(Path(s['document']).name)}: "
                          f"{e(s['text'][:200])}</div>" for s in item.get("sources", []))
        score = next((item[n] for n in SCORE_OF_ITEM if isinstance(item.get(n), (int, float))), "")
        rows.append(f"<tr><td>{e(str(item['id']))}</td><td>{e(text)}</td><td>{answer}{sources}</td>"
                    f"<td>{e(str(score))}</td></tr>")
    rows.append("</table>")
    if len(items) > ITEMS_SHOWN:
        rows.append(f"<p>{len(items) - ITEMS_SHOWN} more items in the JSON report.</p>")
    return "".join(rows)


def write_report(run, folder: Path, agreement: str = "") -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"run-{run.id}-{run.kind}"
    paths = {"html": stem.with_suffix(".html"), "md": stem.with_suffix(".md"), "json": stem.with_suffix(".json")}
    paths["html"].write_text(to_html(run, agreement), encoding="utf-8")
    paths["md"].write_text(to_markdown(run, agreement), encoding="utf-8")
    record = {"id": run.id, "kind": run.kind, "dataset": run.dataset, "dataset_sha256": run.dataset_sha256,
              "collection": run.collection, "index_checksum": run.index_checksum, "seed": run.seed,
              "created_at": run.created_at.isoformat(), "seconds": run.seconds, "versions": run.versions,
              "settings": run.settings, "agreement": agreement, "metrics": run.metrics, "items": run.items}
    paths["json"].write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return paths
