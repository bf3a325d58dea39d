// backsplit/run: a training-run folder (training.json, the run's plans, log.jsonl,
// iterations.jsonl, checkpoints, and a stalled start set aside) read
// and written in one place. Does not load libtorch; to load a run's network use loadRun from
// backsplit/predict.
export {
  type CheckpointState,
  RUN_CHECKPOINTS,
  RUN_ITERATIONS,
  RUN_LOG,
  RUN_PLANS,
  RUN_POSTPROCESSING,
  type PostprocessingRecord,
  RUN_RECORD,
  RUN_STALLED_START,
  RunFileError,
  type TrainingRecord,
  TrainingRun,
  readLogLines,
} from "./record.js";
export type { PostprocessingRule } from "./config.js";
