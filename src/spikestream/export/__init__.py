"""Export of trained models: NIR graphs for the spiking networks (`export_nir`, `save_nir`,
`import_nir`) and ONNX for the event-token models (`export_onnx`, `check_onnx`).

The optional packages (``nir``, ``onnx``, ``onnxruntime``) are imported when a function needs
them; without them the function raises `ConfigError` naming ``pip install 'spikestream[export]'``.
"""

from .nir import NIRNetwork, apply_readout, export_nir, import_nir, save_nir
from .onnx import check_onnx, export_onnx

__all__ = [
    "NIRNetwork",
    "apply_readout",
    "check_onnx",
    "export_nir",
    "export_onnx",
    "import_nir",
    "save_nir",
]
