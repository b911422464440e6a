"""Regenerate the generated files in images/ (run from the repository root).

    python images/make_samples.py

The test card and the default kernels are made here; tests check that the shipped
files equal what this script makes. The photograph is converted from matplotlib's
sample data (see images/README.md) when --photo is given.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import kernels  # noqa: E402
from helpers.images import IMAGES_DIR, make_rgb_shapes, make_test_card, save_image  # noqa: E402

KDIR = IMAGES_DIR / "kernels"


def default_kernels() -> dict[str, np.ndarray]:
    """The default kernel of each CLI mode, by file name."""
    luma = kernels.POINTWISE_PRESETS["grayscale"][:, 0]
    grads = np.stack([kernels.sobel_x(), kernels.sobel_y()], axis=-1)  # (3, 3, 2)
    standard = grads[:, :, None, :] * luma[None, None, :, None]  # (3, 3, 3, 2)
    return {
        "depthwise_edges.npy": kernels.default_depthwise_kernel(3),
        "standard_luma_gradients.npy": standard,
        "pointwise_opponent.csv": kernels.POINTWISE_PRESETS["opponent"],
        "gaussian_5x5.txt": kernels.gaussian(5),
        "sharpen.txt": kernels.sharpen(),
    }


def write_kernels() -> None:
    KDIR.mkdir(exist_ok=True)
    for name, k in default_kernels().items():
        path = KDIR / name
        if name.endswith(".npy"):
            np.save(path, k)
        else:
            np.savetxt(path, k, fmt="%.10g", delimiter="," if name.endswith(".csv") else " ")


def write_photo() -> None:
    import matplotlib
    from PIL import Image

    src = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    with Image.open(src) as im:
        im.convert("RGB").resize((218, 256), Image.LANCZOS).save(IMAGES_DIR / "grace_hopper.png", optimize=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", action="store_true", help="also rebuild grace_hopper.png")
    a = ap.parse_args()
    save_image(IMAGES_DIR / "test_card.png", make_test_card(256))
    save_image(IMAGES_DIR / "rgb_shapes.png", make_rgb_shapes(128))
    write_kernels()
    if a.photo:
        write_photo()
    print("wrote", ", ".join(sorted(p.name for p in IMAGES_DIR.rglob("*.*") if p.suffix != ".py")))
