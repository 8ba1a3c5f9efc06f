"""Named crossbar semantics: sets of :class:`CrossbarSpec` fields applied on top of a chip's crossbar.

``neurosim`` makes the functional model behave as DNN+NeuroSim V1.4's inference accuracy path
(``Inference_pytorch/modules/quantization_cpu_np_infer.py``, ``QConv2d.forward`` and
``QLinear.forward`` with ``inference=1``; ``Inference_pytorch/utee/wage_quantizer.py``), line by
line (line numbers of commit ac828e6 of github.com/neurosim/DNN_NeuroSim_V1.4):

=============================  ==========================================================================
field                          NeuroSim V1.4
=============================  ==========================================================================
``variation_draw: cycle``      ``remainderQ = remainderQ + remainderQ*torch.normal(0., vari)``
                               (quantization_cpu_np_infer.py 117, 153, 269, 304) sits inside ``forward``,
                               inside the loop over input bits ``for z in range(bitActivation)`` (101, 133,
                               253, 284):
                               every cell's conductance, ``G_min`` included, is redrawn for every input
                               bit of every batch, shared by the batch's images and output positions
``on_off_ratio: 10``           ``--onoffratio`` default 10 (inference.py 42); ``lower = 1/onoffratio``,
                               ``remainderQ = (upper-lower)*remainder + (cellRange-1)*lower`` (116, 152,
                               268, 303)
``adc_range: dynamic``         ``LinearQuantizeOut`` (wage_quantizer.py 186-196): the range is min..max of
                               the whole partial-sum tensor of one (input bit, subarray, slice), step
                               ``delta / 2**bit``, ``floor``; applied to every partial sum (121-122,
                               157-158, 273-274, 308-309)
``reference_column: midscale`` ``dummyP = (cellRange-1)*(upper+lower)/2`` (65, 243), a dummy column without
                               variation, digitized with its own dynamic range and subtracted (124-127,
                               160-163, 275-279, 311-313)
``weight_mapping: offset``     ``X_decimal = round((2**bitWeight - 1)/2 * (weight+1))`` (106, 141, 257,
                               292): weights stored with an offset, cut into cells LSB first by ``fmod``
                               (109-112, 145-148, 261-264, 296-299)
``adc_position: per_cycle``    one conversion per input bit (``inputB = torch.fmod(inputQ, 2)``, 102, 134,
                               254, 285)
=============================  ==========================================================================

and :data:`NEUROSIM_BATCH` images share each layer's call (``--batch_size`` default 200,
inference.py 22, used for the test loader). The array geometry (rows, cell bits, ADC bits,
weight and input bits) stays the chip's.

Not mirrored (documented in ``docs/accuracy-studies.md``): NeuroSim maps a conv layer kernel
position by kernel position (a subarray holds one ``(i, j)`` of all input channels, lines 67-70),
where xbarsim lowers it by im2col into row tiles of ``C * R * S`` rows; it drops the input
channels beyond the last whole subarray (``numSubArray = int(weight.shape[1]/self.subArray)``,
lines 70, 245); it feeds a 3-channel first layer without bit-serial inputs or ADC (75-96); its
float-to-level rounding maps weights 0 and +1 LSB to one level; stock V1.4 applies all this only
when the model is VGG8 (lines 49, 230); its Gaussian factor is not clipped at zero (xbarsim's is, a
difference below 3e-7 per cell at sigma 0.2).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict

from ..config.crossbar import CrossbarSpec
from ..errors import ArgumentError

__all__ = ["PROFILES", "NEUROSIM_BATCH", "apply_profile"]

PROFILES: Dict[str, Dict[str, Any]] = {
    "chip": {},
    "neurosim": {"variation_draw": "cycle", "variation_model": "gaussian", "on_off_ratio": 10.0,
                 "adc_range": "dynamic", "adc_full_scale": None, "reference_column": "midscale",
                 "weight_mapping": "offset", "column_encoding": "plain", "adc_position": "per_cycle"},
}
"""Crossbar fields each profile sets: ``chip`` leaves the chip's crossbar as configured (for the
``study`` preset: variation drawn once at programming, on/off ratio 100, full-scale ADC, G_off
reference column); ``neurosim`` sets NeuroSim V1.4's semantics."""

NEUROSIM_BATCH = 200
"""Images per batch in NeuroSim V1.4's inference (``inference.py --batch_size``, default 200)."""


def apply_profile(spec: CrossbarSpec, name: str) -> CrossbarSpec:
    """``spec`` with the fields of profile ``name`` set."""
    if name not in PROFILES:
        raise ArgumentError(f"profile: expected one of {', '.join(PROFILES)}, got {name!r}")
    return dataclasses.replace(spec, **PROFILES[name]) if PROFILES[name] else spec
