"""Edits of a written hls4ml project's ``firmware/parameters.h`` shared by the lower step's
post-write passes (hw/hls/dsp_binding.py, hw/hls/xnor_kernel.py): hls4ml has no hook between
writing its config structs and compiling them, so these passes edit the text, and check it."""

from __future__ import annotations

import re
from pathlib import Path

from quant_models.common import HsbinetError


def add_include(params: str, header: str, path: str | Path) -> str:
    """``params`` (a parameters.h text) including ``nnet_utils/<header>`` before hls4ml's own includes."""
    line = f'#include "nnet_utils/{header}"'
    if line in params:
        return params
    first = params.find('#include "nnet_utils/')
    if first < 0:
        raise HsbinetError('Unexpected parameters.h', file=str(path), expected='hls4ml nnet_utils includes', found='none')
    return params[:first] + line + '\n' + params[first:]


def structs(params: str):
    """(name, start, end) of every ``struct ... {`` ... ``};`` block of parameters.h: the body is
    ``params[start:end]``."""
    for head in re.finditer(r'^struct (\w+)\b[^{]*\{', params, flags=re.M):
        end = params.find('\n};', head.end())
        if end > 0:
            yield head.group(1), head.end(), end
