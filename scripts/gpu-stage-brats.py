"""Writes the BraTS subset cropped to each case's brain (plus a margin) as int16 NIfTI, for the GPU check.

usage: python3 scripts/gpu-stage-brats.py SRC DST   (SRC: .../brats2015-subset)
Same folder and file names as SRC, so bench/brats.ts and bench/train.ts read DST through
BACKSPLIT_SHARED_DATA / --data unchanged. Images (z-scored floats) are stored as int16 with
scl_slope = max|x| / 32000 (error at most slope / 2); OTMultiClass and brainmask as int16, slope 1.
The crop (voxel indices, end exclusive, x y z) of every case is written to DST/crops.json.
"""
import json
import os
import shutil
import sys

import nibabel as nib
import numpy as np

MARGIN = 2
IMAGES = ["Flair_subtrMeanDivStd", "T1c_subtrMeanDivStd"]
LABELS = ["OTMultiClass", "brainmask"]


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    crops = {}
    for case in sorted(os.listdir(src)):
        if not os.path.isdir(os.path.join(src, case)):
            continue
        mask = nib.load(os.path.join(src, case, "brainmask.nii.gz"))
        labels = nib.load(os.path.join(src, case, "OTMultiClass.nii.gz"))
        keep = (np.asanyarray(mask.dataobj) > 0) | (np.asanyarray(labels.dataobj) > 0)
        idx = np.nonzero(keep)
        start = [max(0, int(i.min()) - MARGIN) for i in idx]
        end = [min(n, int(i.max()) + 1 + MARGIN) for i, n in zip(idx, keep.shape)]
        crops[case] = {"start": start, "end": end, "shape": list(keep.shape)}
        os.makedirs(os.path.join(dst, case), exist_ok=True)
        box = tuple(slice(s, e) for s, e in zip(start, end))
        for name in IMAGES + LABELS:
            img = nib.load(os.path.join(src, case, f"{name}.nii.gz"))
            cropped = img.slicer[box]
            data = np.asanyarray(cropped.dataobj, dtype=np.float64) if name in IMAGES else None
            header = cropped.header.copy()
            header.set_data_dtype(np.int16)
            if name in IMAGES:
                slope = max(float(np.abs(data).max()), 1e-6) / 32000.0
                out = nib.Nifti1Image(np.round(data / slope).astype(np.int16), cropped.affine, header)
                out.header.set_slope_inter(slope, 0.0)
            else:
                values = np.asanyarray(cropped.dataobj)
                out = nib.Nifti1Image(np.round(values).astype(np.int16), cropped.affine, header)
                out.header.set_slope_inter(1.0, 0.0)
            out.set_qform(cropped.affine, int(img.header["qform_code"]) or 1)
            out.set_sform(cropped.affine, int(img.header["sform_code"]) or 1)
            nib.save(out, os.path.join(dst, case, f"{name}.nii.gz"))
    for extra in os.listdir(src):
        if extra.lower().startswith("license"):
            shutil.copy(os.path.join(src, extra), dst)
    with open(os.path.join(dst, "crops.json"), "w") as f:
        json.dump({"margin": MARGIN, "cases": crops}, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
