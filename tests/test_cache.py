"""The build cache: keys that change with what determines a build, concurrent writers,
a writer killed mid-write, size-bounded eviction, ``fpga-flow cache``, and real
rebuilds that reuse the cached precisions and compiled project."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli
from fpga_flow.cache import OBJECT_DIR_ENV, BuildCache, array_digest, object_store, parse_size
from fpga_flow.config import BuildConfig
from fpga_flow.pipeline.design_cache import design_key, installed_source_digest, model_digest, source_digest
from fpga_flow.summary import RunSummary

SPAWN = multiprocessing.get_context("spawn")
# This file checks the build cache's own bookkeeping, objects included: each build keeps
# its objects in its own cache, not the session's shared store (conftest.shared_objects).
pytestmark = pytest.mark.usefixtures("no_shared_objects")


# --------------------------------------------------------------------------- keys


@pytest.fixture(scope="module")
def keras_model():
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([tf.keras.layers.Input((6,), name="x"), tf.keras.layers.Dense(4, name="dense"),
                                tf.keras.layers.Activation("softmax", name="softmax")])


def test_one_changed_weight_changes_the_model_fingerprint(keras_model):
    import tensorflow as tf

    same = tf.keras.models.clone_model(keras_model)
    same.set_weights(keras_model.get_weights())
    assert model_digest(same) == model_digest(keras_model)
    weights = keras_model.get_weights()
    weights[0] = weights[0].copy()
    weights[0][2, 1] += 2.0**-10
    same.set_weights(weights)
    assert model_digest(same) != model_digest(keras_model)


BOARD = {"name": "pynq-z2", "part": "xc7z020clg400-1", "clock_period_ns": 10.0}
SETTINGS = {"io_type": "io_parallel", "strategy": "Latency", "reuse_factor": 1, "default_precision": "ap_fixed<16,6>"}
TOOLCHAIN = {"hls4ml": "1.3.0", "gxx": "12.2.0", "compile_flags": ["-O1", "-fPIC"]}


def test_each_input_of_a_key_changes_it():
    calibration = np.zeros((4, 6), dtype=np.float32)
    changed = calibration.copy()
    changed[3, 5] = 1e-6
    assert array_digest(calibration) != array_digest(changed)
    inputs = dict(model_id="m", board=BOARD, settings=SETTINGS, policy="closure", calibration_id=array_digest(calibration),
                  target_agreement=0.999, toolchain=TOOLCHAIN, source="s")
    base = design_key(**inputs)
    assert design_key(**json.loads(json.dumps(inputs))) == base
    variants = {
        "model_id": "m2", "board": {**BOARD, "clock_period_ns": 5.0}, "settings": {**SETTINGS, "reuse_factor": 2},
        "policy": "auto", "calibration_id": array_digest(changed), "target_agreement": 0.99,
        "toolchain": {**TOOLCHAIN, "gxx": "13.1.0"}, "source": "s2",
        "fit": {"budget": 0.8, "target_latency_ns": None, "io_type": None, "strategy": None, "reuse_factor": None},
    }
    for name, value in variants.items():
        assert design_key(**{**inputs, name: value}) != base, name


def test_editing_any_file_of_a_copied_package_changes_the_key(tmp_path):
    package = tmp_path / "fpga_flow"
    shutil.copytree(REPO / "fpga_flow", package, ignore=shutil.ignore_patterns("__pycache__"))
    def key() -> str:
        return design_key("m", BOARD, SETTINGS, "default", None, None, TOOLCHAIN, source_digest(package))

    assert source_digest(package) == installed_source_digest()  # builds key on this very package
    before = key()
    assert key() == before
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "build.cpython-311.pyc").write_bytes(b"bytecode follows the source")
    assert key() == before
    kernel = package / "attention" / "nnet_qmhsa.h"
    kernel.write_text(kernel.read_text().replace("{", "{ ", 1))
    after_kernel = key()
    assert after_kernel != before
    template = next((package / "templates").iterdir())
    template.write_text(template.read_text() + " ")
    assert key() != after_kernel
    (package / "new_data.json").write_text("{}")
    assert len({before, after_kernel, key()}) == 3


def test_sizes_parse_and_nonsense_is_a_user_error():
    from fpga_flow.errors import UserInputError

    assert parse_size("500M") == 500 * 1024**2
    assert parse_size("2G") == parse_size("2GiB") == 2 * 1024**3
    assert parse_size("1024") == 1024
    with pytest.raises(UserInputError, match="500M or 2G"):
        parse_size("lots")


# --------------------------------------------------------------------------- store


def _payload_entry(size: int):
    def create(payload: Path) -> dict:
        (payload / "data.bin").write_bytes(b"x" * size)
        return {"size": size}

    return create


def _race_for_the_key(folder: str, key: str, barrier, results) -> None:
    cache = BuildCache(folder)

    def create(payload: Path) -> dict:
        with open(Path(folder).parent / "creations.log", "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(1.0)  # long enough that the other writer arrives while this one works
        (payload / "data.bin").write_bytes(b"x" * 4096)
        return {"writer": os.getpid()}

    barrier.wait()
    with cache.get_or_create(key, "test", create) as entry:
        results.put({"pid": os.getpid(), "hit": entry.hit, "writer": entry.meta["writer"],
                     "data_ok": (entry.payload / "data.bin").read_bytes() == b"x" * 4096})


def test_compiled_objects_go_where_fpga_flow_object_dir_says_else_to_the_builds_cache(tmp_path, monkeypatch):
    config = BuildConfig(model="cnn_digits", board="pynq-z2", reports_dir=tmp_path / "reports")
    assert object_store(config).folder == (tmp_path / "reports" / "cache").resolve()
    assert object_store(config.model_copy(update={"cache_dir": tmp_path / "c"})).folder == (tmp_path / "c").resolve()
    monkeypatch.setenv(OBJECT_DIR_ENV, str(tmp_path / "objects"))
    assert object_store(config).folder == object_store(config.model_copy(update={"cache_dir": tmp_path / "c"})).folder \
        == (tmp_path / "objects").resolve()
    assert object_store(config.model_copy(update={"use_cache": False})) is None  # --no-cache: no store at all


def test_concurrent_writers_of_one_key_build_it_once(tmp_path):
    folder = tmp_path / "cache"
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    workers = [SPAWN.Process(target=_race_for_the_key, args=(str(folder), "k" * 64, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert len((tmp_path / "creations.log").read_text().split()) == 1
    assert sorted(outcome["hit"] for outcome in outcomes) == [False, True]
    assert outcomes[0]["writer"] == outcomes[1]["writer"]
    assert all(outcome["data_ok"] for outcome in outcomes)
    assert BuildCache(folder).info().entries == 1


def _write_until_killed(folder: str, key: str, started) -> None:
    def create(payload: Path) -> dict:
        (payload / "data.bin").write_bytes(b"half")
        started.set()
        time.sleep(600)
        return {}

    with BuildCache(folder).get_or_create(key, "test", create):
        pass


def test_a_writer_killed_mid_write_leaves_no_entry(tmp_path):
    folder, key = tmp_path / "cache", "d" * 64
    started = SPAWN.Event()
    writer = SPAWN.Process(target=_write_until_killed, args=(str(folder), key, started))
    writer.start()
    assert started.wait(60)
    writer.kill()
    writer.join(timeout=30)
    cache = BuildCache(folder)
    with cache.read(key) as entry:
        assert entry is None
    assert cache.info().entries == 0 and cache.info().unfinished == 1
    with cache.get_or_create(key, "test", _payload_entry(100)) as entry:
        assert not entry.hit
        assert [p.name for p in entry.folder.iterdir() if p.is_dir()] == [entry.payload.name]
        assert (entry.payload / "data.bin").stat().st_size == 100
    assert cache.info().unfinished == 0


def test_eviction_drops_the_least_recently_used_and_spares_entries_in_use(tmp_path):
    cache = BuildCache(tmp_path / "cache", max_bytes=2500)
    for key in ("a", "b"):
        with cache.get_or_create(key * 64, "test", _payload_entry(1000)):
            pass
    # Make the use order unambiguous, whatever the file system's timestamp granularity.
    os.utime(cache.folder / "entries" / ("a" * 64) / "entry.json", (1000, 1000))
    os.utime(cache.folder / "entries" / ("b" * 64) / "entry.json", (2000, 2000))
    with cache.read("a" * 64) as entry:  # a use: now "b" is the least recently used
        assert entry is not None
    with cache.get_or_create("c" * 64, "test", _payload_entry(1000)) as entry:
        assert not entry.hit
    kept = {manifest["key"][0] for manifest in cache.entries()}
    assert kept == {"a", "c"}
    assert cache.info().bytes <= 2500

    with cache.read("c" * 64):
        assert cache.evict(max_bytes=0) == ["a" * 64]
    assert {manifest["key"][0] for manifest in cache.entries()} == {"c"}


def test_cache_info_and_clear_from_the_command_line(tmp_path):
    folder = tmp_path / "cache"
    cache = BuildCache(folder)
    for key in ("e", "f"):
        with cache.get_or_create(key * 64, "project", _payload_entry(2048)):
            pass
    info = run_cli("cache", "info", "--cache-dir", str(folder), "--json")
    assert info.returncode == 0, info.stderr
    figures = json.loads(info.stdout)
    assert figures["entries"] == 2 and figures["by_kind"]["project"]["entries"] == 2 and figures["bytes"] > 4096
    cleared = run_cli("cache", "clear", "--cache-dir", str(folder))
    assert cleared.returncode == 0, cleared.stderr
    assert "removed 2 entries" in cleared.stdout
    assert json.loads(run_cli("cache", "info", "--cache-dir", str(folder), "--json").stdout)["entries"] == 0
    assert not list((folder / "entries").iterdir())


# --------------------------------------------------------------------------- real builds


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    import tensorflow as tf

    from fpga_flow.model_io import load_keras_model

    tf.keras.utils.set_random_seed(1)
    folder = tmp_path_factory.mktemp("cache_models")
    model = tf.keras.Sequential([tf.keras.layers.Input((6,), name="x"), tf.keras.layers.Dense(5, name="dense"),
                                 tf.keras.layers.Activation("relu", name="relu"), tf.keras.layers.Dense(3, name="out")])
    model.save(folder / "model.h5")
    # Saved again after loading, unchanged and with one weight changed, so the two files
    # differ only in that weight.
    loaded = load_keras_model(folder / "model.h5")
    loaded.save(folder / "same.h5")
    weights = loaded.get_weights()
    weights[0][1, 2] += 0.25
    loaded.set_weights(weights)
    loaded.save(folder / "changed.h5")
    np.savez(folder / "data.npz", X=np.random.default_rng(1).standard_normal((60, 6)).astype(np.float32))
    return folder


@pytest.mark.slow
def test_rebuild_reuses_the_cache_and_a_changed_weight_or_setting_misses(model_files, tmp_path):
    from fpga_flow.config import BuildConfig
    from fpga_flow.pipeline import run_build

    def build(name: str, model: str = "model.h5", **options) -> RunSummary:
        config = BuildConfig(model=str(model_files / model), board="pynq-z2", test_data=model_files / "data.npz",
                             reports_dir=tmp_path, cache_dir=tmp_path / "cache", out=tmp_path / name,
                             min_agreement=0.0, **options)
        return run_build(config)

    cold = build("cold")
    assert cold.cache.hit is False
    assert cold.cache.steps == ["fit", "precision", "refit", "convert", "compile", "estimate"]
    assert {"precision", "compile"} <= set(cold.timings_s)
    warm = build("warm")
    assert warm.cache.hit is True and warm.cache.key == cold.cache.key
    assert not {"fit", "precision", "refit", "convert", "compile", "estimate"} & set(warm.timings_s)  # restored, not run
    assert warm.precision == cold.precision and warm.precision.closure.iterations  # the closure record, whole
    for section in ("fidelity", "checks", "estimate", "toolchain"):
        assert getattr(warm, section) == getattr(cold, section), section
    warm_dir = tmp_path / "warm" / "hls_project"
    assert (warm_dir / "bridge.json").is_file() and (warm_dir / "tb_data" / "csim_results.log").is_file()
    assert Path(warm.artifacts["csim_library"]).parent == warm_dir / "build"
    assert (tmp_path / "warm" / "hls_config.json").read_text() == (tmp_path / "cold" / "hls_config.json").read_text()

    assert build("same", "same.h5").cache.hit is True
    changed = build("changed", "changed.h5")
    assert changed.cache.model_digest != cold.cache.model_digest and not changed.cache.hit
    weights = "hls_project/firmware/weights/w2.txt"
    assert (tmp_path / "changed" / weights).read_text() != (tmp_path / "cold" / weights).read_text()
    # a new design entry (its firmware reads the new weights from its own folder), but the
    # units that do not read weights (bridge, testbench, the board's AXI wrapper) are reused
    compiled = json.loads((tmp_path / "changed" / "hls_project" / "build" / "compiled.json").read_text())
    assert set(compiled["reused_objects"]) == {"myproject_bridge.cpp", "myproject_test.cpp",
                                               "firmware/myproject_axi.cpp"}

    other_setting = run_cli("build", str(model_files / "model.h5"), "--board", "pynq-z2", "--test-data",
                            str(model_files / "data.npz"), "--no-fit", "--reuse-factor", "3", "--min-agreement", "0",
                            "--reports-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
                            "--out", str(tmp_path / "rf3"), "--json")
    assert other_setting.returncode == 0, other_setting.stderr[-2000:]
    assert json.loads(other_setting.stdout)["cache"]["hit"] is False


@pytest.mark.slow
def test_no_cache_builds_without_touching_a_cache(model_files, tmp_path):
    result = run_cli("build", str(model_files / "model.h5"), "--board", "pynq-z2", "--test-data",
                     str(model_files / "data.npz"), "--precision-policy", "default", "--min-agreement", "0",
                     "--reports-dir", str(tmp_path), "--no-cache", "--out", str(tmp_path / "run"), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["cache"] is None and "build_cache" not in summary["timings_s"]
    assert not (tmp_path / "cache").exists()
    assert Path(summary["artifacts"]["csim_library"]).parent == tmp_path / "run" / "hls_project" / "build"


# --------------------------------------------------------------------------- the whole-run cache

# The command as a user runs it, reporting on stderr which heavy optional dependencies it
# imported (tests/test_import_cost.py checks the bare imports).
CLI_WITH_IMPORT_MARKER = (
    "import atexit, json, sys\n"
    "HEAVY = {'tensorflow', 'hls4ml', 'qkeras', 'da4ml', 'matplotlib', 'dask'}\n"
    "atexit.register(lambda: sys.stderr.write("
    "f\"\\nheavy imported: {json.dumps(sorted({m.partition('.')[0] for m in sys.modules} & HEAVY))}\\n\"))\n"
    "from fpga_flow.cli import app\n"
    "app(prog_name='fpga-flow')\n"
)


def _build_marked(model: Path, data: Path, tmp_path: Path, out: str, *options: str):
    import subprocess
    import sys

    args = ["build", str(model), "--board", "pynq-z2", "--test-data", str(data), "--precision-policy", "default",
            "--min-agreement", "0", "--reports-dir", str(tmp_path), "--out", str(tmp_path / out), "--json", *options]
    result = subprocess.run([sys.executable, "-c", CLI_WITH_IMPORT_MARKER, *args], cwd=REPO, capture_output=True,
                            text=True, timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    imported = result.stderr.strip().splitlines()[-1]
    assert imported.startswith("heavy imported: "), imported
    return json.loads(result.stdout), json.loads(imported.removeprefix("heavy imported: "))


def _comparable(summary: dict) -> dict:
    """A summary without what differs between two runs of one build: id, time, the
    cache's record, timings, the run folder in paths, the --out option."""
    run_dir = summary["artifacts"]["run_dir"]
    kept = {key: value for key, value in summary.items()
            if key not in ("run_id", "created_utc", "cache", "timings_s", "artifacts", "config")}
    kept["artifacts"] = {role: path.replace(run_dir, "RUN") for role, path in summary["artifacts"].items()}
    kept["config"] = {key: value for key, value in summary["config"].items() if key != "out"}
    return kept


@pytest.mark.slow
def test_an_unchanged_rebuild_is_restored_without_tensorflow_and_any_edit_misses(model_files, tmp_path):
    model = tmp_path / "model.h5"
    shutil.copy2(model_files / "model.h5", model)
    data = model_files / "data.npz"
    first, first_heavy = _build_marked(model, data, tmp_path, "first")
    assert "tensorflow" in first_heavy and "hls4ml" in first_heavy and first["cache"]["run_hit"] is False

    again, again_heavy = _build_marked(model, data, tmp_path, "again")
    assert again["cache"]["run_hit"] is True and again["cache"]["restored_from"] == first["run_id"]
    assert again_heavy == [], f"a full hit imported {again_heavy}"
    assert _comparable(again) == _comparable(first)
    assert set(again["timings_s"]) == {"run_cache", "total"}
    # a complete run of its own: the summary on disk, the page, the project with its library
    run = tmp_path / "again"
    assert json.loads((run / "summary.json").read_text()) == again
    assert not (run / "INCOMPLETE").exists() and (run / "dashboard.html").is_file()
    library = Path(again["artifacts"]["csim_library"])
    assert library.parent == run / "hls_project" / "build" and library.is_file()
    from fpga_flow.csim import Bridge, CompiledProject

    X = np.load(data)["X"][30:]
    assert np.array_equal(Bridge.load(CompiledProject.open(run / "hls_project")).predict(X),
                          Bridge.load(CompiledProject.open(tmp_path / "first" / "hls_project")).predict(X))

    option, option_heavy = _build_marked(model, data, tmp_path, "option", "--min-agreement", "0.01")
    assert option["cache"]["run_hit"] is False and "tensorflow" in option_heavy
    shutil.copy2(model_files / "changed.h5", model)  # one weight edited, the same path
    edited, _ = _build_marked(model, data, tmp_path, "edited")
    assert edited["cache"]["run_hit"] is False and edited["cache"]["model_digest"] != first["cache"]["model_digest"]
