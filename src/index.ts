// backsplit: small-lesion segmentation with split background classes.
// Every stage as a namespace (`import { evaluate } from "backsplit"`, then evaluate.summarize(…)); import the
// stages you use from their subpaths instead ("backsplit/train", "backsplit/evaluate", …: see
// docs/api.md) to load only those (several stages do not load libtorch at all).
export * as engine from "./engine/index.js";
export * as io from "./io/index.js";
export * as grid from "./grid/index.js";
export * as dataset from "./dataset/index.js";
export * as plan from "./plan/index.js";
export * as preprocess from "./preprocess/index.js";
export * as interactive from "./interactive/index.js";
export * as labels from "./labels/index.js";
export * as models from "./models/index.js";
export * as fisher from "./fisher/index.js";
export * as run from "./run/index.js";
export * as train from "./train/index.js";
export * as predict from "./predict/index.js";
export * as evaluate from "./evaluate/index.js";
export * as report from "./report/index.js";
export * as experiment from "./experiment/index.js";
export * as demo from "./demo/index.js";
