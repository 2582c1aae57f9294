"""hls4ml ONNX handlers of the custom nodes, keyed on ``op_type`` only (any domain).

hls4ml 1.3.0 calls a handler as ``handler(node, input_names, input_shapes, graph)`` where
``input_names`` are the node inputs after skipped layers (Identity, Dropout) are mapped through,
``input_shapes`` the shapes (batch included) found in ``graph.value_info`` / ``graph.output`` /
``graph.input`` for every input, and ``graph`` the ``onnx.GraphProto``. It returns the layer dict
that ``ModelGraph`` turns into a layer. hls4ml makes a ``Constant`` layer of every initializer;
the ChannelGate's W and K constants are consumed here and removed from the graph by the pass
``hsbinet_ext_channel_gate_constants``.
"""

from __future__ import annotations

import math

import numpy as np
from hls4ml.converters.onnx_to_hls import get_onnx_attribute, replace_char_inconsitency
from onnx import numpy_helper

from .errors import HlsExtensionError
from .precision import is_power_of_two


def _layer_name(node) -> str:
    name = node.name or f'{node.op_type.lower()}_{node.output[0]}'
    return replace_char_inconsitency(name)


def _constant_layer_name(tensor_name: str) -> str:
    """The name hls4ml gives the Constant layer of an initializer (see parse_onnx_model)."""
    name = replace_char_inconsitency(tensor_name)
    return 'constant' + name if name[0].isdigit() else name


def _nhwc(node, name, shape, what='input') -> list[int]:
    if len(shape) != 4:
        raise HlsExtensionError(f'{node.op_type} {name}: {what} {node.input[0]!r} must be 4-D NHWC (1, H, W, C); '
                                f'found shape {list(shape)}')
    if shape[0] not in (0, 1):  # 0: symbolic batch dimension
        raise HlsExtensionError(f'{node.op_type} {name}: batch size must be 1; found shape {list(shape)}')
    if min(shape[1:]) < 1:
        raise HlsExtensionError(f'{node.op_type} {name}: {what} {node.input[0]!r} has an unknown dimension '
                                f'{list(shape)}; run shape inference (qonnx InferShapes) before hls4ml')
    return [int(s) for s in shape[1:]]


def _initializer(graph, node, index, what):
    tensor_name = node.input[index]
    init = next((t for t in graph.initializer if t.name == tensor_name), None)
    if init is None:
        raise HlsExtensionError(f'{node.op_type} {_layer_name(node)}: input {index} ({what}, {tensor_name!r}) must be '
                                'a graph initializer (a constant folded into the model); it is produced by a node or '
                                'is a graph input')
    return numpy_helper.to_array(init)


def parse_bilinear_resize(node, input_names, input_shapes, graph):
    name = _layer_name(node)
    if len(node.input) != 1 or len(node.output) != 1:
        raise HlsExtensionError(f'BilinearResize {name}: needs exactly one input and one output, found '
                                f'{len(node.input)} inputs and {len(node.output)} outputs')
    ratio = get_onnx_attribute(node, 'ratio')
    if ratio is None or int(ratio) != ratio or not is_power_of_two(int(ratio)):
        raise HlsExtensionError(f'BilinearResize {name}: attribute ratio must be a power of two >= 1 (only then are '
                                f'the bilinear weights dyadic and the output exact in fixed point); found {ratio!r}')
    ratio = int(ratio)
    h, w, c = _nhwc(node, name, input_shapes[0])
    return {
        'class_name': 'BilinearResize',
        'name': name,
        'inputs': [input_names[0]],
        'outputs': list(node.output),
        'in_height': h,
        'in_width': w,
        'n_chan': c,
        'out_height': ratio * h,
        'out_width': ratio * w,
        'ratio': ratio,
        'log2_ratio': int(math.log2(ratio)),
    }


def parse_channel_gate(node, input_names, input_shapes, graph):
    name = _layer_name(node)
    if len(node.input) != 3 or len(node.output) != 1:
        raise HlsExtensionError(f'ChannelGate {name}: needs inputs (X, W, K) and one output, found '
                                f'{len(node.input)} inputs and {len(node.output)} outputs')
    h, w, c = _nhwc(node, name, input_shapes[0])
    channels = get_onnx_attribute(node, 'channels')
    if channels is None or int(channels) != c:
        raise HlsExtensionError(f'ChannelGate {name}: attribute channels={channels!r} does not match the input '
                                f'channels {c} (input shape (1, {h}, {w}, {c}))')
    f = get_onnx_attribute(node, 'gate_frac_bits', 8)
    if int(f) != f or not 1 <= int(f) <= 30:
        raise HlsExtensionError(f'ChannelGate {name}: attribute gate_frac_bits must be an integer in [1, 30]; '
                                f'found {f!r}')
    f = int(f)
    block = get_onnx_attribute(node, 'block_rows', 0)
    if int(block) != block or int(block) < 0 or (int(block) and h % int(block)):
        raise HlsExtensionError(f'ChannelGate {name}: attribute block_rows must be 0 (the frame) or a divisor of the '
                                f'frame height {h}; found {block!r}')
    block = int(block) or h

    wt = _initializer(graph, node, 1, 'W')
    if wt.shape != (c, c):
        raise HlsExtensionError(f'ChannelGate {name}: weight W ({node.input[1]!r}) must have shape (C, C) = ({c}, {c}) '
                                f'(W[o, c], C = input channels); found shape {tuple(wt.shape)}')
    if not np.all(np.isin(wt, (-1, 1))):
        bad = wt[~np.isin(wt, (-1, 1))]
        raise HlsExtensionError(f'ChannelGate {name}: weight W ({node.input[1]!r}) entries must be -1 or +1; found '
                                f'{bad.size} other values, e.g. {bad.flat[0]!r}')
    kt = _initializer(graph, node, 2, 'K')
    if kt.shape != (c,):
        raise HlsExtensionError(f'ChannelGate {name}: exponent K ({node.input[2]!r}) must have shape (C,) = ({c},); '
                                f'found shape {tuple(kt.shape)}')
    if not np.all(np.asarray(kt, dtype=np.float64) == np.round(np.asarray(kt, dtype=np.float64))):
        raise HlsExtensionError(f'ChannelGate {name}: exponent K ({node.input[2]!r}) must hold integers; found {kt!r}')
    k_int = np.asarray(kt, dtype=np.float64).astype(np.int64)
    if np.abs(k_int).max(initial=0) > 64:
        raise HlsExtensionError(f'ChannelGate {name}: exponent K ({node.input[2]!r}) outside [-64, 64]; '
                                f'found {k_int!r}')

    return {
        'class_name': 'ChannelGate',
        'name': name,
        # W and K stay listed so that hls4ml's Constant layers are found and removed (passes.py)
        'inputs': [input_names[0], _constant_layer_name(input_names[1]), _constant_layer_name(input_names[2])],
        'outputs': list(node.output),
        'height': h,
        'width': w,
        'n_chan': c,
        'gate_frac_bits': f,
        'block_rows': block,
        'gate_w_data': np.asarray(wt, dtype=np.int64),
        'gate_k_data': k_int,
    }


def parse_haar(node, input_names, input_shapes, graph):
    """HaarDWT: (1, H, W, C) -> (1, H/2, W/2, 4C), H and W even; HaarIDWT: (1, h, w, 4C) -> (1, 2h, 2w, C)."""
    name = _layer_name(node)
    if len(node.input) != 1 or len(node.output) != 1:
        raise HlsExtensionError(f'{node.op_type} {name}: needs exactly one input and one output, found '
                                f'{len(node.input)} inputs and {len(node.output)} outputs')
    h, w, c = _nhwc(node, name, input_shapes[0])
    if node.op_type == 'HaarDWT':
        if h % 2 or w % 2:
            raise HlsExtensionError(f'HaarDWT {name}: the input frame must have an even height and width; '
                                    f'found {h} x {w}')
        out = (h // 2, w // 2, 4 * c)
    else:
        if c % 4:
            raise HlsExtensionError(f'HaarIDWT {name}: the input must hold 4 sub-bands per channel (a multiple of '
                                    f'4 channels); found {c}')
        out = (2 * h, 2 * w, c // 4)
    return {
        'class_name': node.op_type,
        'name': name,
        'inputs': [input_names[0]],
        'outputs': list(node.output),
        'in_height': h, 'in_width': w, 'in_chan': c,
        'out_height': out[0], 'out_width': out[1], 'out_chan': out[2],
    }


HANDLERS = {
    'BilinearResize': parse_bilinear_resize,
    'ChannelGate': parse_channel_gate,
    'HaarDWT': parse_haar,
    'HaarIDWT': parse_haar,
}
