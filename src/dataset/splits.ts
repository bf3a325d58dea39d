// Cross-validation splits of a preprocessed dataset: nnU-Net's five folds, and splits_final.json
// (never written from a partial cache, repaired when an earlier version wrote it from one).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../util/atomic.js";
import { mulberry32 } from "../util/random.js";

export type Splits = { train: string[]; val: string[] }[];

export class SplitsError extends Error {}

/** nnU-Net's 5-fold split: sorted case ids shuffled with a fixed seed, then cut into folds. */
export function fiveFoldSplits(ids: string[], seed = 12345): Splits {
  const sorted = [...ids].sort();
  const random = mulberry32(seed);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
  }
  const folds = Math.min(5, sorted.length);
  return Array.from({ length: folds }, (_, f) => {
    const val = sorted.filter((_, i) => i % folds === f);
    return { train: sorted.filter((id) => !val.includes(id)), val };
  });
}

function sameSplits(a: Splits, b: Splits): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The splits file of a preprocessed folder. */
export function splitsFile(preprocessed: string): string {
  return path.join(preprocessed, "splits_final.json");
}

/**
 * splits_final.json of `preprocessed` for the cases `ids` of a complete cache: read it when it
 * names only cached cases; write it (with `make`, default the five folds) when it does not exist.
 * A file that `make` itself wrote for a subset of the cases (a cache that was partial then) is
 * rewritten; a hand-made file naming cases that are not cached is refused.
 */
export function readOrWriteSplits(
  preprocessed: string,
  ids: string[],
  make: (ids: string[]) => Splits = (list) => fiveFoldSplits(list),
): Splits {
  const file = splitsFile(preprocessed);
  if (existsSync(file)) {
    const splits = readSplits(file);
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
    throw new SplitsError(
      unknown.length > 0
        ? `${file}: names case(s) that are not in the preprocessed cache (${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", …" : ""}); fix it or delete it to have it written again`
        : `${file}: a fold has no training cases; fix it or delete it to have it written again`,
    );
  }
  const splits = make([...ids].sort());
  writeFileAtomicSync(file, `${JSON.stringify(splits, null, 2)}\n`);
  return splits;
}

/** Reads a splits file, refusing one that is not a list of {train, val}. */
export function readSplits(file: string): Splits {
  try {
    const splits = JSON.parse(readFileSync(file, "utf8")) as Splits;
    if (!Array.isArray(splits) || splits.some((s) => !Array.isArray(s?.train) || !Array.isArray(s?.val)))
      throw new Error("expected a list of {train: [...], val: [...]}");
    return splits;
  } catch (error) {
    throw new SplitsError(`${file}: unreadable (${(error as Error).message}); delete it to have it written again`);
  }
}
