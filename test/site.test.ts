import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { deployed, withTarget, type Deployed } from "./helpers/fixture.ts";
import { listenOnLoopback } from "./helpers/loopback.ts";
import { TEST_BUILD, cancelAsGuardian, executeAfterDelay, mine, scheduleOutsidePipeline, scheduleThroughPipeline, upgradeBypassingTimelock } from "./helpers/watch-scenario.ts";
import { writeJsonAtomic } from "../src/fs/atomic.ts";
import { cancelBuilder } from "../src/pipeline/cancel.ts";
import { proposalFile, readProposalFile, type ProposalRecord } from "../src/records/proposal.ts";
import { main } from "../src/cli/main.ts";
import { consoleOutput } from "../src/cli/output.ts";
import { buildSite } from "../src/site/build.ts";
import { encodeCancel } from "../src/timelock/calls.ts";
import { Ledger } from "../src/watch/ledger.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { runOnce } from "../src/watch/watcher.ts";

/**
 * The community review site in a real browser: Debian's Chromium driven by playwright-core, over the site
 * built from a real pipeline run on Hardhat's in-process chain (Safe 1.5.0 + TimelockController) and the
 * watcher's ledger. One browser for the whole file. Screenshots for the README are written only when
 * GATEHOUSE_SITE_SCREENSHOTS names a folder.
 */

const CHROMIUM_CANDIDATES = [process.env.GATEHOUSE_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"].filter((p): p is string => !!p);

function chromiumPath(): string {
  const found = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`Chromium not found (looked at ${CHROMIUM_CANDIDATES.join(", ")}): install Debian's package with \`apt-get install -y chromium\` (.ci/run does), or set GATEHOUSE_CHROMIUM`);
  return found;
}

const XSS_NAME = `<img src=x onerror="window.__xss=1">vault`;
const XSS_LABEL = `</code><script>window.__xss=2</script>`;
const XSS_TYPE = `t_contract(<svg onload=alert(3)>)`;
const XSS_FINDING = `"><iframe src="javascript:window.__xss=4"></iframe>`;

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".json": "application/json", ".xml": "application/atom+xml", ".svg": "image/svg+xml" };

/** Poll from the test side (the page's CSP forbids the eval that page.waitForFunction uses). */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("site: the community review site in Chromium", function () {
  this.timeout(240_000);
  let d: Deployed;
  let dir: string;
  let out: string;
  let browser: Browser;
  let server: { origin: string; close: () => Promise<void> };
  let executed: ProposalRecord;
  let pending: ProposalRecord;
  let cancelledId: string;
  const keys: Record<"alert" | "pending" | "executed" | "cancelled", string> = { alert: "", pending: "", executed: "", cancelled: "" };

  before(async () => {
    const executablePath = chromiumPath();
    // The registry's target is V1 at first, so the first proposal upgrades the vault alone and the second the registry.
    d = await deployed(withTarget("registry", "RegistryV1"));
    executed = await scheduleThroughPipeline(d);
    await executeAfterDelay(d, executed);
    (d.setup.policy.contracts.find((c) => c.name === "registry") as { contract: string }).contract = "RegistryV2";
    pending = await scheduleThroughPipeline(d);
    cancelledId = (await scheduleOutsidePipeline(d)).operationId;
    await cancelAsGuardian(d, cancelledId);
    await upgradeBypassingTimelock(d);
    await mine(d, 2);

    // Claims an attacker can write: a storage-layout row and a contract name in the record, a finding in the packet.
    const file = proposalFile(d.root, "default", pending.id);
    const tampered = readProposalFile(file);
    tampered.storageLayoutDiff = { [XSS_NAME]: [{ label: XSS_LABEL, type: XSS_TYPE, slot: "0", offset: 0, status: "appended", file: "contracts/RegistryV2.sol", line: 1 }] };
    writeJsonAtomic(file, tampered);
    // The packet propose wrote, with a finding an attacker edited in (the site shows packets; verify checks them).
    const packetPath = path.join(d.root, "proposals/default", `${pending.id}.validation.json`);
    const packet = JSON.parse(readFileSync(packetPath, "utf8")) as { findings: { kind: string; message: string }[] };
    writeJsonAtomic(packetPath, { ...packet, findings: [...packet.findings, { kind: "write", message: XSS_FINDING }] });

    dir = mkdtempSync(path.join(tmpdir(), "gatehouse-site-"));
    const db = path.join(dir, "watch.sqlite");
    await runOnce({ ...(await watcherOptions(d.setup, { build: TEST_BUILD })), sinks: [filesSink(path.join(dir, "posts"))], ledger: db, retry: { baseDelayMs: 1 } });
    const ledger = new Ledger(db);
    for (const s of ledger.allSubjects()) {
      if (s.decision.alert) keys.alert = s.key;
      else if (s.decision.operationId === pending.operationId) keys.pending = s.key;
      else if (s.decision.operationId === executed.operationId) keys.executed = s.key;
      else if (s.decision.operationId === cancelledId) keys.cancelled = s.key;
    }
    ledger.close();
    out = path.join(dir, "site");
    buildSite({ ledger: db, root: d.root, network: "default", out, repository: "https://github.com/acme/governance" });

    const srv = createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "") || "index.html";
      const f = path.join(out, rel);
      if (!f.startsWith(out + path.sep) || !existsSync(f)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": TYPES[path.extname(f)] ?? "application/octet-stream" }).end(readFileSync(f));
    });
    server = await listenOnLoopback(srv);
    browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const pageOf = (key: string) => `${server.origin}/op/${key.replace(/^op:(0x[0-9a-f]{64}):0x([0-9a-f]{8}).*$/, "$1-$2")}.html`;

  async function open(url: string, options: Parameters<Browser["newContext"]>[0] = {}): Promise<{ page: Page; dialogs: string[]; errors: string[]; close: () => Promise<void> }> {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    const dialogs: string[] = [];
    const errors: string[] = [];
    page.on("dialog", (dlg) => {
      dialogs.push(dlg.message());
      void dlg.dismiss();
    });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(url);
    return { page, dialogs, errors, close: () => context.close() };
  }

  it("the index lists the alert, then the queued, the executed and the cancelled operation, each with state, ETA and verdict", async () => {
    expect(Object.values(keys).every((k) => k !== "")).to.equal(true);
    const { page, errors, close } = await open(`${server.origin}/index.html`);
    try {
      const listed = await page.locator("li.op").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
      expect(listed).to.deep.equal([keys.alert, keys.pending, keys.executed, keys.cancelled]);
      expect(await page.locator("[role=alert]").first().textContent()).to.match(/1 ALERT/);
      const pendingItem = page.locator(`li.op[data-key="${keys.pending}"]`);
      const eta = Number(await pendingItem.locator("time[data-eta]").getAttribute("data-eta"));
      expect(await pendingItem.locator("time").textContent()).to.equal(new Date(eta * 1000).toISOString().replace(".000Z", "Z"));
      expect(await pendingItem.locator(".verdict").textContent()).to.contain("every check holds");
      expect(await page.locator(`li.op[data-key="${keys.alert}"] .verdict`).textContent()).to.contain("ALERT: upgrade-outside-timelock");
      expect(errors).to.deep.equal([]);
      if (process.env.GATEHOUSE_SITE_SCREENSHOTS) {
        mkdirSync(process.env.GATEHOUSE_SITE_SCREENSHOTS, { recursive: true });
        await page.setViewportSize({ width: 1100, height: 900 });
        await page.screenshot({ path: path.join(process.env.GATEHOUSE_SITE_SCREENSHOTS, "site-index.png"), fullPage: true });
      }
    } finally {
      await close();
    }
  });

  it("the countdown ticks; the copy button puts the exact cancel calldata on the clipboard; the download is the file `gatehouse cancel --builder-file` writes", async () => {
    const { page, errors, close } = await open(pageOf(keys.pending), { permissions: ["clipboard-read", "clipboard-write"], acceptDownloads: true });
    try {
      const countdown = page.locator(".countdown").first();
      const first = await until(() => countdown.textContent(), (t) => /\d\dh \d\dm \d\ds left/.test(t ?? ""));
      await until(() => countdown.textContent(), (t) => t !== first);

      await page.click("button.copy");
      await until(() => page.locator(".copied").textContent(), (t) => t === "Copied.");
      expect(await page.evaluate("navigator.clipboard.readText()")).to.equal(encodeCancel(pending.operationId));

      const [download] = await Promise.all([page.waitForEvent("download"), page.click("a.download")]);
      const builderFile = path.join(dir, "builder.json");
      writeJsonAtomic(builderFile, await cancelBuilder(d.setup, pending.operationId)); // what `gatehouse cancel --builder-file` does
      expect(readFileSync((await download.path())!, "utf8")).to.equal(readFileSync(builderFile, "utf8"));
      expect(download.suggestedFilename()).to.equal(`cancel-${pending.operationId.slice(2, 14)}.json`);
      expect(errors).to.deep.equal([]);
      if (process.env.GATEHOUSE_SITE_SCREENSHOTS) {
        await page.setViewportSize({ width: 1100, height: 900 });
        await page.screenshot({ path: path.join(process.env.GATEHOUSE_SITE_SCREENSHOTS, "site-operation.png"), fullPage: true });
      }
    } finally {
      await close();
    }
  });

  it("XSS payloads in a record field, a contract name and a simulation finding are shown as text and run nothing", async () => {
    const { page, dialogs, close } = await open(pageOf(keys.pending));
    try {
      const text = (await page.locator("main").textContent())!;
      for (const payload of [XSS_NAME, XSS_LABEL, XSS_TYPE, XSS_FINDING]) expect(text).to.contain(payload);
      await page.waitForTimeout(300);
      expect(await page.evaluate("typeof window.__xss")).to.equal("undefined");
      expect(dialogs).to.deep.equal([]);
      expect(await page.locator("main img, main svg, main iframe, main script").count()).to.equal(0);
    } finally {
      await close();
    }
  });

  it("with JavaScript disabled the page still shows the ETA and the whole cancel path", async () => {
    const { page, close } = await open(pageOf(keys.pending), { javaScriptEnabled: false });
    try {
      expect(await page.locator("#main time[data-eta]").first().isVisible()).to.equal(true);
      expect(await page.locator("#main time[data-eta]").first().textContent()).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(await page.locator("#cancel-calldata").textContent()).to.equal(encodeCancel(pending.operationId));
      expect(await page.locator("#cancel").textContent()).to.contain(`npx gatehouse cancel ${pending.operationId} --network default`);
      expect(await page.locator("a.download").isVisible()).to.equal(true);
      expect(await page.locator("button.copy").isVisible()).to.equal(false);
    } finally {
      await close();
    }
  });

  it("axe-core finds no serious or critical accessibility violation on the index, an operation page and an alert page", async () => {
    const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
    for (const url of [`${server.origin}/index.html`, pageOf(keys.pending), pageOf(keys.cancelled), `${server.origin}/op/${keys.alert.replace(/[^0-9A-Za-z]+/g, "-").replace(/^-|-$/g, "")}.html`]) {
      // A narrow screen too: the layout must hold on a phone.
      for (const viewport of [{ width: 1280, height: 900 }, { width: 375, height: 740 }]) {
        const { page, close } = await open(url, { viewport });
        try {
          await page.evaluate(axeSource); // DevTools evaluation: the page's CSP allows no injected script tag
          const violations = (await page.evaluate("axe.run().then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help })))")) as { id: string; impact: string }[];
          expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical"), `${url} at ${viewport.width}px`).to.deep.equal([]);
        } finally {
          await close();
        }
      }
    }
  });

  it("the feed and operations.json carry every operation; a rebuild after no change rewrites no page", () => {
    const feed = readFileSync(path.join(out, "feed.xml"), "utf8");
    for (const k of Object.values(keys)) expect(feed).to.contain(`urn:gatehouse:default:${k}:`);
    expect(feed).to.contain(`${keys.executed}:executed`).and.to.contain(`${keys.cancelled}:cancelled`);
    const ops = JSON.parse(readFileSync(path.join(out, "operations.json"), "utf8")) as { operations: { key: string; cancel?: { calldata: string } }[] };
    expect(ops.operations.map((o) => o.key)).to.deep.equal([keys.alert, keys.pending, keys.executed, keys.cancelled]);
    expect(ops.operations[1]!.cancel!.calldata).to.equal(encodeCancel(pending.operationId));
    const again = buildSite({ ledger: path.join(dir, "watch.sqlite"), root: d.root, network: "default", out, repository: "https://github.com/acme/governance" });
    expect(again).to.include({ written: 0, unchanged: 4 });
  });

  it("`gatehouse site`: one network's site under a root index of several (the Pages layout); bad usage and a missing ledger exit 2", async () => {
    const lines: string[] = [];
    // JSON output: the error (code and message) is part of the result, not only on stderr.
    const output = consoleOutput(true, { out: (s) => lines.push(s), err: (s) => lines.push(s) });
    const multi = path.join(dir, "pages");
    const db = path.join(dir, "watch.sqlite");
    expect(await main(["site", "--out", multi, "--db", db, "--root", d.root, "--network-list", "default,sepolia"], output), lines.join("")).to.equal(0);
    expect(readFileSync(path.join(multi, "index.html"), "utf8")).to.contain('href="default/index.html"').and.contain('href="sepolia/index.html"');
    expect(readFileSync(path.join(multi, "default/operations.json"), "utf8")).to.contain(pending.operationId);
    expect(existsSync(path.join(multi, "assets/site.js")) && existsSync(path.join(multi, "default/assets/site.js"))).to.equal(true);
    lines.length = 0;
    expect(await main(["site", "--db", db, "--root", d.root], output)).to.equal(2);
    expect(lines.join("")).to.contain('"code": "GH100"').and.contain("--out DIR is required");
    expect(await main(["site", "--out", multi, "--db", db, "--root", d.root, "--network-list", "sepolia,../x"], output)).to.equal(2);
    expect(await main(["site", "--out", multi, "--db", path.join(dir, "missing.sqlite"), "--root", d.root], output)).to.equal(2);
    expect(lines.join("")).to.contain('"code": "GH104"').and.contain("missing.sqlite: not found (the watcher's ledger");
  });
});
