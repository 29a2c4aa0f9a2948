"""SpikingJelly 2.0's ``spikingjelly.activation_based.layer`` (the parts spikestream has)."""

from ...snn.layer import MultiStepBatchNorm2d, MultiStepDropout, SeqToANNContainer, VotingLayer

Dropout = MultiStepDropout

__all__ = [
    "Dropout",
    "MultiStepBatchNorm2d",
    "MultiStepDropout",
    "SeqToANNContainer",
    "VotingLayer",
]
