// Class-name tables: from a JSON file, or FreeSurfer's lookup table for the labels backsplit groups.
import { readFileSync } from "node:fs";

/**
 * Reads value → name from a JSON file: {"1": "spleen", …} or {"spleen": 1, …}. With FILE#KEY, the
 * table is the entry of the top-level object whose key contains KEY (e.g. classes.json#'total').
 * Any other file is read as a text table, one "VALUE NAME …" per line (FSL atlas .txt, AAL .txt,
 * FreeSurfer-style LUTs); the name is the first word after the value.
 */
export function readNames(spec: string): Map<number, string> {
  const [file, key] = spec.split("#");
  if (!file.toLowerCase().endsWith(".json")) return readTextNames(file);
  let json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  if (key) {
    const match = Object.keys(json).find((k) => k.includes(key));
    if (!match)
      throw new Error(`${file}: no entry whose key contains '${key}' (keys: ${Object.keys(json).join("; ")})`);
    json = json[match] as Record<string, unknown>;
  }
  const names = new Map<number, string>();
  for (const [k, v] of Object.entries(json)) {
    if (/^\d+$/.test(k) && typeof v === "string") names.set(Number(k), v);
    else if (typeof v === "number" && Number.isInteger(v)) names.set(v, k);
  }
  if (names.size === 0) throw new Error(`${file}: no "value": "name" pairs found`);
  return names;
}

function readTextNames(file: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const m = /^\s*(\d+)\s+(\S+)/.exec(line);
    if (m) names.set(Number(m[1]), m[2]);
  }
  names.delete(0);
  if (names.size === 0) throw new Error(`${file}: no "VALUE NAME" lines found`);
  return names;
}

/** FreeSurfer aseg labels (FreeSurferColorLUT). Cortical parcels are named by range in freesurferName(). */
const ASEG: Record<number, string> = {
  2: "Left-Cerebral-White-Matter",
  3: "Left-Cerebral-Cortex",
  4: "Left-Lateral-Ventricle",
  5: "Left-Inf-Lat-Vent",
  7: "Left-Cerebellum-White-Matter",
  8: "Left-Cerebellum-Cortex",
  10: "Left-Thalamus",
  11: "Left-Caudate",
  12: "Left-Putamen",
  13: "Left-Pallidum",
  14: "3rd-Ventricle",
  15: "4th-Ventricle",
  16: "Brain-Stem",
  17: "Left-Hippocampus",
  18: "Left-Amygdala",
  24: "CSF",
  26: "Left-Accumbens-area",
  28: "Left-VentralDC",
  30: "Left-vessel",
  31: "Left-choroid-plexus",
  41: "Right-Cerebral-White-Matter",
  42: "Right-Cerebral-Cortex",
  43: "Right-Lateral-Ventricle",
  44: "Right-Inf-Lat-Vent",
  46: "Right-Cerebellum-White-Matter",
  47: "Right-Cerebellum-Cortex",
  49: "Right-Thalamus",
  50: "Right-Caudate",
  51: "Right-Putamen",
  52: "Right-Pallidum",
  53: "Right-Hippocampus",
  54: "Right-Amygdala",
  58: "Right-Accumbens-area",
  60: "Right-VentralDC",
  62: "Right-vessel",
  63: "Right-choroid-plexus",
  72: "5th-Ventricle",
  77: "WM-hypointensities",
  78: "Left-WM-hypointensities",
  79: "Right-WM-hypointensities",
  80: "non-WM-hypointensities",
  81: "Left-non-WM-hypointensities",
  82: "Right-non-WM-hypointensities",
  85: "Optic-Chiasm",
  251: "CC_Posterior",
  252: "CC_Mid_Posterior",
  253: "CC_Central",
  254: "CC_Mid_Anterior",
  255: "CC_Anterior",
};

/** Desikan-Killiany parcels 1–35 (ctx-lh-* = 1000 + i, ctx-rh-* = 2000 + i). */
const DK = [
  "unknown",
  "bankssts",
  "caudalanteriorcingulate",
  "caudalmiddlefrontal",
  "corpuscallosum",
  "cuneus",
  "entorhinal",
  "fusiform",
  "inferiorparietal",
  "inferiortemporal",
  "isthmuscingulate",
  "lateraloccipital",
  "lateralorbitofrontal",
  "lingual",
  "medialorbitofrontal",
  "middletemporal",
  "parahippocampal",
  "paracentral",
  "parsopercularis",
  "parsorbitalis",
  "parstriangularis",
  "pericalcarine",
  "postcentral",
  "posteriorcingulate",
  "precentral",
  "precuneus",
  "rostralanteriorcingulate",
  "rostralmiddlefrontal",
  "superiorfrontal",
  "superiorparietal",
  "superiortemporal",
  "supramarginal",
  "frontalpole",
  "temporalpole",
  "transversetemporal",
  "insula",
];

/** FreeSurfer name of a label value (aseg, aparc DK, aparc.a2009s by parcel number). */
export function freesurferName(value: number): string {
  if (ASEG[value]) return ASEG[value];
  const hemi = (v: number) => (v === 1 || v === 11 ? "lh" : "rh");
  if (value >= 1000 && value < 3000)
    return `ctx-${hemi(Math.floor(value / 1000))}-${DK[value % 1000] ?? String(value % 1000)}`;
  if (value >= 11100 && value < 13000) return `ctx_${hemi(Math.floor(value / 1000))}_a2009s_${value % 100}`;
  return `FreeSurfer-${value}`;
}

export function freesurferNames(values: Iterable<number>): Map<number, string> {
  return new Map([...values].filter((v) => v !== 0).map((v) => [v, freesurferName(v)]));
}
