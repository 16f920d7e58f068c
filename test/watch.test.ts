import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { startGithubStandin, type GithubStandin } from "./helpers/github-standin.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.ts";
import { startFlakyRpc } from "./helpers/flaky-rpc.ts";
import { TEST_BUILD, TEST_COMMIT, cancelAsGuardian, executeAfterDelay, mine, rawProposer, scheduleOutsidePipeline, scheduleThroughPipeline, upgradeBypassingTimelock } from "./helpers/watch-scenario.ts";
import { id } from "ethers";
import { main } from "../src/cli/main.ts";
import { consoleOutput } from "../src/cli/output.ts";
import { GatehouseError } from "../src/errors.ts";
import type { ProposalRecord } from "../src/records/proposal.ts";
import { txBuilderChecksum, type TxBuilderFile } from "../src/review/tx-builder.ts";
import { encodeCancel } from "../src/timelock/calls.ts";
import { createWatchMetrics, type WatchMetrics } from "../src/watch/metrics.ts";
import { loadOperationReviews } from "../src/watch/review-source.ts";
import { httpRpc } from "../src/watch/rpc.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { sinksFromPolicy } from "../src/watch/sinks/config.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { githubSink } from "../src/watch/sinks/github.ts";
import type { Sink } from "../src/watch/sinks/sink.ts";
import { webhookSink } from "../src/watch/sinks/webhook.ts";
import { follow, runOnce, type CrashPoint, type StepResult, type WatcherOptions } from "../src/watch/watcher.ts";

/**
 * The watcher against a real chain (Hardhat's in-process EVM with the Safe 1.5.0 + TimelockController
 * topology), posting to three sinks at once. GitHub: api.github.com cannot be reached from the test
 * machine, so the GitHub sink talks to a local HTTP stand-in for the REST API (test/helpers/
 * github-standin.ts) and the tests assert the exact REST calls it received. The webhook is a loopback
 * receiver; the files sink writes to a temporary folder.
 */

const REPO = { owner: "acme", repo: "governance", token: "ghs_watcher_test_token" };

interface Harness {
  gh: GithubStandin;
  hook: WebhookReceiver;
  dir: string;
  db: string;
  posts: string;
  metrics: WatchMetrics;
  sinks(): Sink[];
  run(extra?: Partial<WatcherOptions>): Promise<StepResult>;
  files(): Record<string, string>;
  json(prefix: string): Record<string, unknown> & { state: string };
  close(): Promise<void>;
}

async function harness(d: Deployed): Promise<Harness> {
  const gh = await startGithubStandin(REPO);
  const hook = await startWebhookReceiver();
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-watch-"));
  const posts = path.join(dir, "posts");
  const metrics = createWatchMetrics();
  const sinks = () => [
    githubSink({ repository: `${REPO.owner}/${REPO.repo}`, token: REPO.token, labels: ["gatehouse", "upgrade"], baseUrl: gh.baseUrl, baseDelayMs: 1 }),
    webhookSink({ id: "webhook:GATEHOUSE_WEBHOOK_URL", url: hook.url, format: "json", baseDelayMs: 1 }),
    filesSink(posts, { id: "files:posts" }),
  ];
  const h: Harness = {
    gh,
    hook,
    dir,
    db: path.join(dir, "watch.sqlite"),
    posts,
    metrics,
    sinks,
    run: async (extra = {}) => runOnce({ ...(await watcherOptions(d.setup, { build: TEST_BUILD })), sinks: sinks(), ledger: h.db, metrics, retry: { baseDelayMs: 1 }, ...extra }),
    files: () => {
      const out: Record<string, string> = {};
      try {
        for (const f of readdirSync(posts).sort()) if (f !== "index.md") out[f] = readFileSync(path.join(posts, f), "utf8");
      } catch {
        // no posts yet
      }
      return out;
    },
    json: (prefix) => {
      const name = readdirSync(posts).find((f) => f.startsWith(prefix) && f.endsWith(".json"));
      if (!name) throw new Error(`no ${prefix}*.json in ${posts}`);
      return JSON.parse(readFileSync(path.join(posts, name), "utf8"));
    },
    close: async () => {
      await gh.close();
      await hook.close();
    },
  };
  return h;
}

async function gauge(metrics: WatchMetrics, name: keyof WatchMetrics, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = metrics[name] as { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> };
  const { values } = await m.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

function opFile(record: Pick<ProposalRecord, "operationId">): string {
  return `op-${record.operationId}`;
}

describe("watch: reviews and alerts on a real Safe + TimelockController", function () {
  let d: Deployed;
  let h: Harness;
  afterEach(async () => {
    await h?.close();
    await d?.close();
  });

  it("scheduled → exactly one review in every sink with the full content; executed → the same post updated and closed", async () => {
    d = await deployed();
    h = await harness(d);
    // The deployment's own events (constructor roles, proxies created at V1) establish the recorded topology: no post.
    const first = await h.run();
    expect(first.posts).to.deep.equal([]);
    expect(h.gh.calls).to.deep.equal([]);

    const record = await scheduleThroughPipeline(d);
    const r1 = await h.run();
    expect(r1.posts.filter((p) => p.action === "created").map((p) => p.sink)).to.deep.equal(["github:acme/governance", "webhook:GATEHOUSE_WEBHOOK_URL", "files:posts"]);

    // GitHub: exactly one REST write, the issue, labelled, with the token.
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`]);
    const create = h.gh.calls.find((c) => c.method === "POST")!;
    expect(create.authorization).to.equal(`token ${REPO.token}`);
    expect(create.body!.labels).to.deep.equal(["gatehouse", "upgrade", "review"]);
    expect(create.body!.title).to.equal(`Queued: upgrade registry to RegistryV2, vault to VaultV2 (op ${record.operationId.slice(0, 10)}…)`);
    const body = String(create.body!.body);
    expect(body.split("\n")[0]).to.match(new RegExp(`^<!-- gatehouse:key=op:${record.operationId}:0x[0-9a-f]{64} state=scheduled hash=0x[0-9a-f]{16} -->$`));

    const safeTx = record.safeTransactions.find((t) => t.purpose === "schedule")!;
    const schedBlock = await d.ctx.ethers.provider.getBlock(await d.ctx.ethers.provider.getBlockNumber());
    const eta = new Date((schedBlock!.timestamp + 3600) * 1000).toISOString().replace(".000Z", "Z");
    const contents = [
      // decoded calls in plain words: proxy name, old and new implementation, initializer
      ...record.operations.flatMap((o) => [`**${o.proxy}**`, o.oldImplementation, `(${o.oldContract})`, o.newImplementation, `(${o.contract})`]),
      "without calling an initializer",
      "through its ProxyAdmin",
      // storage layout diff
      "### Storage layout diff",
      "| `depositCap` | `uint256` | 2 | 0 | appended |",
      "| `transfersOf` | `mapping(bytes32 => uint256)` | 3 | 0 | appended |",
      // the proposal's commit, the Safe transaction and its signers
      `Commit: \`${TEST_COMMIT}\``,
      `safeTxHash \`${safeTx.safeTxHash}\``,
      `domain hash \`${safeTx.domainHash}\``,
      `message hash \`${safeTx.messageHash}\``,
      `signers (2 of threshold 2): \`${d.actors.owners[1].address}\`, \`${d.actors.owners[0].address}\``,
      // ETA as a date and as time left (the chain's clock is the scheduling block's)
      `ETA **${eta}** (1h left)`,
      `| ETA | ${eta} (unix ${schedBlock!.timestamp + 3600}), 1h left |`,
      // verification
      "**Verification:** ✅ verified",
      "- [x] proposal record: the calls of proposal",
      `is the build of VaultV2 at protected commit ${TEST_COMMIT}`,
      "- [x] scheduled by the Safe: scheduled by the Safe's execTransaction",
      "- [x] signed by owners: 2 of the Safe's owners signed (threshold 2",
      // the cancel path
      `\`cancel(bytes32)\` on the timelock \`${record.timelock}\`, value 0, calldata \`${encodeCancel(record.operationId)}\``,
      `\`npx gatehouse cancel ${record.operationId} --network default\``,
    ];
    for (const c of contents) expect(body, c).to.contain(c);
    const builder = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(body)![1]!) as TxBuilderFile;
    expect(builder.transactions[0]).to.deep.include({ to: record.timelock, value: "0", data: encodeCancel(record.operationId) });
    expect(builder.meta.checksum).to.equal(txBuilderChecksum(builder));
    // The default guardian is an EOA (account 4): the file names no guardian Safe to import it into.
    expect(builder.meta.createdFromSafeAddress).to.equal("");
    // One cancel file per operation: the review hands out the very file propose wrote beside the record.
    expect(builder).to.deep.equal(JSON.parse(readFileSync(path.join(d.root, "proposals/default", record.cancel!.txBuilderFile), "utf8")));

    // Webhook: one message; files: one review page and its JSON.
    expect(h.hook.deliveries).to.have.length(1);
    expect(h.hook.deliveries[0]!.body).to.include({ state: "scheduled", severity: "review", operationId: record.operationId, verb: "Queued" });
    expect(String(h.hook.deliveries[0]!.body.markdown)).to.equal(body.slice(body.indexOf("\n") + 1, body.indexOf("\n---\n_Posted by")));
    const json = h.json(opFile(record));
    expect(json).to.include({ state: "scheduled", severity: "review", operationId: record.operationId });
    expect((json.verification as { status: string }).status).to.equal("verified");
    expect(json.timeLeft).to.deep.equal({ now: schedBlock!.timestamp, seconds: 3600, text: "1h left" });
    expect((json.proposal as { commit: string }).commit).to.equal(TEST_COMMIT);
    expect((json.safeTransaction as { signers: string[] }).signers).to.have.members([d.actors.owners[0].address, d.actors.owners[1].address]);
    expect(Object.keys(h.files())).to.have.length(2);
    // ... and the folder's review page lists it.
    expect(readFileSync(path.join(h.posts, "index.md"), "utf8")).to.contain(`| scheduled | review | [Queued: upgrade registry to RegistryV2, vault to VaultV2 (op ${record.operationId.slice(0, 10)}…)](op-${record.operationId}-`);
    expect(await gauge(h.metrics, "pendingOperations")).to.equal(1);
    expect(await gauge(h.metrics, "secondsToNextEta")).to.equal(3600);

    // Nothing new: nothing posted again.
    const again = await h.run();
    expect(again.posts.every((p) => p.action === "unchanged")).to.equal(true);
    expect(h.gh.writes()).to.have.length(1);
    expect(h.hook.deliveries).to.have.length(1);

    // Executed: the same issue edited in place and closed; one webhook message; the page rewritten.
    await executeAfterDelay(d, record);
    await h.run();
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`, `PATCH /repos/acme/governance/issues/1`]);
    const patch = h.gh.calls.find((c) => c.method === "PATCH")!.body!;
    expect(patch).to.include({ state: "closed", state_reason: "completed" });
    expect(String(patch.title)).to.match(/^Executed: upgrade registry to RegistryV2, vault to VaultV2/);
    expect(String(patch.body)).to.contain("**Status:** executed in block").and.to.contain("state=executed");
    expect(h.gh.issues).to.have.length(1);
    expect(h.gh.issues[0]).to.include({ state: "closed", state_reason: "completed" });
    expect(h.hook.deliveries.map((x) => x.body.state)).to.deep.equal(["scheduled", "executed"]);
    expect(h.json(opFile(record)).state).to.equal("executed");
    expect(Object.keys(h.files())).to.have.length(2);
    // The proxies' Upgraded events came from the timelock's execution: no alert.
    expect(await gauge(h.metrics, "pendingOperations")).to.equal(0);
    expect(await gauge(h.metrics, "secondsToNextEta")).to.equal(-1);
    expect((await h.metrics.alerts.get()).values).to.deep.equal([]);
  });

  it("cancelled by the guardian → the post is updated, names the guardian, and is closed", async () => {
    d = await deployed();
    h = await harness(d);
    const record = await scheduleThroughPipeline(d);
    await h.run();
    const cancelTx = await cancelAsGuardian(d, record.operationId);
    await h.run();
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`, `PATCH /repos/acme/governance/issues/1`]);
    const patch = h.gh.calls.find((c) => c.method === "PATCH")!.body!;
    expect(patch).to.include({ state: "closed", state_reason: "not_planned" });
    expect(String(patch.title)).to.match(/^Cancelled: /);
    expect(String(patch.body)).to.contain(`(tx \`${cancelTx}\` from \`${d.actors.guardian.address}\`)`).and.to.contain("it can no longer be cancelled");
    expect(h.hook.deliveries.map((x) => [x.body.state, x.body.verb])).to.deep.equal([["scheduled", "Queued"], ["cancelled", "Cancelled"]]);
    expect(h.json(opFile(record)).state).to.equal("cancelled");
  });

  it("flags an operation scheduled outside the pipeline and an upgrade that bypasses the timelock", async () => {
    d = await deployed();
    h = await harness(d);
    await h.run();
    const outside = await scheduleOutsidePipeline(d);
    const bypass = await upgradeBypassingTimelock(d);
    await h.run();
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`, `POST /repos/acme/governance/issues`]);
    const [unknown, upgrade] = h.gh.issues;
    expect(unknown!.labels).to.deep.equal(["gatehouse", "upgrade", "alert"]);
    expect(unknown!.title).to.equal(`ALERT (unknown-operation, not-scheduled-by-safe): Queued: upgrade vault to 0x${outside.implementation.slice(2, 6)}…${outside.implementation.slice(-4)} (op ${outside.operationId.slice(0, 10)}…)`);
    expect(unknown!.body).to.contain("no proposal record in proposals/default/ has this id").and.to.contain(`npx gatehouse cancel ${outside.operationId}`);
    expect(upgrade!.labels).to.deep.equal(["gatehouse", "upgrade", "alert"]);
    expect(upgrade!.title).to.equal(`ALERT: Upgrade outside the timelock: vault now runs ${bypass.implementation}`);
    expect(upgrade!.body).to.contain(bypass.tx).and.to.contain("no timelock operation executed that upgrade");
    expect(h.hook.deliveries.map((x) => x.body.severity)).to.deep.equal(["alert", "alert"]);
    expect(await gauge(h.metrics, "alerts", { kind: "unknown-operation" })).to.equal(1);
    expect(await gauge(h.metrics, "alerts", { kind: "upgrade-outside-timelock" })).to.equal(1);
    expect(await gauge(h.metrics, "openAlerts", { kind: "upgrade-outside-timelock" })).to.equal(1);
  });

  it("a reorg that drops the scheduling block retracts the post in every sink", async () => {
    d = await deployed();
    h = await harness(d);
    await h.run();
    const provider = d.ctx.connection.provider;
    const snapshot = await provider.request({ method: "evm_snapshot" });
    const record = await scheduleThroughPipeline(d);
    await h.run();
    expect(h.gh.issues[0]!.state).to.equal("open");

    // Another chain from the snapshot: longer, without the scheduling transaction, with an operation nobody proposed.
    await provider.request({ method: "evm_revert", params: [snapshot] });
    await mine(d, 3);
    const outside = await scheduleOutsidePipeline(d);
    await mine(d, 5);
    const r = await h.run();
    expect(r.reorgs).to.equal(1);
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`, `PATCH /repos/acme/governance/issues/1`, `POST /repos/acme/governance/issues`]);
    const patch = h.gh.calls.find((c) => c.method === "PATCH")!.body!;
    expect(patch).to.include({ state: "closed", state_reason: "not_planned" });
    expect(String(patch.title)).to.match(/^Retracted: upgrade registry/);
    expect(String(patch.body)).to.contain("**RETRACTED.** The block that scheduled this operation is no longer on the canonical chain");
    expect(h.gh.issues[1]!.title).to.contain(outside.operationId.slice(0, 10));
    expect(h.hook.deliveries.map((x) => [x.body.state, x.body.verb])).to.deep.equal([
      ["scheduled", "Queued"],
      ["retracted", "Retracted"],
      ["scheduled", "Queued"],
    ]);
    expect(h.json(opFile(record)).state).to.equal("retracted");
    expect(h.json(`op-${outside.operationId}`).state).to.equal("scheduled");
    expect(await gauge(h.metrics, "reorgs")).to.equal(1);
    expect(await gauge(h.metrics, "pendingOperations")).to.equal(1);
  });

  it("a reorg that moves the scheduling transaction to another block corrects the post in place", async () => {
    d = await deployed();
    h = await harness(d);
    const proposer = await rawProposer(d);
    await h.run();
    expect(h.gh.issues.map((i) => i.title)).to.deep.equal([`ALERT: Role change on the timelock: PROPOSER_ROLE granted to ${proposer.address}`]);
    const raw = await proposer.signSchedule(id("moved"));
    const provider = d.ctx.connection.provider;
    const snapshot = await provider.request({ method: "evm_snapshot" });
    const tx = await proposer.send(raw);
    const first = await d.ctx.ethers.provider.getTransactionReceipt(tx);
    await h.run();
    expect(h.gh.writes()).to.have.length(2);
    // The same signed transaction lands two blocks later on the other fork.
    await provider.request({ method: "evm_revert", params: [snapshot] });
    await mine(d, 2);
    expect(await proposer.send(raw)).to.equal(tx);
    const second = await d.ctx.ethers.provider.getTransactionReceipt(tx);
    expect(second!.blockNumber).to.equal(first!.blockNumber + 2);
    const r = await h.run();
    expect(r.reorgs).to.equal(1);
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`, `POST /repos/acme/governance/issues`, `PATCH /repos/acme/governance/issues/2`]);
    const patch = h.gh.calls.at(-1)!.body!;
    expect(patch.state).to.equal("open");
    expect(String(patch.body)).to.contain(`| Scheduled | block ${second!.blockNumber} (\`${second!.blockHash}\`)`);
    expect(h.hook.deliveries.map((x) => x.body.verb)).to.deep.equal(["Alert", "Queued", "Corrected"]);
    expect(h.gh.issues).to.have.length(2);
  });

  it("an operation first seen without its proposal record is decided again when the record arrives", async () => {
    d = await deployed();
    h = await harness(d);
    const record = await scheduleThroughPipeline(d);
    const file = path.join(d.root, "proposals", "default", `${record.id}.json`);
    const saved = readFileSync(file, "utf8");
    rmSync(file);
    await h.run();
    expect(h.gh.issues[0]!.labels).to.deep.equal(["gatehouse", "upgrade", "alert"]);
    writeFileSync(file, saved);
    await h.run();
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`, `PATCH /repos/acme/governance/issues/1`]);
    expect(h.gh.issues[0]!.labels).to.deep.equal(["gatehouse", "upgrade", "review"]);
    expect(h.gh.issues[0]!.title).to.match(/^Queued: upgrade registry to RegistryV2, vault to VaultV2/);
    expect(h.json(opFile(record)).severity).to.equal("review");
  });

  it("acts only on blocks with the configured confirmations", async () => {
    d = await deployed();
    h = await harness(d);
    await scheduleOutsidePipeline(d);
    expect((await h.run({ confirmations: 3 })).posts).to.deep.equal([]);
    await mine(d, 1);
    expect((await h.run({ confirmations: 3 })).posts).to.deep.equal([]);
    await mine(d, 1);
    expect((await h.run({ confirmations: 3 })).posts.map((p) => p.action)).to.deep.equal(["created", "created", "created"]);
  });
});

describe("watch: crashes neither repeat nor skip a post", function () {
  let d: Deployed;
  let h: Harness;
  afterEach(async () => {
    await h?.close();
    await d?.close();
  });

  const crashAt = (point: CrashPoint, sink?: string) => {
    let fired = false;
    return (p: CrashPoint, where: { sink?: string }) => {
      if (fired || p !== point || (sink && where.sink !== sink)) return;
      fired = true;
      throw Object.assign(new Error(`simulated crash at ${point}${sink ? ` (${sink})` : ""}`), { name: "SimulatedCrash" });
    };
  };

  async function crashThenRestart(crash: ReturnType<typeof crashAt>) {
    d = await deployed();
    h = await harness(d);
    await h.run();
    const outside = await scheduleOutsidePipeline(d);
    let crashed: Error | undefined;
    try {
      await h.run({ crash });
    } catch (e) {
      crashed = e as Error;
    }
    expect(crashed?.name).to.equal("SimulatedCrash");
    // The process restarts with the same SQLite file and the same sinks.
    const after = await h.run();
    expect(after.pendingGroups).to.equal(0);
    return outside;
  }

  it("crash after the range is checkpointed, before any post: the restart posts it (nothing skipped)", async () => {
    const outside = await crashThenRestart(crashAt("after-commit"));
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`]);
    expect(h.hook.deliveries).to.have.length(1);
    expect(h.json(`op-${outside.operationId}`).state).to.equal("scheduled");
  });

  it("crash between posting and recording it (GitHub): the restart finds the issue by the operation id and does not post again", async () => {
    const outside = await crashThenRestart(crashAt("after-send", "github:acme/governance"));
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`]);
    // One listing per process start (the sink lists its issues once, by label, and reads the key markers).
    const list = { state: "all", labels: "gatehouse,upgrade", per_page: "100", page: "1", sort: "created", direction: "asc" };
    expect(h.gh.calls.filter((c) => c.method === "GET" && c.path.endsWith("/issues")).map((c) => c.query)).to.deep.equal([list, list]);
    expect(h.gh.issues[0]!.body).to.contain(`gatehouse:key=op:${outside.operationId}`);
    expect(h.hook.deliveries).to.have.length(1);
    expect(Object.keys(h.files())).to.have.length(2);
  });

  it("crash between writing the review page and recording it (files): found on restart, not rewritten", async () => {
    await crashThenRestart(crashAt("after-send", "files:posts"));
    expect(h.gh.writes()).to.have.length(1);
    expect(h.hook.deliveries).to.have.length(1);
    expect(Object.keys(h.files())).to.have.length(2);
  });

  it("crash after posting and before the next checkpoint: no duplicate in any sink", async () => {
    await crashThenRestart(crashAt("after-done", "files:posts"));
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`]);
    expect(h.hook.deliveries).to.have.length(1);
    expect(Object.keys(h.files())).to.have.length(2);
  });

  it("crash between a webhook delivery and recording it: redelivered once with the same Idempotency-Key (webhooks cannot be read back)", async () => {
    await crashThenRestart(crashAt("after-send", "webhook:GATEHOUSE_WEBHOOK_URL"));
    expect(h.gh.writes()).to.have.length(1);
    expect(h.hook.deliveries).to.have.length(2);
    expect(new Set(h.hook.deliveries.map((x) => x.idempotencyKey)).size).to.equal(1);
  });

  it("with the ledger lost, GitHub and files posts are found by their key instead of posted twice", async () => {
    d = await deployed();
    h = await harness(d);
    await scheduleOutsidePipeline(d);
    await h.run();
    await h.run({ ledger: path.join(h.dir, "fresh.sqlite"), sinks: h.sinks().filter((s) => !s.id.startsWith("webhook")) });
    expect(h.gh.writes()).to.deep.equal([`POST /repos/acme/governance/issues`]);
  });
});

describe("watch: RPC failures and follow mode", function () {
  let d: Deployed;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
    await d?.close();
  });

  it("through a loopback JSON-RPC proxy that drops, delays and errors 30% of calls: the same posts as with a clean RPC", async () => {
    d = await deployed();
    const pipelineOp = await scheduleThroughPipeline(d);
    const outside = await scheduleOutsidePipeline(d);
    await upgradeBypassingTimelock(d);
    await executeAfterDelay(d, pipelineOp);
    await cancelAsGuardian(d, outside.operationId);
    await mine(d, 40);

    // Both watchers read the chain in 8-block ranges: the clean one because it is told to, the other one
    // because the proxy refuses more and it halves its 2048-block range down to 8.
    const clean = await harness(d);
    cleanups.push(() => clean.close());
    await clean.run({ maxRange: 8 });

    const flaky = await startFlakyRpc({ provider: d.ctx.connection.provider as never, faultRate: 0.3, delayMs: 400, maxLogsRange: 8, seed: 7 });
    cleanups.push(() => flaky.close());
    const noisy = await harness(d);
    cleanups.push(() => noisy.close());
    const result = await noisy.run({ maxRange: 2048, rpc: httpRpc(flaky.url, { timeoutMs: 150 }), retry: { baseDelayMs: 2, maxDelayMs: 20, retries: 12 } });

    expect(flaky.stats.dropped).to.be.greaterThan(0);
    expect(flaky.stats.delayed).to.be.greaterThan(0);
    expect(flaky.stats.errored).to.be.greaterThan(0);
    expect(flaky.stats.rangeRefused).to.be.greaterThan(0);
    const faults = flaky.stats.dropped + flaky.stats.delayed + flaky.stats.errored;
    expect(faults / flaky.stats.calls).to.be.within(0.2, 0.4);
    expect(result.checkpoint.block).to.equal(await d.ctx.ethers.provider.getBlockNumber());

    // Same posts, same content, same REST calls, same messages.
    expect(Object.keys(clean.files())).to.have.length(6);
    expect(noisy.files()).to.deep.equal(clean.files());
    expect(readFileSync(path.join(noisy.posts, "index.md"), "utf8")).to.equal(readFileSync(path.join(clean.posts, "index.md"), "utf8"));
    expect(noisy.gh.calls.filter((c) => c.method !== "GET").map((c) => [c.method, c.path, c.body])).to.deep.equal(clean.gh.calls.filter((c) => c.method !== "GET").map((c) => [c.method, c.path, c.body]));
    expect(noisy.hook.deliveries.map((x) => x.body)).to.deep.equal(clean.hook.deliveries.map((x) => x.body));
    // ... and the failures show in the metrics.
    const errors = (await noisy.metrics.rpcErrors.get()).values;
    expect(errors.filter((v) => v.labels.failure === "transient").reduce((n, v) => n + v.value, 0)).to.be.greaterThan(0);
    expect(errors.filter((v) => v.labels.failure === "range").reduce((n, v) => n + v.value, 0)).to.equal(flaky.stats.rangeRefused);
    expect(await gauge(noisy.metrics, "rangeRefusals")).to.equal(flaky.stats.rangeRefused);
  });

  it("--follow posts new operations as blocks arrive and serves /metrics and /healthz on loopback", async () => {
    d = await deployed();
    const h = await harness(d);
    cleanups.push(() => h.close());
    const controller = new AbortController();
    let url = "";
    const posted: string[] = [];
    const running = follow({
      ...(await watcherOptions(d.setup, { build: TEST_BUILD })),
      sinks: h.sinks(),
      ledger: h.db,
      metrics: h.metrics,
      intervalMs: 20,
      metricsPort: 0,
      signal: controller.signal,
      onListening: (s) => (url = s.url),
      onPost: (p) => posted.push(`${p.sink} ${p.state}`),
    });
    cleanups.push(async () => {
      controller.abort();
      await running;
    });
    const until = async (cond: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 250 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await cond()).to.equal(true);
    };
    await until(async () => url !== "" && (await fetch(`${url}/healthz`)).status === 200);
    const outside = await scheduleOutsidePipeline(d);
    await until(() => posted.length === 3);
    expect(posted).to.deep.equal(["github:acme/governance scheduled", "webhook:GATEHOUSE_WEBHOOK_URL scheduled", "files:posts scheduled"]);
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const head = await d.ctx.ethers.provider.getBlockNumber();
    await until(async () => (await fetch(`${url}/metrics`).then((r) => r.text())).includes(`gatehouse_watch_last_processed_block ${head}`));
    const text = await fetch(`${url}/metrics`).then((r) => r.text());
    for (const line of [
      `gatehouse_watch_last_processed_block ${head}`,
      "gatehouse_watch_head_lag_blocks 0",
      "gatehouse_watch_pending_operations 1",
      'gatehouse_watch_alerts_total{kind="unknown-operation"} 1',
      'gatehouse_watch_open_alerts{kind="unknown-operation"} 1',
      "# TYPE gatehouse_watch_rpc_errors_total counter",
      `gatehouse_watch_posts_total{sink="github:acme/governance",state="scheduled"} 1`,
    ]) {
      expect(text, line).to.contain(line);
    }
    const eta = Number(/gatehouse_watch_seconds_to_next_eta (\d+)/.exec(text)![1]);
    expect(eta).to.be.within(3590, 3600);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).to.equal(200);
    expect(await health.json()).to.include({ ok: true, lastProcessedBlock: head });
    expect((await fetch(`${url}/nope`)).status).to.equal(404);
    // The review command renders the same review as the watcher posted.
    const [review] = await loadOperationReviews(d.setup, outside.operationId);
    expect(review!.decision.severity).to.equal("alert");
    expect(review!.rendered.json).to.include({ operationId: outside.operationId, status: "scheduled" });
    controller.abort();
    await running;
    expect(h.gh.writes()).to.have.length(1);
  });
});

describe("watch and review: configuration and command line", function () {
  it("builds the sinks from the policy's notifications, with secrets from the environment", async () => {
    const d = await deployed();
    try {
      const policy = {
        ...d.policy,
        notifications: [
          { type: "github" as const, repository: "acme/governance", tokenEnv: "GH_WATCH_TOKEN", labels: ["gatehouse"] },
          { type: "webhook" as const, urlEnv: "SLACK_URL", format: "slack" as const },
          { type: "files" as const, dir: "reviews" },
        ],
      };
      const sinks = sinksFromPolicy(policy, d.root, { GH_WATCH_TOKEN: "secret-token", SLACK_URL: "https://hooks.example/secret" });
      expect(sinks.map((s) => s.id)).to.deep.equal(["github:acme/governance", "webhook:SLACK_URL", "files:reviews"]);
      // Sink ids end up in logs, metrics and the ledger: they never carry the secrets.
      expect(JSON.stringify(sinks.map((s) => s.id))).to.not.contain("secret");
      try {
        sinksFromPolicy(policy, d.root, { SLACK_URL: "x" });
        expect.fail("accepted a missing token");
      } catch (e) {
        expect(e).to.be.instanceOf(GatehouseError);
        expect((e as GatehouseError).exitCode).to.equal(2);
        expect((e as Error).message).to.contain("notifications.0 (github acme/governance): set the environment variable GH_WATCH_TOKEN");
      }
      // A malformed webhook URL is named by its variable, never echoed: it holds the webhook's credential.
      try {
        sinksFromPolicy(policy, d.root, { GH_WATCH_TOKEN: "t", SLACK_URL: "hooks.slack.com/services/T0/B0/sekrit-value" });
        expect.fail("accepted a malformed webhook URL");
      } catch (e) {
        expect((e as GatehouseError).exitCode).to.equal(2);
        expect((e as Error).message).to.contain("SLACK_URL is not an http:// or https:// URL").and.not.contain("sekrit");
      }
    } finally {
      await d.close();
    }
  });

  it("rejects bad usage with exit 2", async () => {
    const lines: string[] = [];
    const out = consoleOutput(false, { out: (s) => lines.push(s), err: (s) => lines.push(s) });
    expect(await main(["watch", "--once", "--follow"], out)).to.equal(2);
    expect(await main(["review", "0x1234"], out)).to.equal(2);
    expect(await main(["review"], out)).to.equal(2);
    expect(await main(["watch", "--max-range", "ten"], out)).to.equal(2);
  });
});
