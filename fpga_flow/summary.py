"""``summary.json``, the record of a finished build: :class:`RunSummary`, the one
definition that the build writes and that the dashboard, the run history, sweeps, the
CLI and the Python API read.

A summary is made of sections. A section that is a stage's own record is defined once,
data only, in :mod:`fpga_flow.records` (``records.precision.ClosureRecord``,
``records.synth.SynthesisResult``, ``records.estimate.Estimate``, ``records.cache.CacheUse``,
...), which the stage imports; the sections here gather what belongs to no single stage.
Reading a summary therefore loads no engine. Every model forbids unknown fields, so a
typo or a stale writer fails at once instead of writing a file no reader understands.

Adding a section (say a stage ``rtl`` writing an ``RtlRecord``):

1. define ``RtlRecord(BaseModel)`` in a module of ``fpga_flow/records/`` (importing no
   engine), with ``model_config = ConfigDict(extra="forbid")`` and a description on each
   figure; the stage imports it from there;
2. add ``rtl: RtlRecord | None = None`` to :class:`RunSummary` (None: the stage did
   not run in this build; older summaries read as None, so ``SCHEMA_VERSION`` stays);
3. fill it in :func:`fpga_flow.pipeline.summarize.make_summary` from the build context;
4. show it where it matters: ``cli/build.py:render_summary``, the run page template
   (``templates/dashboard.html.j2``), and a history column only if it must be queried.

Change ``SCHEMA_VERSION`` only for a change old files cannot be read into (a field
renamed, moved or made required); then add an upgrade step to :data:`UPGRADES`.

Version 1 summaries (fpga-flow 0.1.0: one flat mapping, figures of the first-order
estimate) are upgraded on read by :func:`upgrade_v1`, so old run directories and run
histories stay readable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fpga_flow.boards import BoardRecord
from fpga_flow.config import BuildConfig
from fpga_flow.errors import UserInputError
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS
from fpga_flow.records.cache import CacheUse
from fpga_flow.records.deploy import DeployRecord
from fpga_flow.records.estimate import Estimate
from fpga_flow.records.fit import FitResult
from fpga_flow.records.hls import HLSSettings
from fpga_flow.records.precision import ClosureRecord, OverflowRecord
from fpga_flow.records.rtl import GateRecord, GatesSection, PnRRecord, PnRSection, RTLSection, RTLSimSection, Use
from fpga_flow.records.synth import SynthesisResult
from fpga_flow.rundir import SUMMARY_NAME
from fpga_flow.toolchain import Toolchain

SCHEMA_VERSION = 2
# "does_not_fit": every other check passed but the estimate is over the budget (added in
# fpga-flow 0.3 with the budget check of every build; older files never hold it).
RunStatus = Literal["passed", "check_failed", "does_not_fit", "synthesis_failed"]


class SummaryError(UserInputError):
    """A summary.json that is not one this fpga-flow can read."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(_Section):
    name: str = Field(description="zoo recipe name, or the model file's stem")
    source: str = Field(description="the model file that was built, absolute (older summaries hold it as given, "
                                    "maybe relative to the folder the build ran in)")
    weights: str | None = Field(default=None, description="the weights file of a .json architecture (absolute)")
    layer_families: list[str] = Field(description="Keras layer classes in the model")


class DataSection(_Section):
    origin: str = Field(description="where the evaluation and calibration inputs came from")
    n_eval: int = Field(description="samples the reported figures are measured on")
    n_calibration: int = Field(description="samples the precision policy tuned on (never evaluated on)")


class Check(_Section):
    value: float
    threshold: float
    passed: bool


class BudgetCheck(Check):
    """The estimate against the board: ``value`` the largest resource share (a fraction),
    ``threshold`` the budget, ``passed`` when every resource is within it."""

    resource: str | None = Field(default=None, description="the resource with that share (None in older summaries)")
    estimate_error: float | None = Field(
        default=None, description="the estimate's measured median error (fraction) on that resource, None if unmeasured")
    source: str | None = Field(default=None, description="whose figures: None the estimate; on ECP5 yosys' counts of "
                                                         "the RTL, or da4ml's estimate of it when that lower bound "
                                                         "is over the budget (fpga_flow/rtl/fit_ecp5.py)")


class Checks(_Section):
    csim_agreement: Check
    testbench_agreement: Check
    fit_budget: BudgetCheck | None = Field(
        default=None, description="The build's estimate within --budget of the board, fitted or not (None in "
                                  "summaries older than the check, and in those built with --no-fit before it)")
    target_latency: Check | None = Field(default=None, description="With the fit's --target-latency: the chosen "
                                                                   "plan's estimated latency (ns) at most the target")
    rtl_word_agreement: Check | None = Field(
        default=None, description="RTL simulation against C-simulation, word for word (only when rtl_sim ran)")
    pnr_fmax: Check | None = Field(default=None, description="With --pnr: nextpnr's achieved Fmax (MHz) at least the "
                                                             "design clock")
    top_word_agreement: Check | None = Field(
        default=None, description="With --pnr: the board top level, bytes in and out, against C-simulation")
    fit_not_checked: str | None = Field(
        default=None, description="On a board without a vendor HLS flow (ECP5) built without the RTL's counts: why "
                                  "fit_budget is absent and the fix (fpga_flow/rtl/fit_ecp5.py:unchecked_note); None "
                                  "when the fit was checked, and in older summaries")

    def all_passed(self) -> bool:
        return all(check.passed for check in (self.csim_agreement, self.testbench_agreement, self.fit_budget,
                                              self.target_latency, self.rtl_word_agreement, self.pnr_fmax,
                                              self.top_word_agreement) if check is not None)

    def fit_by_estimate(self) -> bool:
        """False on a board whose fit is the RTL's counts (ECP5): checked (``fit_budget.source``)
        or not checked, with why (``fit_not_checked``)."""
        return self.fit_not_checked is None and (self.fit_budget is None or self.fit_budget.source is None)

    def failed_besides_budget(self) -> bool:
        return any(not check.passed for check in (self.csim_agreement, self.testbench_agreement, self.target_latency,
                                                  self.rtl_word_agreement, self.pnr_fmax, self.top_word_agreement)
                   if check is not None)


class ConfusionMatrix(_Section):
    labels: list[str]
    rows: str = "keras argmax"
    cols: str = "csim argmax"
    counts: list[list[int]] = Field(description="counts[keras decision][C-simulation decision]")


class FidelitySection(_Section):
    """C-simulation (the bridge library and the testbench) against Keras, on the evaluation split."""

    keras_accuracy: float | None = Field(description="None without labels")
    csim_accuracy: float | None = Field(description="None without labels")
    csim_agreement: float = Field(description="argmax agreement of the bridge library with Keras")
    testbench_agreement: float = Field(description="argmax agreement of hls4ml's testbench with Keras")
    testbench_vs_bridge_max_abs: float = Field(description="largest output difference between the two C-simulations")
    max_abs_error: float = Field(description="largest |bridge output - Keras output|")
    mean_abs_error: float
    confusion_matrix: ConfusionMatrix


class PrecisionSection(_Section):
    policy: str
    closure: ClosureRecord | None = Field(description="None unless the policy is closure")
    layer_precisions: dict[str, dict[str, str]] = Field(
        description="the chosen types: per layer, the C++ type hls4ml wrote for each of its variables")
    overflow: dict[str, OverflowRecord] = Field(description="per layer, Keras values outside its result type")


class RunSummary(_Section):
    """One finished build (``summary.json``)."""

    schema_version: Literal[2] = SCHEMA_VERSION
    run_id: str
    status: RunStatus
    verdict: str | None = Field(default=None, description="the status in one line: PASSED, or each check that failed "
                                                          "(DOES NOT FIT: LUT 156% of pynq-z2 ...); None in older "
                                                          "summaries (see headline())")
    created_utc: str
    model: ModelSection
    data: DataSection
    board: BoardRecord
    hls: HLSSettings
    checks: Checks
    fidelity: FidelitySection
    precision: PrecisionSection
    estimate: Estimate
    fit: FitResult | None = Field(default=None, description="None when the build ran without --fit")
    synthesis: SynthesisResult
    rtl: RTLSection | None = Field(default=None, description="the da4ml RTL (None: the RTL stages were not asked for)")
    rtl_sim: RTLSimSection | None = Field(default=None, description="Verilator against C-simulation and Keras")
    gates: GatesSection | None = Field(default=None, description="yosys counts: an open synthesis of the RTL, "
                                                                 "neither an estimate nor a vendor report")
    pnr: PnRSection | None = Field(default=None, description="With --pnr (ECP5 boards): post-route open-tool figures "
                                   "of the board top level (nextpnr-ecp5), its bytes-in/bytes-out simulation, bitstream")
    cache: CacheUse | None = Field(description="None when the build ran with --no-cache")
    artifacts: dict[str, str] = Field(description="files of the run by role (run_dir, summary, hls_project, ...)")
    timings_s: dict[str, float] = Field(description="seconds per build step that ran, and total")
    toolchain: Toolchain
    config: BuildConfig
    deploy: DeployRecord | None = Field(
        default=None, description="the bundle 'fpga-flow deploy' wrote from this run and its check on the board; "
                                  "None until deploy ran")

    def headline(self) -> str:
        """The status in one line (older summaries hold no verdict: it is made from their checks)."""
        return self.verdict or verdict(self.checks, self.board.name, self.synthesis)

    def device_fit(self) -> list[tuple[str, dict[str, Use]]]:
        """On a board whose fit is the RTL's counts (ECP5, ``checks.fit_budget.source``): the
        figures against the device in its units, each with its source: the check's (yosys'
        counts of the RTL), then nextpnr's post-route counts when place and route ran.
        Empty when the fit is the estimate's or was not checked."""
        budget, gates = self.checks.fit_budget, self.gates
        if budget is None or budget.source is None or not isinstance(gates, GateRecord) or gates.device_use is None:
            return []
        figures = [(budget.source, gates.device_use)]
        if isinstance(self.pnr, PnRRecord):
            figures.append((f"nextpnr post-route ({self.pnr.device})", self.pnr.utilization))
        return figures


# --------------------------------------------------------------------------- status


def run_status(checks: Checks, synthesis: SynthesisResult) -> RunStatus:
    """PASSED only when every check holds, the estimate within the budget included."""
    if synthesis.status == "failed":
        return "synthesis_failed"
    if checks.all_passed():
        return "passed"
    return "check_failed" if checks.failed_besides_budget() else "does_not_fit"


def budget_line(check: BudgetCheck, board: str) -> str:
    """``DOES NOT FIT: LUT 156% of pynq-z2 (budget 80%), estimate +/-18%``."""
    error = "" if check.estimate_error is None else f", estimate +/-{100 * check.estimate_error:.0f}%"
    error += "" if check.source is None else f", by {check.source}"
    return (f"DOES NOT FIT: {check.resource or 'a resource'} {100 * check.value:.0f}% of {board} "
            f"(budget {100 * check.threshold:g}%){error}")


def verdict(checks: Checks, board: str, synthesis: SynthesisResult) -> str:
    """PASSED, or every check that failed, in one line."""
    below = [f"{name} {check.value:.4f} below {check.threshold:g}"
             for name, check in (("C-sim agreement", checks.csim_agreement),
                                 ("testbench agreement", checks.testbench_agreement),
                                 ("RTL word agreement", checks.rtl_word_agreement),
                                 ("board top-level word agreement", checks.top_word_agreement))
             if check is not None and not check.passed]
    fmax = checks.pnr_fmax
    if fmax is not None and not fmax.passed:
        below.append(f"post-route Fmax {fmax.value:.1f} MHz below the {fmax.threshold:g} MHz clock")
    target = checks.target_latency
    if target is not None and not target.passed:
        below.append(f"latency {target.value:g} ns over the target {target.threshold:g} ns")
    failed = [f"CHECK FAILED: {', '.join(below)}"] if below else []
    if checks.fit_budget is not None and not checks.fit_budget.passed:
        failed.append(budget_line(checks.fit_budget, board))
    if synthesis.status == "failed":
        failed.append(f"SYNTHESIS FAILED: {synthesis.reason or 'see its log'}")
    return "; ".join(failed) or "PASSED"


# --------------------------------------------------------------------------- reading


def upgrade_v1(old: dict[str, Any]) -> dict[str, Any]:
    """A version 1 summary (fpga-flow 0.1.0, one flat mapping) in the version 2 layout.
    Every v1 field lands in one place; the only value not in a v1 file is
    ``hls.default_precision``, which fpga-flow 0.1.0 always built with (hls4ml's
    ``ap_fixed<16,6>``: HLSSettings' default, which no recipe or option changed)."""
    closure = old.get("precision_closure")
    if closure is not None:
        # "precisions" was always {} in v1; "policy" repeated the run's policy.
        closure = {key: value for key, value in closure.items() if key not in ("precisions", "policy")}
    cache = old.get("cache")
    if cache is not None:
        cache = {"dir": cache["dir"], "key": cache["key"], "hit": cache["hit"], "steps": list(cache["stages"]),
                 "model_digest": cache["inputs"]["model"], "source_digest": cache["inputs"]["toolchain"]["code"]}
    versions = old["versions"]
    return {
        "schema_version": 2,
        "run_id": old["run_id"], "status": old["status"], "created_utc": old["created_utc"],
        "model": {"name": old["model"], "source": old["model_source"], "weights": old["config"]["weights"],
                  "layer_families": old["layer_families"]},
        "data": {"origin": old["data"], "n_eval": old["n_test"], "n_calibration": old["n_calibration"]},
        "board": {"name": old["board"], "part": old["part"], "family": old["family"], "backend": old["backend"],
                  "resources": old["board_resources"]},
        "hls": {"io_type": old["io_type"], "strategy": old["strategy"], "reuse_factor": old["reuse_factor"],
                "clock_period_ns": old["clock_period_ns"],
                "default_precision": HLSSettings.model_fields["default_precision"].default},
        "checks": old["checks"],
        "fidelity": {key: old[key] for key in FidelitySection.model_fields},
        "precision": {"policy": old["precision_policy"], "closure": closure,
                      "layer_precisions": old["layer_precisions"], "overflow": old["overflow"]},
        "estimate": _first_order_estimate(old),
        "synthesis": old["synthesis"],
        "cache": cache,
        "artifacts": old["artifacts"],
        "timings_s": old["timings_s"],
        "toolchain": {**versions, "compile_flags": old["compile_flags"].split()},
        # fpga-flow 0.1.0 had no fit (now on by default when the field is absent).
        "config": {"fit": False, **old["config"]},
    }


def _first_order_estimate(old: dict[str, Any]) -> dict[str, Any]:
    """A v1 summary's estimate, from fpga-flow 0.1.0's first-order estimator, as an
    Estimate whose figures are kind ``first_order`` (predicting no named report, measured
    against none: no error, out of scope)."""
    estimate = old["estimate"]
    figures = {"kind": "first_order", **{key: estimate["resources"][key] for key in ESTIMATED_RESOURCE_KEYS},
               "latency_cycles": estimate["latency_cycles"], "interval_cycles": estimate["interval_cycles"]}
    per_layer = [{"layer": layer["layer"], "kind": layer["class"], "priced": True,
                  "multipliers": layer["multipliers"], "reuse_factor": layer["reuse_factor"], "strategy": None,
                  **{key: layer[key] for key in (*ESTIMATED_RESOURCE_KEYS, "latency_cycles")}, "notes": []}
                 for layer in estimate["per_layer"]]
    return {
        "model": estimate["model"], "design": f"{old['model']} (hls4ml ModelGraph)", "family": old["family"],
        "clock_period_ns": old["clock_period_ns"], "csynth": None, "vivado_synth": None, "first_order": figures,
        "latency_ns": estimate["latency_ns"], "per_layer": per_layer, "unpriced_layers": [],
        "utilization_pct": {"first_order": estimate["utilization_pct"]}, "error": {}, "in_scope": False,
        "scope_notes": ["figures of fpga-flow 0.1's first-order estimate, checked against no report"],
    }


# Older layouts by version: each step returns the next version's layout.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: upgrade_v1}


def parse_summary(document: Any, origin: str) -> RunSummary:
    """A RunSummary from a decoded summary.json of this or an older version. ``origin``
    names the file (or record) in the one-line SummaryError for anything else."""
    if not isinstance(document, dict) or "schema_version" not in document:
        raise SummaryError(f"{origin} is not an fpga-flow run summary (no schema_version): "
                           "give the summary.json of a finished build")
    version = document["schema_version"]
    if version == SCHEMA_VERSION:
        return _validated(document, origin)
    if not isinstance(version, int) or version > SCHEMA_VERSION or version not in UPGRADES:
        raise SummaryError(f"{origin} has summary schema version {version!r}; this fpga-flow reads versions "
                           f"{min(UPGRADES)} to {SCHEMA_VERSION}: read it with the fpga-flow that wrote it, or rebuild the run")
    try:
        while version != SCHEMA_VERSION:
            document, version = UPGRADES[version](document), version + 1
    except (KeyError, TypeError, AttributeError) as exc:
        raise SummaryError(f"{origin} is not a valid version {document.get('schema_version')} summary "
                           f"(field {exc} missing or malformed): rebuild the run") from None
    return _validated(document, origin)


def _validated(document: dict[str, Any], origin: str) -> RunSummary:
    try:
        return RunSummary.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise SummaryError(f"{origin} is not a valid run summary: field '{where}': {first['msg']} "
                           f"({exc.error_count()} problem(s)); rebuild the run") from None


def read_summary(run_dir: str | Path) -> RunSummary:
    """The summary of a finished run directory (or the summary.json given itself)."""
    path = Path(run_dir)
    path = path if path.name == SUMMARY_NAME and path.is_file() else path / SUMMARY_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryError(f"{path} not found: give the run directory of a finished build") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path} is unreadable ({exc}): rebuild the run") from None
    return parse_summary(document, str(path))
