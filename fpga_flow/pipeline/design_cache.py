"""The build cache's use by a build: the key of a design entry (:func:`design_key`) and
:class:`CachedSteps`, the one wrapper that runs the design steps into a new entry of the
content store (:class:`fpga_flow.cache.BuildCache`) or restores their results from it.

The wrapper covers the build steps that turn a loaded model into a compiled design:
``fit``, ``precision`` (the closure is the slowest stage), ``refit``, ``convert``,
``compile`` and ``estimate``. An entry holds their results: the compiled project folder
(firmware objects, bridge library, ``bridge.json``) and, as JSON, the precision choice
with its closure record, the fit and the estimate. Hit or miss, the run continues on a
copy of the entry's project and on the records read back from the entry, so a cached
build is the same as a fresh one.

The key hashes everything that shapes those results: the model's architecture and
weights, the calibration data (for the policies that read it), the HLS settings,
precision policy and target, the fit's request, the whole board declaration, the
toolchain (package versions, g++ version and flags) and every file of the fpga_flow
package (:func:`source_digest`: modules, HLS headers such as ``attention/nnet_qmhsa.h``,
templates, data files), so no edit to fpga-flow can be served a stale entry.

The compiled library reads its weights at run time from the absolute folder it was
compiled in (hls4ml's ``WEIGHTS_DIR``), so projects are compiled inside their entry's
payload folder, never moved. A build holds its entry until it ends (its testbench links
objects that read those weights); a run directory's copy of the library reads its
weights from the cache entry it came from.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpga_flow import rundir
from fpga_flow.cache import BuildCache, array_digest, config_cache_dir, digest
from fpga_flow.convert import HLSProject
from fpga_flow.csim import CompiledProject, current_toolchain
from fpga_flow.estimate import Estimate
from fpga_flow.fit import FitRequest, FitResult
from fpga_flow.pipeline.context import BuildContext
from fpga_flow.pipeline.driver import Step, record_own_time, report_restored, run_step
from fpga_flow.precision import PrecisionChoice
from fpga_flow.records.cache import CacheUse

KEY_SCHEME = 2
ENTRY_KIND = "design"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def model_digest(model) -> str:
    """The model's architecture (Keras JSON, layer names included: they name the C++)
    and every weight array."""
    return digest({"architecture": json.loads(model.to_json()), "weights": array_digest(*model.get_weights())})


def source_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 over every file of the package (its path inside the package and its
    bytes): Python modules, HLS headers, templates, data files. Compiled bytecode is
    left out: it follows the source."""
    h = hashlib.sha256()
    files = sorted(path for path in Path(package_dir).rglob("*")
                   if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc")
    for path in files:
        data = path.read_bytes()
        h.update(f"{path.relative_to(package_dir).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


@lru_cache(maxsize=None)
def installed_source_digest() -> str:
    """:func:`source_digest` of the fpga_flow this process runs (computed once)."""
    return source_digest(PACKAGE_DIR)


def design_key(model_id: str, board: dict, settings: dict, policy: str, calibration_id: str | None,
               target_agreement: float | None, toolchain: dict, source: str, fit: dict | None = None) -> str:
    """The key of the entry holding a build's precisions, fit, compiled project and
    estimate. ``calibration_id`` and ``target_agreement`` are None for the policies that
    do not read them, so those builds share an entry whatever the calibration data;
    ``fit`` is the fit's request (budget, target, the options it keeps), None without --fit."""
    return digest({"scheme": KEY_SCHEME, "model": model_id, "board": board, "settings": settings, "policy": policy,
                   "calibration": calibration_id, "target_agreement": target_agreement, "toolchain": toolchain,
                   "source": source, "fit": fit})



class CachedSteps:
    """Build steps whose results one cache entry holds (see the module docstring): run
    them into a new entry, or restore their results from the entry an identical build
    made, then continue on a copy of its project. With ``use_cache`` off the steps just
    run in the run directory. The entry stands for exactly these results, which the
    build context holds in ``precision``, ``fit``, ``project``, ``compiled`` and ``estimate``."""

    name = "build_cache"  # its own time (waiting for another writer, copying) in timings_s

    def __init__(self, *steps: Step) -> None:
        self.steps = steps

    def run_in(self, ctx: BuildContext) -> None:
        cfg = ctx.config
        if not cfg.use_cache:
            for step in self.steps:
                run_step(ctx, step)
            return
        start = time.perf_counter()
        store = BuildCache(config_cache_dir(cfg))
        loaded, policy = ctx.loaded, cfg.precision_policy
        model_id, source = model_digest(loaded.model), installed_source_digest()
        key = design_key(model_id, ctx.board.model_dump(mode="json"), loaded.settings.model_dump(mode="json"), policy,
                         None if policy == "default" else array_digest(loaded.X_calib),
                         cfg.target_agreement if policy == "closure" else None,
                         current_toolchain().model_dump(mode="json"), source,
                         FitRequest.of(cfg).model_dump(mode="json") if cfg.fit else None)

        def create(payload: Path) -> dict[str, Any]:
            ctx.project_dir = payload / rundir.PROJECT_DIR
            for step in self.steps:
                run_step(ctx, step)
            return {"precision": ctx.precision.model_dump(mode="json"), "estimate": ctx.estimate.model_dump(mode="json"),
                    "fit": None if ctx.fit is None else ctx.fit.model_dump(mode="json")}

        rundir.mark_incomplete(ctx.run_dir, self.name)  # waiting for the key's lock, maybe a while
        # Held (shared) until the build ends: eviction cannot take the weights the code reads.
        entry = ctx.holds.enter_context(store.get_or_create(key, ENTRY_KIND, create))
        rundir.mark_incomplete(ctx.run_dir, self.name)  # the steps, if they ran, marked themselves
        # Hit or miss, the run goes on with a copy of the entry's project and its records.
        project_dir = ctx.run_dir / rundir.PROJECT_DIR
        shutil.copytree(entry.payload / rundir.PROJECT_DIR, project_dir)
        graph = ctx.project.graph if ctx.project is not None else None  # only when this build converted
        ctx.project_dir, ctx.project = project_dir, HLSProject(project_dir, graph)
        ctx.compiled = CompiledProject.open(project_dir)
        ctx.precision = PrecisionChoice.model_validate(entry.meta["precision"])
        ctx.estimate = Estimate.model_validate(entry.meta["estimate"])
        ctx.fit = None if entry.meta["fit"] is None else FitResult.model_validate(entry.meta["fit"])
        ctx.cache = CacheUse(dir=str(store.folder), key=key, hit=entry.hit, steps=[step.name for step in self.steps],
                             model_digest=model_id, source_digest=source)
        if entry.hit:
            report_restored(ctx, self.steps)
        record_own_time(ctx, self.name, self.steps, start)
