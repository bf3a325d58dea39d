// backsplit/dataset: the nnU-Net dataset layout with background sources, checks, splits, statistics,
// and the Medical Segmentation Decathlon import. Pure TypeScript: importing it does not load libtorch.
export {
  type BackgroundSource,
  type CaseFiles,
  type Dataset,
  DatasetError,
  type DatasetJson,
  openDataset,
  readDatasetJson,
} from "./layout.js";
export { type Splits, SplitsError, fiveFoldSplits, readOrWriteSplits, readSplits, splitsFile } from "./splits.js";
export {
  type CaseCheckInput,
  type CaseCheckResult,
  type CheckOptions,
  DEFAULT_TOLERANCES,
  DatasetProblemsError,
  type Problem,
  type Tolerances,
  checkCase,
  checkDataset,
  formatProblem,
  geometryProblems,
  layoutProblems,
  refuseOnErrors,
} from "./check.js";
export {
  type CaseStats,
  DEFAULT_SIZE_BINS_MM3,
  type DatasetStats,
  caseStats,
  datasetStats,
  histogram,
  sizeBinLabels,
} from "./stats.js";
export {
  type ImportMsdOptions,
  type ImportMsdResult,
  type MsdDatasetJson,
  convertMsdJson,
  importMsd,
  readMsdJson,
} from "./import-msd.js";
