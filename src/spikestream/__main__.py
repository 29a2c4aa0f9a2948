"""``python -m spikestream``: the same as the ``spikestream`` command."""

import sys

from .cli import main

sys.exit(main())
