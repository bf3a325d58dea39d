// backsplit/io: medical images in and out with their geometry.
export * from "./volume.js";
export * from "./read.js";
export {
  decodeNifti,
  decodeNiftiFrames,
  encodeNifti,
  encodeNiftiFrames,
  parseNiftiHeader,
  writeNifti,
  writeNiftiFrames,
  type NiftiHeader,
  type NiftiWriteOptions,
} from "./nifti.js";
export { decodeMgh, decodeMghFrames } from "./mgh.js";
export * from "./grid.js";
export {
  type DicomSegOptions,
  type DicomSeriesReference,
  type SegmentInput,
  encodeDicomSeg,
  readDicomSeriesReference,
  writeDicomSeg,
} from "./dicom-seg.js";
