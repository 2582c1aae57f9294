"""Helpers for the FINN (finn-plus) lowering in :mod:`hw.finn.lower`.

- :mod:`hw.finn.env`: what finn-plus 1.6.1 needs to be used as a library without Vivado.
- :mod:`hw.finn.passes`: graph passes that adapt the project's channels-last QONNX graph to what
  FINN's own transformations expect (FINN assumes ONNX-standard NCHW Conv/BatchNormalization).
"""
