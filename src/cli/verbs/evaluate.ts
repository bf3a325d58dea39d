import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import {
  type Comparison,
  type Evaluation,
  METRICS,
  compareEvaluations,
  evaluateFolders,
  evaluationOfCases,
  summarize,
  toCsv,
} from "../../evaluate/evaluate.js";
import { markdownSummary as comparisonMarkdown } from "../../report/report.js";
import { writeFileAtomicSync } from "../../util/atomic.js";
import { Progress } from "../../util/progress.js";
import { CliError, EXIT } from "../exit-codes.js";
import { type OptionValues, type Verb, numberOption } from "../verb.js";

const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits);

function numberList(values: OptionValues, name: string, integer: boolean): number[] | undefined {
  if (values[name] === undefined) return undefined;
  const raw = String(values[name]);
  const list = raw.split(",").map((p) => (p.trim() === "" ? Number.NaN : Number(p)));
  if (list.some((n) => !(integer ? Number.isInteger(n) && n > 0 : Number.isFinite(n) && n > 0)))
    throw new CliError(
      `--${name} must be ${integer ? "positive integers" : "positive numbers"} separated by commas, got '${raw}'`,
      EXIT.usage,
    );
  if (!integer && list.some((n, i) => i > 0 && n <= list[i - 1]))
    throw new CliError(`--${name} must be increasing, got '${raw}'`, EXIT.usage);
  return list;
}

function options(values: OptionValues) {
  return {
    toleranceMm: numberOption(values, "tolerance", 1, { positive: true }),
    minOverlap: numberOption(values, "match", 0, { min: 0, max: 1 }),
    bins: numberList(values, "bins", false),
    classes: numberList(values, "classes", true),
    cases: caseList(values),
  };
}

function caseList(values: OptionValues): string[] | undefined {
  if (values.cases === undefined) return undefined;
  const raw = String(values.cases);
  const ids = raw.split(",").map((id) => id.trim());
  if (ids.some((id) => id === "") || new Set(ids).size !== ids.length)
    throw new CliError(`--cases must be distinct case ids separated by commas, got '${raw}'`, EXIT.usage);
  return ids;
}

/** A folder (or file, with `file`) that must exist: exit 3 otherwise. */
function existing(p: string, what: string, file = false): string {
  const full = path.resolve(p);
  if (!existsSync(full)) throw new CliError(`${p}: no such ${what}`, EXIT.environment);
  if (!file && !statSync(full).isDirectory()) throw new CliError(`${p}: not a folder (${what})`, EXIT.usage);
  return full;
}

const EVAL_OPTIONS = {
  tolerance: { type: "string" as const },
  match: { type: "string" as const },
  bins: { type: "string" as const },
  classes: { type: "string" as const },
  cases: { type: "string" as const },
  out: { type: "string" as const },
  json: { type: "boolean" as const, default: false },
};
const EVAL_HELP = `  --tolerance MM   NSD tolerance (default 1 mm)
  --match F        lesion detection needs this share of the reference lesion overlapped (default 0: any overlap)
  --bins A,B,C     lesion size bins in mm³ (default 10,100,1000)
  --classes L,…    lesion label values (default: every value in the references)
  --cases ID,…     only these reference cases, e.g. one fold's test cases (default: every reference)`;

function markdownSummary(e: Evaluation): string {
  const s = summarize(e);
  const lines: string[] = [];
  for (const [c, { means, sizeBins }] of Object.entries(s.perClass)) {
    lines.push(
      `class ${c} (${e.cases.length} cases)`,
      "",
      `| ${METRICS.map(([m]) => m).join(" | ")} |`,
      `|${METRICS.map(() => "---").join("|")}|`,
    );
    lines.push(
      `| ${METRICS.map(([m]) => fmt(means[m])).join(" | ")} |`,
      "",
      "| lesion size (mm³) | lesions | recall | Dice |",
      "|---|---|---|---|",
    );
    for (const b of sizeBins) lines.push(`| ${b.bin} | ${b.count} | ${fmt(b.recall)} | ${fmt(b.dice)} |`);
    lines.push("");
  }
  return lines.join("\n");
}

export const evaluateVerb: Verb = {
  name: "evaluate",
  args: "PRED REF",
  summary: "lesion-level metrics of predictions against references (Dice, HD95, NSD, lesion-wise F1, size bins)",
  help: `${EVAL_HELP}
  --out FILE.json  write every number (and FILE.csv beside it)
  --json           print the evaluation as JSON`,
  options: EVAL_OPTIONS,
  async run(values, positionals) {
    if (positionals.length !== 2) throw new CliError("expected PRED and REF folders", EXIT.usage);
    const o = options(values);
    const pred = existing(positionals[0], "prediction folder");
    const ref = existing(positionals[1], "reference folder");
    const progress = new Progress({ label: "evaluate", total: 1, json: Boolean(values.json) });
    const evaluation = await evaluateFolders(pred, ref, o);
    progress.tick();
    if (values.out) {
      const out = path.resolve(String(values.out));
      writeFileAtomicSync(out, `${JSON.stringify(evaluation)}\n`);
      writeFileAtomicSync(`${out.replace(/\.json$/, "")}.csv`, toCsv(evaluation));
    }
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ event: "evaluation", ...evaluation, summary: summarize(evaluation) })}\n`
        : `${markdownSummary(evaluation)}\n`,
    );
    return EXIT.ok;
  },
};

async function loadOrEvaluate(p: string, ref: string | undefined, values: OptionValues): Promise<Evaluation> {
  if (statSync(p).isFile()) {
    const e = JSON.parse(readFileSync(p, "utf8")) as Evaluation;
    const cases = caseList(values);
    return cases ? evaluationOfCases(e, cases, p) : e;
  }
  if (!ref) throw new CliError(`${p} is a prediction folder: give --ref REF to evaluate it`, EXIT.usage);
  return evaluateFolders(p, ref, options(values));
}

export const compareVerb: Verb = {
  name: "compare",
  args: "A B",
  summary: "paired comparison of two prediction sets (or evaluation files): differences, bootstrap CI, Wilcoxon, wins",
  help: `  --ref REF        reference folder, when A and B are prediction folders
  --names A,B      labels for the two sets (default: their folder names)
${EVAL_HELP}
  --out FILE.json  write the comparison
  --report DIR     write the HTML report (report.html, .json, .csv, .md) there
  --images DIR     images ({case}_0000…) for the report's slice montages (needs prediction folders and --ref)
  --json           print it as JSON`,
  options: {
    ...EVAL_OPTIONS,
    ref: { type: "string" },
    names: { type: "string" },
    report: { type: "string" },
    images: { type: "string" },
  },
  async run(values, positionals) {
    if (positionals.length !== 2) throw new CliError("expected two prediction folders or evaluation files", EXIT.usage);
    options(values);
    for (const p of positionals) existing(p, "prediction folder or evaluation file", true);
    const ref = values.ref ? existing(String(values.ref), "reference folder") : undefined;
    const [a, b] = await Promise.all(positionals.map((p) => loadOrEvaluate(path.resolve(p), ref, values)));
    const names = (
      values.names ? String(values.names).split(",") : positionals.map((p) => path.basename(p).replace(/\.json$/, ""))
    ) as [string, string];
    const comparison = compareEvaluations(a, b, names);
    if (values.out) writeFileAtomicSync(path.resolve(String(values.out)), `${JSON.stringify(comparison, null, 2)}\n`);
    if (values.report) {
      const { writeReport } = await import("../../report/report.js");
      const montages =
        values.images && ref
          ? comparison.cases.slice(0, 4).map((id) => ({
              id,
              image: path.join(path.resolve(String(values.images)), `${id}_0000.nii.gz`),
              reference: path.join(ref, `${id}.nii.gz`),
              predictionA: path.join(path.resolve(positionals[0]), `${id}.nii.gz`),
              predictionB: path.join(path.resolve(positionals[1]), `${id}.nii.gz`),
            }))
          : [];
      const { html } = await writeReport(path.resolve(String(values.report)), {
        title: `${names[1]} vs ${names[0]}`,
        comparison,
        a,
        b,
        montages,
      });
      if (!values.json) process.stdout.write(`report: ${html}\n`);
    }
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ event: "comparison", ...comparison })}\n`
        : `${comparisonMarkdown(comparison)}\n`,
    );
    return EXIT.ok;
  },
};
