"""nibabel reference for 4-D / NIfTI-2 / multi-frame MGZ reading: every voxel of every frame.

stdin: {"files": ["path", ...]}
stdout: [{"shape", "affine" (row-major 4x4, RAS), "kind" (nibabel's image class), "frames": [base64 of
float64 little-endian voxels, x fastest, one per 3-D frame]}]
"""
import base64
import json
import sys

import nibabel as nib
import numpy as np

out = []
for path in json.load(sys.stdin)["files"]:
    img = nib.load(path)
    data = img.get_fdata(dtype=np.float64)
    shape = data.shape
    if data.ndim < 3:
        data = data.reshape(shape + (1,) * (3 - data.ndim))
    frames = data.reshape(data.shape[:3] + (-1,), order="F")
    out.append({
        "shape": [int(s) for s in shape],
        "affine": img.affine.reshape(-1).tolist(),
        "kind": type(img).__name__,
        "frames": [
            base64.b64encode(np.ascontiguousarray(frames[..., f].reshape(-1, order="F")).astype("<f8").tobytes()).decode()
            for f in range(frames.shape[3])
        ],
    })
json.dump(out, sys.stdout)
