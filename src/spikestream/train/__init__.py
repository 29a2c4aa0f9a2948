"""Training: networks from `spikestream.models`/`spikestream.snn` on `spikestream.datasets`.
``quickstart`` is the main job on the embedded NDigits data; the Lightning module, data module
and CLI come with the training issue."""
