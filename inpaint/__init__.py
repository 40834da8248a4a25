"""Image inpainting by GAN inversion in an autoencoder's feature space (Wang, Song & Zhang 2023).

`from inpaint import Inpainter` loads torch only when `Inpainter` is first used, so importing
the package (as every stage does) stays cheap.
"""
from __future__ import annotations

__all__ = ["Inpainter"]


def __getattr__(name: str):
    if name == "Inpainter":
        from inpaint.api.inpainter import Inpainter
        return Inpainter
    raise AttributeError(f"module 'inpaint' has no attribute {name!r}")
