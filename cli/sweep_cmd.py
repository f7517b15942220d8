"""`modxfer sweep`: plan, run (and resume), inspect and export a grid of train and eval cells."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from modxfer.errors import ModxferError


@click.group()
def sweep():
    """Run a study (intermediates x compositions x targets x languages x noise x seeds) from a YAML config."""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


@sweep.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--cells", "list_cells", is_flag=True, help="Also list every cell with what it needs.")
@click.option("--sizes", type=click.Choice(["data", "paper"]), default="data", show_default=True,
              help="Estimate with the training sets in the data directory, or with the full ones of Phang et al.'s "
                   "protocol (a paper-scale study planned before its data is fetched).")
def plan(config, list_cells, sizes):
    """Print the grid, the number of cells and a cost estimate; runs nothing."""
    from modxfer.languages import get
    from modxfer.sweeps import estimate, load_config
    from modxfer.sweeps.prepare import check_for_plan

    cfg = load_config(config)
    # The checks `sweep run` makes before it starts (backbone, trunk_layers, adapter, data), so a plan that prints
    # is a run that starts.
    p, unchecked = check_for_plan(cfg, sizes)
    est = estimate(p, sizes)
    out = Console()
    out.print(f"[bold]{cfg.name}[/bold]: backbone {cfg.backbone}, output {cfg.output}")
    out.print(f"intermediates: {', '.join(cfg.intermediates) or '-'}")
    out.print(f"noise: {', '.join(cfg.noise)}    seeds: {', '.join(map(str, cfg.seeds))}    precision: {cfg.precision}")
    parts = [f"{cfg.examples} training examples x {cfg.epochs:g} epochs"]
    if cfg.intermediate_budget:
        ex, ep = cfg.budget_for("target", cfg.intermediates[0]) if cfg.intermediates else (cfg.examples, cfg.epochs)
        parts.append(f"intermediate adapters {ex} x {ep:g}")
    for target in cfg.targets:
        if target.task in cfg.target_budget:
            ex, ep = cfg.budget_for("target", target.task)
            parts.append(f"{target.task} adapters {ex} x {ep:g}")
    if cfg.full_budget:
        parts.append(f"full fine-tuning {cfg.budget_for('full')[0]} x {cfg.budget_for('full')[1]:g}"
                     + (" (word embeddings frozen)" if cfg.full_budget.get("freeze_embeddings") else ""))
    out.print(f"budget: {'; '.join(parts)}, {cfg.eval_examples or 'all'} eval examples per language and noise setting")
    t = Table(title="grid")
    for col in ("target", "compositions", "languages by family"):
        t.add_column(col)
    for target in cfg.targets:
        families: dict[str, list[str]] = {}
        for lang in target.languages:
            families.setdefault(_family(get, lang), []).append(lang)
        langs = "\n".join(f"{fam}: {', '.join(codes)}" for fam, codes in families.items())
        t.add_row(target.task, "\n".join(str(c) for c in cfg.compositions_for(target.task)), langs)
    out.print(t)
    if list_cells:
        cells = Table(title="cells, in run order")
        for col in ("cell", "needs"):
            cells.add_column(col)
        for c in p.cells:
            cells.add_row(c.id, ", ".join(c.needs))
        out.print(cells)
    out.print(f"cells: {est['train_cells']} train + {est['eval_cells']} eval = {len(p.cells)}")
    scale = "" if est["scale"] == 1.0 else f", scaled x{est['scale']:.3g} for this backbone's size"
    out.print(f"estimated cost: {est['train_examples']} training examples ({_duration(est['train_seconds'])}), "
              f"{est['eval_examples']} evaluated examples ({_duration(est['eval_seconds'])}); about "
              f"{_duration(est['seconds'])} on one 2-core CPU with the local executor "
              f"(constants in modxfer/sweeps/plan.py{scale}"
              + (", full training sets of the paper profile" if sizes == "paper" else "") + ")")
    for line in unchecked:
        out.print(f"[yellow]not checked:[/yellow] {line}")
    warnings = est.get("warnings", [])
    for line in warnings[:3]:
        out.print(f"[yellow]warning:[/yellow] {line}")
    if len(warnings) > 3:
        out.print(f"[yellow]warning:[/yellow] {len(warnings) - 3} more trained pieces get too few steps as well "
                  "(the competence check will say which did not learn)")


def _family(get, lang: str) -> str:
    try:
        return get(lang).family
    except ModxferError:
        return "?"


@sweep.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: one process, backbone loaded once; ray: cells as Ray tasks.")
@click.option("--address", default=None, help="Ray cluster to join (e.g. auto); default: start Ray locally.")
@click.option("--retry-failed", is_flag=True, help="Run cells that failed in an earlier run again.")
@click.option("--quiet", "-q", is_flag=True, help="No live view: one log line per finished cell.")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None,
              help="Run directory (overrides the config's output).")
def run(config, executor, address, retry_failed, quiet, output):
    """Run the sweep; rerun the same command to resume after an interruption."""
    from modxfer.sweeps import load_config, load_results, run_sweep, summary_tables

    if address is not None and executor != "ray":
        raise ModxferError("--address is for the ray executor", "add --executor ray, or drop --address")
    cfg = load_config(config, output=output)
    try:
        summary = run_sweep(cfg, executor=executor, address=address, retry_failed=retry_failed, quiet=quiet)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; run the same command again to resume ({cfg.output})", err=True)
        raise SystemExit(130)
    out = Console()
    df = load_results(cfg.output)
    if not df.empty:
        for t in summary_tables(df):
            out.print(t)
    out.print(f"{summary.done}/{summary.total} cells done ({summary.ran} run now, {_duration(summary.seconds)}); "
              f"{summary.failed} failed, {summary.blocked} blocked. Results: {cfg.output}/sweep.db")
    if len(cfg.noise) > 1:
        out.print(f"degradation by language family or script: modxfer sweep robustness {cfg.output} [--by script]")
    if summary.failed or summary.blocked:
        out.print(f"see the errors with `modxfer sweep status {cfg.output}`; rerun them with --retry-failed")
        raise SystemExit(1)


@sweep.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--traceback", "show_traceback", is_flag=True, help="Show the full traceback of each failed cell.")
def status(run_dir, show_traceback):
    """Progress of a run: cells per status, what is running, failures and their errors."""
    from modxfer.sweeps import Store
    from modxfer.sweeps.results import artifact_competence
    from modxfer.sweeps.store import lock_holder

    out = Console()
    with Store(run_dir) as store:
        counts = store.counts()
        cells = store.cells()
        name = store.meta("name")
        trained = [a for a in artifact_competence(store) if a["finished"]]
    if not cells:  # the store is made before the plan is written: planning now, or stopped while planning
        if holder := lock_holder(run_dir):
            out.print(f"{run_dir}: a sweep is planning its cells now ({holder}); ask again in a moment")
            return
        raise ModxferError(f"{run_dir} has no planned cells: its sweep was stopped while planning",
                           "run `modxfer sweep run CONFIG` again: it plans the cells, then runs them")
    t = Table(title=f"{name or run_dir}: cells")
    t.add_column("kind")
    for s in ("done", "running", "pending", "failed", "blocked", "total"):
        t.add_column(s, justify="right")
    for kind, c in counts.items():
        t.add_row(kind, *(str(c[s]) for s in ("done", "running", "pending", "failed", "blocked")), str(sum(c.values())))
    out.print(t)
    finished = [c for c in cells if c["status"] == "done" and c["seconds"] is not None and c["estimate"]]
    left = [c for c in cells if c["status"] in ("pending", "running") and c["estimate"]]
    if finished and left:
        # The plan's per-cell estimates, scaled by how fast this machine has actually been so far.
        pace = sum(c["seconds"] for c in finished) / sum(c["estimate"] for c in finished)
        eta = pace * sum(c["estimate"] for c in left)
        out.print(f"about {_duration(eta)} of work left ({pace:.2g}x the plan's estimate so far)")
    _print_competence(out, trained)
    holder = lock_holder(run_dir)
    out.print(f"a sweep is running here ({holder})" if holder else "no sweep is running here now")
    for c in cells:
        if c["status"] == "running":
            since = time.time() - (c["started"] or time.time())
            if holder:
                out.print(f"[yellow]running[/yellow] {c['id']} on {c['worker']} for {_duration(since)}")
            else:
                out.print(f"[yellow]interrupted[/yellow] {c['id']} (its run was stopped; the next run redoes it)")
    failed = [c for c in cells if c["status"] == "failed"]
    for c in failed:
        err = c["error"] or ""
        out.print(f"[red]failed[/red] {c['id']} (attempt {c['attempts']}):")
        lines = err.strip().splitlines() or ["(no error recorded)"]
        # soft_wrap: error text stays on its lines, unbroken, for copying and grepping logs.
        out.print(err.rstrip() if show_traceback else f"  {lines[-1]}", markup=False, highlight=False, soft_wrap=True)
    blocked = [c for c in cells if c["status"] == "blocked"]
    if blocked:
        reasons = {}
        for c in blocked:
            reasons.setdefault(c["error"], []).append(c["id"])
        for reason, ids in reasons.items():
            out.print(f"[magenta]blocked[/magenta] {len(ids)} cell(s): {reason}", highlight=False, soft_wrap=True)
    if failed or blocked:
        out.print("rerun failed cells with `modxfer sweep run CONFIG --retry-failed`"
                  + ("" if show_traceback or not failed else "; full tracebacks with --traceback"))


def _print_competence(out: Console, trained: list[dict]) -> None:
    """Trained models whose validation score does not show they learned: flagged, with the numbers."""
    from modxfer.scoring.competence import floor_of

    bad = [a for a in trained if a["status"] == "not learned"]
    for a in bad:
        c = a["competence"]
        low, high = (c.get("ci") or [float("nan")] * 2)[:2]
        bar, how = floor_of(c) or (float("nan"), "")
        out.print(f"[red]did not learn[/red] {a['id']}: {c.get('metric', 'score')} {c.get('score', float('nan')):.1f} "
                  f"[{low:.1f}, {high:.1f}] (95% CI) vs floor {bar:.1f} ({how}) on {c.get('n')} "
                  "validation examples; kept out of the report's findings", highlight=False, soft_wrap=True)
    unknown = [a["id"] for a in trained if a["status"] == "unknown"]
    if unknown:
        out.print(f"[yellow]competence unknown[/yellow] for {len(unknown)} trained model(s) (card without a "
                  f"validation check): {', '.join(unknown[:5])}" + (" ..." if len(unknown) > 5 else ""),
                  highlight=False, soft_wrap=True)
    if trained and not bad and not unknown:
        out.print(f"all {len(trained)} trained models learned (validation 95% CI above the floor: chance for "
                  "classification, the best trivial predictor for F1 tasks)")


@sweep.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "bundle"]), default="csv", show_default=True,
              help="bundle: a folder with the results, their per-example outcomes and what the report needs besides "
                   "(competence, similarity), from which `modxfer report` recomputes everything without the run.")
@click.option("--output", "-o", type=click.Path(), default=None,
              help="File to write (default: RUN_DIR/results.FORMAT; a bundle: the folder RUN_DIR/results).")
@click.option("--similarity-examples", type=click.IntRange(min=8), default=None,
              help="Bundle: training inputs embedded per task for task similarity (default 256).")
@click.option("--data-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Bundle: folder with the task data (default: the run's, $MODXFER_DATA_DIR, ../shared/data).")
def export(run_dir, fmt, output, similarity_examples, data_dir):
    """Write the results table (one row per cell x language x noise setting) as CSV or Parquet, or the run's
    results bundle."""
    from modxfer.io import check_writable
    from modxfer.sweeps import export as export_results
    from modxfer.sweeps import load_results

    if output:
        check_writable(output, file=fmt != "bundle")
    if fmt == "bundle":
        from modxfer.sweeps.bundle import write_bundle

        path = write_bundle(run_dir, output or Path(run_dir) / "results", data_dir=data_dir,
                            similarity_examples=similarity_examples)
        click.echo(f"wrote the results bundle of {run_dir} to {path}")
        return
    path = export_results(run_dir, fmt, output)
    n = len(load_results(run_dir))
    click.echo(f"wrote {n} rows to {path}")


@sweep.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--by", type=click.Choice(["family", "script", "all"]), default="family", show_default=True,
              help="Group languages by family or script (or all together).")
@click.option("--relative", is_flag=True, help="Degradation as a percentage of the clean score.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Also write the whole summary (per language, curves, groups) as JSON.")
def robustness(run_dir, by, relative, output):
    """Degradation from clean under each noise setting, averaged per language family or script."""
    from modxfer.io import atomic_write_json, check_writable
    from modxfer.report import degradation_table

    if output:
        check_writable(output, file=True)
    from modxfer.sweeps import robustness as summarize_run

    summary = summarize_run(run_dir)
    if not summary["degradation"]:
        raise ModxferError(f"{run_dir} has no finished noisy evaluation with a clean reference to compare",
                           "add 'clean' and at least one noise setting to the config's noise list, then run it")
    console = Console()
    for t in degradation_table(summary, by, relative=relative):
        console.print(t)
    if output:
        atomic_write_json(output, summary)
        click.echo(f"wrote {output}")
