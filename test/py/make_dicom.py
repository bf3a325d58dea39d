"""Writes a small CT DICOM series with pydicom (argv: folder). Voxel (i, j, k) = 10*i + 100*j + 1000*k - 1024 HU
after rescale; rows along y; oblique-free LPS geometry: origin (-20, 30, 40), spacing 0.5 × 0.75 × 2.5 mm."""
import os
import sys

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
nx, ny, nz = 6, 5, 4
series, study, frame = generate_uid(), generate_uid(), generate_uid()
for k in range(nz):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.Modality, ds.PatientName, ds.PatientID = "CT", "Phantom^Test", "0"
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [-20.0, 30.0, 40.0 + 2.5 * k]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.75, 0.5]  # row spacing (y), column spacing (x)
    ds.SliceThickness = 2.5
    ds.Rows, ds.Columns = ny, nx
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    j, i = np.mgrid[0:ny, 0:nx]
    ds.PixelData = (10 * i + 100 * j + 1000 * k).astype(np.int16).tobytes()
    # Written in reverse order, so the reader must sort by position.
    ds.save_as(os.path.join(folder, f"slice{nz - k:02d}.dcm"), write_like_original=False)
