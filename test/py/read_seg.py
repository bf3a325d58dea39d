"""Reads a DICOM Segmentation with pydicom (argv: file) and prints what the tests compare, as JSON."""
import base64
import json
import sys

import numpy as np
import pydicom

ds = pydicom.dcmread(sys.argv[1])
pixels = ds.pixel_array
if pixels.ndim == 2:
    pixels = pixels[None]
frames = []
for n, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
    source = group.DerivationImageSequence[0].SourceImageSequence[0]
    frames.append({
        "segment": int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
        "position": [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient],
        "source": str(source.ReferencedSOPInstanceUID),
        "pixels": base64.b64encode(np.ascontiguousarray(pixels[n]).astype(np.uint8).tobytes()).decode(),
    })
shared = ds.SharedFunctionalGroupsSequence[0]
json.dump({
    "sop_class": str(ds.SOPClassUID),
    "modality": ds.Modality,
    "segmentation_type": ds.SegmentationType,
    "bits_allocated": int(ds.BitsAllocated),
    "rows": int(ds.Rows),
    "columns": int(ds.Columns),
    "number_of_frames": int(ds.NumberOfFrames),
    "study": str(ds.StudyInstanceUID),
    "series": str(ds.SeriesInstanceUID),
    "frame_of_reference": str(ds.FrameOfReferenceUID),
    "patient_id": str(ds.PatientID),
    "referenced_series": str(ds.ReferencedSeriesSequence[0].SeriesInstanceUID),
    "referenced_instances": [str(i.ReferencedSOPInstanceUID) for i in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence],
    "orientation": [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient],
    "pixel_spacing": [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing],
    "segments": [
        {
            "number": int(s.SegmentNumber),
            "label": str(s.SegmentLabel),
            "algorithm": str(s.SegmentAlgorithmType),
            "category": str(s.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning),
            "type": str(s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning),
        }
        for s in ds.SegmentSequence
    ],
    "frames": frames,
}, sys.stdout)
