// Makes `npx backsplit` run this checkout's CLI: npm links the bins of dependencies into
// node_modules/.bin but not the package's own, and npx would otherwise look in the registry.
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const binDir = path.join(root, "node_modules", ".bin");
mkdirSync(binDir, { recursive: true });
const link = path.join(binDir, "backsplit");
rmSync(link, { force: true });
symlinkSync(path.relative(binDir, path.join(root, "bin", "backsplit.mjs")), link);
