"""`rag eval runs`, `rag eval report RUN`, `rag eval compare RUN_A RUN_B`."""

from __future__ import annotations

import json

import typer

from evals.cli import eval_group
from rag.cli.context import context



def register(app: typer.Typer) -> None:
    group = eval_group(app)
    group.command("runs")(runs_command)
    group.command("report")(report_command)
    group.command("compare")(compare_command)

def runs_command(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """The stored evaluation runs, newest first."""
    from rich.table import Table

    from rag.runs import list_runs

    app = context(ctx)
    runs = list_runs(app.store)
    if as_json:
        print(json.dumps([{"id": r.id, "kind": r.kind, "dataset": r.dataset, "created_at": r.created_at.isoformat(),
                           "metrics": r.metrics} for r in runs], indent=2, default=str))
        return
    table = Table("run", "kind", "dataset", "created (UTC)", "headline")
    for r in runs:
        headline = next((f"{k} {v}" for k, v in r.metrics.items()
                         if k in ("ndcg@10", "hybrid.ndcg@10", "f1", "faithfulness", "roc_auc")), "")
        table.add_row(str(r.id), r.kind, r.dataset, f"{r.created_at:%Y-%m-%d %H:%M}", headline)
    app.console.print(table)


def report_command(ctx: typer.Context, run: int = typer.Argument(..., help="Run id (`rag eval runs`).")) -> None:
    """Writes the run's HTML, Markdown and JSON report again and prints their paths."""
    from evals.reports import judge_agreement_note, write_report

    app = context(ctx)
    chosen = _load(app, run)
    note = ""
    if chosen.kind in ("answers", "squad"):
        note = judge_agreement_note(app.store, "evidence-alignment")
    for kind, path in write_report(chosen, app.settings.data_dir / "reports", note).items():
        print(f"{kind}: {path}")


def compare_command(
    ctx: typer.Context,
    run_a: int = typer.Argument(..., help="The baseline run."),
    run_b: int = typer.Argument(..., help="The run compared with it."),
    resamples: int = typer.Option(2000, help="Bootstrap resamples."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Metric deltas (B - A) with paired bootstrap 95% confidence intervals."""
    from rich.table import Table

    from evals.compare import compare_runs

    app = context(ctx)
    result = compare_runs(_load(app, run_a), _load(app, run_b), resamples)
    folder = app.settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"compare-{run_a}-{run_b}.json").write_text(json.dumps(result, indent=2))
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table("metric", f"run {run_a}", f"run {run_b}", "delta", "95% CI", title=f"{result['paired_items']} "
                  "paired items")
    for name, row in result["metrics"].items():
        ci = f"[{row['ci95'][0]}, {row['ci95'][1]}]" + (" *" if row.get("significant") else "") \
            if "ci95" in row else "-"
        table.add_row(name, str(row["a"]), str(row["b"]), f"{row['delta']:+}", ci)
    app.console.print(table)
    app.console.print("* the interval excludes 0", highlight=False)


def _load(app, run_id: int):
    from rag.runs import load_run

    try:
        return load_run(app.store, run_id)
    except LookupError as exc:
        raise typer.BadParameter(str(exc)) from exc
