// The HTML report: self-contained, plots and montages render in headless Chromium; PNG encoder checked.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { inflateSync } from "node:zlib";
import { compareEvaluations, evaluateFolders } from "../../src/evaluate/evaluate.js";
import { encodeNifti } from "../../src/io/nifti.js";
import { Volume } from "../../src/io/volume.js";
import { encodePng } from "../../src/report/png.js";
import { writeReport } from "../../src/report/report.js";
import { launchBrowser } from "../helpers/browser.js";

test("the PNG encoder writes a valid RGB image (signature, IHDR, inflatable IDAT)", () => {
  const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => i * 7);
  const png = encodePng(rgb, 4, 3);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.readUInt32BE(16), 4);
  assert.equal(png.readUInt32BE(20), 3);
  const idatLength = png.readUInt32BE(33);
  const raw = inflateSync(png.subarray(41, 41 + idatLength));
  assert.equal(raw.length, 3 * (4 * 3 + 1));
  assert.deepEqual([...raw.subarray(1, 13)], [...rgb.subarray(0, 12)]);
});

function write(dir: string, id: string, data: Uint8Array | Float32Array): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${id}.nii.gz`);
  writeFileSync(file, encodeNifti(new Volume(data, { shape: [24, 20, 6], spacing: [1, 1, 2] }), true));
  return file;
}

test("the report opens offline in Chromium with its plots and montages rendered", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-report-"));
  const n = 24 * 20 * 6;
  const blob = (cx: number, cy: number, r: number) => (i: number) => {
    const x = i % 24;
    const y = Math.floor(i / 24) % 20;
    return (x - cx) ** 2 + (y - cy) ** 2 < r * r ? 1 : 0;
  };
  const montages = [];
  for (let k = 0; k < 4; k++) {
    const id = `case${k}`;
    const lesionA = blob(6, 6, 2 + (k % 2));
    const lesionB = blob(16, 12, 2);
    write(
      path.join(root, "ref"),
      id,
      Uint8Array.from({ length: n }, (_, i) => lesionA(i) | lesionB(i)),
    );
    write(
      path.join(root, "binary"),
      id,
      Uint8Array.from({ length: n }, (_, i) => lesionA(i)),
    );
    write(
      path.join(root, "backsplit"),
      id,
      Uint8Array.from({ length: n }, (_, i) => lesionA(i) | (k > 0 ? lesionB(i) : 0)),
    );
    const image = write(
      path.join(root, "images"),
      `${id}_0000`,
      Float32Array.from({ length: n }, (_, i) => 100 + 50 * (lesionA(i) | lesionB(i)) + 10 * Math.sin(i)),
    );
    montages.push({
      id,
      image,
      reference: path.join(root, "ref", `${id}.nii.gz`),
      predictionA: path.join(root, "binary", `${id}.nii.gz`),
      predictionB: path.join(root, "backsplit", `${id}.nii.gz`),
    });
  }
  const a = await evaluateFolders(path.join(root, "binary"), path.join(root, "ref"));
  const b = await evaluateFolders(path.join(root, "backsplit"), path.join(root, "ref"));
  const comparison = compareEvaluations(a, b, ["binary", "backsplit"]);
  const log = path.join(root, "log.jsonl");
  writeFileSync(
    log,
    [0, 1, 2].map((e) => JSON.stringify({ epoch: e, trainLoss: 1 - 0.2 * e, pseudoDice: 0.2 * e })).join("\n"),
  );
  // A second run that started over: its abandoned start sits in stalled-start/ beside its log.
  const restarted = path.join(root, "restarted");
  mkdirSync(path.join(restarted, "stalled-start"), { recursive: true });
  writeFileSync(path.join(restarted, "log.jsonl"), readFileSync(log));
  writeFileSync(
    path.join(restarted, "stalled-start", "log.jsonl"),
    [0, 1].map((e) => `${JSON.stringify({ epoch: e, trainLoss: 1, pseudoDice: 0 })}\n`).join(""),
  );
  // A BackSplit run that started over with a background warm-up (its record says so).
  const split = path.join(root, "split");
  mkdirSync(path.join(split, "stalled-start"), { recursive: true });
  writeFileSync(path.join(split, "log.jsonl"), readFileSync(log));
  writeFileSync(
    path.join(split, "stalled-start", "log.jsonl"),
    readFileSync(path.join(restarted, "stalled-start", "log.jsonl")),
  );
  writeFileSync(
    path.join(split, "training.json"),
    JSON.stringify({ lesionPrior: 0.001, config: { backgroundWarmupEpochs: 5 } }),
  );
  const { html, markdown } = await writeReport(root, {
    title: "test report",
    comparison,
    a,
    b,
    logs: { run: log, "restarted run": path.join(restarted, "log.jsonl"), "split run": path.join(split, "log.jsonl") },
    montages,
    facts: { device: "cpu" },
  });
  assert.match(markdown, /\| recall \| 0\.500 \| 0\.875 \|/);
  const text = readFileSync(html, "utf8");
  assert.match(
    text,
    /Started over [^<]*: restarted run \(after 2 epochs\), split run \(after 2 epochs; lesion start 0\.1 %; background warm-up 5 epochs\)\./,
    "the restarted runs are named, once, the split one with its lesion start and warm-up",
  );
  assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(text.replace(/xmlns(:\w+)?="[^"]+"/g, "")), "no external references");
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url());
    });
    await page.goto(`file://${html}`);
    const svgs = await page.$$eval("figure.plot svg", (els) =>
      els.map((e) => e.getBoundingClientRect().width * e.getBoundingClientRect().height),
    );
    assert.ok(svgs.length >= 5 && svgs.every((area) => area > 1000), `plots: ${svgs}`);
    const marks = await page.$$eval("figure.plot svg path, figure.plot svg rect", (els) => els.length);
    assert.ok(marks > 20, `${marks} drawn marks`);
    const images = await page.$$eval("figure.montage img", (els) =>
      els.map((e) => (e as unknown as { naturalWidth: number }).naturalWidth),
    );
    assert.deepEqual(images, [48, 48, 48, 48]);
    assert.deepEqual(requests, [], "nothing fetched from the network");
    await page.screenshot({ path: path.join(root, "report.png"), fullPage: true });
    process.stdout.write(`# report screenshot: ${path.join(root, "report.png")}\n`);
  } finally {
    await browser.close();
  }
});
