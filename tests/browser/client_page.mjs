// Drive examples/client.html in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core: connect to a WebSocket URL, send one message, read the echo from #log,
// then disconnect. Prints one JSON object on stdout; exits 0 when the echo came back.
//
//   node tests/browser/client_page.mjs --url ws://127.0.0.1:8080/echo [--message TEXT]
//       [--expect ANSWER]  (the answer to wait for; default: the message, echoed)
//       [--page examples/client.html | http://HOST:PORT/client.html]
//       [--chromium /usr/bin/chromium] [--timeout 15000]
//       [--screenshot out.png]
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { launch, recordConsole } from "./chromium.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    message: { type: "string", default: "Hello from Chromium \u00e9\u00e8 \u2713" },
    expect: { type: "string" },
    page: { type: "string", default: join(repo, "examples", "client.html") },
    chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
    timeout: { type: "string", default: "15000" },
    screenshot: { type: "string" },
  },
});
if (!opts.url) {
  console.error("usage: client_page.mjs --url ws://HOST:PORT/PATH [--message TEXT]");
  process.exit(2);
}
const timeout = Number(opts.timeout);

const result = {
  url: opts.url,
  page: /^https?:/.test(opts.page) ? opts.page : pathToFileURL(resolve(opts.page)).href,
  message: opts.message,
  step: "launch",
  ok: false,
  ms: {},
};
let clock = Date.now();
function step(name) {
  // close the running step's clock, start NAME's
  result.ms[result.step] = Date.now() - clock;
  clock = Date.now();
  result.step = name;
}
let context;
let closeBrowser = async () => {};
try {
  ({ context, close: closeBrowser } = await launch(opts.chromium, timeout));
  result.browser = context.browser()?.version() ?? null;
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  result.console = [];
  recordConsole(page, result.console);

  step("open page");
  await page.goto(result.page);
  await page.fill("#url", opts.url);

  step("connect");
  await page.click("#connect");
  await page.waitForFunction(() => document.getElementById("status").textContent !== "Connecting...");
  result.status = await page.textContent("#status");
  if (result.status !== "Connected") throw new Error(`status is ${JSON.stringify(result.status)}`);
  // the page's `socket` (a top-level let): what the handshake settled
  result.extensions = await page.evaluate("socket.extensions");
  result.protocol = await page.evaluate("socket.protocol");

  step("send");
  await page.fill("#message", opts.message);
  await page.click("#send");
  const expected = `received: ${opts.expect ?? opts.message}`;
  await page.waitForFunction(
    (line) => document.getElementById("log").textContent.split("\n").includes(line), expected);
  result.log = await page.textContent("#log");
  result.received = result.log.split("\n").filter((l) => l.startsWith("received: "))
    .map((l) => l.slice("received: ".length));

  step("disconnect");
  await page.click("#disconnect");
  await page.waitForFunction(
    () => document.getElementById("status").textContent.startsWith("Connection closed"));
  result.closedStatus = await page.textContent("#status");
  result.closeCode = Number(/\((\d+)\)/.exec(result.closedStatus)?.[1] ?? NaN);
  result.log = await page.textContent("#log");
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot });
  step("done");
  result.ok = true;
} catch (err) {
  result.error = String(err?.stack ?? err);
  try {
    const page = context?.pages()[0];
    if (page) {
      result.status ??= await page.textContent("#status", { timeout: 1000 });
      result.log ??= await page.textContent("#log", { timeout: 1000 });
    }
  } catch {
    // the page is gone: keep what we have
  }
} finally {
  await closeBrowser();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(result.ok ? 0 : 1);
