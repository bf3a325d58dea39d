// The backsplit page: NiiVue viewer of a dataset's cases with lesion, background-source and
// prediction overlays; interactive labelling against the server's random-walker sessions; live
// training curves (server-sent events from log.jsonl); links to reports.
import { NVImage, Niivue } from "@niivue/niivue";

interface FileRef {
  root: string;
  path: string;
}
interface CaseEntry {
  id: string;
  split: string;
  images: (FileRef | null)[];
  label: FileRef | null;
  backgrounds: Record<string, FileRef>;
  predictions: Record<string, FileRef>;
}
interface RunEntry extends FileRef {
  mode?: string;
  sources?: string[];
  epochs?: number;
}
interface Catalog {
  dataset: {
    name: string;
    channels: string[];
    labels: Record<string, number>;
    sources: Record<string, { labels: Record<string, number> }>;
  };
  cases: CaseEntry[];
  runs: RunEntry[];
  reports: FileRef[];
}
interface Box {
  min: number[];
  max: number[];
}
interface Patch {
  box: Box;
  data: string;
}
interface Reply {
  shape: number[];
  mask?: Patch | null;
  map?: Patch | null;
  maskVoxels?: number;
  seconds?: number;
  prompts?: number;
  voxel?: number[];
  classes?: Record<string, number>;
}

const token = new URLSearchParams(location.search).get("token") ?? "";
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const PALETTE = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
  [220, 190, 255],
];

function status(text: string, error = false): void {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { "x-backsplit-token": token, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const value = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(value.error ?? `${res.status}`);
  return value;
}

const fileUrl = (f: FileRef) =>
  `/api/file?root=${encodeURIComponent(f.root)}&path=${encodeURIComponent(f.path)}&token=${token}`;

/** A NiiVue label colour table for values 0..max, with names; colours start `offset` into the palette. */
function labelTable(labels: Record<string, number>, offset = 0) {
  const max = Math.max(1, ...Object.values(labels));
  const names = Array.from({ length: max + 1 }, () => "");
  for (const [name, v] of Object.entries(labels)) names[v] = name;
  const c = (v: number, k: number) => (v === 0 ? 0 : PALETTE[(v - 1 + offset) % PALETTE.length][k]);
  const I = names.map((_, v) => v);
  return {
    R: I.map((v) => c(v, 0)),
    G: I.map((v) => c(v, 1)),
    B: I.map((v) => c(v, 2)),
    A: I.map((v) => (v ? 255 : 0)),
    I,
    labels: names,
  };
}

const nv = new Niivue({
  backColor: [0.07, 0.07, 0.07, 1],
  crosshairColor: [0.2, 0.8, 1, 0.6],
  crosshairWidth: 1,
  show3Dcrosshair: true,
  dragAndDropEnabled: false,
});
let catalog: Catalog;
let current: CaseEntry | null = null;
let base: NVImage | null = null;
let maskVolume: NVImage | null = null;
let mapVolume: NVImage | null = null;
let sessionId: string | null = null;
let classes: Record<string, number> = {};
const overlayOn = new Map<string, boolean>();
/** The current case's overlays: legend title, class names and palette offset. */
const shown = new Map<string, { title: string; labels: Record<string, number>; offset: number }>();
let lastMm: number[] | null = null;
let stroke: number[][] = [];
let boxCorner: number[] | null = null;

function mode(): string {
  return (document.querySelector('input[name="mode"]:checked') as HTMLInputElement).value;
}

function applyPatch(volume: NVImage, shape: number[], patch: Patch | null | undefined): void {
  if (!patch) return;
  const bytes = Uint8Array.from(atob(patch.data), (ch) => ch.charCodeAt(0));
  const [nx, ny] = shape;
  const { min, max } = patch.box;
  const sx = max[0] - min[0] + 1;
  const img = volume.img as Uint8Array;
  let o = 0;
  for (let z = min[2]; z <= max[2]; z++)
    for (let y = min[1]; y <= max[1]; y++) {
      img.set(bytes.subarray(o, o + sx), min[0] + nx * (y + ny * z));
      o += sx;
    }
}

async function showCase(entry: CaseEntry): Promise<void> {
  current = entry;
  if (sessionId) await api("DELETE", `/api/sessions/${sessionId}`).catch(() => undefined);
  sessionId = null;
  classes = {};
  renderClasses();
  const channel = Number(($("channel") as HTMLSelectElement).value || 0);
  const image = entry.images[channel] ?? entry.images.find(Boolean);
  if (!image) return status(`case ${entry.id} has no image`, true);
  status(`loading ${entry.id}…`);
  const volumes: { url: string; name: string; key: string; labels: Record<string, number>; offset: number }[] = [];
  if (entry.label)
    volumes.push({
      url: fileUrl(entry.label),
      name: "lesion.nii.gz",
      key: "lesion",
      labels: lesionLabels(),
      offset: 1,
    });
  for (const [s, f] of Object.entries(entry.backgrounds))
    volumes.push({
      url: fileUrl(f),
      name: `${s}.nii.gz`,
      key: `source:${s}`,
      labels: catalog.dataset.sources[s]?.labels ?? {},
      offset: 0,
    });
  // Each prediction folder in its own colour, so binary and BackSplit can be told apart.
  Object.entries(entry.predictions).forEach(([p, f], k) =>
    volumes.push({
      url: fileUrl(f),
      name: `${p.replace(/\W+/g, "_")}.nii.gz`,
      key: `prediction:${p}`,
      labels: lesionLabels(),
      offset: 3 + 2 * k,
    }),
  );
  await nv.loadVolumes([{ url: fileUrl(image), name: "image.nii.gz" }]);
  base = nv.volumes[0];
  for (const v of volumes) {
    const vol = await NVImage.loadFromUrl({ url: v.url, name: v.name });
    vol.setColormapLabel(labelTable(v.labels, v.offset));
    (vol as unknown as { key: string }).key = v.key;
    nv.addVolume(vol);
  }
  maskVolume = NVImage.zerosLike(base, "uint8");
  maskVolume.setColormapLabel(labelTable({ "current mask": 1 }, 2));
  (maskVolume as unknown as { key: string }).key = "mask";
  nv.addVolume(maskVolume);
  mapVolume = NVImage.zerosLike(base, "uint8");
  mapVolume.setColormapLabel(labelTable({}));
  (mapVolume as unknown as { key: string }).key = "accepted";
  nv.addVolume(mapVolume);
  shown.clear();
  for (const v of volumes)
    shown.set(v.key, { title: v.key.replace(/^(source|prediction):/, ""), labels: v.labels, offset: v.offset });
  shown.set("mask", { title: "drawing", labels: { "current mask": 1 }, offset: 2 });
  renderOverlays(volumes.map((v) => v.key));
  status(`${entry.id} loaded`);
}

function lesionLabels(): Record<string, number> {
  return Object.fromEntries(Object.entries(catalog.dataset.labels).filter(([n]) => n !== "background"));
}

function renderOverlays(keys: string[]): void {
  const box = $("overlays");
  box.replaceChildren();
  for (const key of [...keys, "mask", "accepted"]) {
    if (!overlayOn.has(key)) overlayOn.set(key, key === "lesion" || key === "mask" || key === "accepted");
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = overlayOn.get(key)!;
    input.dataset.overlay = key;
    input.addEventListener("change", () => {
      overlayOn.set(key, input.checked);
      refreshOpacity();
    });
    label.append(input, key);
    box.append(label);
  }
  refreshOpacity();
}

function refreshOpacity(): void {
  const opacity = Number(($("opacity") as HTMLInputElement).value);
  nv.volumes.forEach((v, i) => {
    if (i === 0) return;
    const key = (v as unknown as { key: string }).key;
    nv.setOpacity(i, overlayOn.get(key) ? opacity : 0);
  });
  const legend = $("legend");
  legend.replaceChildren();
  const add = (title: string, labels: Record<string, number>, offset = 0) => {
    const h = document.createElement("div");
    h.textContent = title;
    legend.append(h);
    for (const [name, v] of Object.entries(labels)) {
      const row = document.createElement("div");
      const sw = document.createElement("span");
      sw.className = "swatch";
      const [r, g, b] = PALETTE[(v - 1 + offset) % PALETTE.length];
      sw.style.background = `rgb(${r},${g},${b})`;
      row.append(sw, `${v} ${name}`);
      legend.append(row);
    }
  };
  for (const [key, { title, labels, offset }] of shown) if (overlayOn.get(key)) add(title, labels, offset);
  if (overlayOn.get("accepted") && Object.keys(classes).length) add("accepted", classes);
}

function renderClasses(): void {
  $("classes").textContent = Object.keys(classes).length
    ? `accepted: ${Object.entries(classes)
        .map(([n, v]) => `${v}=${n}`)
        .join(", ")}`
    : "no structure accepted yet";
}

async function ensureSession(): Promise<string> {
  if (sessionId) return sessionId;
  if (!current) throw new Error("choose a case first");
  const channel = Number(($("channel") as HTMLSelectElement).value || 0);
  status("starting session…");
  const s = await api<{ id: string }>("POST", "/api/sessions", { case: current.id, channel });
  sessionId = s.id;
  return s.id;
}

async function send(action: string, body: unknown = {}): Promise<Reply> {
  const id = await ensureSession();
  const reply = await api<Reply>("POST", `/api/sessions/${id}/${action}`, body);
  if (maskVolume) applyPatch(maskVolume, reply.shape, reply.mask);
  if (mapVolume) applyPatch(mapVolume, reply.shape, reply.map);
  if (reply.classes) {
    classes = reply.classes;
    mapVolume?.setColormapLabel(labelTable(classes));
    renderClasses();
    refreshOpacity();
  }
  nv.updateGLVolume();
  const info = $("session-info");
  info.textContent = `${reply.prompts ?? 0} prompts · ${reply.maskVoxels ?? 0} voxels${
    reply.seconds !== undefined ? ` · ${reply.seconds.toFixed(2)} s` : ""
  }${reply.voxel ? ` · voxel ${reply.voxel.join(",")}` : ""}`;
  info.dataset.voxels = String(reply.maskVoxels ?? 0);
  if (reply.voxel) info.dataset.voxel = reply.voxel.join(",");
  info.dataset.prompts = String(reply.prompts ?? 0);
  return reply;
}

async function act(label: string, work: () => Promise<unknown>): Promise<void> {
  status(`${label}…`);
  document.body.dataset.busy = "1";
  try {
    await work();
    status(`${label}: done`);
  } catch (error) {
    status(`${label}: ${(error as Error).message}`, true);
  } finally {
    delete document.body.dataset.busy;
  }
}

/** A 2D box drawn on a slice, extended through the slice by half its larger side each way. */
function boxFromCorners(a: number[], b: number[]): number[][] {
  const d = [0, 1, 2].map((k) => Math.abs(a[k] - b[k]));
  const flat = d.indexOf(Math.min(...d));
  const depth = Math.max(...d) / 2;
  const lo = a.map((v, k) => Math.min(v, b[k]));
  const hi = a.map((v, k) => Math.max(v, b[k]));
  lo[flat] -= depth;
  hi[flat] += depth;
  return [lo, hi]; // corners outside the image are refused by the server, with a message
}

function onPointerUp(): void {
  const m = mode();
  if (m === "navigate" || !lastMm || !current) return;
  if (m === "positive" || m === "negative") {
    const mm = lastMm;
    void act("click", () => send("prompt", { prompt: { kind: "point", positive: m === "positive", mm } }));
  } else if (m === "scribble") {
    const points = stroke.length ? stroke : [lastMm];
    stroke = [];
    void act("scribble", () => send("prompt", { prompt: { kind: "scribble", positive: true, mm: points } }));
  } else if (m === "box") {
    if (!boxCorner) {
      boxCorner = lastMm;
      status("box: click the opposite corner");
      return;
    }
    const corners = boxFromCorners(boxCorner, lastMm);
    boxCorner = null;
    void act("box", () => send("prompt", { prompt: { kind: "box", mm: corners } }));
  }
}

function drawCurve(records: Record<string, number>[], epochs?: number): void {
  const svg = $("curve") as unknown as SVGSVGElement;
  const w = 320;
  const h = 180;
  const pad = 28;
  const n = Math.max(epochs ?? 0, records.length, 2);
  const loss = records.map((r) => r.trainLoss);
  const dice = records.map((r) => r.emaPseudoDice ?? r.pseudoDice);
  const lo = Math.min(0, ...loss.filter(Number.isFinite));
  const hi = Math.max(1, ...loss.filter(Number.isFinite));
  const x = (i: number) => pad + ((w - 2 * pad) * i) / (n - 1);
  const y = (v: number) => h - pad - ((h - 2 * pad) * (v - lo)) / (hi - lo || 1);
  const line = (values: number[], colour: string, name: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="1.5" data-series="${name}" points="${values
      .map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" ")}"/>`;
  svg.innerHTML = `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#555"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#555"/>
<text x="${pad}" y="${h - 8}">epoch 0</text><text x="${w - pad - 40}" y="${h - 8}">epoch ${n - 1}</text>
<text x="${pad + 4}" y="${pad - 8}" fill="#f66">train loss</text><text x="${pad + 90}" y="${pad - 8}" fill="#6c6">val pseudo-Dice (EMA)</text>
${line(loss, "#f66", "loss")}${line(dice, "#6c6", "dice")}`;
  svg.dataset.points = String(records.length);
}

let events: EventSource | null = null;
function watchRun(run: RunEntry): void {
  events?.close();
  const records: Record<string, number>[] = [];
  drawCurve(records, run.epochs);
  events = new EventSource(
    `/api/events?root=${encodeURIComponent(run.root)}&path=${encodeURIComponent(run.path)}&token=${token}`,
  );
  events.addEventListener("reset", () => {
    records.length = 0;
    drawCurve(records, run.epochs);
  });
  events.onmessage = (e) => {
    records.push(JSON.parse(e.data));
    drawCurve(records, run.epochs);
  };
}

async function refreshRuns(): Promise<void> {
  const fresh = await api<Catalog>("GET", "/api/catalog");
  const select = $("runs") as HTMLSelectElement;
  const chosen = select.value;
  const known = new Set([...select.options].map((o) => o.value));
  for (const run of fresh.runs) {
    const value = `${run.root}:${run.path}`;
    if (known.has(value)) continue;
    const option = new Option(
      `${run.path}${run.mode ? ` (${run.mode}${run.sources?.length ? `: ${run.sources.join(">")}` : ""})` : ""}`,
      value,
    );
    select.add(option);
  }
  select.value = chosen;
  catalog = fresh; // new sources and predictions show on the next case load
}

async function main(): Promise<void> {
  await nv.attachToCanvas($("gl") as HTMLCanvasElement);
  nv.setSliceType(nv.sliceTypeAxial);
  history.replaceState(null, "", location.pathname); // keep the token out of the address bar
  catalog = await api<Catalog>("GET", "/api/catalog");
  $("dataset-name").textContent = catalog.dataset.name;
  const channel = $("channel") as HTMLSelectElement;
  catalog.dataset.channels.forEach((name, i) => channel.add(new Option(name, String(i))));
  const cases = $("cases") as HTMLSelectElement;
  for (const c of catalog.cases) cases.add(new Option(`${c.id} (${c.split})`, c.id));
  cases.addEventListener("change", () => {
    const entry = catalog.cases.find((c) => c.id === cases.value);
    if (entry) void act("load", () => showCase(entry));
  });
  channel.addEventListener("change", () => current && void act("load", () => showCase(current!)));
  $("opacity").addEventListener("input", refreshOpacity);
  nv.onLocationChange = (data: unknown) => {
    const d = data as { mm: number[]; vox: number[]; string?: string };
    lastMm = Array.from(d.mm).slice(0, 3);
    if (mode() === "scribble" && pointerDown) stroke.push(lastMm);
    $("location").textContent = d.string ?? "";
  };
  let pointerDown = false;
  const canvas = $("gl");
  canvas.addEventListener("pointerdown", () => {
    pointerDown = true;
    stroke = [];
  });
  canvas.addEventListener("pointerup", () => {
    pointerDown = false;
    // NiiVue updates the crosshair in its own handler; read it after.
    setTimeout(onPointerUp, 0);
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>("#view-buttons button"))
    b.addEventListener("click", () => {
      const v = b.dataset.view;
      nv.setSliceType(
        v === "axial"
          ? nv.sliceTypeAxial
          : v === "coronal"
            ? nv.sliceTypeCoronal
            : v === "sagittal"
              ? nv.sliceTypeSagittal
              : nv.sliceTypeMultiplanar,
      );
    });
  $("undo").addEventListener("click", () => void act("undo", () => send("undo")));
  $("reset").addEventListener("click", () => void act("reset", () => send("reset")));
  $("accept").addEventListener(
    "click",
    () => void act("accept", () => send("accept", { name: ($("class-name") as HTMLInputElement).value.trim() })),
  );
  $("save").addEventListener(
    "click",
    () =>
      void act("save", async () => {
        const id = await ensureSession();
        const r = await api<{ file: string }>("POST", `/api/sessions/${id}/save`, {
          source: ($("source-name") as HTMLInputElement).value.trim(),
        });
        $("saved").textContent = `saved ${r.file}`;
        $("saved").dataset.file = r.file;
      }),
  );
  const runs = $("runs") as HTMLSelectElement;
  runs.addEventListener("change", () => {
    const run = catalog.runs.find((r) => `${r.root}:${r.path}` === runs.value);
    if (run) watchRun(run);
  });
  await refreshRuns();
  setInterval(() => void refreshRuns().catch(() => undefined), 2000);
  const list = $("reports");
  for (const r of catalog.reports) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `/files/${r.root}/${r.path.split("/").map(encodeURIComponent).join("/")}?token=${token}`;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = r.path;
    li.append(a);
    list.append(li);
  }
  if (catalog.cases.length) {
    cases.value = catalog.cases[0].id;
    await act("load", () => showCase(catalog.cases[0]));
  }
  document.body.dataset.ready = "1";
}

main().catch((error) => status((error as Error).message, true));
