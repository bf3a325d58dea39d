// The files of a training run that must survive a kill: splits_final.json (never written from a
// partial cache, repaired when an earlier version wrote it from one) and log.jsonl (an append
// killed halfway leaves a torn last line, which --resume drops).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../util/atomic.js";

export type Splits = { train: string[]; val: string[] }[];

export class RunFileError extends Error {}

function sameSplits(a: Splits, b: Splits): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * splits_final.json of `preprocessed` for the cases `ids` of a complete cache: read it when it
 * names only cached cases; write it (with `make`) when it does not exist. A file that `make`
 * itself wrote for a subset of the cases (a cache that was partial then) is rewritten; a
 * hand-made file naming cases that are not cached is refused.
 */
export function readOrWriteSplits(preprocessed: string, ids: string[], make: (ids: string[]) => Splits): Splits {
  const file = path.join(preprocessed, "splits_final.json");
  if (existsSync(file)) {
    let splits: Splits;
    try {
      splits = JSON.parse(readFileSync(file, "utf8")) as Splits;
      if (!Array.isArray(splits) || splits.some((s) => !Array.isArray(s?.train) || !Array.isArray(s?.val)))
        throw new Error("expected a list of {train: [...], val: [...]}");
    } catch (error) {
      throw new RunFileError(`${file}: unreadable (${(error as Error).message}); delete it to have it written again`);
    }
    const named = [...new Set(splits.flatMap((s) => [...s.train, ...s.val]))].sort();
    const have = new Set(ids);
    const unknown = named.filter((id) => !have.has(id));
    const emptyFold = splits.some((s) => s.train.length === 0) && ids.length > 1;
    if (unknown.length === 0 && !emptyFold) return splits;
    const sorted = [...ids].sort();
    if (sameSplits(splits, make(named)) && JSON.stringify(named) !== JSON.stringify(sorted)) {
      // Written automatically for other cases (e.g. from a partial cache): write it for these.
      const fresh = make(sorted);
      writeFileAtomicSync(file, `${JSON.stringify(fresh, null, 2)}\n`);
      return fresh;
    }
    throw new RunFileError(
      unknown.length > 0
        ? `${file}: names case(s) that are not in the preprocessed cache (${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", …" : ""}); fix it or delete it to have it written again`
        : `${file}: a fold has no training cases; fix it or delete it to have it written again`,
    );
  }
  const splits = make([...ids].sort());
  writeFileAtomicSync(file, `${JSON.stringify(splits, null, 2)}\n`);
  return splits;
}

/**
 * The lines of log.jsonl as written: a last line without its newline that does not parse (an
 * append cut short by a kill) is dropped; a broken line elsewhere is an error naming the line.
 */
export function readLogLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const last = lines.pop() ?? ""; // "" when the file ends with a newline
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      JSON.parse(line);
    } catch {
      throw new RunFileError(`${file}: line ${i + 1} is not valid JSON (${line.slice(0, 60)})`);
    }
    out.push(line);
  });
  if (last.trim()) {
    try {
      JSON.parse(last);
      out.push(last);
    } catch {
      // torn by a kill in the middle of an append: dropped
    }
  }
  return out;
}

/** A NaN or infinite loss: training stops (exit 1) instead of writing a model of NaNs. */
export class NonFiniteLossError extends Error {
  constructor(epoch: number, iteration: number, loss: number, checkpoints: string) {
    super(
      `the training loss is ${loss} at epoch ${epoch}, iteration ${iteration}: training stopped (check the images for extreme values, or lower --lr); ${epoch > 0 ? `the last finished epoch's checkpoint is in ${checkpoints}` : "no checkpoint was written"}`,
    );
  }
}
