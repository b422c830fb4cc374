"""compile_project: units compiled in parallel, objects kept in the build cache by the
hash of their preprocessed source and reused when it has not changed, with real g++."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SHARED
from fpga_flow.boards import get_board
from fpga_flow.cache import BuildCache
from fpga_flow.convert import HLSSettings, base_hls_config, convert
from fpga_flow.csim import COMPILE_LOG, Bridge, compile_project, run_testbench
from fpga_flow.model_io import load_keras_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three_layer():
    folder = SHARED / "peer_models" / "KERAS_3layer"
    model = load_keras_model(folder / "KERAS_3layer.json", folder / "KERAS_3layer_weights.h5")
    return model, np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32)


def _project(model, folder, accum="auto"):
    board, settings = get_board("alveo-u250"), HLSSettings()
    config = base_hls_config(model, settings, board.backend)
    config["LayerName"]["fc1_relu"]["Precision"]["accum"] = accum
    return convert(model, board, settings, folder, config).output_dir


def test_unchanged_units_are_reused_from_the_store_and_run_the_same(three_layer, tmp_path):
    model, X = three_layer
    store = BuildCache(tmp_path / "cache")
    first = compile_project(_project(model, tmp_path / "a"), "-O0", objects=store, jobs=2)
    assert first.reused_objects == ()
    # three objects, and the headers every unit but the network's layers reads, precompiled once
    assert sorted(entry["kind"] for entry in store.entries()) == ["object"] * 3 + ["prelude"]
    assert "not used because" not in (first.project_dir / COMPILE_LOG).read_text()  # g++ took the .gch
    expected = Bridge.load(first).predict(X)

    # The same design in another folder: the firmware object compiles its weights folder
    # in (a new path, a new object); the bridge and the testbench do not, and are reused.
    second = compile_project(_project(model, tmp_path / "b"), "-O0", objects=store, jobs=2)
    assert set(second.reused_objects) == {"myproject_bridge.cpp", "myproject_test.cpp"}
    np.testing.assert_array_equal(Bridge.load(second).predict(X), expected)

    # Recompiling the same folder reuses everything, and the library still computes the same.
    again = compile_project(second.project_dir, "-O0", objects=store, jobs=2)
    assert set(again.reused_objects) == {"firmware/myproject.cpp", "myproject_bridge.cpp", "myproject_test.cpp"}
    np.testing.assert_array_equal(Bridge.load(again).predict(X), expected)
    bench = run_testbench(again, X, expected)  # links the reused testbench object
    np.testing.assert_allclose(bench.predictions, expected, atol=1e-6)
    assert "myproject_test.cpp" not in (again.project_dir / "testbench.log").read_text()

    # A changed type changes every unit's preprocessed text: nothing is reused.
    changed = compile_project(_project(model, tmp_path / "b", accum="fixed<30,12>"), "-O0", objects=store, jobs=2)
    assert changed.reused_objects == ()
    assert [entry["kind"] for entry in store.entries()].count("prelude") == 1  # its headers did not change


def test_without_a_store_everything_compiles_and_is_recorded(three_layer, tmp_path):
    model, X = three_layer
    compiled = compile_project(_project(model, tmp_path / "p"), "-O0", jobs=1)
    record = json.loads((compiled.project_dir / "build" / "compiled.json").read_text())
    assert record["reused_objects"] == [] and record["testbench_object"] == "myproject_test.o"
    assert compiled.testbench_object.is_file()
    assert Bridge.load(compiled).predict(X).shape == (len(X), 5)


# --------------------------------------------------------------------------- per-layer units


@pytest.fixture(scope="module")
def two_heavy_layers():
    """Two Dense layers of 5120 weights (each its own unit) around a light one."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    layers = tf.keras.layers
    model = tf.keras.Sequential([layers.Input((64,), name="x"), layers.Dense(80, name="wide"),
                                 layers.Activation("relu", name="relu"), layers.Dense(64, name="back"),
                                 layers.Dense(3, name="out")])
    return model, np.random.default_rng(3).standard_normal((12, 64)).astype(np.float32)


def _plain_project(model, folder):
    board, settings = get_board("alveo-u250"), HLSSettings()
    return convert(model, board, settings, folder, base_hls_config(model, settings, board.backend)).output_dir


def test_heavy_layers_compile_as_their_own_units_and_compute_the_same_words(two_heavy_layers, tmp_path):
    model, X = two_heavy_layers
    whole = compile_project(_plain_project(model, tmp_path / "whole"), "-O0", split=False, jobs=2)
    assert not any(obj.name.startswith("layer_") for obj in whole.firmware_objects)
    store = BuildCache(tmp_path / "cache")
    split = compile_project(_plain_project(model, tmp_path / "split"), "-O0", split=True, objects=store, jobs=2)
    names = {obj.name for obj in split.firmware_objects}
    assert {"myproject.o", "layer_wide.o", "layer_back.o"} <= names and "layer_relu.o" not in names
    assert "fpga_flow_layer_wide(" in (split.project_dir / "build" / "split" / "myproject.cpp").read_text()
    expected = Bridge.load(whole).predict(X)
    np.testing.assert_array_equal(Bridge.load(split).predict(X), expected)
    bench = run_testbench(split, X, expected)  # hls4ml's testbench links the per-layer objects
    np.testing.assert_allclose(bench.predictions, expected, atol=1e-5)  # it prints 6 significant digits

    # A changed weight: only the top (which reads the weights) compiles again; the layer
    # units read none and are reused, here from another folder.
    weights = model.get_weights()
    weights[0][5, 7] += 0.5
    model.set_weights(weights)
    again = compile_project(_plain_project(model, tmp_path / "changed"), "-O0", split=True, objects=store, jobs=2)
    assert {"build/split/layer_wide.cpp", "build/split/layer_back.cpp"} <= set(again.reused_objects)
    assert "build/split/myproject.cpp" not in again.reused_objects
    changed = Bridge.load(again).predict(X)
    assert not np.array_equal(changed, expected)
    np.testing.assert_array_equal(changed, Bridge.load(
        compile_project(_plain_project(model, tmp_path / "changed_whole"), "-O0", split=False, jobs=2)).predict(X))


def test_light_or_streaming_networks_stay_one_unit(three_layer, two_heavy_layers, tmp_path):
    from fpga_flow.csim_split import split_network

    assert split_network(_project(three_layer[0], tmp_path / "light"), "myproject") is None  # no heavy layer
    model = two_heavy_layers[0]
    board, settings = get_board("alveo-u250"), HLSSettings(io_type="io_stream")
    stream = convert(model, board, settings, tmp_path / "stream", base_hls_config(model, settings, board.backend))
    assert split_network(stream.output_dir, "myproject") is None
    assert split_network(_plain_project(model, tmp_path / "heavy"), "myproject") is not None


def _conv_models():
    import tensorflow as tf

    tf.keras.utils.set_random_seed(5)
    layers = tf.keras.layers
    one_d = tf.keras.Sequential([layers.Input((30, 3)), layers.Conv1D(4, 7, padding="same", name="c1"),
                                 layers.Activation("relu", name="r1"),
                                 layers.Conv1D(2, 3, strides=2, name="c2"), layers.Flatten(name="f"),
                                 layers.Dense(3, name="d")])
    two_d = tf.keras.Sequential([layers.Input((8, 8, 2)), layers.Conv2D(3, 3, strides=2, padding="same", name="c1"),
                                 layers.Activation("relu", name="r1"), layers.Conv2D(4, 2, name="c2"),
                                 layers.Flatten(name="f"), layers.Dense(3, name="d")])
    return {"conv1d": one_d, "conv2d": two_d}


@pytest.mark.parametrize("kind", ["conv1d", "conv2d"])
def test_the_tabled_im2col_computes_the_words_of_hls4mls_statements(kind, tmp_path):
    from fpga_flow.csim_split import CSIM_CODE_GEN

    model = _conv_models()[kind]
    X = np.random.default_rng(1).uniform(-4, 4, (16, *model.input_shape[1:])).astype(np.float32)
    whole = compile_project(_plain_project(model, tmp_path / "whole"), "-O0", split=False, jobs=2)
    tabled = compile_project(_plain_project(model, tmp_path / "tabled"), "-O0", split=True, jobs=2)
    header = (tabled.project_dir / "build" / "split" / CSIM_CODE_GEN).read_text()
    assert "static const int copies[" in header and "buffer[0][0] =" not in header
    assert "buffer[0][0] =" in (tabled.project_dir / "firmware" / "nnet_utils" / "nnet_code_gen.h").read_text()
    expected, expected_traces = Bridge.load(whole).trace(X)
    outputs, traces = Bridge.load(tabled).trace(X)
    np.testing.assert_array_equal(outputs, expected)
    assert sorted(traces) == sorted(expected_traces) and len(np.unique(traces["c1"])) > 10
    for name, values in expected_traces.items():
        np.testing.assert_array_equal(traces[name], values, err_msg=name)


def test_an_im2col_it_cannot_read_is_left_as_hls4ml_wrote_it():
    from fpga_flow.csim_split import table_fill_buffers

    body = ("static void fill_buffer(data_T data[8], data_T buffer[1][2], const unsigned partition) {\n"
            "        if (partition ==   0) {\n            buffer[0][0] =    data[0]; buffer[0][1] = 0;\n        }\n"
            "        if (partition ==   1) {\n            buffer[0][0] =    data[1]; buffer[0][1] = data[2];\n        }\n"
            "    }")
    tabled = table_fill_buffers(body)
    assert "static const int copies[2][2][2] = {\n{{0,0},{1,-1}},\n{{0,1},{1,2}}};" in tabled
    for odd in (body.replace("= 0;", "= data[0] + 1;"),  # not a plain copy
                body.replace("partition ==   1", "partition ==   2")):  # partitions not 0..n-1
        assert table_fill_buffers(odd) == odd


def test_the_testbench_in_shards_writes_the_single_runs_results(three_layer, tmp_path):
    model, _ = three_layer
    X = np.random.default_rng(7).standard_normal((70, 16)).astype(np.float32)
    compiled = compile_project(_project(model, tmp_path / "project"), "-O0", jobs=2)
    reference = Bridge.load(compiled).predict(X)
    single = run_testbench(compiled, X, reference, jobs=1).results_file.read_text()
    assert not (compiled.project_dir / "build" / "testbench_shards").exists()
    sharded = run_testbench(compiled, X, reference, jobs=2)
    assert sharded.results_file.read_text() == single and len(single.splitlines()) == 70
    second = compiled.project_dir / "build" / "testbench_shards" / "1" / "tb_data" / "csim_results.log"
    assert len(second.read_text().splitlines()) == 35  # the second half ran in its own process
    np.testing.assert_allclose(sharded.predictions, reference, atol=1e-5)


def test_the_bridge_in_slices_gives_the_single_runs_words_and_traces(tmp_path):
    from fpga_flow.csim_bridge import BRIDGE_PROBE

    model = _conv_models()["conv1d"]
    X = np.random.default_rng(8).uniform(-4, 4, (BRIDGE_PROBE + 41, *model.input_shape[1:])).astype(np.float32)
    bridge = Bridge.load(compile_project(_plain_project(model, tmp_path / "project"), "-O0", jobs=2))
    single, single_traces = bridge.trace(X)
    assert len(np.unique(single_traces["c1"])) > 10
    for jobs in (2, 3):  # the probe here, then slices of 20 and 21 (13, 14, 14) samples, here and in processes
        outputs, traces = bridge.trace(X, jobs=jobs, min_seconds=0)
        assert outputs.tobytes() == single.tobytes() and outputs.shape == single.shape
        assert list(traces) == list(single_traces)
        for name, values in single_traces.items():
            assert traces[name].tobytes() == values.tobytes() and traces[name].shape == values.shape, name
    assert not list(bridge.library.parent.glob("bridge-slices-*"))  # the slices' files are gone
    # No more samples than the probe takes (a build with --max-samples 4): nothing left to slice.
    few, few_traces = bridge.trace(X[:4], jobs=2, min_seconds=0)
    assert few.tobytes() == single[:4].tobytes() and few_traces["c1"].tobytes() == single_traces["c1"][:4].tobytes()


def test_a_failing_slice_process_is_named(three_layer, tmp_path):
    model, _ = three_layer
    X = np.random.default_rng(9).standard_normal((40, 16)).astype(np.float32)
    bridge = Bridge.load(compile_project(_project(model, tmp_path / "project"), "-O0", jobs=2))
    bridge.library = tmp_path / "gone.so"  # loaded here already; a slice process cannot load it
    from fpga_flow.errors import StageFailedError

    with pytest.raises(StageFailedError, match="bridge C-simulation slice exited with code 1: OSError: .*gone.so"):
        bridge.trace(X, jobs=2, min_seconds=0)
    # A short run (well under BRIDGE_SLICE_MIN_S) stays in this process: no slice process starts
    assert bridge.trace(X, jobs=2)[0].tobytes() == bridge.trace(X)[0].tobytes()
