// `backsplit predict … --dicom-seg --reference DIR`: after prediction, every case's lesion mask (and, with
// --save-classes, its background classes) as a DICOM Segmentation referencing the case's source series.
// DIR is either one series (for an INPUT with one case) or a folder with one series folder per case,
// named by the case id. Runs on the main thread, from the NIfTI files predict wrote (no engine needed).
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { type SegmentInput, writeDicomSeg } from "../io/dicom-seg.js";
import { IMAGE_ENDINGS, readVolume } from "../io/read.js";
import { TrainingRun } from "../run/record.js";

/** Case ids of an images folder ({case}_{XXXX}{ending}), as predict lists them. */
export function inputCaseIds(folder: string): string[] {
  const ids = new Set<string>();
  for (const name of readdirSync(folder)) {
    const ending = IMAGE_ENDINGS.find((e) => name.endsWith(e));
    const m = ending ? /^(.*)_(\d{4})$/.exec(name.slice(0, -ending.length)) : null;
    if (m) ids.add(m[1]);
  }
  return [...ids].sort();
}

function holdsDicom(folder: string): boolean {
  return readdirSync(folder).some((name) => {
    const file = path.join(folder, name);
    if (name.startsWith(".") || !statSync(file).isFile()) return false;
    const head = Buffer.alloc(132);
    const fd = openSync(file, "r");
    try {
      return readSync(fd, head, 0, 132, 0) === 132 && head.toString("latin1", 128, 132) === "DICM";
    } finally {
      closeSync(fd);
    }
  });
}

/**
 * The reference series folder of every case: `reference` itself when it holds DICOM files (one case only),
 * else `reference/<case>/`. Throws a message naming what is missing.
 */
export function resolveSegReferences(reference: string, caseIds: string[]): Map<string, string> {
  if (!existsSync(reference) || !statSync(reference).isDirectory())
    throw new Error(`--reference ${reference}: not a folder`);
  if (holdsDicom(reference)) {
    if (caseIds.length !== 1)
      throw new Error(
        `--reference ${reference} is one DICOM series but the input has ${caseIds.length} cases: give a folder with one series folder per case (named by case id)`,
      );
    return new Map([[caseIds[0], reference]]);
  }
  const out = new Map<string, string>();
  const missing: string[] = [];
  for (const id of caseIds) {
    const folder = path.join(reference, id);
    if (existsSync(folder) && statSync(folder).isDirectory()) out.set(id, folder);
    else missing.push(id);
  }
  if (missing.length > 0)
    throw new Error(
      `--reference ${reference}: no series folder for case(s) ${missing.join(", ")} (expected ${path.join(reference, missing[0])}/)`,
    );
  return out;
}

export interface PredictionSegOptions {
  /** predict's output folder ({case}.nii.gz, {case}_classes.nii.gz). */
  out: string;
  /** The training runs predicted with (the first one's classes name the segments). */
  runs: string[];
  references: Map<string, string>;
  /** Also the background classes (from {case}_classes.nii.gz) as further segments. */
  classes: boolean;
  onCase?: (id: string, file: string) => void;
}

/** Writes {out}/{case}.seg.dcm for every case; returns the files written. */
export async function writePredictionSegs(o: PredictionSegOptions): Promise<string[]> {
  const record = new TrainingRun(o.runs[0]).record();
  const lesionValues = new Set(Object.values(record.lesionClasses));
  const written: string[] = [];
  for (const [id, folder] of o.references) {
    const mask = await readVolume(path.join(o.out, `${id}.nii.gz`));
    const segments: SegmentInput[] = Object.entries(record.lesionClasses).map(([name, value]) => ({
      map: mask,
      value,
      label: name,
      description: `lesion class ${value} predicted by backsplit`,
    }));
    const classesFile = path.join(o.out, `${id}_classes.nii.gz`);
    if (o.classes && existsSync(classesFile)) {
      const classes = await readVolume(classesFile);
      for (const [name, value] of Object.entries(record.classes)) {
        if (value === 0 || lesionValues.has(value) || name === "ignore") continue;
        segments.push({ map: classes, value, label: name, kind: "tissue", description: `background class ${value}` });
      }
    }
    const file = path.join(o.out, `${id}.seg.dcm`);
    await writeDicomSeg(file, folder, segments, { seriesDescription: "backsplit lesion segmentation" });
    written.push(file);
    o.onCase?.(id, file);
  }
  return written;
}
