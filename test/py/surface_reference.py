"""scipy reference for surface metrics: surfaces by 6-connected erosion (border voxels count),
distances by distance_transform_edt with spacing, HD95 = max of the two directed 95th percentiles."""
import json
import sys

import numpy as np
from scipy import ndimage

out = []
for case in json.load(sys.stdin)["cases"]:
    nx, ny, nz = case["shape"]
    sx, sy, sz = case["spacing"]
    pred = np.array(case["pred"], dtype=bool).reshape((nz, ny, nx))
    ref = np.array(case["ref"], dtype=bool).reshape((nz, ny, nx))
    st = ndimage.generate_binary_structure(3, 1)
    sp = pred & ~ndimage.binary_erosion(pred, st, border_value=0)
    sr = ref & ~ndimage.binary_erosion(ref, st, border_value=0)
    d_to_r = ndimage.distance_transform_edt(~sr, sampling=(sz, sy, sx))[sp]
    d_to_p = ndimage.distance_transform_edt(~sp, sampling=(sz, sy, sx))[sr]
    tau = case["tolerance"]
    out.append({
        "dice": float(2 * (pred & ref).sum() / (pred.sum() + ref.sum())),
        "hd95": float(max(np.percentile(d_to_r, 95), np.percentile(d_to_p, 95))),
        "nsd": float(((d_to_r <= tau).sum() + (d_to_p <= tau).sum()) / (len(d_to_r) + len(d_to_p))),
    })
json.dump(out, sys.stdout)
