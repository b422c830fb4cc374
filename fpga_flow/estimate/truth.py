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
from fpga_flow.reports import ParsedReport, parse_report

# The figures the estimate predicts, by kind of truth.
CSYNTH_FIGURES = ("LUT", "FF", "DSP", "BRAM_18K", "latency", "interval")
SYNTH_FIGURES = ("LUT", "FF", "DSP", "BRAM_18K")
CSYNTH, VIVADO_SYNTH = "csynth", "vivado_synth"
_CONFIG = re.compile(r"(?:^|_)((?:[a-z]+_)?config\d+(?:_mult)?)(?=_|$)")


@dataclass
class PairTruth:
    """A pair's reported figures: csynth totals, post-synthesis totals when the pair has
    ``vivado_synth.rpt``, and csynth figures per layer where per-module reports match."""

    csynth: dict[str, float | None]
    vivado_synth: dict[str, float | None] | None = None
    layers: dict[str, dict[str, float | None]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def _figures(report: ParsedReport) -> dict[str, float | None]:
    figures: dict[str, float | None] = {key: report.resources.get(key) for key in ("LUT", "FF", "DSP", "BRAM_18K")}
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
        found = _CONFIG.findall(path.name.lower())
        if found and not found[-1].endswith("_mult"):
            by_config.setdefault(found[-1], []).append(report)
        elif not found:
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
    truth.layers = _match_modules(pair, design, configs)
    return truth
