"""Write DNN+NeuroSim V1.4 traces of xbarsim's NeuroSim validation model, so both tools see the same data.

The NeuroSim validation cases (:mod:`xbarsim.energy.validation`) compare a data-aware xbarsim
run of VGG-8 with NeuroSim's C++ estimator on *the same* quantized weights and input bits:
:func:`xbarsim.energy.validation.neurosim_model` (He-initialized weights and a smooth image,
both from fixed seeds) is programmed by xbarsim's functional model at the preset's precision
(8-bit weights and inputs), and this script writes, for every weight layer, the two files
NeuroSim's ``main`` reads, in the layout its PyTorch wrapper writes (``utee/hook.py``):

* ``weight<i>.csv``: the K x M weight matrix (rows in (channel, kernel row, kernel column)
  order, as im2col), each integer weight ``w`` written as ``w / 128``: NeuroSim maps ``f`` to
  the unsigned level ``128 f + 128`` (``Chip.cpp LoadInWeightData``), i.e. ``w + 128``, the
  level xbarsim's offset mapping stores;
* ``input<i>.csv``: K rows, 8 columns per input vector (most significant bit first): the bits
  xbarsim's 1-bit DACs drive, for every padded-convolution vector in output order (NeuroSim
  reads the first ``(H - k + 1)^2`` of them). Signed inputs (the image) are two's complement, as
  ``utee/hook.py``'s ``dec2bin`` writes them; inputs after a ReLU are xbarsim's unsigned 8-bit
  values, so their first column is a magnitude bit (hook.py would spend it on an always-zero
  sign): NeuroSim's estimator feeds every column as one input cycle and prices the rows it
  drives, so it sees the same bits as xbarsim. ``tests/unit/test_neurosim_traces.py`` checks the
  files against NeuroSim's reader semantics on a tiny model.

NeuroSim itself (https://github.com/neurosim/DNN_NeuroSim_V1.4, ``Inference_pytorch/NeuroSIM``,
CC BY-NC 4.0) is not part of xbarsim: build it with ``make``, set ``levelOutput = 16`` (4-bit
ADC) in ``Param.cpp`` (and ``memcelltype = 2`` for the RRAM chip), then run, from its folder,
``./main NetWork_VGG8.csv 8 8 128 64 $(cat <out>/args.txt)`` (8-bit weights and inputs,
128-row subarrays, 64 rows read in parallel: the configuration of the V1.4 manual's Table VII).
docs/validation.md records the results the validation cases compare with.

Usage: ``python -m xbarsim.energy.data.make_neurosim_traces OUT_DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def write_traces(out: Path, model=None, image=None, arch="neurosim-sram22") -> None:
    """Write the traces of ``model`` (an :class:`xbarsim.nn.Model`) on ``image`` (N=1, C, H, W), programmed
    at ``arch``'s crossbar precision, into ``out``: ``weight<i>.csv``, ``input<i>.csv`` per weight layer and
    ``args.txt`` (the file pairs, in layer order). Defaults: the NeuroSim validation model and image."""
    from ...config.loader import load_arch

    if model is None:
        from ..validation import neurosim_model
        _, model, image = neurosim_model()
    arch = load_arch(arch) if isinstance(arch, str) else arch
    programmed = model.program(arch.crossbar, calibration=image, rng=0)
    out.mkdir(parents=True, exist_ok=True)
    names = []

    def record(layer, inputs_int, crossbar):
        i = len(names)
        q = programmed.quantization[layer.name]
        w = q.weights[0]  # (K, M): VGG-8 has no grouped convs
        np.savetxt(out / f"weight{i}.csv", w / 128.0, delimiter=",", fmt="%.7f")
        bits = crossbar.input_bits
        x = inputs_int[:, 0, :].astype(np.int64) & ((1 << bits) - 1)  # two's-complement bit patterns
        planes = (x[:, :, None] >> np.arange(bits - 1, -1, -1)) & 1  # (vectors, K, bits), MSB first
        np.savetxt(out / f"input{i}.csv", planes.transpose(1, 0, 2).reshape(x.shape[1], -1), delimiter=",",
                   fmt="%d")
        names.append((f"{out / f'weight{i}.csv'}", f"{out / f'input{i}.csv'}"))

    programmed.observe(image, record, rng=0)
    (out / "args.txt").write_text(" ".join(f"{w} {x}" for w, x in names) + "\n")
    print(f"wrote {len(names)} layers' traces to {out}; run NeuroSim with: "
          f"./main NetWork_VGG8.csv 8 8 128 64 $(cat {out / 'args.txt'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the trace files")
    write_traces(parser.parse_args().out)


if __name__ == "__main__":
    main()
