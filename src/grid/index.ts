// backsplit/grid: voxel-grid helpers shared by the stages: boxes and crops, connected components,
// distances in millimetres, neighbourhoods. Plain typed arrays; does not load libtorch.
export {
  type Bounds,
  type Box,
  boundsToBox,
  boxShape,
  boxToBounds,
  changedBounds,
  cropArray,
  fillBounds,
  maskBounds,
  nonzeroBounds,
  nonzeroBox,
  pasteArray,
  uncropArray,
  unionBounds,
} from "./box.js";
export { type Components, type Connectivity, connectedComponents } from "./components.js";
export { cropVolume } from "./crop-volume.js";
export { dilateMm, squaredDistanceToMask } from "./distance.js";
export { ball, boxMean3, spread } from "./neighbours.js";
