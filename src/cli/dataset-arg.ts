// The DIR argument of dataset verbs: opened, with dataset.json problems as clean CLI errors.
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { type Dataset, DatasetError, openDataset } from "../dataset/layout.js";
import { CliError, EXIT } from "./exit-codes.js";

export function openDatasetArg(positionals: string[]): Dataset {
  if (positionals.length !== 1) throw new CliError("expected one dataset folder", EXIT.usage);
  const root = positionals[0];
  // Something missing (exit 3) is told apart from something broken (exit 1).
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new CliError(`${root}: no such dataset folder`, EXIT.environment);
  if (!existsSync(path.join(root, "dataset.json")))
    throw new CliError(
      `${path.join(root, "dataset.json")}: missing (an nnU-Net v2 dataset needs dataset.json)`,
      EXIT.environment,
    );
  try {
    return openDataset(positionals[0]);
  } catch (error) {
    if (error instanceof DatasetError) throw new CliError(error.message, EXIT.failure);
    throw error;
  }
}
