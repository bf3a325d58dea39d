// One rank of a data-parallel training started by a verb that chains steps (experiment --nproc,
// demo --nproc): argv[2] is the TrainConfig as a JSON file; rank 0 prints its progress reports as
// JSON lines on stdout for the parent's progress bar.
import { readFileSync } from "node:fs";
import type { TrainConfig } from "../run/config.js";
import { train } from "../train/trainer.js";

const config = JSON.parse(readFileSync(process.argv[2], "utf8")) as TrainConfig;
await train(config, (message) => process.stdout.write(`${JSON.stringify(message)}\n`));
