"""QONNX export of the hardware profile and the graph passes that make it lowerable."""

from hw.export.brevitas_export import export_qonnx
from hw.export.final_graph import INPUT_NAMES, OUTPUT_NAME, build_final_qonnx

__all__ = ['INPUT_NAMES', 'OUTPUT_NAME', 'build_final_qonnx', 'export_qonnx']
