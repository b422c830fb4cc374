"""``fpga-flow deploy``: a passed build becomes a bundle folder for the board.

The bundle (default ``RUN_DIR/bundle``)::

    bundle.json                  the manifest (driver.BundleManifest), written last and atomically
    INCOMPLETE                   present only while deploy writes the bundle, or after it failed
    README.md                    what to copy, the two commands on the board, what the output means
    driver.py                    the host driver: words, batches, timing
    check_on_board.py            the evaluation inputs on the accelerator against the C-simulation
    build_bitstream.sh           Vivado HLS + Vivado (+ v++ for Alveo) to overlay/
    overlay/                     NAME.bit + NAME.hwh (Zynq) or NAME.xclbin (Alveo), once built
    data/inputs.npy              the run's evaluation inputs (float32)
    data/input_words.npy         the C-simulation's input words (ap_fixed's conversion of each input)
    data/csim_output_words.npy   the C-simulation's output words: what the board must give
    hls_project/                 hls4ml's VivadoAccelerator project
    sim/                         the software stand-in for the overlay (check_on_board.py --simulate)

The expected words come from the bundle's own AXI top compiled with g++ (the stand-in),
fed the C-simulation's input words; before the bundle is complete they are checked value
for value against the run's own C-simulation (the run's compiled AXI wrapper and bridge
linked with the bundle's compiled network when both compiled the same network, else the
run's project compiled again in a scratch folder), and the driver's packing against the
C-simulation's input words.

A complete bundle is noted in the run (the ``deploy`` section of its summary, the run page,
the run history: :mod:`fpga_flow.deploy.record`); ``fpga-flow deploy RUN_DIR --record
check_results.json`` adds the board's check to that section.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, TypeAdapter

from fpga_flow import rundir
from fpga_flow.boards import get_board
from fpga_flow.convert import PROJECT_NAME
from fpga_flow.csim import (
    BRIDGE_SPEC,
    BUILD_SUBDIR,
    Bridge,
    CompiledProject,
    bridge_object,
    compile_project,
    current_toolchain,
    gxx,
    gxx_version,
    link_library,
    network_object,
)
from fpga_flow.deploy import bitstream, standin
from fpga_flow.deploy.board import driver
from fpga_flow.deploy.project import (
    ALVEO,
    AXI_WRAPPER,
    AcceleratorProject,
    AcceleratorTarget,
    accelerator_target,
    convert_accelerator,
)
from fpga_flow.deploy.record import note_bundle
from fpga_flow.deploy.run_record import PassedRun, csim_output_dtype, evaluation_inputs, read_run
from fpga_flow.deploy.templates import render
from fpga_flow.errors import StageFailedError, UserInputError
from fpga_flow.model_io import load_keras_model
from fpga_flow.pipeline.context import Progress, silent
from fpga_flow.pipeline.driver import Step, run_step, run_steps
from fpga_flow.rundir import PROJECT_DIR

BUNDLE_SUBDIR = "bundle"
BOARD_FILES = ("driver.py", "check_on_board.py")
MANIFEST_ADAPTER = TypeAdapter(driver.BundleManifest)


class DeployConfig(BaseModel):
    """Everything a deploy depends on, as the user gave it."""

    model_config = ConfigDict(extra="forbid")

    run_dir: Path
    out: Path | None = None
    force: bool = False
    bitstream: bool = False
    platform: str | None = None


@dataclass
class DeployContext:
    config: DeployConfig
    run: PassedRun
    target: AcceleratorTarget
    bundle_dir: Path
    X: np.ndarray | None = None
    project: AcceleratorProject | None = None
    wrapper: standin.AxiWrapper | None = None
    input_words: np.ndarray | None = None
    expected_words: np.ndarray | None = None
    provenance: driver.Provenance | None = None
    manifest: driver.BundleManifest | None = None
    progress: Progress = silent
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def marker_dir(self) -> Path:
        """Where the driver's INCOMPLETE marker names the running step."""
        return self.bundle_dir


# --------------------------------------------------------------------------- steps


def step_convert(ctx: DeployContext) -> None:
    run = ctx.run
    model = load_keras_model(run.summary.model.source, run.summary.model.weights)
    ctx.X = evaluation_inputs(run, tuple(model.input_shape[1:]))
    ctx.project = convert_accelerator(model, ctx.target, run.summary.hls, ctx.bundle_dir / PROJECT_DIR, run.hls_config)
    _check_types_recorded(ctx.project, run)


def _check_types_recorded(project: AcceleratorProject, run: PassedRun) -> None:
    """The network converted again has the input and output types the run recorded."""
    for layer, converted in ((project.input_layer, project.input_cpp), (project.output_layer, project.output_cpp)):
        recorded = run.summary.precision.layer_precisions.get(layer, {}).get("result")
        if recorded != converted:
            raise StageFailedError(
                f"the model converts to {layer} type {converted} but the run recorded {recorded}: "
                f"{run.summary.model.source} is not the model the run built (retrained since?); build again")


def step_standin(ctx: DeployContext) -> None:
    standin.write_source(ctx.bundle_dir, PROJECT_NAME, ctx.project.input.model_type.cpp())
    ctx.wrapper = standin.compile_standin(ctx.bundle_dir)


def step_expected(ctx: DeployContext) -> None:
    """The C-simulation in words: ap_fixed converts each input, the AXI top computes."""
    ctx.input_words = ctx.wrapper.reference_input_words(ctx.X)
    last = np.zeros(len(ctx.input_words), dtype=np.uint8)
    last[-1] = 1
    ctx.expected_words, _ = ctx.wrapper.run(ctx.input_words, last)


def step_compare(ctx: DeployContext) -> None:
    """Refuse a bundle that computes anything else than the run, or whose driver packs
    anything else than the C-simulation's input words."""
    packed = driver.pack(ctx.X, ctx.project.input)
    if not np.array_equal(packed, ctx.input_words):
        differ = int((packed != ctx.input_words).sum())
        raise StageFailedError(f"driver.py packs {differ} of {len(packed)} input words differently from ap_fixed: "
                               "the bundle would not run as the C-simulation did")
    n_out = ctx.project.output.values_per_sample
    bundle_values = ctx.wrapper.output_values(ctx.expected_words).reshape(-1, n_out)
    bundle_project = ctx.bundle_dir / PROJECT_DIR
    run_values, how = run_csim_values(ctx.run, bundle_project, ctx.X)
    # What the run's C-simulation could hold: a float AXI wrapper rounds outputs to float32.
    comparable = bundle_values.astype(csim_output_dtype(ctx.run)).astype(np.float64)
    differ = np.argwhere(comparable != run_values)
    if len(differ):
        sample, index = (int(i) for i in differ[0])
        raise StageFailedError(
            f"the accelerator project computes differently from the run's C-simulation: {len(differ)} of "
            f"{run_values.size} output values differ (first: sample {sample}, output {index}: run "
            f"{run_values[sample, index]!r}, bundle {bundle_values[sample, index]!r})")
    ctx.provenance = driver.Provenance(
        run_dir=str(ctx.run.run_dir), run_id=ctx.run.summary.run_id, run_backend=ctx.run.summary.board.backend,
        csim_values_matched=int(run_values.size), run_csim=how,
        firmware_identical_to_run=firmware_identical(ctx.run.project_dir, bundle_project))


LINKED = "linked"
RECOMPILED = "recompiled"


def run_csim_values(run: PassedRun, bundle_project: Path, X: np.ndarray) -> tuple[np.ndarray, str]:
    """The run's C-simulation of ``X``, and how its library was made (LINKED or RECOMPILED).

    The run's own library is not loaded: it may read its weights from a build-cache entry
    evicted since (the weights folder is compiled into the network object, and a missing
    weights file makes hls4ml exit). Of its objects only the network top reads weights;
    when the bundle compiled the same network (:func:`differs_from_run` is None), the
    run's library is made again by linking the bundle's network object, which reads the
    bundle's identical weights, with the run's own compiled AXI wrapper and bridge: no
    compile. Otherwise the run's project is compiled again in a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="fpga-flow-run-csim-") as scratch:
        spec = json.loads((run.project_dir / BRIDGE_SPEC).read_text(encoding="utf-8"))
        if differs_from_run(run, bundle_project) is None:
            compiled = CompiledProject.open(run.project_dir)
            objects = [network_object(bundle_project), bridge_object(run.project_dir),
                       *(obj for obj in compiled.firmware_objects if obj != network_object(run.project_dir))]
            library = link_library(objects, Path(scratch), Path(scratch) / "link.log")
            return Bridge(library, spec).predict(X), LINKED
        copy = Path(scratch) / PROJECT_DIR
        shutil.copytree(run.project_dir, copy, ignore=shutil.ignore_patterns(BUILD_SUBDIR))
        return Bridge.load(compile_project(copy)).predict(X), RECOMPILED


def differs_from_run(run: PassedRun, bundle_project: Path) -> str | None:
    """None when the bundle's compiled network is the one the run compiled: its sources and
    weights (firmware/ without the AXI wrapper) byte for byte the run's, compiled with the
    same flags by the same g++, and the run's compiled objects still there; else why not."""
    if not firmware_identical(run.project_dir, bundle_project):
        return "the network's sources or weights differ from the run's"
    try:
        theirs, ours = CompiledProject.open(run.project_dir), CompiledProject.open(bundle_project)
    except FileNotFoundError:
        return "the run's compiled objects are missing"
    if theirs.flags != ours.flags:
        return f"the run was compiled with {' '.join(theirs.flags)}, the bundle with {' '.join(ours.flags)}"
    if run.summary.toolchain.gxx != gxx_version():
        return f"the run was compiled by g++ {run.summary.toolchain.gxx}, the bundle by g++ {gxx_version()}"
    if not all(obj.is_file() for obj in (*theirs.firmware_objects, bridge_object(run.project_dir))):
        return "the run's compiled objects are missing"
    return None


def firmware_identical(run_project: Path, bundle_project: Path) -> bool:
    """The network's sources (firmware/ without the AXI wrapper) are byte for byte the run's."""
    def sources(project: Path) -> dict[Path, Path]:
        firmware = project / "firmware"
        return {p.relative_to(firmware): p for p in firmware.rglob("*")
                if p.is_file() and not p.name.startswith(f"{AXI_WRAPPER}.")}

    ours, theirs = sources(bundle_project), sources(run_project)
    return ours.keys() == theirs.keys() and all(filecmp.cmp(ours[k], theirs[k], shallow=False) for k in ours)


def step_files(ctx: DeployContext) -> None:
    ctx.manifest = manifest = _manifest(ctx)
    bundle = ctx.bundle_dir
    data = bundle / driver.INPUTS_FILE
    data.parent.mkdir(parents=True, exist_ok=True)
    np.save(data, ctx.X)
    np.save(bundle / driver.INPUT_WORDS_FILE, ctx.input_words)
    np.save(bundle / driver.EXPECTED_WORDS_FILE, ctx.expected_words)
    board_files = Path(driver.__file__).parent
    for name in BOARD_FILES:
        shutil.copy2(board_files / name, bundle / name)
    script = bundle / bitstream.SCRIPT
    script.write_text(bitstream.script_text(ctx.target.kind, manifest.model, manifest.board), encoding="utf-8")
    script.chmod(0o755)
    (bundle / "README.md").write_text(render("README.md.j2", m=manifest, script=bitstream.SCRIPT,
                                             alveo=ctx.target.kind == ALVEO, files=driver,
                                             input_cpp=ctx.project.input_cpp, output_cpp=ctx.project.output_cpp),
                                      encoding="utf-8")


def _manifest(ctx: DeployContext) -> driver.BundleManifest:
    project = ctx.project
    return driver.BundleManifest(
        schema_version=driver.BUNDLE_SCHEMA_VERSION,
        bundle_id=uuid.uuid4().hex,
        model=ctx.run.summary.model.name,
        board=ctx.target.board.name,
        accelerator_board=ctx.target.accelerator_board,
        kind=ctx.target.kind,
        project=PROJECT_NAME,
        input_shape=[int(d) for d in ctx.X.shape[1:]],
        input=project.input,
        output=project.output,
        overlay=bitstream.OVERLAY_FILES[ctx.target.kind],
        max_batch=driver.max_batch(ctx.target.kind, project.input, project.output),
        n_samples=int(len(ctx.X)),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions=current_toolchain().model_dump(exclude={"compile_flags"}),
        provenance=ctx.provenance,
    )


DEPLOY_STEPS: tuple[Step, ...] = (
    Step("convert", "Converting again for the accelerator (VivadoAccelerator)", step_convert),
    Step("standin", "Compiling the AXI wrapper (g++)", step_standin),
    Step("expected", "C-simulating the evaluation inputs word by word", step_expected),
    Step("compare", "Comparing with the run's C-simulation (g++)", step_compare),
    Step("files", "Writing driver, check, script and README", step_files),
)
# With --bitstream, after the bundle is complete (and stays so: a failed tool run leaves it usable).
BITSTREAM_STEP = Step("bitstream", "Building the bitstream (Vivado)",
                      lambda ctx: bitstream.run_script(ctx.bundle_dir, ctx.target.kind, ctx.config.platform), marks=False)


# --------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class DeployResult:
    bundle_dir: Path
    manifest: driver.BundleManifest
    overlay: Path | None
    history: str  # what became of the run's record in the run history
    timings: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"bundle_dir": str(self.bundle_dir), "manifest": MANIFEST_ADAPTER.dump_python(self.manifest, mode="json"),
                "overlay": None if self.overlay is None else str(self.overlay), "history": self.history,
                "timings_s": self.timings}


def prepare(cfg: DeployConfig) -> tuple[PassedRun, AcceleratorTarget, Path]:
    """Every refusal that needs no work, before the bundle folder is touched."""
    run = read_run(cfg.run_dir)
    boards_dir = run.summary.config.boards_dir
    target = accelerator_target(get_board(run.summary.board.name, boards_dir), boards_dir)
    if cfg.bitstream:
        bitstream.check_tools(target.kind, cfg.platform)
    gxx()
    source = Path(run.summary.model.source)
    if not source.is_file():
        raise UserInputError(f"the model file {source} the run was built from is missing: deploy converts "
                             "it again; restore it, or run deploy from the folder the build ran in")
    bundle_dir = cfg.out if cfg.out is not None else run.run_dir / BUNDLE_SUBDIR
    if run.run_dir.is_relative_to(bundle_dir.resolve()):
        raise UserInputError(f"--out {bundle_dir} would hold the run directory itself: give a folder of its own")
    if bundle_dir.exists() and any(bundle_dir.iterdir()):
        if not cfg.force:
            raise UserInputError(f"bundle folder {bundle_dir} already exists: choose another --out or add --force to replace it")
        shutil.rmtree(bundle_dir)
    return run, target, bundle_dir


def run_deploy(cfg: DeployConfig, progress: Progress = silent) -> DeployResult:
    run, target, bundle_dir = prepare(cfg)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    ctx = DeployContext(cfg, run, target, bundle_dir.resolve(), progress=progress)
    run_steps(ctx, DEPLOY_STEPS)
    manifest = ctx.manifest
    rundir.write_json_atomic(ctx.bundle_dir / driver.MANIFEST_FILE, MANIFEST_ADAPTER.dump_python(manifest, mode="json"))
    rundir.clear_incomplete(ctx.bundle_dir)
    # The run notes its bundle before the bitstream runs: a failed tool run leaves a usable bundle.
    history = note_bundle(run, manifest, ctx.bundle_dir)
    overlay = run_step(ctx, BITSTREAM_STEP) if cfg.bitstream else None
    return DeployResult(ctx.bundle_dir, manifest, overlay, history, ctx.timings)


