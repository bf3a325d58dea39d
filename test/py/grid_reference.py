"""scipy.ndimage references for the grid module: the 3x3x3 box mean (uniform_filter, edges replicated)
and 6-/26-connected flood fills from seeds (label, then the components holding a seed), x-fastest arrays."""
import json
import sys

import numpy as np
from scipy import ndimage

req = json.load(sys.stdin)
nx, ny, nz = req["shape"]
image = np.array(req["image"], dtype=np.float64).reshape((nz, ny, nx))
mean = ndimage.uniform_filter(image, size=3, mode="nearest")
mask = np.array(req["mask"], dtype=np.uint8).reshape((nz, ny, nx))
fills = {}
for connectivity in (6, 26):
    structure = np.ones((3, 3, 3)) if connectivity == 26 else ndimage.generate_binary_structure(3, 1)
    labels, _ = ndimage.label(mask, structure=structure)
    seeded = {int(labels.ravel()[i]) for i in req["seeds"]} - {0}
    fills[str(connectivity)] = np.isin(labels, list(seeded)).astype(np.uint8).ravel().tolist()
json.dump({"mean": mean.ravel().tolist(), "fills": fills}, sys.stdout)
