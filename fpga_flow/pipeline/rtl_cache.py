"""The build cache's RTL entries: :class:`CachedRTLSteps`, the wrapper that restores the
results of a build's RTL steps (``rtl``: da4ml's Verilog, ``rtl_sim``: Verilator,
``gates``: yosys) from the entry an identical build made, or runs them and stores them.

With ``--rtl`` and the cache on, the key (:func:`rtl_key`) hashes the build's design entry
(:mod:`fpga_flow.pipeline.design_cache`: the model and its weights, the board, the
settings, the precisions' policy and data, the fit, the toolchain, every file of
fpga_flow), the evaluation inputs with the C-simulation's and Keras' outputs the
simulation is compared with, ``--stage-levels``, and the versions of the tools that made
the results (da4ml, Verilator, the family's yosys). An entry holds the run's ``rtl/``
folder as the three steps left it and their records; a hit copies it into the new run's
``rtl/`` and moves the records' paths there (the records' files too). Place and route
(``--pnr``) is never restored: it runs on the restored netlist as on a fresh one, so a
build that differs from a finished one only by ``--pnr-timeout`` repeats nextpnr alone.

Only results the tools made are kept: a build whose RTL step was skipped (a tool missing,
a model the RTL does not mirror) or failed stores nothing, and a missing tool gives no key.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from importlib.metadata import version
from pathlib import Path

from fpga_flow import rundir
from fpga_flow.cache import BuildCache, array_digest, config_cache_dir, digest
from fpga_flow.errors import ToolMissingError
from fpga_flow.pipeline.context import BuildContext
from fpga_flow.pipeline.driver import Step, record_own_time, report_restored, run_step
from fpga_flow.rtl.ecp5 import yosys_ecp5
from fpga_flow.rtl.gates import yosys
from fpga_flow.rtl.records import RTL_DIR, GateRecord, RTLRecord, RTLSimRecord
from fpga_flow.rtl.simulate import verilator_version

RTL_KIND = "rtl"
RTL_KEY_SCHEME = 1
RECORDS = {"rtl": RTLRecord, "rtl_sim": RTLSimRecord, "gates": GateRecord}  # the steps' context fields


def tool_versions(ctx: BuildContext) -> dict[str, str] | None:
    """da4ml's, Verilator's and the board family's yosys' versions; None when one is missing."""
    try:
        synthesis = yosys_ecp5() if ctx.board.open_fpga is not None else [yosys()]
        return {"da4ml": version("da4ml"), "verilator": verilator_version(),
                "yosys": subprocess.run([*synthesis, "-V"], capture_output=True, text=True).stdout.strip()}
    except ToolMissingError:
        return None


def rtl_key(ctx: BuildContext) -> str | None:
    """The key of the build's RTL entry (see the module docstring); None without --rtl,
    without the cache (no design entry) or with a tool missing."""
    if not ctx.config.rtl or ctx.cache is None:
        return None
    tools = tool_versions(ctx)
    if tools is None:
        return None
    loaded = ctx.loaded
    return digest({"scheme": RTL_KEY_SCHEME, "kind": RTL_KIND, "design": ctx.cache.key, "tools": tools,
                   "stage_levels": ctx.config.stage_levels,
                   "data": array_digest(loaded.X_eval, ctx.csim.outputs, loaded.keras_eval)})


def _moved(text: str, old_dir: str, new_dir: Path) -> str:
    return text.replace(old_dir, str(new_dir))


class CachedRTLSteps:
    """The RTL steps whose results one cache entry holds (see the module docstring)."""

    name = "rtl_cache"  # its own time (the key's tool versions, copying) in timings_s

    def __init__(self, *steps: Step) -> None:
        self.steps = steps

    def run_in(self, ctx: BuildContext) -> None:
        start = time.perf_counter()
        key = rtl_key(ctx)
        if key is None:
            for step in self.steps:
                run_step(ctx, step)
            return
        store, out_dir = BuildCache(config_cache_dir(ctx.config)), ctx.run_dir / RTL_DIR
        with store.read(key) as entry:
            if entry is not None:
                self._restore(ctx, entry.payload / RTL_DIR, entry.meta, out_dir)
        if entry is None:
            for step in self.steps:
                run_step(ctx, step)
            if all(isinstance(getattr(ctx, field), kind) for field, kind in RECORDS.items()):
                self._store(ctx, store, key, out_dir)
        ctx.cache = ctx.cache.model_copy(update={"rtl_key": key, "rtl_hit": entry is not None})
        record_own_time(ctx, self.name, self.steps, start)

    def _store(self, ctx: BuildContext, store: BuildCache, key: str, out_dir: Path) -> None:
        def create(payload: Path) -> dict:
            shutil.copytree(out_dir, payload / RTL_DIR, symlinks=True)
            return {"rtl_dir": str(out_dir), **{field: getattr(ctx, field).model_dump_json() for field in RECORDS}}

        with store.get_or_create(key, RTL_KIND, create):
            pass

    def _restore(self, ctx: BuildContext, payload: Path, meta: dict, out_dir: Path) -> None:
        rundir.mark_incomplete(ctx.run_dir, self.name)
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(payload, out_dir, symlinks=True)
        # The records name files in the rtl/ folder they were made in: moved to this run's.
        for record in out_dir.glob("*.json"):
            record.write_text(_moved(record.read_text(encoding="utf-8"), meta["rtl_dir"], out_dir), encoding="utf-8")
        for field, kind in RECORDS.items():
            setattr(ctx, field, kind.model_validate_json(_moved(meta[field], meta["rtl_dir"], out_dir)))
        report_restored(ctx, self.steps)
