"""QONNX export of the hardware profile and the graph passes that make it lowerable."""

from hw.export.brevitas_export import MODEL_CONFIG_KEY, export_qonnx, model_config_of
from hw.export.final_graph import INPUT_NAMES, OUTPUT_NAME, build_final_qonnx

__all__ = ['INPUT_NAMES', 'MODEL_CONFIG_KEY', 'OUTPUT_NAME', 'build_final_qonnx', 'export_qonnx', 'model_config_of']
