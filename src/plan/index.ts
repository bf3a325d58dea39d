// backsplit/plan: the dataset fingerprint (spacings, shapes, foreground intensities) and nnU-Net-style
// plans (target spacing, patch, network topology within a memory budget). Does not load libtorch.
export {
  type CaseFingerprint,
  type Fingerprint,
  type IntensityProperties,
  SAMPLES_PER_CASE,
  fingerprintDataset,
  intensityProperties,
  writeFingerprint,
} from "./fingerprint.js";
export {
  ANISOTROPY_THRESHOLD,
  type Architecture,
  type Configuration,
  type Normalization,
  type PlanOptions,
  type Plans,
  batchDiceRule,
  estimateMemoryBytes,
  planExperiment,
  targetSpacing,
  topology,
  writePlans,
} from "./plan.js";
