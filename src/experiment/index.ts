// backsplit/experiment: binary against BackSplit with the same settings, folds and seeds, evaluated on
// the pooled cross-validation predictions and compared case by case; as one process, or as jobs for
// parallel processes or a SLURM array. The experiment does not train by itself: it calls the steps
// you give it (train and predict in this process, or workerSteps on worker threads). Importing it
// does not load libtorch.
export {
  type ExperimentConfig,
  type ExperimentJob,
  type ExperimentResult,
  type ExperimentSteps,
  IncompleteExperimentError,
  collectExperiment,
  experimentJobs,
  runExperiment,
  runExperimentJob,
} from "./experiment.js";
export {
  type EmittedJobs,
  type ParallelJobsOptions,
  emitJobs,
  jobCommand,
  readExperimentPlan,
  runJobsInParallel,
  writeExperimentPlan,
} from "./scale-out.js";
export { BUDGETS, type WorkerSteps, workerSteps } from "../jobs/worker-steps.js";
