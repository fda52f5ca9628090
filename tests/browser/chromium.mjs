// Headless Chromium (Debian's /usr/bin/chromium) through playwright-core, for the page
// drivers beside this file: one throwaway profile per run, removed by close().
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

export async function launch(executablePath, timeout) {
  const userDataDir = mkdtempSync(join(tmpdir(), "geows-chromium-"));
  try {
    // launchPersistentContext is how playwright takes --user-data-dir; it adds headless.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      timeout,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    });
    const close = async () => {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    };
    return { context, close };
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
}

// Every console line and page error of `page` goes into `lines`: the report shows them.
export function recordConsole(page, lines, label = "") {
  page.on("console", (msg) => lines.push(`${label}${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => lines.push(`${label}pageerror: ${err.message}`));
}
