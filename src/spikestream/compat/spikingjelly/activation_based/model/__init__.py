"""``spikingjelly.activation_based.model``: ``parametric_lif_net``."""

from .... import _unsupported
from . import parametric_lif_net

__all__ = ["parametric_lif_net"]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "spiking_resnet": "not provided; build it from layer and neuron (spikestream.models has "
        "the PLIF and N-digits networks)",
        "sew_resnet": "not provided; build it from layer and neuron (spikestream.models has the "
        "PLIF and N-digits networks)",
        "spiking_vgg": "not provided; build it from layer and neuron",
        "spiking_vggws": "not provided; build it from layer and neuron",
        "sew_resnet_imagenet": "not provided",
        "train_classify": "spikestream fit (the training CLI)",
        "train_imagenet_example": "spikestream fit (the training CLI)",
        "tv_ref_classify": "spikestream fit (the training CLI)",
    },
    peer="spikingjelly.activation_based.model",
)
