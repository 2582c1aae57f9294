"""Zero-pad the band axis of the accelerator core: B bands -> ``core_bands`` (exact).

Why (issue 9, "full rate at any band count"): hls4ml's dense kernels accept a reuse factor R < n_in
only if R divides n_in (``FPGABackend._validate_reuse_factor``), so the int8 B -> C head projection
of a prime band count (B = 191 for WDC/PRISMA-like sensors) can only be folded by R = 1 or R >= B:
fully parallel (660 k LUT at C = 64) or 191 cycles per pixel (1 Mpixel/s). Padding the bands to a
multiple of 8 (192 = 2^6 * 3) makes every power of two up to 64 a valid reuse factor. qonnx has no
transformation that resizes a channel axis, hence this pass.

What it does, on the final channels-last graph (``ms`` (1, h, w, B) -> ``out`` (1, H, W, B)):
walks the band-carrying tensors from ``ms`` (through per-tensor Quant, BilinearResize, Add) and

  * a Conv that reads a band tensor gets ``core_bands - B`` zero input channels in its weight
    (OHWI: axis 3), so the padded bands contribute exactly 0 to every output;
  * a Conv whose output is added to a band tensor (the decoder's C -> B projection) gets zero
    output channels (axis 0 of the weight, and of its bias), so those channels carry exactly 0 + the
    upsampled padded bands (0): the output's padded bands are 0;
  * ``ms`` and ``out`` get ``core_bands`` channels; shapes are re-inferred.

Zero is exact on every fixed-point grid (per-tensor Quant of 0 is 0, bilinear of zeros is 0), so
``core(pad(ms))[..., :B] == final(ms)`` bit for bit, and ``core(pad(ms))[..., B:] == 0``; the
AXI4-Stream adapter around the core (:mod:`hw.hls.axis`) inserts and drops the padded bands, so the
accelerator's interface keeps B bands. Any other op on the band path is refused
(:class:`QonnxPassError`): the pass only pads what it can prove exact.
"""

from __future__ import annotations

import numpy as np
from qonnx.transformation.base import Transformation

from hw.export.graph import QonnxPassError, reinfer_shapes

PASS_THROUGH = ('Quant', 'BilinearResize')  # per-tensor / per-channel ops that keep the band axis


class PadBands(Transformation):
    """Pad the band axis from ``ms`` to ``out`` to ``core_bands`` channels (see module docstring)."""

    def __init__(self, core_bands: int, ms: str = 'ms', out: str = 'out'):
        super().__init__()
        self.core_bands, self.ms, self.out = int(core_bands), ms, out

    def apply(self, model):
        bands = int(model.get_tensor_shape(self.ms)[-1])
        pad = self.core_bands - bands
        if pad < 0:
            raise QonnxPassError('Cannot pad the bands to fewer channels', key='core_bands',
                                 expected=f'>= {bands}', found=str(self.core_bands))
        if pad == 0:
            return model, False
        band = {self.ms}
        todo = [self.ms]
        while todo:
            t = todo.pop()
            for n in model.find_consumers(t) or []:
                out = self._consume(model, n, t, band, bands, pad)
                if out is not None and out not in band:
                    band.add(out)
                    todo.append(out)
        if self.out not in band:
            raise QonnxPassError('The output is not on the band path from the input', key=self.out,
                                 expected=f'a tensor derived from {self.ms} through Quant/BilinearResize/Add',
                                 found=', '.join(sorted(band)))
        for vi in list(model.graph.input) + list(model.graph.output):
            if vi.name in (self.ms, self.out):
                shape = list(model.get_tensor_shape(vi.name))
                model.set_tensor_shape(vi.name, shape[:-1] + [self.core_bands])
        return reinfer_shapes(model), False

    def _consume(self, model, n, t: str, band: set, bands: int, pad: int) -> str | None:
        """Pad what node ``n`` needs for its band input ``t``; the output tensor if it carries bands."""
        if n.op_type in PASS_THROUGH:
            if n.input[0] != t or any(_per_band(model, i, bands) for i in n.input[1:]):
                raise QonnxPassError('A band-path op has per-band parameters', key=n.name,
                                     expected='per-tensor quantisation parameters', found='per-band')
            return n.output[0]
        if n.op_type == 'Conv' and n.input[0] == t:
            _pad_initializer(model, n.input[1], axis=3, pad=pad, node=n.name)
            return None
        if n.op_type == 'Add':
            other = n.input[1] if n.input[0] == t else n.input[0]
            if other not in band:
                producer = model.find_producer(other)
                # through per-tensor requantisers (S2BNet-/BNNPan-style's S7 rounds the projection to
                # the io grid before the add): they map the padded zero bands to zero
                while (producer is not None and producer.op_type in PASS_THROUGH
                       and not any(_per_band(model, i, bands) for i in producer.input[1:])):
                    producer = model.find_producer(producer.input[0])
                if producer is None or producer.op_type != 'Conv':
                    raise QonnxPassError('A band tensor is added to something the pass cannot pad', key=n.name,
                                         expected='a Conv output (the C -> B projection), or a per-tensor Quant of one',
                                         found=producer.op_type if producer is not None else 'a graph input')
                _pad_initializer(model, producer.input[1], axis=0, pad=pad, node=producer.name)
                if len(producer.input) > 2 and producer.input[2]:
                    _pad_initializer(model, producer.input[2], axis=0, pad=pad, node=producer.name)
                band.add(other)
            return n.output[0]
        raise QonnxPassError('An op on the band path that cannot be padded exactly', key=n.name,
                             expected='Quant, BilinearResize, Conv or Add', found=n.op_type)


def _per_band(model, name: str, bands: int) -> bool:
    init = model.get_initializer(name)
    return init is not None and init.size > 1 and bands in init.shape


def _pad_initializer(model, name: str, axis: int, pad: int, node: str) -> None:
    """Zero-pad ``axis`` of the weight/bias ``name``: an initializer, or the value input of the
    Quant/BipolarQuant that produces it (its scale/zero-point, if per-channel, are edge-padded:
    any scale maps the padded zeros to zero)."""
    init = model.get_initializer(name)
    if init is not None:
        model.set_initializer(name, np.pad(init, _widths(init.ndim, axis, pad)))
        return
    q = model.find_producer(name)
    if q is None or q.op_type not in ('Quant', 'BipolarQuant') or model.get_initializer(q.input[0]) is None:
        raise QonnxPassError('A weight on the band path is neither a constant nor a quantised constant', key=node,
                             expected='an initializer or Quant(initializer)', found=q.op_type if q else 'graph input')
    values = model.get_initializer(q.input[0])
    model.set_initializer(q.input[0], np.pad(values, _widths(values.ndim, axis, pad)))
    for p in q.input[1:]:
        v = model.get_initializer(p)
        if v is not None and v.ndim == values.ndim and v.shape[axis] == values.shape[axis] and v.size > 1:
            model.set_initializer(p, np.pad(v, _widths(v.ndim, axis, pad), mode='edge'))


def _widths(ndim: int, axis: int, pad: int) -> list[tuple[int, int]]:
    return [(0, pad if i == axis else 0) for i in range(ndim)]
