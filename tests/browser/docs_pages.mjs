// Open pages of the built documentation site (files) in headless Chromium and screenshot
// each: prints one JSON object on stdout, per page its title, first heading, the console
// lines and page errors it caused, and the requests that failed; exits 0 when every page
// loaded.
//
//   node tests/browser/docs_pages.mjs --out DIR PAGE.html... [--chromium /usr/bin/chromium]
//       [--timeout 15000]
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { launch, recordConsole } from "./chromium.mjs";

const { values: opts, positionals: pages } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: "string" },
    chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
    timeout: { type: "string", default: "15000" },
  },
});
if (!opts.out || pages.length === 0) {
  console.error("usage: docs_pages.mjs --out DIR PAGE.html...");
  process.exit(2);
}
const result = { ok: false, pages: [] };
let closeBrowser = async () => {};
try {
  let context;
  ({ context, close: closeBrowser } = await launch(opts.chromium, Number(opts.timeout)));
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(Number(opts.timeout));
  await page.setViewportSize({ width: 1280, height: 900 });
  for (const file of pages) {
    const seen = { file, console: [], failed: [] };
    result.pages.push(seen);
    recordConsole(page, seen.console);
    page.on("requestfailed", (request) => seen.failed.push(request.url()));
    await page.goto(pathToFileURL(resolve(file)).href, { waitUntil: "load" });
    seen.title = await page.title();
    seen.heading = (await page.textContent("h1")).trim();
    seen.screenshot = join(opts.out, basename(file).replace(/\.html$/, ".png"));
    await page.screenshot({ path: seen.screenshot });
    page.removeAllListeners("console");
    page.removeAllListeners("pageerror");
    page.removeAllListeners("requestfailed");
  }
  result.ok = true;
} catch (err) {
  result.error = String(err?.stack ?? err);
} finally {
  await closeBrowser();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(result.ok ? 0 : 1);
