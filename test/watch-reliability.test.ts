import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { id } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { startFlakyRpc } from "./helpers/flaky-rpc.ts";
import { startGithubStandin, type GithubStandin } from "./helpers/github-standin.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.ts";
import { mine, rawProposer } from "./helpers/watch-scenario.ts";
import { GatehouseError } from "../src/errors.ts";
import { httpRpc } from "../src/watch/rpc.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { githubSink } from "../src/watch/sinks/github.ts";
import { webhookSink } from "../src/watch/sinks/webhook.ts";
import { runOnce, startWithRetry, type CrashPoint } from "../src/watch/watcher.ts";

/** Faults found by the soak: start-up RPC failures, temporary files of killed writes, a crash inside a reorg. */

describe("watch reliability: start-up retries", () => {
  it("start-up RPC calls through a faulty node are retried with backoff until they answer; each failure is reported", async () => {
    // A stand-in node (no chain needed): the flaky endpoint drops, delays and fails ~60% of the calls.
    const provider = { request: async ({ method }: { method: string }) => ({ eth_chainId: "0x7a69", eth_accounts: [], eth_getCode: "0x6080" })[method] };
    const flaky = await startFlakyRpc({ provider, faultRate: 0.6, delayMs: 300, seed: 7 });
    try {
      const rpc = httpRpc(flaky.url, { timeoutMs: 150 });
      const failures: string[] = [];
      const got = await startWithRetry(
        async () => [await rpc.request("eth_chainId"), await rpc.request("eth_accounts"), await rpc.request("eth_getCode", ["0x" + "71".repeat(20), "latest"])],
        { baseDelayMs: 1, maxDelayMs: 5, fatal: (e) => e instanceof GatehouseError && e.exitCode === 2, onFailure: (e) => failures.push((e as Error).message) },
      );
      expect(got).to.deep.equal(["0x7a69", [], "0x6080"]);
      expect(failures.length).to.be.greaterThan(0);
      expect(flaky.stats.dropped + flaky.stats.delayed + flaky.stats.errored).to.be.greaterThan(0);
    } finally {
      await flaky.close();
    }
  });

  it("a bounded start-up (--once) gives up after its attempts; configuration errors are not retried; --once failing is exit 3 (GH320), never 1", async () => {
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error("eth_chainId: HTTP 500"));
    };
    const e = await startWithRetry(failing, { attempts: 3, baseDelayMs: 1, fatal: () => false }).catch((x) => x);
    expect([calls, e.attempts]).to.deep.equal([3, 3]);
    calls = 0;
    await startWithRetry(() => (calls++, Promise.reject(new GatehouseError("USAGE", { message: "bad" }))), { baseDelayMs: 1, fatal: (x) => x instanceof GatehouseError && x.exitCode === 2 }).catch(() => undefined);
    expect(calls).to.equal(1);
    const incomplete = new GatehouseError("WATCH_INCOMPLETE", { attempts: 4, reason: "eth_chainId: HTTP 500" });
    expect([incomplete.code, incomplete.exitCode]).to.deep.equal(["GH320", 3]);
  });
});

describe("watch reliability: temporary files of interrupted writes", () => {
  it("the files sink removes stale `.<name>.<random>.tmp` files on start, and nothing else", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-tmp-"));
    try {
      const stale = [".op-0xabc-12345678.md.0123456789ab.tmp", ".index.md.a1b2c3d4e5f6.tmp"];
      const kept = ["notes.tmp", ".keep.tmp", ".op.md.xyz.tmp", "op-1.md"];
      mkdirSync(dir, { recursive: true });
      for (const f of [...stale, ...kept]) writeFileSync(path.join(dir, f), "x");
      const logged: string[] = [];
      filesSink(dir, { log: (l) => logged.push(l) });
      expect(readdirSync(dir).sort()).to.deep.equal([...kept].sort());
      expect(logged).to.have.length(1);
      expect(existsSync(path.join(dir, stale[0]!))).to.equal(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("watch reliability: a crash in the middle of a reorg", function () {
  let d: Deployed;
  let gh: GithubStandin;
  let hook: WebhookReceiver;
  let dir: string;
  afterEach(async () => {
    await gh?.close();
    await hook?.close();
    await d?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a watcher killed between the reorg and the re-index posts no transient retraction after its restart", async () => {
    d = await deployed();
    gh = await startGithubStandin({ owner: "acme", repo: "gov", token: "t0k" });
    hook = await startWebhookReceiver();
    dir = mkdtempSync(path.join(tmpdir(), "gatehouse-reorg-crash-"));
    const base = await watcherOptions(d.setup);
    const db = path.join(dir, "watch.sqlite");
    const run = (crash?: (p: CrashPoint) => void) =>
      runOnce({
        ...base,
        sinks: [
          githubSink({ repository: "acme/gov", token: "t0k", labels: ["gatehouse"], baseUrl: gh.baseUrl, baseDelayMs: 1 }),
          webhookSink({ id: "webhook:HOOK", url: hook.url, format: "json", baseDelayMs: 1 }),
          filesSink(path.join(dir, "posts"), { id: "files:posts" }),
        ],
        ledger: db,
        retry: { baseDelayMs: 1 },
        ...(crash ? { crash } : {}),
      });
    const proposer = await rawProposer(d);
    await run();
    const raw = await proposer.signSchedule(id("moved"));
    const provider = d.ctx.connection.provider;
    const snapshot = await provider.request({ method: "evm_snapshot" });
    const tx = await proposer.send(raw);
    await run();
    // The same transaction lands two blocks later on the other branch.
    await provider.request({ method: "evm_revert", params: [snapshot] });
    await mine(d, 2);
    expect(await proposer.send(raw)).to.equal(tx);
    let crashed: Error | undefined;
    try {
      await run((p) => {
        if (p === "after-reorg") throw Object.assign(new Error("simulated kill -9 after the rollback"), { name: "SimulatedCrash" });
      });
    } catch (e) {
      crashed = e as Error;
    }
    expect(crashed?.name).to.equal("SimulatedCrash");
    // The restart re-indexes before it reconciles: the post is corrected in place, never retracted.
    const after = await run();
    expect(after.posts.map((p) => p.state)).to.not.include("retracted");
    expect(hook.deliveries.map((x) => x.body.verb)).to.deep.equal(["Alert", "Queued", "Corrected"]);
    expect(gh.calls.filter((c) => c.method === "PATCH").map((c) => c.body!.state)).to.deep.equal(["open"]);
    expect(gh.issues.every((i) => i.state === "open")).to.equal(true);
  });
});
