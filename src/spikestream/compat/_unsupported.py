"""Names a peer library has and spikestream does not: each compat module's ``__getattr__``
says what to use instead, and points at the README's table for names it does not know.

Python turns an AttributeError raised during ``from module import Name`` into its own
"cannot import name" ImportError, dropping the advice; so when the caller is executing that
import (its current opcode is IMPORT_FROM) the advice is raised as the ImportError itself.
``hasattr(module, Name)`` stays False.
"""

from __future__ import annotations

import dis
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import NoReturn

README_TABLE = "the README's 'Drop-in compatibility' table"
_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


def _importing() -> bool:
    """True when the code that asked for the attribute is running ``from module import ...``
    (the first frame above the module's ``__getattr__`` and any wrapping ``__getattr__``)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code.co_name == "__getattr__":
        frame = frame.f_back
    if frame is None:
        return False
    lasti = frame.f_lasti
    code = frame.f_code.co_code
    return 0 <= lasti < len(code) and code[lasti] == _IMPORT_FROM


def module_getattr(
    module: str, advice: Mapping[str, str], peer: str | None = None
) -> Callable[[str], NoReturn]:
    """A module-level ``__getattr__`` for ``module`` (the peer's module ``peer``, by default the
    name after ``spikestream.compat.``): a known but unsupported name raises AttributeError
    with ``advice[name]``; any other name the usual AttributeError plus a pointer to the
    README."""
    peer = peer or module.replace("spikestream.compat.", "", 1)

    def __getattr__(name: str) -> NoReturn:
        if name in advice:
            message = (
                f"{peer}.{name} is not covered by {module}: {advice[name]} (see {README_TABLE})"
            )
            if _importing():
                raise ImportError(message, name=module)
            raise AttributeError(message)
        if name.startswith("__"):  # the import machinery probes dunders: keep them quiet
            raise AttributeError(name)
        raise AttributeError(
            f"module {module!r} has no attribute {name!r}; the {peer} names spikestream covers "
            f"are listed in {README_TABLE}"
        )

    return __getattr__
