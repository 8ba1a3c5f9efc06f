"""A direct numpy transcription of DNN+NeuroSim V1.4's hardware-inference path for a linear layer.

Source: ``Inference_pytorch/modules/quantization_cpu_np_infer.py``, ``QLinear.forward``, the
``inference == 1 and model == 'VGG8'`` branch (lines 230-318 of commit ac828e6), and
``Inference_pytorch/utee/wage_quantizer.py`` ``LinearQuantizeOut`` (lines 186-196). Variable
names follow NeuroSim's. It shares no code with xbarsim: it is the reference the ``neurosim``
profile is checked against.

Two deliberate departures, both at the interface so that the comparison is on integers:

* weights come in as signed integers ``w`` and are stored as ``X_decimal = w + 2**(bitWeight-1)``
  (NeuroSim derives ``X_decimal = round((2**bitWeight - 1)/2 * (weight + 1))`` from floats in
  [-1, 1], line 292); inputs come in as unsigned integers (NeuroSim: ``round((2**bitActivation -
  1) * input)``, line 282);
* every row of the weight matrix is used: the last subarray may be partial (NeuroSim's
  ``numSubArray = int(weight.shape[1]/self.subArray)`` drops those rows, line 245).

The result is returned in NeuroSim's units (``output``, line 318) and, by :func:`to_integer_units`,
in the units of ``inputs @ weights``.
"""

from __future__ import annotations

import math

import numpy as np


def linear_quantize_out(x: np.ndarray, bit: int) -> np.ndarray:
    """``LinearQuantizeOut`` (wage_quantizer.py 186-196)."""
    minQ = x.min()
    delta = x.max() - x.min()
    y = x.copy()
    if delta > 0:
        stepSizeRatio = 2.0 ** (-bit)
        stepSize = stepSizeRatio * delta
        index = np.clip(np.floor((x - minQ) / stepSize), 0, 2.0 ** bit - 1)
        y = index * stepSize + minQ
    return y


def qlinear_inference(inputs: np.ndarray, weights: np.ndarray, *, wl_weight: int, wl_input: int, cellBit: int,
                      subArray: int, ADCprecision: int, onoffratio: float, vari: float,
                      rng: np.random.Generator) -> np.ndarray:
    """NeuroSim's hardware inference of ``inputs`` (N, K) unsigned ints through ``weights`` (K, M)
    signed ints; returns ``output`` (N, M) in NeuroSim's units."""
    weight = np.asarray(weights, dtype=np.float64).T  # NeuroSim's layout: (out_features, in_features)
    bitWeight, bitActivation = int(wl_weight), int(wl_input)
    upper = 1
    lower = 1 / onoffratio
    output = np.zeros((inputs.shape[0], weight.shape[0]))
    cellRange = 2 ** cellBit
    dummyP = np.zeros_like(weight)
    dummyP[:, :] = (cellRange - 1) * (upper + lower) / 2
    numSubArray = math.ceil(weight.shape[1] / subArray)
    inputQ = np.asarray(inputs, dtype=np.float64)
    outputIN = np.zeros_like(output)
    for z in range(bitActivation):
        inputB = np.fmod(inputQ, 2)
        inputQ = np.round((inputQ - inputB) / 2)
        outputP = np.zeros_like(output)
        for s in range(numSubArray):
            mask = np.zeros_like(weight)
            mask[:, (s * subArray):(s + 1) * subArray] = 1
            X_decimal = (weight + 2 ** (bitWeight - 1)) * mask
            outputSP = np.zeros_like(output)
            outputD = np.zeros_like(output)
            for k in range(int(bitWeight / cellBit)):
                remainder = np.fmod(X_decimal, cellRange) * mask
                X_decimal = np.round((X_decimal - remainder) / cellRange) * mask
                remainderQ = (upper - lower) * (remainder - 0) + (cellRange - 1) * lower
                remainderQ = remainderQ + remainderQ * rng.normal(0.0, vari, remainderQ.shape)
                outputPartial = inputB @ (remainderQ * mask).T
                outputDummyPartial = inputB @ (dummyP * mask).T
                outputPartialQ = linear_quantize_out(outputPartial, ADCprecision)
                outputDummyPartialQ = linear_quantize_out(outputDummyPartial, ADCprecision)
                scaler = cellRange ** k
                outputSP = outputSP + outputPartialQ * scaler * 2 / (1 - 1 / onoffratio)
                outputD = outputD + outputDummyPartialQ * scaler * 2 / (1 - 1 / onoffratio)
            outputSP = outputSP - outputD
            outputP = outputP + outputSP
        scalerIN = 2 ** z
        outputIN = outputIN + outputP * scalerIN
    output = output + outputIN / (2 ** bitActivation)
    output = output / (2 ** bitWeight)
    return output


def to_integer_units(output: np.ndarray, inputs: np.ndarray, wl_weight: int, wl_input: int) -> np.ndarray:
    """NeuroSim's ``output`` in the units of ``inputs @ weights``.

    Ideally ``output * 2**(A+B) = sum_i x_i (2 X_i - (2**B - 1)) = sum_i x_i (2 w_i + 1)`` (the
    dummy column sits half a level above the offset), so ``inputs @ weights = (output * 2**(A+B)
    - sum_i x_i) / 2``.
    """
    return (output * 2.0 ** (wl_weight + wl_input) - np.asarray(inputs, dtype=np.float64).sum(axis=1)[:, None]) / 2
