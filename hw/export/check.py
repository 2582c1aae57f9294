"""The final-graph check of the export: what the hls4ml io_stream lowering needs, or a
:class:`~hw.export.graph.QonnxPassError` naming what is left."""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper

from hw.export.graph import QonnxPassError, attr, nhwc, str_attr


def check_final_graph(model: ModelWrapper, nchw_inputs: dict[str, list[int]],
                      nchw_output: list[int]) -> None:
    """Raise :class:`QonnxPassError` unless the graph is what the hls4ml lowering needs.

    Zero Transpose nodes (each is a full-frame buffer in io_stream), every 4D input NHWC
    (N, H, W, C) with the recorded NCHW (N, C, H, W) shape permuted, the output NHWC, no
    ReduceMean and no non-nearest Resize left. ``nchw_inputs`` maps the final input names, in
    graph order, to their NCHW shapes.
    """
    transposes = model.get_nodes_by_op_type('Transpose')
    if transposes:
        where = []
        for t in transposes[:6]:
            p = model.find_producer(t.input[0])
            cons = model.find_consumers(t.output[0])
            where.append(f'{t.name or t.output[0]} perm={list(attr(t, "perm", []))} after '
                         f'{p.op_type if p else "graph input"} before '
                         f'{",".join(c.op_type for c in cons) or "graph output"}')
        raise QonnxPassError('Transpose nodes left in the final graph (each is a full-frame buffer in '
                             'io_stream)', expected='0', found=f'{len(transposes)}: ' + '; '.join(where))
    for inp, (name, nchw) in zip(model.graph.input, nchw_inputs.items()):
        shape = list(model.get_tensor_shape(inp.name))
        if len(nchw) == 4 and shape != nhwc(nchw):
            raise QonnxPassError('Graph input is not channels-last', key=f'input {name}',
                                 expected=str(nhwc(nchw)), found=str(shape))
    out_name = model.get_first_global_out()
    out = list(model.get_tensor_shape(out_name))
    if out != nhwc(nchw_output):
        raise QonnxPassError('Graph output is not channels-last', key=f'output {out_name}',
                             expected=str(nhwc(nchw_output)), found=str(out))
    for n in model.graph.node:
        if n.op_type == 'ReduceMean' or (n.op_type == 'Resize' and str_attr(n, 'mode', 'nearest') != 'nearest'):
            raise QonnxPassError('Node that stock hls4ml cannot lower was left in the graph',
                                 key=f'node {n.name} ({n.op_type})', expected='fused into a hw.custom_ops node',
                                 found=n.op_type)
