"""What the real reports of an estimate pair say: the truth the estimate is fitted to
and judged by, kept apart by kind (``csynth``: the HLS estimate; ``vivado_synth``:
Vivado's post-synthesis utilization).

Reports are read with :mod:`fpga_flow.reports`; this module only chooses the files and
matches per-module reports to the layers of the pair's :class:`Design`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from fpga_flow.errors import UserInputError
from fpga_flow.estimate.design import Design
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS
from fpga_flow.reports import ParsedReport, parse_report

# The figures the estimate predicts, by kind of truth.
CSYNTH_FIGURES = (*ESTIMATED_RESOURCE_KEYS, "latency", "interval")
SYNTH_FIGURES = ESTIMATED_RESOURCE_KEYS
CSYNTH, VIVADO_SYNTH = "csynth", "vivado_synth"
_CONFIG = re.compile(r"(?:^|_)((?:[a-z]+_)?config\d+(?:_mult)?)(?=_|$)")


@dataclass
class PairTruth:
    """A pair's reported figures: csynth totals, post-synthesis totals when the pair has
    ``vivado_synth.rpt``, csynth figures per layer where the top report's instances or
    the per-module reports match a layer, and the top function's own resources (its
    FIFOs and registers: the total less every instance), when its text report lists them."""

    csynth: dict[str, float | None]
    vivado_synth: dict[str, float | None] | None = None
    layers: dict[str, dict[str, float | None]] = field(default_factory=dict)
    top_level: dict[str, float | None] | None = None
    sources: dict[str, str] = field(default_factory=dict)


def _figures(report: ParsedReport) -> dict[str, float | None]:
    figures: dict[str, float | None] = {key: report.resources.get(key) for key in ESTIMATED_RESOURCE_KEYS}
    figures["latency"] = report.latency.worst
    figures["interval"] = report.interval.max
    return figures


def _top_report(reports: Path, project: str | None) -> Path:
    candidates = sorted(reports.glob("*_csynth.xml"))
    named = [path for path in candidates if project and path.name == f"{project}_csynth.xml"]
    chosen = named or candidates or sorted(reports.glob("csynth.xml"))
    if not chosen:
        raise UserInputError(f"{reports}: no top-level *_csynth.xml report")
    return chosen[0]


def _config_of(module_name: str) -> str | None:
    """The layer config struct a module name carries (``..._config5_s`` -> ``config5``), or
    None (no config, or a layer's multiplication sub-module ``config5_mult``)."""
    found = _CONFIG.findall(module_name.lower())
    return found[-1] if found and not found[-1].endswith("_mult") else None


def _match_instances(report: ParsedReport, configs: dict[str, str]) -> dict[str, dict[str, float | None]]:
    """Per-layer csynth figures from the top report's instance table, by the config
    struct in each instance's module name (the top's instances are the layers' outermost
    modules; io_parallel modules of hls4ml < 0.8 carry no config and stay unmatched)."""
    matched: dict[str, dict[str, float | None]] = {}
    for module in report.modules:
        name = configs.get(_config_of(module.name) or "")
        if name is not None and name not in matched:
            figures: dict[str, float | None] = {key: module.resources.get(key) for key in ESTIMATED_RESOURCE_KEYS}
            figures["latency"], figures["interval"] = module.latency_cycles.get("worst"), module.interval_cycles.get("max")
            matched[name] = figures
    return matched


def _top_level(report: ParsedReport) -> dict[str, float | None] | None:
    """The top function's resources outside its instances (FIFOs, registers, muxes), or
    None when the report lists no instance."""
    if not report.modules:
        return None
    return {key: None if report.resources.get(key) is None else
            report.resources[key] - sum(module.resources.get(key) or 0 for module in report.modules)
            for key in ESTIMATED_RESOURCE_KEYS}


def _port_counts(path: Path) -> tuple[int, int]:
    """(data input ports, return ports) of a module report: the shape of an io_parallel
    layer whose module name does not carry its config struct."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return len(re.findall(r"<name>data_\d+", text)) or len(re.findall(r"<name>data", text)), \
        len(re.findall(r"<name>ap_return_\d+", text))


def _match_modules(pair: Path, design: Design, configs: dict[str, str]) -> dict[str, dict[str, float | None]]:
    """Per-layer csynth figures from ``reports/modules/*.xml``: by the config struct in the
    module name (the outermost module, the one using most LUTs, when several carry it),
    else by the module's port counts against an unmatched layer of the same function."""
    folder = pair / "reports" / "modules"
    if not folder.is_dir():
        return {}
    by_config: dict[str, list[ParsedReport]] = {}
    unnamed: list[tuple[Path, ParsedReport]] = []
    for path in sorted(folder.glob("*.xml")):
        report = parse_report(path)
        config = _config_of(path.name)
        if config is not None:
            by_config.setdefault(config, []).append(report)
        elif not _CONFIG.findall(path.name.lower()):
            unnamed.append((path, report))
    matched: dict[str, dict[str, float | None]] = {}
    for config, name in configs.items():
        reports = by_config.get(config.lower())
        if reports:
            matched[name] = _figures(max(reports, key=lambda r: r.resources.get("LUT") or 0))
    layers = {layer.name: layer for layer in design.layers}
    for path, report in unnamed:
        function = path.name.split("_")[0]
        data_ports, returns = _port_counts(path)
        fits = [layer for layer in design.layers if layer.name not in matched and layer.source_class.startswith(function)
                and layer.out_elements == returns and (layer.in_elements == data_ports or data_ports == 1)]
        if len(fits) == 1 and fits[0].name in layers:
            matched[fits[0].name] = _figures(report)
    return matched


def load_pair_truth(pair: str | Path, design: Design) -> PairTruth:
    """The reports of the pair folder ``pair``, whose description is ``design``."""
    pair = Path(pair)
    reports = pair / "reports"
    project = json.loads((pair / "project.json").read_text(encoding="utf-8"))
    top = _top_report(reports, project.get("project_name"))
    truth = PairTruth(csynth=_figures(parse_report(top)), sources={CSYNTH: str(top.relative_to(pair))})
    synth = reports / "vivado_synth.rpt"
    if synth.is_file():
        figures = parse_report(synth).resources
        truth.vivado_synth = {key: figures.get(key) for key in SYNTH_FIGURES}
        truth.sources[VIVADO_SYNTH] = str(synth.relative_to(pair))
    configs = {str(entry.get("config_struct")): design.layers[index].name
               for index, entry in enumerate(project.get("layers") or []) if entry.get("config_struct")}
    text = top.with_suffix(".rpt")
    if text.is_file():
        report = parse_report(text)
        truth.layers = _match_instances(report, {config.lower(): name for config, name in configs.items()})
        truth.top_level = _top_level(report)
        truth.sources["layers"] = str(text.relative_to(pair))
    for name, figures in _match_modules(pair, design, configs).items():
        truth.layers.setdefault(name, figures)
    return truth
