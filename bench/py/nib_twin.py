"""nibabel side of bench/io.ts: {"cmd": "read"|"write", "path", "out"} → {"seconds"} per request."""
import json
import sys
import time

import nibabel as nib
import numpy as np

for line in sys.stdin:
    req = json.loads(line)
    t0 = time.perf_counter()
    if req["cmd"] == "read":
        img = nib.load(req["path"])
        data = np.asanyarray(img.dataobj)
        _ = img.affine
        voxels = int(data.size)
    else:
        img = nib.load(req["path"])
        nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header), req["out"])
        voxels = 0
    print(json.dumps({"seconds": time.perf_counter() - t0, "voxels": voxels}), flush=True)
