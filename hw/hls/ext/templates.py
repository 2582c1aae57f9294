"""Config-struct and function-call templates (Vivado and Vitis backends share them)."""

from __future__ import annotations

from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

from .errors import HlsExtensionError
from .layers import BilinearResize, ChannelGate, HaarDWT, HaarIDWT
from .passes import check_gate_input, check_io_stream
from .precision import bilinear_result_precision, haar_result_precision

HEADER_NAME = 'nnet_hsbinet_ext_stream.h'
INCLUDE = [f'nnet_utils/{HEADER_NAME}']

bilinear_config_template = """struct config{index} : nnet::bilinear_resize_config {{
    static const unsigned height = {in_height};
    static const unsigned width = {in_width};
    static const unsigned n_chan = {n_chan};
    static const unsigned ratio = {ratio};
    static const unsigned log2_ratio = {log2_ratio};
    static const unsigned new_height = {out_height};
    static const unsigned new_width = {out_width};
    typedef {weight_t} weight_t;
    typedef {accum_t} accum_t;
}};
"""

bilinear_function_template = 'nnet::bilinear_resize<{input_t}, {output_t}, {config}>({input}, {output});'

gate_config_template = """struct config{index} : nnet::channel_gate_config {{
    static const unsigned height = {height};
    static const unsigned width = {width};
    static const unsigned n_chan = {n_chan};
    static const unsigned gate_frac_bits = {gate_frac_bits};
    static const unsigned block_rows = {block_rows}; // rows per gate (height: one gate per frame)
    static const bool xnor_input = {xnor_input};
    static const unsigned max_down_shift = {max_down_shift};
    static const unsigned frame_bits = {frame_bits}; // one half of the ping-pong buffer: block_rows * width * n_chan bits
    typedef {count_t} count_t;
    typedef {wide_t} wide_t;
    typedef {weight_t} weight_t;
    typedef {exponent_t} exponent_t;
}};
"""

gate_function_template = 'nnet::channel_gate<{input_t}, {output_t}, {config}>({input}, {output}, {w}, {k});'


class BilinearResizeConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(BilinearResize)
        self.name = 'hsbinet_ext_bilinear_resize_config_template'
        self.template = bilinear_config_template

    def format(self, node):
        check_io_stream(node)
        if node.get_attr('bilinear_accum_t') is None:
            raise HlsExtensionError(f'BilinearResize {node.name}: its types were never derived (the input precision '
                                    'stayed unknown); give the input layer an explicit precision')
        if node.get_attr('result_precision_source') == 'derived':
            now = bilinear_result_precision(node.get_input_variable().type.precision, node.get_attr('ratio'))
            if str(now) != str(node.get_output_variable().type.precision):
                raise HlsExtensionError(f'BilinearResize {node.name}: its input precision changed after the exact '
                                        f'output type was derived ({node.get_output_variable().type.precision} vs '
                                        f'{now}); set the input precision explicitly')
        params = self._default_config_params(node)
        params['weight_t'] = node.get_attr('bilinear_weight_t').name
        params['accum_t'] = node.get_attr('bilinear_accum_t').name
        return self.template.format(**params)


class BilinearResizeFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(BilinearResize, include_header=INCLUDE)
        self.name = 'hsbinet_ext_bilinear_resize_function_template'
        self.template = bilinear_function_template

    def format(self, node):
        return self.template.format(**self._default_function_params(node))


class ChannelGateConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(ChannelGate)
        self.name = 'hsbinet_ext_channel_gate_config_template'
        self.template = gate_config_template

    def format(self, node):
        check_io_stream(node)
        params = self._default_config_params(node)
        params['xnor_input'] = 'true' if check_gate_input(node) else 'false'
        params['count_t'] = node.get_attr('cg_count_t').name
        params['wide_t'] = node.get_attr('cg_wide_t').name
        params['weight_t'] = node.get_weights('gate_w').type.name
        params['exponent_t'] = node.get_weights('gate_k').type.name
        return self.template.format(**params)


class ChannelGateFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(ChannelGate, include_header=INCLUDE)
        self.name = 'hsbinet_ext_channel_gate_function_template'
        self.template = gate_function_template

    def format(self, node):
        params = self._default_function_params(node)
        params['w'] = node.get_weights('gate_w').name
        params['k'] = node.get_weights('gate_k').name
        return self.template.format(**params)


haar_config_template = """struct config{index} : nnet::haar_config {{
    static const unsigned in_height = {in_height};
    static const unsigned in_width = {in_width};
    static const unsigned in_chan = {in_chan};
    static const unsigned out_height = {out_height};
    static const unsigned out_width = {out_width};
    static const unsigned out_chan = {out_chan};
    typedef {accum_t} accum_t;
}};
"""


class _HaarConfigTemplate(LayerConfigTemplate):
    layer_cls = None

    def __init__(self):
        super().__init__(self.layer_cls)
        self.name = f'hsbinet_ext_{self.layer_cls.__name__.lower()}_config_template'
        self.template = haar_config_template

    def format(self, node):
        check_io_stream(node)
        if node.get_attr('result_precision_source') == 'derived':
            now = haar_result_precision(node.get_input_variable().type.precision)
            if str(now) != str(node.get_output_variable().type.precision):
                raise HlsExtensionError(f'{node.class_name} {node.name}: its input precision changed after the exact '
                                        f'output type was derived ({node.get_output_variable().type.precision} vs '
                                        f'{now}); set the input precision explicitly')
        if node.get_attr('haar_accum_t') is None:
            raise HlsExtensionError(f'{node.class_name} {node.name}: its types were never derived (the input '
                                    'precision stayed unknown); give the input layer an explicit precision')
        params = self._default_config_params(node)
        params['accum_t'] = node.get_attr('haar_accum_t').name
        return self.template.format(**params)


class _HaarFunctionTemplate(FunctionCallTemplate):
    layer_cls = None
    function = ''

    def __init__(self):
        super().__init__(self.layer_cls, include_header=INCLUDE)
        self.name = f'hsbinet_ext_{self.layer_cls.__name__.lower()}_function_template'
        self.template = f'nnet::{self.function}<{{input_t}}, {{output_t}}, {{config}}>({{input}}, {{output}});'

    def format(self, node):
        return self.template.format(**self._default_function_params(node))


class HaarDWTConfigTemplate(_HaarConfigTemplate):
    layer_cls = HaarDWT


class HaarIDWTConfigTemplate(_HaarConfigTemplate):
    layer_cls = HaarIDWT


class HaarDWTFunctionTemplate(_HaarFunctionTemplate):
    layer_cls, function = HaarDWT, 'haar_dwt'


class HaarIDWTFunctionTemplate(_HaarFunctionTemplate):
    layer_cls, function = HaarIDWT, 'haar_idwt'


TEMPLATES = (
    BilinearResizeConfigTemplate,
    BilinearResizeFunctionTemplate,
    ChannelGateConfigTemplate,
    ChannelGateFunctionTemplate,
    HaarDWTConfigTemplate,
    HaarDWTFunctionTemplate,
    HaarIDWTConfigTemplate,
    HaarIDWTFunctionTemplate,
)
