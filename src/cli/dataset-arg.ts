// The DIR argument of dataset verbs: opened, with dataset.json problems as clean CLI errors.
import { type Dataset, DatasetError, openDataset } from "../dataset/layout.js";
import { CliError, EXIT } from "./exit-codes.js";

export function openDatasetArg(positionals: string[]): Dataset {
  if (positionals.length !== 1) throw new CliError("expected one dataset folder", EXIT.usage);
  try {
    return openDataset(positionals[0]);
  } catch (error) {
    if (error instanceof DatasetError) throw new CliError(error.message, EXIT.failure);
    throw error;
  }
}
