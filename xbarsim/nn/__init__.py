"""Networks on crossbars: numpy inference in float or through the functional model (CNNs and
transformers, :mod:`xbarsim.nn.transformer`), weights in ``.npz`` files, and import from PyTorch
(optional)."""

from .engine import ActivationNoise, LayerQuantization, Model, ProgrammedModel, accuracy, softmax
from .transformer import DYNAMIC, Decoder, OperandQuantization
from .weights import load_model, save_model

__all__ = ["ActivationNoise", "DYNAMIC", "Decoder", "LayerQuantization", "Model", "OperandQuantization",
           "ProgrammedModel", "accuracy", "from_torch", "load_model", "save_model", "softmax"]


def from_torch(module, example_input, name: str = "torch", outputs=None):
    """A :class:`Model` from a PyTorch module (needs torch; see :mod:`xbarsim.nn.torch_import`)."""
    from .torch_import import from_torch as convert
    return convert(module, example_input, name=name, outputs=outputs)
