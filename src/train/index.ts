// backsplit/train: nnU-Net's training recipe for binary or BackSplit targets (the background split by
// the chosen sources), with resumable checkpoints and a JSON-lines log; the losses and the on-device
// augmentation it uses. Loads libtorch.
export {
  type EpochLog,
  STALL_CHECK_EPOCHS,
  type TrainConfig,
  initFromRun,
  noLearningWarning,
  restartsIfStalled,
  train,
} from "./trainer.js";
export { NonFiniteLossError } from "./step.js";
export {
  type LossOptions,
  deepSupervisionLoss,
  deepSupervisionTarget,
  deepSupervisionWeights,
  segmentationLoss,
  softDice,
} from "./loss.js";
export { type AugmentOptions, NNUNET_AUGMENTATION, augmentBatch } from "./augment.js";
export {
  BUCKET_BYTES,
  DataParallel,
  type LaunchEnv,
  isMainProcess,
  joinGroup,
  launchEnv,
  localBatch,
  rankSeed,
} from "./distributed.js";
export { launchLocal, type LocalLaunch } from "./launch.js";
export {
  LESION_SHARE_MAX_BATCHES,
  RESTART_LESION_STARTS,
  batchLesionShare,
  restartLesionStart,
} from "./lesion-share.js";
