"""Write a folder of mixed microscope TIFFs to try migraseg-predict on (README, "Export and
inference"): one huge tiled OME-TIFF, one ImageJ time-lapse, one two-channel OME-TIFF at another
pixel size, and one broken (truncated) file. Images are simulated, so true counts are known.

    python scripts/make_predict_demo.py demo_inputs --huge 16384

The huge image is a mosaic of simulated 512² fields streamed to disk tile by tile (zlib, 512²
tiles), so writing it needs little memory; its true migrasome count is printed and stored in
``truth.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import tifffile

from migraseg.synth.generator import make_sample
from migraseg.synth.params import SynthConfig

FIELD = 512


def simulate(index: int, pixel_size: float, size: int = FIELD):
    base = SynthConfig()
    optics = replace(base.confocal, image_size_px=(size, size), pixel_size_um=(pixel_size,) * 2)
    return make_sample(replace(base, confocal=optics), seed=7, index=index)


def write_huge(path: Path, side: int, n_fields: int) -> int:
    """A side × side uint16 mosaic of ``n_fields`` simulated fields; returns its migrasomes."""
    fields = [simulate(i, 0.1) for i in range(n_fields)]
    per_row = side // FIELD
    choice = np.random.default_rng(0).integers(0, n_fields, (per_row, per_row))

    def tiles():
        for row in choice:
            for k in row:
                yield fields[k].image[0].astype(np.uint16)

    tifffile.imwrite(
        path,
        tiles(),
        shape=(side, side),
        dtype=np.uint16,
        tile=(FIELD, FIELD),
        compression="zlib",
        ome=True,
        bigtiff=True,
        metadata={"axes": "YX", "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1},
    )
    return int(sum(len(fields[k].truth["migrasomes"]) for k in choice.ravel()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to create")
    parser.add_argument("--huge", type=int, default=16384, help="side of the huge image (px)")
    parser.add_argument("--fields", type=int, default=16, help="distinct fields in the mosaic")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.huge % FIELD:
        raise SystemExit(f"--huge must be a multiple of {FIELD}")
    truth = {"huge.ome.tif": write_huge(out / "huge.ome.tif", args.huge, args.fields)}

    movie = [simulate(100 + t, 0.1) for t in range(5)]
    tifffile.imwrite(
        out / "timelapse.tif",
        np.stack([m.image[0] for m in movie]).astype(np.uint16),
        imagej=True,
        resolution=(10.0, 10.0),
        metadata={"axes": "TYX", "unit": "um", "finterval": 60},
    )
    truth["timelapse.tif"] = [len(m.truth["migrasomes"]) for m in movie]

    fine = simulate(200, 0.065, size=768)  # a 100x objective: 65 nm pixels, rescaled to 0.1
    dapi = np.random.default_rng(1).poisson(20, fine.image.shape[1:]).astype(np.uint16)
    tifffile.imwrite(
        out / "two_channels.ome.tif",
        np.stack([dapi, fine.image[0].astype(np.uint16)]),
        ome=True,
        metadata={
            "axes": "CYX",
            "Channel": {"Name": ["dapi", "tspan4"]},
            "PhysicalSizeX": 0.065,
            "PhysicalSizeY": 0.065,
        },
    )
    truth["two_channels.ome.tif"] = len(fine.truth["migrasomes"])

    tifffile.imwrite(
        out / "broken.tif",
        movie[0].image[0].astype(np.uint16),
        imagej=True,
        resolution=(10.0, 10.0),
        metadata={"unit": "um"},
    )
    data = (out / "broken.tif").read_bytes()
    (out / "broken.tif").write_bytes(data[: len(data) // 3])  # a copy interrupted mid-way

    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    print(json.dumps(truth))


if __name__ == "__main__":
    main()
