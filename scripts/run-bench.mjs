// npm run bench -- <name> [options]: runs dist/bench/<name>.js with the CLI's malloc tunables
// (inherited by the PyTorch twin, so both sides run under the same allocator settings).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(path.join(root, "dist", "bench"))
  .filter((f) => f.endsWith(".js") && f !== "twin.js")
  .map((f) => f.replace(/\.js$/, ""));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join("|")}> [options]`);
  process.exit(2);
}
const script = path.join(root, "dist", "bench", `${name}.js`);
if (!existsSync(script)) process.exit(2);
const env = { ...process.env };
env.GLIBC_TUNABLES ??= "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295";
const r = spawnSync(process.execPath, ["--expose-gc", script, ...args], { stdio: "inherit", env });
process.exit(r.status ?? 1);
