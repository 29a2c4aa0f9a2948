"""Drop-in replacements for peer APIs: change one import, keep the code.

* `spikestream.compat.spikingjelly` (``spikingjelly.datasets`` event-to-frame and collate
  functions, SpikingJelly 2.0 signatures and results).
* `spikestream.compat.tonic` (``tonic.transforms`` and ``tonic.collation``, Tonic 1.7 arguments
  and results).
"""
