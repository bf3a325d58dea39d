// npm run bench -- <name> [options]: runs dist/bench/<name>.js with the CLI's malloc tunables
// (inherited by the PyTorch twin, so both sides run under the same allocator settings).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(path.join(root, "dist", "bench"))
  .filter((f) => f.endsWith(".js") && f !== "twin.js")
  .map((f) => f.replace(/\.js$/, ""));
const isHelp = (a) => a === "--help" || a === "-h";

/** A benchmark's header comment (its usage line and what it measures), without the comment marks. */
function header(bench) {
  const source = path.join(root, "bench", `${bench}.ts`);
  if (!existsSync(source)) return [];
  const lines = readFileSync(source, "utf8").split("\n");
  const first = lines.findIndex((l) => l.startsWith("//"));
  if (first < 0) return [];
  const end = lines.findIndex((l, i) => i > first && !l.startsWith("//"));
  return lines.slice(first, end < 0 ? undefined : end).map((l) => l.replace(/^\/\/ ?/, ""));
}

/** The first sentence after the usage lines, shortened to one line. */
function summary(lines) {
  const text = lines
    .filter((l) => !l.startsWith("npm run") && !/^\s+\[/.test(l))
    .join(" ")
    .replace(/\s+/g, " ");
  const sentence = text.split(/(?<=[.?])\s/)[0] ?? "";
  return sentence.length > 100 ? `${sentence.slice(0, 99)}…` : sentence;
}

if (!name || isHelp(name) || !available.includes(name)) {
  const out = isHelp(name) ? process.stdout : process.stderr;
  if (name && !isHelp(name)) out.write(`npm run bench: no benchmark "${name}"\n`);
  out.write("usage: npm run bench -- <name> [options]   (npm run bench -- <name> --help for its options)\n\n");
  for (const b of available) out.write(`  ${b.padEnd(12)} ${summary(header(b))}\n`);
  process.exit(isHelp(name) ? 0 : 2);
}
if (args.some(isHelp)) {
  const text = header(name);
  process.stdout.write(`${text.length ? text.join("\n") : `npm run bench -- ${name}: no description`}\n`);
  process.exit(0);
}
const script = path.join(root, "dist", "bench", `${name}.js`);
if (!existsSync(script)) process.exit(2);
const env = { ...process.env };
env.GLIBC_TUNABLES ??= "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295";
const r = spawnSync(process.execPath, ["--expose-gc", script, ...args], { stdio: "inherit", env });
process.exit(r.status ?? 1);
