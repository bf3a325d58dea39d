"""scipy.ndimage.distance_transform_edt reference (distance to the nearest mask voxel, with spacing)."""
import json
import sys

import numpy as np
from scipy import ndimage

req = json.load(sys.stdin)
nx, ny, nz = req["shape"]
mask = np.array(req["mask"], dtype=bool).reshape((nz, ny, nx))
sx, sy, sz = req["spacing"]
d = ndimage.distance_transform_edt(~mask, sampling=(sz, sy, sx))
json.dump({"distance": d.reshape(-1).tolist()}, sys.stdout)
