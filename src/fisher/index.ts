// backsplit/fisher: the Fisher information of the split likelihood (I_Y) and of the binary one it
// collapses to (I_Z): Monte Carlo traces per patch, closed-form logit-space traces, summaries, and the
// per-epoch training-log callbacks. Loads libtorch.
export * from "./fisher.js";
export { fisherLogCallbacks } from "./training-log.js";
