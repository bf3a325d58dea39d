// backsplit/evaluate: predictions against references, voxel by voxel and lesion by lesion (detection,
// F1, false positives, recall by lesion size), summaries, paired comparisons of two models with
// bootstrap intervals and Wilcoxon tests. Pure TypeScript: does not load libtorch.
export {
  type ClassEvaluation,
  type Comparison,
  type Evaluation,
  type EvaluationSummary,
  METRICS,
  compareEvaluations,
  evaluateFolders,
  summarize,
  toCsv,
} from "./evaluate.js";
export {
  DEFAULT_BINS_MM3,
  type LesionMatch,
  type LesionMetrics,
  type VoxelMetrics,
  lesionMetrics,
  sizeStratified,
  surface,
  voxelMetrics,
} from "./metrics.js";
export { type PooledMetric, type PooledSummary, pooledLesionSummary } from "./pooled.js";
export { type PairedSummary, bootstrapCI, bootstrapRatioCI, mean, median, pairedSummary, wilcoxon } from "./stats.js";
export {
  type CandidateScore,
  MIN_PEAK_PROBABILITIES,
  MIN_SIZE_VOXELS,
  type PostprocessingChoice,
  determinePostprocessing,
  postprocessingRecord,
} from "./postprocessing.js";
