// `backsplit labels group`: many classes → a few, by a grouping (built-in or JSON file), as a new source.
import { readFileSync } from "node:fs";
import type { Dataset } from "../dataset/layout.js";
import { readVolume } from "../io/read.js";
import { Volume } from "../io/volume.js";
import { BUILTIN_GROUPINGS, type Grouping, groupOf } from "./groupings.js";
import { prepareSource, registerSource, writeSourceMap } from "./source.js";

/** A built-in grouping by name (freesurfer, brainchop, totalsegmentator) or a JSON file {name, groups}. */
export function loadGrouping(spec: string): Grouping {
  if (BUILTIN_GROUPINGS[spec]) return BUILTIN_GROUPINGS[spec];
  const json = JSON.parse(readFileSync(spec, "utf8")) as Grouping;
  if (!json.groups || typeof json.groups !== "object")
    throw new Error(`${spec}: a grouping needs "groups": {"group": ["class pattern", …]}`);
  return { name: json.name ?? spec, description: json.description ?? "", groups: json.groups };
}

export interface GroupResult {
  /** Group name → value in the new source. */
  classes: Record<string, number>;
  /** Source class → group name (or null when no pattern matched: those voxels become 0). */
  mapping: Record<string, string | null>;
}

/** Plans a grouping of a source's classes. */
export function planGrouping(
  classes: Record<string, number>,
  grouping: Grouping,
): GroupResult & { lookup: Map<number, number> } {
  const groupNames = Object.keys(grouping.groups);
  const lookup = new Map<number, number>();
  const mapping: Record<string, string | null> = {};
  const used = new Set<number>();
  for (const [name, value] of Object.entries(classes)) {
    const g = groupOf(grouping, name);
    mapping[name] = g ? groupNames[g - 1] : null;
    if (g) {
      lookup.set(value, g);
      used.add(g);
    }
  }
  const out: Record<string, number> = {};
  groupNames.forEach((n, i) => {
    if (used.has(i + 1)) out[n] = i + 1;
  });
  return { classes: out, mapping, lookup };
}

export async function groupSource(
  dataset: Dataset,
  o: { source: string; grouping: string; target: string; replace?: boolean; onCase?: (id: string) => void },
): Promise<GroupResult> {
  const spec = dataset.json.background_sources?.[o.source];
  if (!spec) throw new Error(`dataset.json has no background source '${o.source}'`);
  const plan = planGrouping(spec.labels, loadGrouping(o.grouping));
  prepareSource(dataset, o.target, o.replace ?? false);
  for (const c of dataset.training) {
    const file = c.backgrounds[o.source];
    if (!file) continue;
    const map = await readVolume(file);
    const out = new Uint8Array(map.voxelCount);
    for (let i = 0; i < out.length; i++) out[i] = plan.lookup.get(map.data[i]) ?? 0;
    await writeSourceMap(dataset, o.target, c.id, new Volume(out, map.geometry));
    o.onCase?.(c.id);
  }
  registerSource(dataset, o.target, plan.classes, `${o.source} grouped by ${o.grouping}`);
  return { classes: plan.classes, mapping: plan.mapping };
}
