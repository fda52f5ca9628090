// Drive examples/chat.html and examples/dumb_increment.html in headless Chromium,
// opened as files, against a geows serving /chat and /dumb-increment:
//   chat: two pages connect, each says one line, both see both lines;
//   dumb increment: the counter shown climbs, Reset brings it back down.
// Prints one JSON object on stdout; exits 0 when every step passed.
//
//   node tests/browser/example_pages.mjs --base ws://127.0.0.1:8080
//       [--chromium /usr/bin/chromium] [--timeout 15000]
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { launch, recordConsole } from "./chromium.mjs";

const examples = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."), "examples");
const { values: opts } = parseArgs({
  options: {
    base: { type: "string" },
    chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
    timeout: { type: "string", default: "15000" },
  },
});
if (!opts.base) {
  console.error("usage: example_pages.mjs --base ws://HOST:PORT");
  process.exit(2);
}
const timeout = Number(opts.timeout);
const result = { step: "launch", ok: false, ms: {}, console: [], chat: {}, counter: {} };
let clock = Date.now();
function step(name) {
  // close the running step's clock, start NAME's
  result.ms[result.step] = Date.now() - clock;
  clock = Date.now();
  result.step = name;
}

// Open an example page as a file, point it at `path` on geows and connect.
async function openConnected(context, file, path, label) {
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  recordConsole(page, result.console, label);
  await page.goto(pathToFileURL(join(examples, file)).href);
  const defaultUrl = await page.inputValue("#url");
  await page.fill("#url", opts.base + path);
  await page.click("#connect");
  await page.waitForFunction(() => document.getElementById("status").textContent !== "Connecting...");
  const status = await page.textContent("#status");
  if (status !== "Connected") throw new Error(`${label}status is ${JSON.stringify(status)}`);
  return { page, defaultUrl };
}

async function chatLines(page) {
  return page.$$eval("#log div", (divs) => divs.map((div) => div.textContent));
}

async function waitForLine(page, line) {
  await page.waitForFunction(
    (wanted) => [...document.querySelectorAll("#log div")].some((d) => d.textContent === wanted),
    line);
}

async function closeAndReadStatus(page) {
  // Chromium is slow (2 s) to finish a close in a page that is not in front.
  await page.bringToFront();
  await page.click("#disconnect");
  await page.waitForFunction(
    () => document.getElementById("status").textContent.startsWith("Connection closed"));
  return page.textContent("#status");
}

async function counter(page) {
  return Number(await page.textContent("#counter"));
}

let browser;
try {
  browser = await launch(opts.chromium, timeout);
  const { context } = browser;
  result.browser = context.browser()?.version() ?? null;

  step("chat: connect");
  const ann = await openConnected(context, "chat.html", "/chat", "ann: ");
  const bob = await openConnected(context, "chat.html", "/chat", "bob: ");
  result.chat.defaultUrl = ann.defaultUrl;
  await ann.page.fill("#name", "ann");
  await bob.page.fill("#name", "bob");

  step("chat: talk");
  await ann.page.fill("#message", "hello, bob");
  await ann.page.press("#message", "Enter");  // the form's submit, as a person types
  await waitForLine(bob.page, "ann: hello, bob");  // bob answers what he has read
  await bob.page.fill("#message", "hi, ann \u00e9\u2713 <b>not bold</b>");
  await bob.page.click("#send");
  for (const { page } of [ann, bob]) {
    await waitForLine(page, "ann: hello, bob");
    await waitForLine(page, "bob: hi, ann \u00e9\u2713 <b>not bold</b>");
  }
  result.chat.annLog = await chatLines(ann.page);
  result.chat.bobLog = await chatLines(bob.page);
  result.chat.markup = await bob.page.$$eval("#log b", (bolds) => bolds.length);
  result.chat.messageLeft = await ann.page.inputValue("#message");
  step("chat: disconnect");
  result.chat.closed = [await closeAndReadStatus(ann.page), await closeAndReadStatus(bob.page)];

  step("counter: connect");
  const { page, defaultUrl } = await openConnected(
    context, "dumb_increment.html", "/dumb-increment", "counter: ");
  result.counter.defaultUrl = defaultUrl;
  result.counter.protocol = await page.evaluate("socket.protocol");

  step("counter: climbs");
  await page.waitForFunction(() => Number(document.getElementById("counter").textContent) >= 5);
  const first = await counter(page);
  await page.waitForTimeout(300);
  result.counter.seen = [first, await counter(page)];

  step("counter: reset");
  await page.click("#reset");
  await page.waitForFunction(
    (before) => Number(document.getElementById("counter").textContent) < before,
    result.counter.seen[1]);
  result.counter.afterReset = await counter(page);
  result.counter.closed = await closeAndReadStatus(page);

  step("close browser");
  result.ok = true;
} catch (err) {
  result.error = String(err?.stack ?? err);
} finally {
  await browser?.close();
  step("done");
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(result.ok ? 0 : 1);
