// backsplit/io: medical images in and out with their geometry.
export * from "./volume.js";
export * from "./read.js";
export { decodeNifti, encodeNifti, writeNifti } from "./nifti.js";
export { decodeMgh } from "./mgh.js";
export * from "./grid.js";
