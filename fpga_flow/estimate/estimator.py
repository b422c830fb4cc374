"""Pricing a :class:`Design`: the counts of :mod:`fpga_flow.estimate.cost` times the
fitted constants of a :class:`Calibration`, per layer and for the whole design, for
both kinds of truth.

:func:`price` takes per-layer overrides of the reuse factor and strategy (a plan), so
a search over plans re-prices one description without converting anything again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fpga_flow.errors import UserInputError
from fpga_flow.estimate.calibration import Calibration, load_calibration
from fpga_flow.estimate.cost import count_layer, count_top
from fpga_flow.estimate.counts import Rules, design_traits
from fpga_flow.estimate.design import COMPUTED_PRODUCTS, UNROLLED_PRODUCTS, Design, LayerDesign, is_wiring
from fpga_flow.estimate.timing import design_timing, layer_timing, timed_registers
from fpga_flow.layers import LATENCY_KEY, RESOURCE_KEY
from fpga_flow.records.estimate import (  # noqa: F401 (the records, defined data-only, re-exported)
    CSYNTH,
    FIRST_ORDER,
    KIND_MEANING,
    MODEL_NAME,
    RESOURCES,
    VIVADO_SYNTH,
    Estimate,
    Figures,
    LayerEstimate,
)


class LayerPlan(BaseModel):
    """A change to one layer before pricing: its reuse factor, strategy and/or, for an
    io_parallel convolution, its ParallelizationFactor (pixels computed side by side)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reuse_factor: int | None = Field(default=None, ge=1)
    strategy: Literal[LATENCY_KEY, RESOURCE_KEY] | None = None
    parallelization_factor: int | None = Field(default=None, ge=1)


# hls4ml 1.3.0 kinds whose io_parallel kernel loops over n_partitions = out pixels /
# ParallelizationFactor, PF pixels unrolled per iteration (nnet_conv1d_latency.h,
# nnet_conv2d_latency.h, *_resource.h); their products' ``parallel`` is PF, so a factor
# multiplies the multipliers by PF and divides the partition loop's steps by it. Its
# io_stream kernels (nnet_conv_stream.h, nnet_conv1d_stream.h, nnet_conv2d_stream.h)
# never read the factor.
PARTITIONED_KINDS = frozenset({"conv1d", "conv2d", "pointwise_conv1d", "pointwise_conv2d"})


def _partitioned(layer: LayerDesign) -> bool:
    """Whether an io_parallel convolution runs more than one partition (hls4ml then makes the top DATAFLOW)."""
    return (layer.kind in PARTITIONED_KINDS and layer.io_type == "io_parallel"
            and any(p.positions > p.parallel for p in layer.products))


def _with_factor(layer: LayerDesign, products: list, factor: int | None) -> list:
    """``products`` of ``layer`` at ParallelizationFactor ``factor`` (None: unchanged)."""
    if factor is None:
        return products
    positions = max((p.positions for p in products), default=1)
    if layer.kind not in PARTITIONED_KINDS or layer.io_type != "io_parallel" or positions % factor:
        raise UserInputError(f"layer {layer.name}: ParallelizationFactor {factor} applies only to an io_parallel "
                             f"convolution and must divide its {positions} output pixels: choose a divisor, or none")
    return [p.model_copy(update={"parallel": factor}) for p in products]


def apply_plan(design: Design, plan: dict[str, LayerPlan]) -> Design:
    """``design`` with the planned reuse factors and strategies applied to the named layers."""
    if not plan:
        return design
    unknown = sorted(set(plan) - {layer.name for layer in design.layers})
    if unknown:
        raise UserInputError(f"plan names layers the design does not have: {', '.join(unknown)}")
    layers: list[LayerDesign] = []
    for layer in design.layers:
        change = plan.get(layer.name)
        if change is None:
            layers.append(layer)
            continue
        strategy = change.strategy or layer.strategy
        reuse = change.reuse_factor or layer.reuse_factor
        products = [p if p.name in UNROLLED_PRODUCTS else
                    p.model_copy(update={"reuse_factor": reuse,
                                         "constant": strategy == LATENCY_KEY and p.name not in COMPUTED_PRODUCTS})
                    for p in layer.products]
        products = _with_factor(layer, products, change.parallelization_factor)
        layers.append(layer.model_copy(update={"strategy": strategy, "reuse_factor": reuse, "products": products}))
    return design.model_copy(update={"layers": layers, "pipeline_style": planned_pipeline_style(design, layers)})


def planned_pipeline_style(design: Design, layers: list[LayerDesign]) -> str:
    """The top function's style hls4ml 1.3.0 chooses for the planned ``layers``
    (SetPipelineStyle, style "auto"): DATAFLOW for io_stream, for convolutions split in
    partitions, and when any layer uses the Resource strategy; else io_parallel is one
    pipeline. A design already DATAFLOW with no Resource layer and no partitioned
    convolution described is so for a reason a plan does not change."""
    if (design.io_type == "io_stream" or any(layer.strategy == RESOURCE_KEY for layer in layers)
            or any(_partitioned(layer) for layer in layers)):
        return "dataflow"
    kept = (design.pipeline_style == "dataflow" and not any(layer.strategy == RESOURCE_KEY for layer in design.layers)
            and not any(_partitioned(layer) for layer in design.layers))
    return "dataflow" if kept else "pipeline"


# A layer kind whose measured per-layer error exceeds this (fraction) is named in the scope notes.
LAYER_ERROR_NOTE = 0.5


def scope_key(layer: LayerDesign) -> str:
    """A layer kind as the scope counts it: with its io type, which changes its hardware."""
    return f"{layer.kind} ({layer.io_type})"


def _scope_notes(design: Design, calibration: Calibration) -> list[str]:
    scope = calibration.scope
    notes = []
    kinds = sorted({scope_key(layer) for layer in design.layers
                    if scope_key(layer) not in scope.layer_kinds and not is_wiring(layer)})
    if kinds:
        notes.append(f"layer kinds not in the calibration pairs: {', '.join(kinds)}")
    # The kinds the pairs' per-module reports measured off by more than LAYER_ERROR_NOTE:
    # each named with its measured error, from calibration.json (written by the refit).
    for key in sorted({scope_key(layer) for layer in design.layers if not is_wiring(layer)}):
        measured = calibration.layer_error.get(key) or {}
        large = [f"{figure} {100 * measured[figure]:.0f}%" for figure in ("LUT", "FF", "DSP", "latency")
                 if (measured.get(figure) or 0) > LAYER_ERROR_NOTE]
        if large:
            notes.append(f"{key}: measured per-layer error {', '.join(large)} (cross-validated median over "
                         f"{int(measured.get('layers') or 0)} layers of the pairs)")
    factored = [layer.name for layer in design.layers if layer.kind in PARTITIONED_KINDS
                and layer.io_type == "io_parallel" and any(p.parallel > 1 for p in layer.products)]
    if factored:
        # The one calibration pair with a factor (calwilee_sepconv2d_parallel_pf4) is a
        # SeparableConv2D at PF 4: DSP, latency and interval within 5%, LUT 97% under
        # (docs/measured/estimate_error.md).
        notes.append(f"ParallelizationFactor > 1 ({', '.join(factored)}): no calibration pair has a Conv1D/Conv2D "
                     "with one; priced by rule (PF times the multipliers, out pixels / PF partition steps)")
    strategies = sorted({layer.strategy for layer in design.layers if layer.strategy not in scope.strategies})
    if strategies:
        notes.append(f"strategies not in the calibration pairs: {', '.join(strategies)}")
    if design.io_type not in scope.io_types:
        notes.append(f"io type {design.io_type} not in the calibration pairs")
    if design.family not in scope.families:
        notes.append(f"device family {design.family} not in the calibration pairs ({', '.join(scope.families)})")
    return notes


def price(design: Design, plan: dict[str, LayerPlan] | None = None, calibration: Calibration | None = None,
          available: dict[str, int] | None = None) -> Estimate:
    """The estimate of ``design`` (with ``plan`` applied), priced by ``calibration``
    (the shipped one by default); ``available`` are the board's resources."""
    calibration = calibration or load_calibration()
    design = apply_plan(design, plan or {})
    rules = Rules()
    totals = dict.fromkeys(RESOURCES, 0.0)
    shallow_rom = 0
    layers: list[LayerEstimate] = []
    timings = []
    priced = []
    traits = design_traits(design)
    for layer in design.layers:
        counts = count_layer(layer, design, rules, calibration.known_digits_ratio)
        if not counts.priced:
            layers.append(LayerEstimate(layer=layer.name, kind=layer.kind, priced=False, multipliers=None,
                                        reuse_factor=layer.reuse_factor, strategy=layer.strategy, LUT=None, FF=None,
                                        DSP=None, BRAM_18K=None, latency_cycles=None, notes=counts.notes))
            continue
        timing = layer_timing(layer, counts, design, calibration.timing)
        timings.append(timing)
        timed_registers(counts, timing, design, calibration.timing)
        priced.append(counts)
        lut = sum(calibration.lut.get(term, 0.0) * value for term, value in counts.lut.items())
        ff = _ff(counts.ff, traits, calibration)
        figures = {"LUT": lut, "FF": ff, "DSP": counts.dsp, "BRAM_18K": counts.bram}
        for key in RESOURCES:
            totals[key] += figures[key]
        shallow_rom += counts.shallow_rom_bram
        layers.append(LayerEstimate(
            layer=layer.name, kind=layer.kind, priced=True, multipliers=counts.multipliers,
            reuse_factor=layer.reuse_factor, strategy=layer.strategy, LUT=round(lut), FF=round(ff), DSP=counts.dsp,
            BRAM_18K=counts.bram, latency_cycles=timing.latency, notes=counts.notes))
    totals["LUT"] += calibration.lut.get("design", 0.0)
    totals["FF"] += _ff(count_top(design, rules, priced), traits, calibration)
    latency, interval = design_timing(design, timings, calibration.timing["top_cycles"],
                                      calibration.timing.get("layer_cycles", 0.0))
    csynth = Figures(kind="csynth", latency_cycles=latency, interval_cycles=interval,
                     **{key: round(totals[key]) for key in RESOURCES})
    capacity = available or design.available or {}
    # What Vivado synthesis starts from: csynth's figures less the shallow weight ROMs it
    # rebuilds in LUTs; the fitted ratios (synth_ratio) scale that.
    basis = {**totals, "BRAM_18K": totals["BRAM_18K"] - shallow_rom}
    synth = {key: round(basis[key] * calibration.synth_ratio.get(key, 1.0)) for key in RESOURCES}
    if capacity.get("DSP") is not None:
        # Vivado maps what does not fit in the part's DSP slices to LUTs.
        synth["DSP"] = min(synth["DSP"], capacity["DSP"])
    vivado_synth = Figures(kind="vivado_synth", **synth)
    notes = _scope_notes(design, calibration)
    unpriced = [layer.layer for layer in layers if not layer.priced]
    if unpriced:
        notes.append(f"layers the estimator cannot price, left out of every figure: {', '.join(unpriced)}")
    return Estimate(
        model=f"{MODEL_NAME} {calibration.version}", design=f"{design.name} ({design.source})", family=design.family,
        clock_period_ns=design.clock_period_ns, csynth=csynth, vivado_synth=vivado_synth,
        latency_ns=round(latency * design.clock_period_ns, 3), per_layer=layers, unpriced_layers=unpriced,
        utilization_pct=_utilization({CSYNTH: csynth, VIVADO_SYNTH: vivado_synth}, capacity) if capacity else None,
        error={kind: {figure: err.cross_validated for figure, err in figures.items()}
               for kind, figures in calibration.error.items()},
        in_scope=not notes, scope_notes=notes,
    )


def _ff(counted: dict[str, float], traits: dict[str, bool], calibration: Calibration) -> float:
    """Flip-flops of counted register quantities: each times its fitted cost, times the
    factor of each trait the design has."""
    ff = sum(calibration.ff.get(term, 0.0) * value for term, value in counted.items())
    for trait, present in traits.items():
        ff *= calibration.ff_factors.get(trait, 1.0) if present else 1.0
    return ff


def _utilization(figures: dict[str, Figures], capacity: dict[str, int]) -> dict[str, dict[str, float | None]]:
    return {kind: {key: (round(100.0 * getattr(values, key) / capacity[key], 2) if capacity.get(key) else None)
                   for key in RESOURCES} for kind, values in figures.items()}

