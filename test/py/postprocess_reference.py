"""scipy.ndimage reference for postprocessing: 26-connected components removed when their volume (voxels x
voxel volume) is below min_volume_mm3 or their peak probability is below min_peak (x-fastest arrays)."""
import json
import sys

import numpy as np
from scipy import ndimage

req = json.load(sys.stdin)
out = []
for case in req["cases"]:
    nx, ny, nz = case["shape"]
    mask = np.array(case["mask"], dtype=np.uint8).reshape((nz, ny, nx))
    prob = np.array(case["prob"], dtype=np.float64).reshape((nz, ny, nx))
    voxel = float(np.prod(case["spacing"]))
    labels, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    index = np.arange(1, count + 1)
    sizes = ndimage.sum(mask, labels, index) * voxel
    peaks = ndimage.maximum(prob, labels, index) if count else np.zeros(0)
    remove = np.zeros(count + 1, dtype=bool)
    if case["minVolumeMm3"] > 0:
        remove[1:] |= sizes < case["minVolumeMm3"]
    if case["minPeakProbability"] > 0:
        remove[1:] |= peaks < case["minPeakProbability"]
    kept = (mask > 0) & ~remove[labels]
    out.append({"mask": kept.astype(np.uint8).ravel().tolist(), "removed": int(remove.sum())})
json.dump(out, sys.stdout)
