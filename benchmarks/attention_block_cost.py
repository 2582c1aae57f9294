"""Accuracy cost of H8 (channel attention pooled per block of L lines) on a real test split.

Two trainings on the same data folder with the same recipe, budget and seed (configs/default.yaml):
``frame`` (model.attention_rows 0, today's hardware profile) and ``block`` (attention_rows L); each
scored on the same test patches (quant_models.evaluate's metrics, its predict) three ways:

* ``frame``                : the frame-pooled model as trained (one gate per test patch);
* ``frame, run per block`` : the same weights run with block pooling (what the swath design does
                             with a checkpoint trained without H8: the pooling region changes);
* ``block``                : the model trained with block pooling, run with it.

Bicubic, GSA and MTF-GLP of the same patches are printed beside them. The test patches must be
a multiple of L lines high.

    python benchmarks/attention_block_cost.py --data DIR [--rows 16] [--out DIR] [--frame-ckpt PT --block-ckpt PT]

Without checkpoints it trains both (``hsbinet train``'s function; about 6 minutes each on the
2-core reference machine for Indian Pines). Writes DIR/attention_block_cost.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', required=True, help='folder with train.h5, val.h5, test.h5 (hsbinet data)')
    p.add_argument('--rows', type=int, default=16, help='model.attention_rows of the block variant')
    p.add_argument('--frame-ckpt', default=None)
    p.add_argument('--block-ckpt', default=None)
    p.add_argument('--out', default='runs/attention_block_cost')
    a = p.parse_args()

    import numpy as np

    from build_flows.config import load_config, model_config
    from quant_models.data.hpc_format import read_hpc
    from quant_models.evaluate import classical, predict
    from quant_models.metrics import reference_metrics
    from quant_models.train import model_from_checkpoint, train

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(a.data)
    test = read_hpc(data_dir / 'test.h5', require_gt=True)
    cfg = load_config()
    bands = int(test.gt.shape[1])
    ckpts = {}
    for name, rows, given in (('frame', 0, a.frame_ckpt), ('block', a.rows, a.block_ckpt)):
        if given:
            ckpts[name] = Path(given)
            continue
        mc = replace(model_config(cfg, bands), attention_rows=rows)
        train(mc, cfg.train, data_dir, out / name)
        ckpts[name] = out / name / 'best.pt'
    frame, block = model_from_checkpoint(ckpts['frame']), model_from_checkpoint(ckpts['block'])
    frame_as_block = model_from_checkpoint(ckpts['frame'])
    frame_as_block.decoder.attention_rows = a.rows  # same weights, block pooling at inference
    ratio = frame.cfg.ratio
    gnyq, taps = float(test.attrs.get('gnyq', 0.3)), int(test.attrs.get('mtf_taps', 41))
    cubes = {'frame (as trained)': predict(frame, test.ms, test.pan),
             f'frame, run per {a.rows}-line block': predict(frame_as_block, test.ms, test.pan),
             f'block ({a.rows} lines, trained so)': predict(block, test.ms, test.pan),
             'bicubic': test.lms, **classical(test, ratio, gnyq, taps)}
    rows = {k: {m: float(v) for m, v in reference_metrics(test.gt, c, ratio).items() if np.isscalar(v)}
            for k, c in cubes.items()}
    print(f'H8 on {data_dir} ({test.gt.shape[0]} test patches of {test.gt.shape[2]}x{test.gt.shape[3]} PAN px):')
    print(f'{"method":<34}{"PSNR":>8}{"SAM":>8}{"ERGAS":>8}')
    for k, r in rows.items():
        print(f'{k:<34}{r["psnr"]:>8.3f}{r["sam"]:>8.3f}{r["ergas"]:>8.3f}')
    (out / 'attention_block_cost.json').write_text(json.dumps(
        {'data': str(data_dir), 'rows': a.rows, 'checkpoints': {k: str(v) for k, v in ckpts.items()},
         'test_patches': list(test.gt.shape), 'metrics': rows}, indent=1))


if __name__ == '__main__':
    main()
