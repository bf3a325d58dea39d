// `backsplit labels interactive --simulate-clicks N`: a background source made by simulated clicks on
// each structure of a reference source (see interactive/simulate.ts), with the Dice it reaches per
// structure. Cases run on worker threads.
import path from "node:path";
import type { Dataset } from "../dataset/layout.js";
import { setThreads } from "../engine/index.js";
import { type StructureResult, simulateClicks } from "../interactive/simulate.js";
import { readVolume, writeVolume } from "../io/read.js";
import type { Vec3 } from "../io/volume.js";
import { mapInWorkers } from "../util/worker.js";
import { prepareSource, registerSource, sourceDir } from "./source.js";

export interface InteractiveCaseInput {
  caseId: string;
  image: string;
  reference: string;
  classes: Record<string, number>;
  clicks: number;
  negatives: boolean;
  seed: number;
  device: string;
  threads?: number;
  out: string;
}

export interface InteractiveCaseResult {
  caseId: string;
  structures: StructureResult[];
  seconds: number;
}

export async function interactiveCase(input: InteractiveCaseInput): Promise<InteractiveCaseResult> {
  const started = performance.now();
  setThreads(input.threads);
  const image = await readVolume(input.image);
  const reference = await readVolume(input.reference);
  if (reference.voxelCount !== image.voxelCount)
    throw new Error(
      `${input.reference}: shape ${reference.shape.join("×")} differs from image ${image.shape.join("×")}`,
    );
  const { map, structures } = simulateClicks(image.data, reference.data, image.shape as Vec3, input.classes, {
    clicks: input.clicks,
    negatives: input.negatives,
    seed: input.seed,
    device: input.device,
  });
  await writeVolume(input.out, image.withData(map));
  return { caseId: input.caseId, structures, seconds: (performance.now() - started) / 1000 };
}

export interface InteractiveOptions {
  source: string;
  /** The background source whose structures are clicked on (its maps are the simulated user's intent). */
  reference: string;
  clicks: number;
  negatives?: boolean;
  channel?: number;
  seed?: number;
  device?: string;
  threads?: number;
  replace?: boolean;
  workers?: number;
  onCase?: (r: InteractiveCaseResult) => void;
}

/** Per structure: Dice against the reference, mean over cases. */
export interface InteractiveSummary {
  classes: Record<string, number>;
  cases: InteractiveCaseResult[];
  meanDice: Record<string, number>;
}

export async function interactiveSource(dataset: Dataset, o: InteractiveOptions): Promise<InteractiveSummary> {
  const spec = dataset.json.background_sources?.[o.reference];
  if (!spec) throw new Error(`dataset.json has no background source '${o.reference}' to click on`);
  if (o.source === o.reference) throw new Error(`--source must differ from --reference (${o.source})`);
  if (!Number.isInteger(o.clicks) || o.clicks < 1) throw new Error("--simulate-clicks must be a positive integer");
  const cases = dataset.training.filter((c) => c.backgrounds[o.reference]);
  if (cases.length === 0) throw new Error(`no case has a map of source '${o.reference}'`);
  prepareSource(dataset, o.source, o.replace ?? false);
  const dir = sourceDir(dataset, o.source);
  const results = await mapInWorkers<InteractiveCaseInput, InteractiveCaseResult>(
    cases.map((c) => {
      const image = c.images[o.channel ?? 0];
      if (!image) throw new Error(`case ${c.id} has no channel ${o.channel ?? 0}`);
      return {
        caseId: c.id,
        image,
        reference: c.backgrounds[o.reference]!,
        classes: spec.labels,
        clicks: o.clicks,
        negatives: o.negatives ?? false,
        seed: (o.seed ?? 0) * 7919 + cases.indexOf(c),
        device: o.device ?? "cpu",
        threads: o.threads,
        out: path.join(dir, `${c.id}${dataset.json.file_ending}`),
      };
    }),
    { module: import.meta.url, exportName: "interactiveCase" },
    o.workers ?? 1,
    (_, r) => o.onCase?.(r),
  );
  registerSource(
    dataset,
    o.source,
    spec.labels,
    `${o.clicks} simulated clicks per structure of '${o.reference}'${o.negatives ? " (with negative clicks)" : ""}, random walker`,
  );
  const meanDice: Record<string, number> = {};
  for (const name of Object.keys(spec.labels)) {
    const values = results.flatMap((r) => r.structures.filter((s) => s.name === name).map((s) => s.dice));
    if (values.length) meanDice[name] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return { classes: spec.labels, cases: results, meanDice };
}
