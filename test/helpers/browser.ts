// Headless Debian Chromium driven by playwright-core (which never downloads a browser).
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.BACKSPLIT_CHROMIUM ?? "/usr/bin/chromium";

/** `webgl`: software WebGL 2 (SwiftShader) for NiiVue pages; otherwise the GPU is off. */
export async function launchBrowser(o: { webgl?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `browser tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium) or BACKSPLIT_CHROMIUM`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      ...(o.webgl ? ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"] : ["--disable-gpu"]),
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}
