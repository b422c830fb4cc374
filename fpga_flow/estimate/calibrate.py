"""Fitting the cost model's constants on a folder of estimate pairs, and measuring the
error of the result, in sample and by leave-one-repository-out cross-validation (pairs
from one repository share a model family, a tool version and an author's habits, so a
fair test leaves the whole repository out).

The fit, in order (each step uses only the training pairs it is given):

1. ``known_digits_ratio``: the share of constant weights with enough CSD
   digits for a DSP, pooled over the products whose weights are known.
2. Latency constants: coordinate descent over a grid of each, minimising the summed
   ``|log((estimate + 1) / (report + 1))|`` of latency and interval over the pairs.
3. LUT and FF costs per counted quantity: non-negative least squares on relative
   errors (each pair's total divided by its reported total, so small and large designs
   weigh the same), plus each per-layer truth at weight ``LAYER_WEIGHT``.
4. Post-synthesis ratios: the median of Vivado's figure over the csynth estimate.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from fpga_flow.errors import UserInputError
from fpga_flow.estimate.calibration import Calibration, FigureError, Scope
from fpga_flow.estimate.cost import count_layer, count_top
from fpga_flow.estimate.counts import FF_FACTORS, FF_TERMS, LUT_TERMS, REGISTER_TERMS, TOP_FF_TERMS, Rules, design_traits
from fpga_flow.estimate.design import Design
from fpga_flow.estimate.estimator import CSYNTH, RESOURCES, VIVADO_SYNTH, Estimate, price, scope_key
from fpga_flow.estimate.from_pair import PROJECT_FILE, load_pair_design
from fpga_flow.estimate.products import uniform_digits_share, weight_bits
from fpga_flow.estimate.timing import LATENCY_CONSTANTS, design_timing, layer_timing, timed_registers
from fpga_flow.estimate.truth import CSYNTH_FIGURES, SYNTH_FIGURES, PairTruth, load_pair_truth

# Weight of a pair's per-layer reports against its total, per figure fitted.
LAYER_WEIGHT = {"LUT": 0.5, "FF": 1.0}
TIMING_LAYER_WEIGHT = 1.0  # the same, in the latency fit
# The grids span physically plausible values: a multiplication takes a few ns on any AMD
# part (a DSP48 multiply 2-4 ns), so its delay stops at 8 ns; beyond it, it only trades
# against the 7-series slowdown and leaves the fit unstable between folds.
TIMING_GRID: dict[str, tuple[float, ...]] = {
    "t_mult_ns": tuple(np.round(np.arange(0.5, 8.01, 0.25), 2)),
    "t_add_ns": tuple(np.round(np.arange(0.0, 2.01, 0.05), 2)),
    "t_shift_add_ns": tuple(np.round(np.arange(0.0, 3.01, 0.05), 2)),
    "t_sat_add_ns": tuple(np.round(np.arange(0.0, 4.01, 0.1), 2)),
    "seven_series_slowdown": tuple(np.round(np.arange(1.0, 4.01, 0.1), 2)),
    "shared_word_cycles": tuple(float(v) for v in range(0, 41)),
    "step_cycles": tuple(float(v) for v in range(0, 31)),
    "table_cycles": tuple(float(v) for v in range(0, 6)),
    "top_cycles": tuple(float(v) for v in range(0, 16)),
    "layer_cycles": tuple(float(v) for v in np.arange(0.0, 3.01, 0.25)),
}
START_TIMING = {"t_mult_ns": 3.0, "t_add_ns": 0.5, "t_shift_add_ns": 0.5, "t_sat_add_ns": 1.0, "seven_series_slowdown": 1.5, "shared_word_cycles": 8.0,
                "step_cycles": 5.0, "table_cycles": 1.0, "top_cycles": 3.0, "layer_cycles": 0.0}
RULES = Rules()
# Terms the training pairs may have none of: priced as the plain quantity they refine (a
# saturating adder costs at least an adder), or by what the hardware stores (a LUT6 holds
# a 64-bit ROM; io_parallel stage registers as io_stream's), rather than left to the
# solver's start value.
# Register quantities counted bit for bit (counts.REGISTER_TERMS): one flip-flop each, not fitted.
FIXED_COSTS: dict[str, float] = dict.fromkeys(REGISTER_TERMS, 1.0)
FALLBACK_TERMS: dict[str, str | float] = {"sat_adder_bits": "adder_bits", "rom_lut_bits": 1 / 64,
                                          "table_lut_bits": 1 / 64, "parallel_stage_bits": "stage_bits"}


# A pair whose HLS script binds every multiplication by hand (``config_op mul -impl dsp``
# or ``-impl fabric``, named in its reliability notes) is not hls4ml's design: its
# multipliers sit where the author put them, not where HLS would, so the resources that
# binding moves are neither fitted to nor judged by; its BRAM and cycles still are.
HAND_BINDING = re.compile(r"config_op\s+mul\b")
HAND_BOUND_FIGURES = ("LUT", "FF", "DSP", "latency", "interval")
# Post-synthesis figures counted from the csynth ones, with no fitted ratio.
SYNTH_COUNTED = ("DSP", "BRAM_18K")


@dataclass
class Pair:
    """One estimate pair: its description, its reports, and the repository it came from."""

    name: str
    repository: str
    design: Design
    truth: PairTruth
    untrusted: tuple[str, ...] = ()  # figures its reports give for a design hls4ml did not make (HAND_BINDING)
    note: str | None = None  # why they are untrusted, in words


@dataclass
class PairResult:
    """The estimate of one pair next to its reports."""

    name: str
    estimate: Estimate | None
    truth: PairTruth | None
    reason: str | None = None
    untrusted: tuple[str, ...] = ()  # the pair's figures left out of every median (Pair.untrusted)


def load_pairs(folders: str | Path | list[str | Path]) -> tuple[list[Pair], list[tuple[str, str]]]:
    """Every pair in ``folders`` (one folder or several; a pair is a sub-folder with
    ``project.json``), and the ones that could not be read, with the reason."""
    folders = [Path(f) for f in (folders if isinstance(folders, (list, tuple)) else [folders])]
    pairs, failed = [], []
    for folder in folders:
        if not folder.is_dir():
            raise UserInputError(f"pairs folder {folder} does not exist: give a folder of estimate pairs")
        for path in sorted(p for p in folder.iterdir() if (p / PROJECT_FILE).is_file()):
            try:
                design = load_pair_design(path)
                truth = load_pair_truth(path, design)
            except UserInputError as exc:
                failed.append((path.name, str(exc)))
                continue
            project = json.loads((path / PROJECT_FILE).read_text(encoding="utf-8"))
            source = project.get("source") or {}
            notes = str((project.get("pair") or {}).get("reliability_notes") or "")
            bound = HAND_BINDING.search(notes)
            pairs.append(Pair(path.name, str(source.get("repo") or path.name), design, truth,
                              untrusted=HAND_BOUND_FIGURES if bound else (),
                              note="multipliers bound by hand in its HLS script (config_op mul -impl): "
                                   f"its {', '.join(HAND_BOUND_FIGURES)} are not fitted to or judged by" if bound else None))
    return pairs, failed


# --------------------------------------------------------------------------- fitting steps


def _known_digits_ratio(pairs: list[Pair]) -> float:
    """Weights with DSP-worthy CSD digits, over what uniform values of their bits would give."""
    eligible = expected = 0.0
    for pair in pairs:
        for layer in pair.design.layers:
            for product in layer.products:
                if product.constant and product.weight_digits is not None:
                    eligible += sum(product.weight_digits[RULES.const_dsp_digits:])
                    expected += sum(product.weight_digits) * uniform_digits_share(weight_bits(product),
                                                                                  RULES.const_dsp_digits)
    return round(eligible / expected, 4) if expected else 1.0


def _counts(pairs: list[Pair], fraction: float):
    return [[count_layer(layer, pair.design, RULES, fraction) for layer in pair.design.layers] for pair in pairs]


def _timings(pair: Pair, counts, timing: dict[str, float]):
    return [layer_timing(layer, c, pair.design, timing) for layer, c in zip(pair.design.layers, counts) if c.priced]


def _log_error(estimate: float, report: float | None) -> float:
    return 0.0 if report is None else abs(math.log((estimate + 1.0) / (report + 1.0)))


def _timing_loss(pairs: list[Pair], all_counts, timing: dict[str, float]) -> float:
    loss = 0.0
    for pair, counts in zip(pairs, all_counts):
        if "latency" in pair.untrusted:
            continue
        timings = _timings(pair, counts, timing)
        latency, interval = design_timing(pair.design, timings, timing["top_cycles"], timing["layer_cycles"])
        loss += _log_error(latency, pair.truth.csynth.get("latency"))
        loss += _log_error(interval, pair.truth.csynth.get("interval"))
        priced = [layer for layer, c in zip(pair.design.layers, counts) if c.priced]
        reported = [(layer_timing_.latency, pair.truth.layers[layer.name]["latency"])
                    for layer, layer_timing_ in zip(priced, timings)
                    if pair.truth.layers.get(layer.name, {}).get("latency") is not None]
        for estimate, report in reported:
            loss += TIMING_LAYER_WEIGHT / math.sqrt(len(reported)) * _log_error(estimate, report)
    return loss


def _fit_timing(pairs: list[Pair], all_counts, rounds: int = 3) -> dict[str, float]:
    timing = dict(START_TIMING)
    chained = any(product.chained for counts in all_counts for c in counts for product in c.products)
    for _ in range(rounds):
        for name in LATENCY_CONSTANTS:
            if name == "t_sat_add_ns" and not chained:
                continue  # no pair has a chain of saturating additions: priced as plain additions below
            timing[name] = min(TIMING_GRID[name], key=lambda value: _timing_loss(pairs, all_counts, {**timing, name: value}))
    if not chained:
        timing["t_sat_add_ns"] = timing["t_add_ns"]
    return timing


def _timed_registers(pair: Pair, counts, timing: dict[str, float]) -> None:
    for layer, c in zip(pair.design.layers, counts):
        if c.priced:
            timed_registers(c, layer_timing(layer, c, pair.design, timing), pair.design, timing)


def _top_counts(pair: Pair, figure: str, counts) -> dict[str, float]:
    """The design-level quantities of ``figure``: the top function's registers (FF), or
    a constant per design (LUT's ``design`` term)."""
    return count_top(pair.design, RULES, counts) if figure == "FF" else {"design": 1.0}


def _fit_costs(pairs: list[Pair], all_counts, figure: str, terms: tuple[str, ...],
               factors: tuple[str, ...] = ()) -> tuple[dict[str, float], dict[str, float]]:
    """Cost per unit of each term (``figure`` is 'LUT' or 'FF') and a multiplicative
    factor per design trait in ``factors``: non-negative constants minimising the robust
    (soft-L1) sum of squared log ratios of estimate to report, over the pairs' totals,
    their per-layer reports (a pair's layers weigh ``LAYER_WEIGHT[figure]`` / sqrt(count))
    and, for FF, the top function's own registers (weighing as much as one layer)."""
    from scipy.optimize import least_squares

    attribute = "lut" if figure == "LUT" else "ff"
    rows, reports, weights, traits = [], [], [], []
    for pair, counts in zip(pairs, all_counts):
        trait = [design_traits(pair.design)[name] for name in factors]
        top = _top_counts(pair, figure, counts)
        layer_row = lambda c: [getattr(c, attribute).get(t, 0.0) for t in terms]  # noqa: E731
        if figure in pair.untrusted:
            continue
        report = pair.truth.csynth.get(figure)
        if report:
            rows.append([sum(getattr(c, attribute).get(t, 0.0) for c in counts) + top.get(t, 0.0) for t in terms])
            reports.append(report)
            weights.append(1.0)
            traits.append(trait)
        reported = [(layer, c) for layer, c in zip(pair.design.layers, counts)
                    if c.priced and pair.truth.layers.get(layer.name, {}).get(figure)]
        for layer, c in reported:
            rows.append(layer_row(c))
            reports.append(pair.truth.layers[layer.name][figure])
            weights.append(LAYER_WEIGHT[figure] / math.sqrt(len(reported)))
            traits.append(trait)
        top_report = (pair.truth.top_level or {}).get(figure) if figure == "FF" else None
        if top_report and any(top.values()):
            rows.append([top.get(t, 0.0) for t in terms])
            reports.append(top_report)
            weights.append(LAYER_WEIGHT[figure])
            traits.append(trait)
    if not rows:
        return dict.fromkeys(terms, 0.0), dict.fromkeys(factors, 1.0)
    matrix, target, weight = np.array(rows, dtype=float), np.array(reports, dtype=float), np.array(weights)
    flags = np.array(traits, dtype=bool).reshape(len(rows), len(factors))
    fixed = [index for index, term in enumerate(terms) if term in FIXED_COSTS]
    known = matrix[:, fixed] @ np.array([FIXED_COSTS[terms[index]] for index in fixed]) if fixed else 0.0
    matrix[:, fixed] = 0.0
    # Unknowns are scaled to "share of the typical report": comparable magnitudes for the solver.
    scale = np.maximum(matrix.max(axis=0), 1.0) / np.median(target)
    n = len(terms)

    def residuals(x: np.ndarray) -> np.ndarray:
        estimate = matrix @ (x[:n] / scale) + known
        for index in range(len(factors)):
            estimate = estimate * np.where(flags[:, index], x[n + index], 1.0)
        return weight * np.log((estimate + 1.0) / (target + 1.0))

    start = np.concatenate([np.full(n, 0.1), np.ones(len(factors))])
    bounds = (np.concatenate([np.zeros(n), np.full(len(factors), 0.2)]),
              np.concatenate([np.full(n, np.inf), np.full(len(factors), 5.0)]))
    solution = least_squares(residuals, start, bounds=bounds, loss="soft_l1", f_scale=0.3).x
    costs = {term: FIXED_COSTS.get(term, float(f"{value:.6g}")) for term, value in zip(terms, solution[:n] / scale)}
    for term, fallback in FALLBACK_TERMS.items():
        if term in costs and not matrix[:, terms.index(term)].any():
            costs[term] = costs.get(fallback, 0.0) if isinstance(fallback, str) else fallback
    found = {name: round(float(solution[n + i]), 4) if flags[:, i].any() and (~flags[:, i]).any() else 1.0
             for i, name in enumerate(factors)}
    return costs, found


def _scope(pairs: list[Pair]) -> Scope:
    return Scope(
        layer_kinds=sorted({scope_key(layer) for pair in pairs for layer in pair.design.layers
                            if layer.kind != "unknown"}),
        strategies=sorted({layer.strategy for pair in pairs for layer in pair.design.layers}),
        io_types=sorted({pair.design.io_type for pair in pairs}),
        families=sorted({pair.design.family for pair in pairs}),
    )


def fit(pairs: list[Pair], version: str = "fit", fitted_on: str = "") -> Calibration:
    """Constants fitted on ``pairs`` (the error fields are left empty)."""
    if not pairs:
        raise UserInputError("no pairs to fit on")
    fraction = _known_digits_ratio(pairs)
    all_counts = _counts(pairs, fraction)
    timing = _fit_timing(pairs, all_counts)
    for pair, counts in zip(pairs, all_counts):
        _timed_registers(pair, counts, timing)
    lut, _ = _fit_costs(pairs, all_counts, "LUT", LUT_TERMS)
    ff, ff_factors = _fit_costs(pairs, all_counts, "FF", FF_TERMS + TOP_FF_TERMS, FF_FACTORS)
    calibration = Calibration(
        version=version, fitted_on=fitted_on, pairs=len(pairs), repositories=len({p.repository for p in pairs}),
        known_digits_ratio=fraction, lut=lut, ff=ff, ff_factors=ff_factors, timing=timing,
        synth_ratio={}, error={},
        scope=_scope(pairs),
    )
    # The ratios scale what Vivado synthesis starts from: the post-synthesis figures of a
    # calibration whose ratios are all 1. DSP and BRAM_18K are counted, not scaled: Vivado
    # keeps HLS's DSPs, and its block RAMs are csynth's less the shallow ROMs and FIFOs it
    # rebuilds from LUTs (Rules.synth_rom_max_depth, synth_fifo_max_depth; a fitted BRAM
    # ratio, 0.695 on the 14 pairs, moved with the pairs left out: LORO 21% against 10%
    # counted).
    calibration.synth_ratio = dict.fromkeys(RESOURCES, 1.0)
    ratios = dict.fromkeys(SYNTH_COUNTED, 1.0)
    for key in (key for key in RESOURCES if key not in SYNTH_COUNTED):
        found = []
        for pair in pairs:
            synth = pair.truth.vivado_synth or {}
            if key in pair.untrusted or synth.get(key) is None:
                continue
            estimate = getattr(price(pair.design, calibration=calibration).vivado_synth, key)
            if estimate:
                found.append(synth[key] / estimate)
        ratios[key] = round(statistics.median(found), 4) if found else 1.0
    calibration.synth_ratio = ratios
    return calibration


# --------------------------------------------------------------------------- judging


def figure_values(estimate: Estimate, kind: str) -> dict[str, float]:
    figures = estimate.csynth if kind == CSYNTH else estimate.vivado_synth
    values = {key: getattr(figures, key) for key in RESOURCES}
    if kind == CSYNTH:
        values["latency"], values["interval"] = figures.latency_cycles, figures.interval_cycles
    return values


def ape(estimate: float | None, report: float | None) -> float | None:
    """|estimate - report| / report; None when the report has no (or a zero) figure."""
    if estimate is None or report is None or report == 0:
        return None
    return abs(estimate - report) / report


def median_errors(results: list[PairResult], kind: str) -> dict[str, FigureError]:
    figures = CSYNTH_FIGURES if kind == CSYNTH else SYNTH_FIGURES
    found: dict[str, list[float]] = {figure: [] for figure in figures}
    for result in results:
        if result.estimate is None or result.truth is None:
            continue
        truth = result.truth.csynth if kind == CSYNTH else result.truth.vivado_synth
        if truth is None:
            continue
        values = figure_values(result.estimate, kind)
        for figure in figures:
            error = ape(values[figure], truth.get(figure))
            if error is not None and figure not in result.untrusted:
                found[figure].append(error)
    return {figure: FigureError(in_sample=round(statistics.median(errs), 4) if errs else None, cross_validated=None,
                                pairs=len(errs)) for figure, errs in found.items()}


LAYER_FIGURES = (*RESOURCES, "latency")
# Below this many reported LUTs (or FFs) a layer's module is glue: its percentage error says nothing.
LAYER_MIN_REPORT = 50


def layer_rows(pairs: list[Pair], results: list[PairResult]) -> list[dict]:
    """Each layer with a per-module report, its estimate next to it: the per-layer truth."""
    rows = []
    for pair, result in zip(pairs, results):
        if result.estimate is None:
            continue
        for layer in result.estimate.per_layer:
            report = pair.truth.layers.get(layer.layer)
            if not layer.priced or not report:
                continue
            estimate = {"LUT": layer.LUT, "FF": layer.FF, "DSP": layer.DSP, "BRAM_18K": layer.BRAM_18K,
                        "latency": layer.latency_cycles}
            figures = {}
            for figure in LAYER_FIGURES:
                reported = report.get(figure)
                glue = figure in ("LUT", "FF") and (reported or 0) < LAYER_MIN_REPORT
                judged = figure not in pair.untrusted and not glue
                figures[figure] = {"estimate": estimate[figure], "report": reported,
                                   "ape": ape(estimate[figure], reported) if judged else None}
            rows.append({"name": f"{pair.name}/{layer.layer}", "kind": layer.kind, "io_type": pair.design.io_type,
                         "figures": figures})
    return rows


def layer_errors(pairs: list[Pair], results: list[PairResult]) -> dict[str, dict[str, float | None]]:
    """Median per-layer error per layer kind with its io type (Calibration.layer_error)."""
    groups: dict[str, list[dict]] = {}
    for row in layer_rows(pairs, results):
        groups.setdefault(f"{row['kind']} ({row['io_type']})", []).append(row)
    found = {}
    for key, rows in sorted(groups.items()):
        errors = {figure: [row["figures"][figure]["ape"] for row in rows if row["figures"][figure]["ape"] is not None]
                  for figure in LAYER_FIGURES}
        found[key] = {**{figure: round(statistics.median(e), 4) if e else None for figure, e in errors.items()},
                      "layers": len(rows)}
    return found


def estimate_pairs(pairs: list[Pair], calibration_for: Callable[[Pair], Calibration]) -> list[PairResult]:
    """Each pair priced by the calibration ``calibration_for`` gives it."""
    return [PairResult(pair.name, price(pair.design, calibration=calibration_for(pair)), pair.truth,
                       untrusted=pair.untrusted) for pair in pairs]


def cross_validated(pairs: list[Pair]) -> list[PairResult]:
    """Each pair priced by constants fitted on every other repository."""
    fits: dict[str, Calibration] = {}
    for repository in sorted({pair.repository for pair in pairs}):
        fits[repository] = fit([pair for pair in pairs if pair.repository != repository], version="cv")
    return estimate_pairs(pairs, lambda pair: fits[pair.repository])


def calibrate(folder: str | Path | list[str | Path]) -> Calibration:
    """Fit on every pair of ``folder`` and record the in-sample and cross-validated error;
    the version names the constants (a digest of them), so any refit changes it."""
    pairs, failed = load_pairs(folder)
    if failed:
        names = ", ".join(f"{name} ({reason})" for name, reason in failed)
        raise UserInputError(f"pairs that cannot be read: {names}")
    names = [Path(f).name for f in (folder if isinstance(folder, (list, tuple)) else [folder])]
    calibration = fit(pairs, fitted_on=" + ".join(names))
    constants = calibration.model_dump_json(include={"known_digits_ratio", "lut", "ff", "ff_factors", "timing",
                                                     "synth_ratio"})
    calibration.version = f"v1-{hashlib.sha256(constants.encode()).hexdigest()[:8]}"
    in_sample = estimate_pairs(pairs, lambda pair: calibration)
    held_out = cross_validated(pairs)
    for kind in (CSYNTH, VIVADO_SYNTH):
        errors = median_errors(in_sample, kind)
        for figure, error in median_errors(held_out, kind).items():
            errors[figure].cross_validated = error.in_sample
        calibration.error[kind] = errors
    calibration.layer_error = layer_errors(pairs, held_out)
    return calibration


def write_calibration(folder: str | Path | list[str | Path], path: str | Path) -> Calibration:
    calibration = calibrate(folder)
    Path(path).write_text(calibration.to_json(), encoding="utf-8")
    return calibration
