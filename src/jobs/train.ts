// Worker-thread entry points for training and prediction, so the CLI's progress bar keeps drawing.
export { train as trainJob } from "../train/trainer.js";
export { predictFolder as predictJob } from "../predict/predict.js";
