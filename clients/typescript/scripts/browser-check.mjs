// Runs the built client (dist/) in headless Chromium against a live baton:
// WebCrypto webhook verification (the Standard Webhooks example), a run
// started and awaited, its Gantt data, and the stream read with fetch. The
// page and the API share one origin, as an app behind the same proxy as
// Baton would (Baton refuses cross-origin browser writes, docs/access.md).
// Needs BATON_URL, a `npm run build`, Debian's /usr/bin/chromium and the
// dashboard's playwright-core (web/node_modules).
import { readFile } from "node:fs/promises";
import http from "node:http";
import { extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const playwright = join(root, "..", "..", "web", "node_modules", "playwright-core", "index.mjs");
const { chromium } = await import(pathToFileURL(playwright).href);
const baton = new URL(process.env.BATON_URL ?? "");

const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports":{"openapi-fetch":"/node_modules/openapi-fetch/dist/index.mjs"}}</script>
<script type="module">
import { BatonClient, verifyWebhook } from "/dist/index.js";
try {
  const out = {};
  out.webhook = await verifyWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    new Headers({ "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" }),
    '{"test": 2432232314}', { now: 1614265330000 });
  const baton = new BatonClient({ baseUrl: location.origin });
  let started;
  const kinds = [];
  for await (const m of baton.stream({ workflow: "hello", onOpen: () => {
    started ??= baton.startRun({ workflow: "hello", input: { name: "browser" }, tags: ["browser-check"] });
  } })) {
    const run = await started;
    if (m.data.run_id !== run.id) continue;
    kinds.push(m.kind);
    if (m.kind === "run_succeeded" || m.kind === "run_failed") break;
  }
  const id = (await started).id;
  out.kinds = kinds;
  out.status = (await baton.waitForRun(id)).status;
  out.criticalPath = (await baton.getRunGantt(id)).critical_path;
  window.result = out;
} catch (err) {
  window.result = { error: String(err) };
}
</script>`;

const types = { ".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json" };
const server = http.createServer(async (req, res) => {
  if (req.url.startsWith("/v2/")) {
    const up = http.request(
      { host: baton.hostname, port: baton.port, path: req.url, method: req.method, headers: { ...req.headers, host: baton.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.headersSent || res.writeHead(502).end());
    res.on("close", () => up.destroy()); // the page left: end the stream upstream too
    req.pipe(up);
    return;
  }
  if (req.url === "/") return res.writeHead(200, { "Content-Type": "text/html" }).end(page);
  if (!req.url.startsWith("/dist/") && !req.url.startsWith("/node_modules/openapi-fetch/")) return res.writeHead(404).end();
  try {
    const body = await readFile(join(root, req.url.split("?")[0]));
    res.writeHead(200, { "Content-Type": types[extname(req.url)] ?? "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const tab = await browser.newPage();
  tab.on("pageerror", (e) => console.log("page error:", e.message));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  const result = await (await tab.waitForFunction(() => window.result, null, { timeout: 60_000 })).jsonValue();
  const want = { webhook: { test: 2432232314 }, kinds: ["run_started", "task_succeeded", "run_succeeded"], status: "succeeded", criticalPath: ["greet"] };
  if (JSON.stringify(result) !== JSON.stringify(want)) {
    throw new Error(`in Chromium: got ${JSON.stringify(result)}, want ${JSON.stringify(want)}`);
  }
  console.log(`Chromium ${browser.version()}: webhook verified with WebCrypto, run streamed (${result.kinds.join(", ")}), ${result.status}, critical path ${result.criticalPath}`);
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}
