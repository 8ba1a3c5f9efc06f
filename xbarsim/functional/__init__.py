"""The functional model: pure numpy, never imports simpy.

>>> import numpy as np
>>> from xbarsim.functional import CrossbarSpec, program
>>> spec = CrossbarSpec(rows=16, cols=16, weight_bits=4, input_bits=4, adc_bits=6)
>>> w = np.array([[1, -2], [3, 4], [-8, 7]])
>>> x = np.array([[15, 0, 2]])
>>> program(w, spec).mvm(x)
array([[ -1., -16.]])
"""

from ..config.crossbar import CrossbarSpec
from .matrix import MvmStats, ProgrammedMatrix, make_rng, mvm, program
from .profiles import NEUROSIM_BATCH, PROFILES, apply_profile
from .reference import exact_mvm

__all__ = ["CrossbarSpec", "MvmStats", "NEUROSIM_BATCH", "PROFILES", "ProgrammedMatrix", "apply_profile",
           "exact_mvm", "make_rng", "mvm", "program"]
