"""Names a peer library has and spikestream does not: each compat module's ``__getattr__``
says what to use instead, and points at the README's table for names it does not know.

Python reports a failed ``from module import Name`` as its own ``ImportError`` (it drops the
attribute error's message); ``module.Name`` shows the advice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NoReturn

README_TABLE = "the README's 'Drop-in compatibility' table"


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
            raise AttributeError(
                f"{peer}.{name} is not covered by {module}: {advice[name]} (see {README_TABLE})"
            )
        if name.startswith("__"):  # the import machinery probes dunders: keep them quiet
            raise AttributeError(name)
        raise AttributeError(
            f"module {module!r} has no attribute {name!r}; the {peer} names spikestream covers "
            f"are listed in {README_TABLE}"
        )

    return __getattr__
