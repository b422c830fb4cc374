"""The build cache: keys that change with what determines a build, concurrent writers,
a writer killed mid-write, size-bounded eviction, ``fpga-flow cache``, and real
rebuilds that reuse the cached precisions and compiled project."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from fpga_flow.cache import BuildCache, array_digest, model_digest, parse_size, precision_key, project_key

SPAWN = multiprocessing.get_context("spawn")


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


def test_each_input_of_a_key_changes_it():
    board = {"name": "pynq-z2", "part": "xc7z020clg400-1", "clock_period_ns": 10.0}
    settings = {"io_type": "io_parallel", "strategy": "Latency", "reuse_factor": 1}
    config = {"Model": {"Precision": {"default": "ap_fixed<16,6>"}}}
    base = project_key("m", board, settings, config)
    assert project_key("m", dict(board), dict(settings), json.loads(json.dumps(config))) == base
    assert project_key("m2", board, settings, config) != base
    assert project_key("m", {**board, "clock_period_ns": 5.0}, settings, config) != base
    assert project_key("m", board, {**settings, "reuse_factor": 2}, config) != base
    assert project_key("m", board, settings, {"Model": {"Precision": {"default": "ap_fixed<18,6>"}}}) != base

    calibration = np.zeros((4, 6), dtype=np.float32)
    changed = calibration.copy()
    changed[3, 5] = 1e-6
    assert array_digest(calibration) != array_digest(changed)
    closure = precision_key("m", board, settings, config, "closure", array_digest(calibration), 0.999)
    assert precision_key("m", board, settings, config, "closure", array_digest(changed), 0.999) != closure
    assert precision_key("m", board, settings, config, "closure", array_digest(calibration), 0.99) != closure
    assert precision_key("m", board, settings, config, "auto", array_digest(calibration), None) != closure


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
    from fpga_flow.build import BuildConfig, run_build

    def build(name: str, model: str = "model.h5", **options) -> dict:
        config = BuildConfig(model=str(model_files / model), board="pynq-z2", test_data=model_files / "data.npz",
                             reports_dir=tmp_path, cache_dir=tmp_path / "cache", out=tmp_path / name,
                             min_agreement=0.0, **options)
        return run_build(config)

    cold = build("cold")
    assert cold["cache"]["hit"] is False
    assert {stage: s["hit"] for stage, s in cold["cache"]["stages"].items()} == \
        {"precision": False, "convert": False, "compile": False}
    warm = build("warm")
    assert warm["cache"]["hit"] is True and warm["cache"]["key"] == cold["cache"]["key"]
    assert all(stage["hit"] for stage in warm["cache"]["stages"].values())
    for figure in ("precision_closure", "layer_precisions", "csim_agreement", "testbench_agreement",
                   "max_abs_error", "estimate", "overflow", "compile_flags"):
        assert warm[figure] == cold[figure], figure
    assert warm["precision_closure"]["iterations"]  # the closure record came back whole
    warm_dir = tmp_path / "warm" / "hls_project"
    assert (warm_dir / "bridge.json").is_file() and (warm_dir / "tb_data" / "csim_results.log").is_file()
    assert Path(warm["artifacts"]["csim_library"]).parent == warm_dir / "build"

    assert build("same", "same.h5")["cache"]["hit"] is True
    changed = build("changed", "changed.h5")
    assert changed["cache"]["inputs"]["model"] != cold["cache"]["inputs"]["model"]
    assert not changed["cache"]["stages"]["precision"]["hit"] and not changed["cache"]["stages"]["convert"]["hit"]
    weights = "hls_project/firmware/weights/w2.txt"
    assert (tmp_path / "changed" / weights).read_text() != (tmp_path / "cold" / weights).read_text()

    other_setting = run_cli("build", str(model_files / "model.h5"), "--board", "pynq-z2", "--test-data",
                            str(model_files / "data.npz"), "--reuse-factor", "3", "--min-agreement", "0",
                            "--reports-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
                            "--out", str(tmp_path / "rf3"), "--json")
    assert other_setting.returncode == 0, other_setting.stderr[-2000:]
    stages = json.loads(other_setting.stdout)["cache"]["stages"]
    assert not stages["precision"]["hit"] and not stages["convert"]["hit"] and not stages["compile"]["hit"]


@pytest.mark.slow
def test_no_cache_builds_without_touching_a_cache(model_files, tmp_path):
    result = run_cli("build", str(model_files / "model.h5"), "--board", "pynq-z2", "--test-data",
                     str(model_files / "data.npz"), "--precision-policy", "default", "--min-agreement", "0",
                     "--reports-dir", str(tmp_path), "--no-cache", "--out", str(tmp_path / "run"), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["cache"] is None
    assert not (tmp_path / "cache").exists()
    assert Path(summary["artifacts"]["csim_library"]).parent == tmp_path / "run" / "hls_project" / "build"
