"""TorchScript without torch's deprecation noise.

Tracing is how smp networks export (they do not script reliably), and torch now marks every
``torch.jit`` entry point deprecated; users can act on none of those warnings.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_torchscript() -> Iterator[None]:
    """Silence the ``torch.jit.* is deprecated`` FutureWarnings inside the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        yield
