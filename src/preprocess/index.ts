// backsplit/preprocess: crop, normalise and resample cases into the training cache, read patches back,
// and map predictions from the cached grid onto the original image. Loads libtorch (resampling).
export {
  type PreprocessCaseResult,
  preprocessDataset,
  preprocessImages,
  restoreLabels,
  restoreProbabilities,
} from "./preprocess.js";
export {
  type CachedCase,
  type LesionInstance,
  type Patch,
  readCachedMeta,
  readCachedSeg,
  readCachedSegBox,
  readPatch,
} from "./cache.js";
export { COMPLETE_MARKER, IncompleteCacheError, cachedCaseIds, completeCaseIds } from "./cache-state.js";
export { ctNormalize, zscore } from "./normalize.js";
export {
  type ImageInterpolation,
  type LabelInterpolation,
  resampleImage,
  resampleLabels,
  resampledShape,
} from "./resample.js";
