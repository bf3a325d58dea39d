"""nibabel reference for the I/O tests.

stdin: {"files": [{"path", "indices": [[i, j, k], ...], "canonical": bool}]}
stdout: [{"shape", "affine" (row-major 4x4, RAS), "sum", "sumsq", "values": [...], "axcodes"}]
With canonical, the image is first reoriented by nibabel.as_closest_canonical (RAS).
"""
import json
import sys

import nibabel as nib
import numpy as np

out = []
for spec in json.load(sys.stdin)["files"]:
    img = nib.load(spec["path"])
    if spec.get("canonical"):
        img = nib.as_closest_canonical(img)
    data = np.asanyarray(img.dataobj)
    scaled = img.get_fdata(dtype=np.float64)
    idx = [tuple(i) for i in spec.get("indices", [])]
    out.append({
        "shape": [int(s) for s in img.shape],
        "affine": img.affine.reshape(-1).tolist(),
        "sum": float(scaled.sum()),
        "sumsq": float((scaled ** 2).sum()),
        "values": [float(scaled[i]) for i in idx],
        "axcodes": "".join(nib.aff2axcodes(img.affine)),
    })
json.dump(out, sys.stdout)
