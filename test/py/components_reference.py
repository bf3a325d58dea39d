"""scipy.ndimage.label reference: component count and sorted sizes of x-fastest masks."""
import json
import sys

import numpy as np
from scipy import ndimage

out = []
for case in json.load(sys.stdin)["cases"]:
    nx, ny, nz = case["shape"]
    mask = np.array(case["mask"], dtype=np.uint8).reshape((nz, ny, nx))
    structure = np.ones((3, 3, 3)) if case["connectivity"] == 26 else ndimage.generate_binary_structure(3, 1)
    labels, n = ndimage.label(mask, structure=structure)
    sizes = np.bincount(labels.ravel())[1:]
    out.append({"count": int(n), "sizes": sorted(int(s) for s in sizes)})
json.dump(out, sys.stdout)
