// backsplit/predict: trained runs (one or several folds, averaged) → lesion mask and probability on each
// input image's own grid; the collapse of BackSplit's classes to "lesion", sliding-window inference,
// DICOM SEG output and ONNX export. Loads libtorch.
export {
  type Collapse,
  type LoadedModel,
  type PredictJob,
  type PredictOptions,
  fisherGapMap,
  listInputCases,
  loadRun,
  predictFolder,
  predictImages,
} from "./predict.js";
export {
  COLLAPSE_RULES,
  type CollapseRule,
  type LesionTest,
  argmaxClass,
  collapse,
  lesionProbability,
  lesionTest,
} from "./collapse.js";
export { NO_POSTPROCESSING, applyPostprocessing, describeRule, isNoPostprocessing } from "./postprocess.js";
export { type SlidingOptions, gaussianImportance, slidingWindow, tileStarts } from "./sliding.js";
export { type PredictionSegOptions, writePredictionSegs } from "./dicom-seg.js";
export { type ExportOptions, exportOnnx } from "./onnx.js";
