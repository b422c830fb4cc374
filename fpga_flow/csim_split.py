"""Per-layer translation units of an hls4ml io_parallel project, for C-simulation.

hls4ml writes the whole network into one translation unit (``firmware/PROJECT.cpp``): g++
instantiates every layer's templates in one process, one core, minutes for a large
Conv1D model. :func:`split_network` writes, into ``build/split/``, the same network as
one unit per layer and a top unit:

- ``layer_<name>.cpp``, for each layer heavy enough (:data:`SPLIT_MIN_WEIGHTS`), defines
  ``void fpga_flow_layer_<name>(T0* a0, ...)`` whose body is the layer's own call (``nnet::conv_1d_cl<...>(a0, a1, a2, a3)``), so the layer's
  templates are instantiated there and nowhere else. It reads no weights (they are
  arguments), so its object does not depend on the project folder;
- ``PROJECT.cpp`` is hls4ml's top with those layers' calls replaced by their wrappers',
  weights loading and layer tracing unchanged;
- ``parameters.h`` is hls4ml's with its out-of-class constant definitions
  (``config2::pixels``) made ``inline`` (C++17) so several units may include it; the layer
  units see it without the weights headers (``W2_H_`` ... defined first), through
  ``layer_common.h``, which is precompiled once: each layer unit then parses only its call;
- ``nnet_code_gen_csim.h`` is hls4ml's generated ``nnet_code_gen.h`` with each
  convolution's im2col (``fill_buffer``: one statement per buffer element and partition,
  128,000 for a Conv1D of kernel 40 on 32 channels) as a constant table and a loop, the
  same copies in the same order (:func:`table_fill_buffers`). The project's own files are
  untouched: only the C-simulation reads these.

The wrappers take what the top passes: arrays decay to pointers of the element type
declared in the top (outputs, inputs, ``auto&`` aliases) or in the weights headers. A
call whose argument types are not all found that way, a project in io_stream (streams
and static line buffers), or a compiler without C++17 keeps the single unit (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SPLIT_SUBDIR = "split"
WRAPPER_PREFIX = "fpga_flow_layer_"
# A layer gets its own unit when one of its weight arrays has this many values: each unit
# costs a parse of hls4ml's headers (~0.3 s from the precompiled header, more under
# load), which only a layer heavy to compile repays. Lighter layers (activations, small
# dense) stay in the top; fewer than two heavy layers leave the network one unit,
# unless it has an im2col to table.
SPLIT_MIN_WEIGHTS = 4096
# What every layer unit includes first, precompiled once per compile (g++ falls back to
# reading the header when the .gch does not match the unit's flags: slower, never wrong).
COMMON_HEADER = "layer_common.h"
# nnet::conv_1d_cl<input_t, conv1_result_t, config2>(x, layer2_out, w2, b2); // conv1
_CALL = re.compile(r"^(?P<indent>\s*)nnet::(?P<function>\w+)<(?P<targs>[^;]*)>\((?P<args>[^;()]*)\);\s*//\s*(?P<layer>\w+)\s*$",
                   re.MULTILINE)
_ARRAY = re.compile(r"^\s*(?P<type>[A-Za-z_][\w:<>, ]*?)\s+(?P<name>\w+)\s*\[[^\]]*\]\s*[;,)]", re.MULTILINE)
_ALIAS = re.compile(r"^\s*auto\s*&\s*(?P<name>\w+)\s*=\s*(?P<target>\w+)\s*;", re.MULTILINE)
_WEIGHTS_SIZE = re.compile(r"^\w+\s+(?P<name>\w+)\s*\[(?P<size>\d+)\]\s*;", re.MULTILINE)
_GUARD = re.compile(r"^#ifndef\s+(\w+_H_)\s*$", re.MULTILINE)
_WEIGHTS_INCLUDE = re.compile(r'^#include "weights/[^"]+"\s*$', re.MULTILINE)
_OUT_OF_CLASS_CONST = re.compile(r"^const (?=[^;]*\w::\w+\s*\[\]\s*=)", re.MULTILINE)
# hls4ml's generated im2col of an io_parallel convolution (nnet_code_gen.h): per partition,
# one statement per buffer element, ``buffer[0][133] =    data[0];`` or ``= 0;``
_CODE_GEN_INCLUDE = '#include "nnet_utils/nnet_code_gen.h"'
CSIM_CODE_GEN = "nnet_code_gen_csim.h"
_FILL = re.compile(r"(?P<head>static void fill_buffer\((?P<params>[^)]*)\)\s*\{)"
                   r"(?P<body>(?:\s*if \(partition\s*==\s*\d+\)\s*\{[^{}]*\})+)(?P<tail>\s*\})")
_PARTITION = re.compile(r"if \(partition\s*==\s*(\d+)\)\s*\{([^{}]*)\}")
_COPY = re.compile(r"buffer\[(\d+)\]\[(\d+)\]\s*=\s*(?:data\[(\d+)\]|(0))\s*;")


@dataclass(frozen=True)
class SplitNetwork:
    """The files of the split network, relative to ``build/split`` of the project."""

    top: str  # PROJECT.cpp
    layers: dict[str, str]  # layer name -> its unit's file name
    files: dict[str, str]  # file name -> text


def split_network(project_dir: Path, project: str) -> SplitNetwork | None:
    """The network of ``firmware/<project>.cpp`` as per-layer units, or None where it
    stays one unit (see the module docstring)."""
    firmware = Path(project_dir) / "firmware"
    top_text = (firmware / f"{project}.cpp").read_text(encoding="utf-8")
    parameters = (firmware / "parameters.h").read_text(encoding="utf-8")
    if "hls::stream" in top_text:
        return None
    types = _declared_types(top_text, sorted((firmware / "weights").glob("*.h")))
    sizes = _weight_sizes(sorted((firmware / "weights").glob("*.h")))
    guards = [match.group(1) for path in sorted((firmware / "weights").glob("*.h"))
              for match in [_GUARD.search(path.read_text(encoding="utf-8"))] if match]
    shared = _OUT_OF_CLASS_CONST.sub("inline const ", parameters)
    code_gen = _tabled_code_gen(firmware) if _CODE_GEN_INCLUDE in shared else None
    if code_gen is not None:
        shared = shared.replace(_CODE_GEN_INCLUDE, f'#include "{CSIM_CODE_GEN}"')
    files = {"parameters.h": shared,
             "parameters_noweights.h": "".join(f"#define {guard}\n" for guard in guards) +
             _WEIGHTS_INCLUDE.sub("", shared),
             COMMON_HEADER: f'#include "{project}.h"\n#include "parameters_noweights.h"\n'}
    if code_gen is not None:
        files[CSIM_CODE_GEN] = code_gen
    layers: dict[str, str] = {}
    prototypes: list[str] = []

    def wrap(call: re.Match) -> str:
        args = [arg.strip() for arg in call.group("args").split(",")]
        if max((sizes.get(arg, 0) for arg in args), default=0) < SPLIT_MIN_WEIGHTS:
            return call.group(0)
        if any(arg not in types for arg in args):
            raise _Unsplittable(call.group(0))
        name = call.group("layer")
        params = ", ".join(f"{types[arg]}* a{i}" for i, arg in enumerate(args))
        signature = f"void {WRAPPER_PREFIX}{name}({params})"
        body = f"nnet::{call.group('function')}<{call.group('targs')}>({', '.join(f'a{i}' for i in range(len(args)))});"
        layers[name] = f"layer_{name}.cpp"
        files[layers[name]] = f'#include "{COMMON_HEADER}"\n\n{signature} {{\n    {body}\n}}\n'
        prototypes.append(f"{signature};")
        return f"{call.group('indent')}{WRAPPER_PREFIX}{name}({', '.join(args)}); // {name}"

    try:
        top = _CALL.sub(wrap, top_text)
    except _Unsplittable:
        return None
    # Fewer than two heavy layers stay in the top, unless the top gains the tabled im2col.
    if len(layers) < 2 and code_gen is None or len(set(layers)) != len(layers):
        return None
    marker = '#include "parameters.h"\n'
    if marker not in top:
        return None
    files[f"{project}.cpp"] = top.replace(marker, marker + "\n" + "\n".join(prototypes) + "\n", 1)
    return SplitNetwork(f"{project}.cpp", layers, files)


class _Unsplittable(Exception):
    """A layer call whose argument types are not declared where the split looks."""


def _declared_types(top_text: str, weight_headers: list[Path]) -> dict[str, str]:
    """The element type of every array the top passes to a layer: its arguments and
    locals, ``auto&`` aliases, and the weights (their simulation-side declaration)."""
    types = {match.group("name"): match.group("type").strip() for match in _ARRAY.finditer(top_text)}
    for path in weight_headers:
        text = path.read_text(encoding="utf-8")
        simulation = text.split("#else")[0]  # the #ifndef __SYNTHESIS__ branch: no initializer
        types.update({match.group("name"): match.group("type").strip() for match in _ARRAY.finditer(simulation)})
    for match in _ALIAS.finditer(top_text):
        if match.group("target") in types:
            types[match.group("name")] = types[match.group("target")]
    return types


def _weight_sizes(weight_headers: list[Path]) -> dict[str, int]:
    """The number of values of each weights array."""
    sizes = {}
    for path in weight_headers:
        match = _WEIGHTS_SIZE.search(path.read_text(encoding="utf-8").split("#else")[0])
        if match:
            sizes[match.group("name")] = int(match.group("size"))
    return sizes


def _tabled_code_gen(firmware: Path) -> str | None:
    """hls4ml's ``nnet_code_gen.h`` with every im2col ``fill_buffer`` as a table and a loop
    (:func:`table_fill_buffers`), its includes made relative to ``firmware``; None when
    there is none to rewrite."""
    path = firmware / "nnet_utils" / "nnet_code_gen.h"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    tabled = table_fill_buffers(text)
    return None if tabled == text else tabled.replace('#include "nnet_', '#include "nnet_utils/nnet_')


def table_fill_buffers(code_gen: str) -> str:
    """``code_gen`` with each generated ``fill_buffer`` body (one ``if (partition == p)``
    block per partition, one assignment per buffer element: 128,000 statements for a
    Conv1D of kernel 40 on 32 channels and 100 pixels) replaced by a constant table of the
    same copies, in the same order, and a loop over the partition's row. Same
    assignments, so the same words; g++'s optimizer is quadratic in the statements of one
    function (alias walking, points-to, inlining heuristics: minutes per layer at -O1)
    and linear in a table. A body holding anything else is left as hls4ml wrote it."""
    return _FILL.sub(_tabled_fill, code_gen)


def _tabled_fill(match: re.Match) -> str:
    blocks = _PARTITION.findall(match.group("body"))
    if [int(p) for p, _ in blocks] != list(range(len(blocks))) or not all(
            name in match.group("params") for name in ("data", "buffer", "partition")):
        return match.group(0)
    rows = []
    for _, block in blocks:
        if _COPY.sub("", block).strip():
            return match.group(0)
        rows.append([(int(pixel), int(index), -1 if zero else int(source))
                     for pixel, index, source, zero in _COPY.findall(block)])
    width = 1 + max((index for row in rows for _, index, _ in row), default=0)
    count = max((len(row) for row in rows), default=0)
    # (destination pixel * width + index, source or -1 for 0); rows padded with (-1, -1)
    table = ",\n".join("{" + ",".join(f"{{{pixel * width + index},{source}}}" for pixel, index, source in row) +
                       ",{-1,-1}" * (count - len(row)) + "}" for row in rows)
    return (f"{match.group('head')}\n"
            f"        // fpga-flow, C-simulation only: hls4ml's {sum(map(len, rows))} assignments as a table\n"
            f"        static const int copies[{len(rows)}][{count}][2] = {{\n{table}}};\n"
            f"        if (partition >= {len(rows)}) return;\n"
            f"        for (int k = 0; k < {count}; k++) {{\n"
            f"            const int to = copies[partition][k][0], from = copies[partition][k][1];\n"
            f"            if (to < 0) break;\n"
            f"            if (from < 0) buffer[to / {width}][to % {width}] = 0;\n"
            f"            else buffer[to / {width}][to % {width}] = data[from];\n"
            f"        }}{match.group('tail')}")


def write_split(split: SplitNetwork, project_dir: Path, build_subdir: str) -> Path:
    """Write the split network's files; returns their folder."""
    folder = Path(project_dir) / build_subdir / SPLIT_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in split.files.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder
