// One interactive labelling session on a worker thread (the random walker must not block the
// server's event loop). The worker holds the image, the InteractiveSession of the structure being
// drawn and the case's map of accepted structures; it answers one message at a time.
import { parentPort, workerData } from "node:worker_threads";
import { setThreads } from "../engine/index.js";
import { type Box, InteractiveSession, type Prompt, type Voxel } from "../interactive/session.js";
import { readVolume, writeVolume } from "../io/read.js";
import type { Volume } from "../io/volume.js";

export interface SessionWorkerInput {
  image: string;
  device: string;
  threads?: number;
}

/** A prompt as the page sends it: voxel indices, or NiiVue's RAS millimetres. */
export type ClientPrompt =
  | { kind: "point"; positive: boolean; at?: number[]; mm?: number[] }
  | { kind: "scribble"; positive: boolean; points?: number[][]; mm?: number[][] }
  | { kind: "box"; min?: number[]; max?: number[]; mm?: number[][] };

export type SessionRequest =
  | { op: "prompt"; prompt: ClientPrompt }
  | { op: "undo" }
  | { op: "reset" }
  | { op: "accept"; value: number }
  | { op: "save"; file: string; values: Record<number, number> };

/** A box of a mask, the voxels inside it x fastest (base64 of one byte per voxel). */
export interface MaskPatch {
  box: Box;
  data: string;
}

export interface SessionReply {
  shape: Voxel;
  /** Changed part of the current (not yet accepted) mask. */
  mask?: MaskPatch | null;
  /** Changed part of the accepted map. */
  map?: MaskPatch | null;
  maskVoxels?: number;
  seconds?: number;
  prompts?: number;
  voxel?: Voxel;
}

function patch(data: Uint8Array, shape: Voxel, box: Box | null): MaskPatch | null {
  if (!box) return null;
  const [nx, ny] = shape;
  const sx = box.max[0] - box.min[0] + 1;
  const out = new Uint8Array(sx * (box.max[1] - box.min[1] + 1) * (box.max[2] - box.min[2] + 1));
  let o = 0;
  for (let z = box.min[2]; z <= box.max[2]; z++)
    for (let y = box.min[1]; y <= box.max[1]; y++) {
      const from = box.min[0] + nx * (y + ny * z);
      out.set(data.subarray(from, from + sx), o);
      o += sx;
    }
  return { box, data: Buffer.from(out).toString("base64") };
}

function count(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) n += v;
  return n;
}

class LabellingCase {
  readonly shape: Voxel;
  readonly map: Uint8Array;
  readonly session: InteractiveSession;

  constructor(
    readonly volume: Volume,
    device: string,
  ) {
    this.shape = volume.shape as Voxel;
    this.map = new Uint8Array(volume.voxelCount);
    this.session = new InteractiveSession(volume.data, this.shape, { device });
  }

  /** A voxel from indices or RAS millimetres, checked against the image. */
  voxel(at: number[] | undefined, mm: number[] | undefined): Voxel {
    let v: number[];
    if (mm) {
      if (mm.length !== 3 || mm.some((x) => !Number.isFinite(x))) throw new Error("mm must be three finite numbers");
      v = this.volume.worldToVoxel([-mm[0], -mm[1], mm[2]]).map(Math.round);
    } else if (at) {
      if (at.length !== 3 || at.some((x) => !Number.isInteger(x))) throw new Error("a voxel must be three integers");
      v = at;
    } else throw new Error("a prompt needs voxel indices or mm coordinates");
    if (v.some((x, a) => x < 0 || x >= this.shape[a]))
      throw new Error(`voxel [${v.join(", ")}] is outside the image ${this.shape.join("×")}`);
    return v as Voxel;
  }

  prompt(p: ClientPrompt): { prompt: Prompt; voxel: Voxel } {
    if (p.kind === "point") {
      const at = this.voxel(p.at, p.mm);
      return { prompt: { kind: "point", at, positive: p.positive !== false }, voxel: at };
    }
    if (p.kind === "scribble") {
      const raw = p.mm ?? p.points ?? [];
      if (!Array.isArray(raw) || raw.length === 0) throw new Error("a scribble needs at least one point");
      if (raw.length > 10_000) throw new Error("a scribble may have at most 10 000 points");
      const points = raw.map((q) => (p.mm ? this.voxel(undefined, q) : this.voxel(q, undefined)));
      return { prompt: { kind: "scribble", points, positive: p.positive !== false }, voxel: points[0] };
    }
    if (p.kind === "box") {
      const [a, b] = p.mm
        ? [this.voxel(undefined, p.mm[0]), this.voxel(undefined, p.mm[1])]
        : [this.voxel(p.min, undefined), this.voxel(p.max, undefined)];
      const min = [0, 1, 2].map((k) => Math.min(a[k], b[k])) as Voxel;
      const max = [0, 1, 2].map((k) => Math.max(a[k], b[k])) as Voxel;
      return { prompt: { kind: "box", min, max }, voxel: min };
    }
    throw new Error(`unknown prompt kind '${(p as { kind: unknown }).kind}'`);
  }

  async handle(r: SessionRequest): Promise<SessionReply> {
    const s = this.session;
    const base = { shape: this.shape };
    switch (r.op) {
      case "prompt": {
        const { prompt, voxel } = this.prompt(r.prompt);
        const result = s.add(prompt);
        return {
          ...base,
          voxel,
          mask: patch(s.mask, this.shape, result.changed),
          maskVoxels: count(s.mask),
          seconds: result.seconds,
          prompts: s.prompts.length,
        };
      }
      case "undo": {
        const { changed } = s.undo();
        return {
          ...base,
          mask: patch(s.mask, this.shape, changed),
          maskVoxels: count(s.mask),
          prompts: s.prompts.length,
        };
      }
      case "reset": {
        const before = Uint8Array.from(s.mask);
        s.reset();
        return { ...base, mask: patch(s.mask, this.shape, boxOf(before, this.shape)), maskVoxels: 0, prompts: 0 };
      }
      case "accept": {
        if (!Number.isInteger(r.value) || r.value < 1 || r.value > 255) throw new Error("class value must be 1–255");
        const changed = boxOf(s.mask, this.shape);
        if (!changed) throw new Error("nothing to accept: the current mask is empty");
        for (let i = 0; i < s.mask.length; i++) if (s.mask[i]) this.map[i] = r.value;
        const cleared = Uint8Array.from(s.mask);
        s.reset();
        return {
          ...base,
          map: patch(this.map, this.shape, changed),
          mask: patch(s.mask, this.shape, boxOf(cleared, this.shape)),
          maskVoxels: 0,
          prompts: 0,
        };
      }
      case "save": {
        const out = new Uint8Array(this.map.length);
        for (let i = 0; i < out.length; i++) out[i] = this.map[i] ? (r.values[this.map[i]] ?? 0) : 0;
        await writeVolume(r.file, this.volume.withData(out));
        return base;
      }
    }
  }
}

function boxOf(mask: Uint8Array, shape: Voxel): Box | null {
  const [nx, ny] = shape;
  const min: Voxel = [nx, ny, shape[2]];
  const max: Voxel = [-1, -1, -1];
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const p = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    for (let k = 0; k < 3; k++) {
      if (p[k] < min[k]) min[k] = p[k];
      if (p[k] > max[k]) max[k] = p[k];
    }
  }
  return max[0] < 0 ? null : { min, max };
}

const input = workerData as SessionWorkerInput;
const port = parentPort!;
setThreads(input.threads);
try {
  const volume = await readVolume(input.image);
  if (volume.shape.length !== 3) throw new Error(`${input.image}: a 3D image is needed`);
  const labelling = new LabellingCase(volume, input.device);
  port.postMessage({ kind: "ready", shape: labelling.shape });
  let chain = Promise.resolve();
  port.on("message", (message: { id: number; request: SessionRequest }) => {
    chain = chain.then(async () => {
      try {
        port.postMessage({ kind: "reply", id: message.id, value: await labelling.handle(message.request) });
      } catch (error) {
        port.postMessage({ kind: "reply", id: message.id, error: (error as Error).message });
      }
    });
  });
} catch (error) {
  port.postMessage({ kind: "failed", error: (error as Error).message });
}
