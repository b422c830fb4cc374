"""Stage ``dashboard``: one self-contained static HTML page over runs (no network access;
charts are inline SVG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from fpga_flow.rundir import INCOMPLETE_NAME, SUMMARY_NAME

RESOURCE_KEYS = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")


def collect_runs(paths: list[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Summaries of the complete runs under ``paths``; warnings name what was skipped."""
    summaries, warnings = [], []
    for root in paths:
        root = Path(root)
        if not root.exists():
            warnings.append(f"{root}: does not exist, skipped")
            continue
        candidates = [root] if (root / SUMMARY_NAME).exists() or (root / INCOMPLETE_NAME).exists() else sorted(
            {p.parent for p in root.rglob(SUMMARY_NAME)} | {p.parent for p in root.rglob(INCOMPLETE_NAME)})
        if not candidates:
            warnings.append(f"{root}: no run directory (summary.json) found, skipped")
        for run_dir in candidates:
            if (run_dir / INCOMPLETE_NAME).exists() or not (run_dir / SUMMARY_NAME).exists():
                warnings.append(f"{run_dir}: incomplete run (no summary.json), skipped")
                continue
            try:
                summaries.append(json.loads((run_dir / SUMMARY_NAME).read_text()))
            except json.JSONDecodeError:
                warnings.append(f"{run_dir}: unreadable summary.json, skipped")
    return summaries, warnings


def resource_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """Resources from the vendor report when synthesis ran, else the estimate, marked."""
    report = (summary.get("synthesis") or {}).get("report")
    if report and report.get("resources"):
        source, used = "vendor report", report["resources"]
        latency = (report.get("latency_cycles") or {}).get("worst")
        interval = (report.get("interval_cycles") or {}).get("max")
    else:
        estimate = summary.get("estimate") or {}
        source, used = "estimate", estimate.get("resources") or {}
        latency, interval = estimate.get("latency_cycles"), estimate.get("interval_cycles")
    capacity = summary.get("board_resources") or {}
    bars = []
    for key in RESOURCE_KEYS:
        value, total = used.get(key), capacity.get(key)
        pct = None if value is None or not total else 100.0 * value / total
        bars.append({"key": key, "used": value, "total": total, "pct": pct})
    latency_ns = None if latency is None else latency * summary["clock_period_ns"]
    return {"source": source, "bars": bars, "latency_cycles": latency, "latency_ns": latency_ns, "interval": interval}


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("fpga_flow", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.2f}%"
    env.filters["num"] = lambda v: "n/a" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:,.4g}")
    return env


def render(summaries: list[dict[str, Any]], title: str) -> str:
    runs = [{"s": s, "res": resource_figures(s)} for s in summaries]
    return _environment().get_template("dashboard.html.j2").render(
        title=title, runs=runs, models=sorted({s["model"] for s in summaries}),
        boards=sorted({s["board"] for s in summaries}), pareto=_pareto(runs),
    )


def _pareto(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    points = [
        {"run": r["s"]["run_id"], "latency": r["res"]["latency_cycles"],
         "LUT": r["res"]["bars"][0]["used"], "DSP": r["res"]["bars"][2]["used"], "rf": r["s"]["reuse_factor"]}
        for r in runs if r["res"]["latency_cycles"] is not None and r["res"]["bars"][0]["used"] is not None
    ]
    for p in points:
        p["pareto"] = not any(
            q["latency"] <= p["latency"] and q["LUT"] <= p["LUT"] and (q["latency"], q["LUT"]) != (p["latency"], p["LUT"])
            for q in points
        )
    return points


def write_dashboard(summaries: list[dict[str, Any]], out_dir: str | Path, title: str = "fpga-flow runs") -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "index.html"
    page.write_text(render(summaries, title), encoding="utf-8")
    return page


def write_run_page(run_dir: str | Path) -> Path:
    """The page of one finished run, written beside its summary.json."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / SUMMARY_NAME).read_text())
    page = run_dir / "dashboard.html"
    page.write_text(render([summary], f"{summary['model']} on {summary['board']}"), encoding="utf-8")
    return page
