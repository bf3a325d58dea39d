"""Writes a single-frame DICOM series with pydicom, slices in shuffled file order.

stdin: {"folder", "voxels" (path of raw little-endian int16, x fastest, shape columns×rows×slices),
        "columns", "rows", "slices", "orientation" [6], "pixel_spacing" [row, column], "origin" [3] (LPS),
        "step" (mm along the normal), "modality" ("CT" or "MR")}
stdout: {"study", "series", "frame_of_reference", "slices": [{"file", "sop", "sop_class", "position"}] in position order}
"""
import json
import os
import random
import sys

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

spec = json.load(sys.stdin)
folder = spec["folder"]
os.makedirs(folder, exist_ok=True)
nx, ny, nz = spec["columns"], spec["rows"], spec["slices"]
voxels = np.fromfile(spec["voxels"], dtype="<i2").reshape((nz, ny, nx))
row, col = np.array(spec["orientation"][:3], float), np.array(spec["orientation"][3:], float)
normal = np.cross(row, col)
origin = np.array(spec["origin"], float)
sop_class = CTImageStorage if spec.get("modality", "CT") == "CT" else MRImageStorage
study, series, frame = generate_uid(), generate_uid(), generate_uid()
order = list(range(nz))
random.Random(7).shuffle(order)
slices = []
for n, k in enumerate(order):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.Modality, ds.PatientName, ds.PatientID = spec.get("modality", "CT"), "Phantom^Seg", "seg-0"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "1", "A1"
    ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
    position = origin + spec["step"] * k * normal
    ds.ImagePositionPatient = [float(f"{v:.6f}") for v in position]
    ds.ImageOrientationPatient = [float(v) for v in spec["orientation"]]
    ds.PixelSpacing = [float(v) for v in spec["pixel_spacing"]]
    ds.SliceThickness = spec["step"]
    ds.Rows, ds.Columns = ny, nx
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.PixelData = np.ascontiguousarray(voxels[k]).astype("<i2").tobytes()
    name = f"IM{n:04d}"
    ds.save_as(os.path.join(folder, name), write_like_original=False)
    slices.append({"file": name, "sop": ds.SOPInstanceUID, "sop_class": sop_class, "position": list(map(float, ds.ImagePositionPatient)), "k": k})
slices.sort(key=lambda s: s["k"])
json.dump({"study": study, "series": series, "frame_of_reference": frame, "slices": slices}, sys.stdout)
