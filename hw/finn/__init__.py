"""The FINN (finn-plus) lowering: final QONNX graph -> FINN dataflow graph + FINN estimates.

- :mod:`hw.finn.lower`: the entry :func:`~hw.finn.lower.lower_finn` (and ``finn_python_model``).
- :mod:`hw.finn.steps`: FINN's streamlining and convert-to-HW transformations, in order.
- :mod:`hw.finn.provenance`: final-graph node names carried onto every lowered node.
- :mod:`hw.finn.estimates`: FINN's cycle / resource estimates, folding, what was not converted.
- :mod:`hw.finn.env`: what finn-plus 1.6.1 needs to be used as a library without Vivado.
- :mod:`hw.finn.passes`: graph passes that adapt the project's channels-last QONNX graph to what
  FINN's own transformations expect (FINN assumes ONNX-standard NCHW Conv/BatchNormalization).
"""
