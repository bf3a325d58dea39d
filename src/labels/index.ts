// backsplit/labels: background sources (how the background is split into anatomical classes) and the
// merge of lesion labels with them into training targets. Sources come from imported label maps, an
// unsupervised clustering, a grouping of another source's classes, an ONNX model, simulated clicks,
// or a trained run. Loads libtorch (the model-, click- and run-based sources need it).
export {
  type ImportLayout,
  type ImportOptions,
  type ImportResult,
  detectLayout,
  importSource,
} from "./import.js";
export {
  CT_BANDS,
  type ClusterCaseResult,
  type ClusterOptions,
  type GmmFit,
  assignGmm,
  clusterSource,
  ctBands,
  fitGmm,
  fitGmmBic,
  tissueNames,
} from "./cluster.js";
export {
  BUILTIN_GROUPINGS,
  FREESURFER_GROUPING,
  type Grouping,
  JHU_GROUPING,
  TOTALSEGMENTATOR_GROUPING,
  groupOf,
} from "./groupings.js";
export { type GroupResult, groupSource, loadGrouping, planGrouping } from "./group.js";
export {
  type ModelCard,
  type Normalization as CardNormalization,
  type PredictCaseResult as PredictSourceCaseResult,
  type PredictOptions as PredictSourceOptions,
  loadCard,
  predictSource,
} from "./predict.js";
export {
  type InteractiveCaseResult,
  type InteractiveOptions,
  type InteractiveSummary,
  interactiveSource,
} from "./interactive.js";
export { sourceFromRun } from "./from-run.js";
export {
  type MergeOptions,
  type MergePlan,
  type MergeReport,
  type SourceMap,
  mergeTargets,
  nearRegion,
  planMerge,
} from "./merge.js";
export { type MergeSpec, mergeDataset } from "./merge-dataset.js";
export { freesurferName, freesurferNames, readNames } from "./names.js";
export { checkSourceName, registerSource, sourceDir, writeSourceMap } from "./source.js";
