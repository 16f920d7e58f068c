import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, parseEther } from "ethers";
import { parse as parseYaml } from "yaml";
import { deployed, PROJECT_ROOT, type Deployed } from "./helpers/fixture.ts";
import { startFlakyRpc, type FlakyRpc } from "./helpers/flaky-rpc.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.ts";
import { TEST_BUILD, mine } from "./helpers/watch-scenario.ts";
import { deployGovernance } from "../deploy/governance.ts";
import { Monitor, Policy } from "../src/policy/schema.ts";
import { createWatchMetrics, type WatchMetrics } from "../src/watch/metrics.ts";
import { emptyHistory, evaluateMonitors, monitorDefs, type MonitorHistory, type Reading } from "../src/watch/monitors.ts";
import { multicallArtifact } from "../src/watch/multicall.ts";
import { buildMulticall } from "../src/watch/multicall-build.ts";
import { RpcError, failoverRpc, httpRpc, rpcOrigin, type Rpc } from "../src/watch/rpc.ts";
import { endpointsOf, watcherOptions } from "../src/watch/setup.ts";
import { GatehouseError } from "../src/errors.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { webhookSink } from "../src/watch/sinks/webhook.ts";
import { follow, runOnce, type StepResult, type WatcherOptions } from "../src/watch/watcher.ts";

/**
 * State-aware monitoring: the pure evaluation core (hysteresis, maxChange, event rates), then the watcher
 * on the in-process Hardhat chain with monitors on the example Vault (read through the Multicall3 that
 * `deploy` put there), RPC failover between two loopback endpoints, and monitoring/ (promtool accepts the
 * rules; every metric the rules and the dashboard name exists on a live /metrics).
 */

const ADDR = "0x00000000000000000000000000000000000000aa";
const defsOf = (monitors: unknown[]) =>
  monitorDefs({ contracts: [{ name: "vault", kind: "uups", contract: "VaultV2", initializerArgs: [], upgradeInitializers: [], probes: [], allowWrites: [], monitors: monitors.map((m) => Monitor.parse(m)) }] }, { vault: ADDR });

describe("monitors: evaluation core (pure)", () => {
  it("a breach opens once, stays open while it fails, and resolves once after resolveAfter good evaluations (no flapping)", () => {
    const defs = defsOf([{ name: "cap", call: "totalDeposits()", returns: "uint256", atMost: 10 }]);
    let h: MonitorHistory = emptyHistory();
    const events: string[] = [];
    for (const [block, value] of [[1, 5], [2, 15], [3, 12], [4, 9], [5, 11], [6, 9], [7, 8], [8, 7]] as const) {
      const ev = evaluateMonitors(defs, [{ id: "vault.cap", block, value: String(value) }], h);
      for (const b of ev.breaches) events.push(`breach@${b.block} ${b.key}`);
      for (const r of ev.resolutions) events.push(`resolved@${r.block} ${r.key}`);
      h = ev.history;
    }
    expect(events).to.deep.equal(["breach@2 monitor:vault.cap:2", "resolved@7 monitor:vault.cap:2"]);
    expect(h.outbox.map((n) => n.state)).to.deep.equal(["alert", "resolved"]);
    expect(h.monitors["vault.cap"]!.open).to.equal(undefined);
  });

  it("maxChange compares with earlier evaluations inside its window; a reverted view and too many events are breaches", () => {
    const defs = defsOf([
      { name: "tvl", call: "totalDeposits()", returns: "uint256", maxChange: { percent: 50, blocks: 5 } },
      { name: "owner", call: "owner()", returns: "address", equals: "0x00000000000000000000000000000000000000Bb" },
      { name: "withdrawals", event: "Withdrawn(address,uint256)", moreThan: 2, blocks: 10 },
    ]);
    const at = (block: number, tvl: string, owner: Reading, events: string) => [{ id: "vault.tvl", block, value: tvl }, { ...owner, block }, { id: "vault.withdrawals", block, value: events }] as Reading[];
    const okOwner = { id: "vault.owner", value: "0x00000000000000000000000000000000000000bb" } as Reading;
    let ev = evaluateMonitors(defs, at(1, "100", okOwner, "2"), emptyHistory());
    expect(ev.breaches).to.deep.equal([]);
    ev = evaluateMonitors(defs, at(3, "140", okOwner, "2"), ev.history);
    expect(ev.breaches).to.deep.equal([]);
    ev = evaluateMonitors(defs, at(4, "151", { id: "vault.owner", error: "owner() reverted" } as Reading, "3"), ev.history);
    expect(ev.breaches.map((b) => [b.id, b.reason])).to.deep.equal([
      ["vault.tvl", "totalDeposits() moved from 100 (block 1) to 151 (block 4), more than 50% within 5 blocks"],
      ["vault.owner", "no value: owner() reverted"],
      ["vault.withdrawals", "3 Withdrawn(address,uint256) events in the last 10 blocks (more than 2)"],
    ]);
    // Outside the window the old value no longer counts.
    const later = evaluateMonitors(defsOf([{ name: "tvl", call: "totalDeposits()", returns: "uint256", maxChange: { percent: 50, blocks: 5 } }]), [{ id: "vault.tvl", block: 20, value: "1000" }], { monitors: { "vault.tvl": { points: [{ block: 1, value: "100" }], goodInARow: 0 } }, outbox: [] });
    expect(later.breaches).to.deep.equal([]);
  });

  it("failover moves on transport failures only, sticks to the endpoint that answered, and labels by origin", async () => {
    const calls: string[] = [];
    let aDown = true;
    const fake = (name: string, fail: () => Error | undefined): Rpc => ({
      async request<T>(method: string): Promise<T> {
        calls.push(`${name} ${method}`);
        const e = fail();
        if (e) throw e;
        return name as T;
      },
    });
    const moves: string[] = [];
    const rpc = failoverRpc(
      [
        { origin: "https://a.example", rpc: fake("a", () => (aDown ? new RpcError("eth_call", "eth_call: fetch failed") : new RpcError("eth_call", "eth_call: execution reverted", { code: 3 }))) },
        { origin: "https://b.example", rpc: fake("b", () => undefined) },
      ],
      { onFailover: (from, to) => moves.push(`${from} -> ${to}`) },
    );
    expect(await rpc.request("eth_blockNumber")).to.equal("b");
    expect(await rpc.request("eth_blockNumber")).to.equal("b");
    expect(calls).to.deep.equal(["a eth_blockNumber", "b eth_blockNumber", "b eth_blockNumber"]);
    expect(moves).to.deep.equal(["https://a.example -> https://b.example"]);
    expect(rpc.active()).to.equal("https://b.example");
    // A JSON-RPC error answer (here a revert) is the chain's answer: returned, not failed over.
    aDown = false;
    const only = failoverRpc([{ origin: "a", rpc: fake("a", () => new RpcError("eth_call", "eth_call: execution reverted", { code: 3 })) }, { origin: "b", rpc: fake("b", () => undefined) }]);
    calls.length = 0;
    await only.request("eth_call").then(
      () => expect.fail("a revert must surface"),
      (e: Error) => expect(e.message).to.contain("reverted"),
    );
    expect(calls).to.deep.equal(["a eth_call"]);
    expect(rpcOrigin("https://user:pw@eth-mainnet.example.com:8443/v2/KEY?x=KEY")).to.equal("https://eth-mainnet.example.com:8443");
  });

  it("the policy schema names the field of a malformed monitor", () => {
    const policy = parseYaml(readFileSync(path.join(PROJECT_ROOT, "policies/default.yaml"), "utf8")) as { contracts: Record<string, unknown>[] };
    policy.contracts[0]!.monitors = [{ name: "both", call: "totalDeposits()", returns: "uint256", atMost: 1, event: "Withdrawn(address,uint256)" }, { name: "addr", call: "owner()", returns: "address", atLeast: 1 }];
    const r = Policy.safeParse(policy);
    expect(r.success).to.equal(false);
    const issues = r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues).to.include.members([
      "contracts.0.monitors.0.event: exactly one of `call` (a view monitor) or `event` (an event-rate monitor)",
      "contracts.0.monitors.1.atLeast: a numeric `returns` (uintN or intN)",
    ]);
  });
});

const withMonitors = (yaml: string) =>
  yaml.replace(
    "    initializerArgs: [timelock]\n",
    [
      "    initializerArgs: [timelock]",
      "    monitors:",
      "      - name: total-deposits",
      "        call: totalDeposits()",
      "        returns: uint256",
      '        atMost: "1000000000000000000"',
      "      - name: withdrawals",
      "        event: Withdrawn(address,uint256)",
      "        moreThan: 1",
      "        blocks: 5",
      "",
    ].join("\n"),
  );

async function value(metrics: WatchMetrics, name: keyof WatchMetrics, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = metrics[name] as { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] } > };
  return (await m.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

describe("monitors: the watcher on a real chain", function () {
  let d: Deployed;
  let dir: string;
  let hook: WebhookReceiver;
  let vault: Contract;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    d = await deployed(withMonitors);
    dir = mkdtempSync(path.join(tmpdir(), "gatehouse-monitors-"));
    hook = await startWebhookReceiver();
    vault = new Contract(d.setup.deployment.proxies.vault!.address, ["function deposit() payable", "function withdraw(uint256)"], d.actors.user.signer);
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  after(async () => {
    await hook?.close();
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("deploy deploys the vendored Multicall3 (the build of its source) where the chain has none, records it, and keeps it on a re-run", async () => {
    const record = d.setup.deployment.multicall!;
    expect(record.source).to.equal("deployed");
    const code = await d.ctx.ethers.provider.getCode(record.address);
    expect(code.toLowerCase()).to.equal(multicallArtifact().deployedBytecode.toLowerCase());
    expect(buildMulticall()).to.deep.equal(multicallArtifact());
    const again = await deployGovernance({ ctx: d.ctx, root: d.root, policy: d.policy, deployer: d.actors.deployer });
    expect(again.steps).to.include(`kept Multicall3 (deployed) at ${record.address}`);
  });

  it("a view going over its bound posts one alert to every sink and one resolved notice when it clears; an event rate fires", async () => {
    const metrics = createWatchMetrics();
    const posts = path.join(dir, "posts");
    const run = async (): Promise<StepResult> =>
      runOnce({
        ...(await watcherOptions(d.setup, { build: TEST_BUILD })),
        sinks: [filesSink(posts, { id: "files:posts" }), webhookSink({ id: "webhook:HOOK", url: hook.url, format: "json", baseDelayMs: 1 })],
        ledger: path.join(dir, "monitors.sqlite"),
        metrics,
        retry: { baseDelayMs: 1 },
      });
    const written = (r: StepResult) => r.posts.filter((p) => p.action === "created" || p.action === "updated").map((p) => `${p.sink} ${p.state} ${p.key}`);
    expect(written(await run())).to.deep.equal([]);
    expect(await value(metrics, "monitorValue", { contract: "vault", monitor: "total-deposits" })).to.equal(0);

    await (await vault.deposit!({ value: parseEther("2") })).wait();
    const breachBlock = await d.ctx.ethers.provider.getBlockNumber();
    const key = `monitor:vault.total-deposits:${breachBlock}`;
    expect(written(await run())).to.deep.equal([`files:posts alert ${key}`, `webhook:HOOK alert ${key}`]);
    expect(await value(metrics, "monitorBreached", { contract: "vault", monitor: "total-deposits" })).to.equal(1);
    expect(await value(metrics, "monitorValue", { contract: "vault", monitor: "total-deposits" })).to.equal(2e18);
    const alert = JSON.parse(readFileSync(path.join(posts, `monitor-vault.total-deposits-${breachBlock}.json`), "utf8"));
    expect(alert).to.include({ state: "alert", severity: "alert", monitor: "vault.total-deposits", value: "2000000000000000000" });
    expect(alert.reason).to.equal("totalDeposits() is 2000000000000000000, above the maximum 1000000000000000000");

    // Still over the bound: nothing more is posted.
    await mine(d, 1);
    expect(written(await run())).to.deep.equal([]);
    // Back under the bound: one good evaluation is not enough (resolveAfter 2) ...
    await (await vault.withdraw!(parseEther("1.5"))).wait();
    expect(written(await run())).to.deep.equal([]);
    // ... the second one resolves it, in place.
    await mine(d, 1);
    expect(written(await run())).to.deep.equal([`files:posts resolved ${key}`, `webhook:HOOK resolved ${key}`]);
    await mine(d, 1);
    expect(written(await run())).to.deep.equal([]);
    expect(hook.deliveries.filter((x) => x.gatehouseKey === key).map((x) => x.body.state)).to.deep.equal(["alert", "resolved"]);
    expect(JSON.parse(readFileSync(path.join(posts, `monitor-vault.total-deposits-${breachBlock}.json`), "utf8")).state).to.equal("resolved");
    expect(await value(metrics, "monitorBreached", { contract: "vault", monitor: "total-deposits" })).to.equal(0);
    expect(await value(metrics, "monitorBreaches", { contract: "vault", monitor: "total-deposits" })).to.equal(1);
    expect(await value(metrics, "alerts", { kind: "monitor-breach" })).to.equal(1);

    // Two more withdrawals within 5 blocks of the first: more than one Withdrawn event in the window.
    await (await vault.withdraw!(parseEther("0.1"))).wait();
    const rateBlock = await d.ctx.ethers.provider.getBlockNumber();
    expect(written(await run())).to.deep.equal([`files:posts alert monitor:vault.withdrawals:${rateBlock}`, `webhook:HOOK alert monitor:vault.withdrawals:${rateBlock}`]);
    expect(await value(metrics, "monitorValue", { contract: "vault", monitor: "withdrawals" })).to.equal(2);
    expect(readdirSync(posts).filter((f) => f.startsWith("monitor-") && f.endsWith(".json"))).to.have.length(2);
  });

  it("a crash right after a breach is sent neither loses nor repeats it: the restart adopts the post", async () => {
    // Out of the withdrawals window, then over the deposit bound again (the previous test left 0.4 ether).
    await mine(d, 10);
    await (await vault.deposit!({ value: parseEther("1") })).wait();
    const block = await d.ctx.ethers.provider.getBlockNumber();
    const posts = path.join(dir, "crash-posts");
    const options = async (crash?: WatcherOptions["crash"]): Promise<WatcherOptions> => ({
      ...(await watcherOptions(d.setup, { build: TEST_BUILD })),
      sinks: [filesSink(posts, { id: "files:crash" })],
      ledger: path.join(dir, "crash.sqlite"),
      retry: { baseDelayMs: 1 },
      ...(crash ? { crash } : {}),
    });
    const crashed = await runOnce(
      await options((point, where) => {
        if (point === "after-send" && where.key?.startsWith("monitor:")) throw Object.assign(new Error("simulated kill -9"), { name: "SimulatedCrash" });
      }),
    ).catch((e: Error) => e);
    expect((crashed as Error).name).to.equal("SimulatedCrash");
    const again = await runOnce(await options());
    expect(again.posts.map((p) => `${p.action} ${p.state} ${p.key}`)).to.deep.equal([`adopted alert monitor:vault.total-deposits:${block}`]);
    expect(readdirSync(posts).filter((f) => f.startsWith("monitor-") && f.endsWith(".json"))).to.deep.equal([`monitor-vault.total-deposits-${block}.json`]);
    await mine(d, 1);
    expect((await runOnce(await options())).posts.filter((p) => p.action !== "unchanged")).to.deep.equal([]);
  });

  it("fails over to the second RPC when the first dies, labelling metrics by origin only", async () => {
    const provider = d.ctx.connection.provider as never;
    const a: FlakyRpc = await startFlakyRpc({ provider, faultRate: 0 });
    const b: FlakyRpc = await startFlakyRpc({ provider, faultRate: 0 });
    cleanups.push(() => b.close());
    const aUrl = `${a.url}/v3/SECRETKEY123`;
    const metrics = createWatchMetrics();
    const logs: string[] = [];
    const options = async (): Promise<WatcherOptions> => ({
      ...(await watcherOptions(d.setup, { build: TEST_BUILD })),
      endpoints: [
        { origin: rpcOrigin(aUrl), rpc: httpRpc(aUrl, { timeoutMs: 2000 }) },
        { origin: rpcOrigin(b.url), rpc: httpRpc(b.url, { timeoutMs: 2000 }) },
      ],
      sinks: [],
      ledger: path.join(dir, "failover.sqlite"),
      metrics,
      retry: { baseDelayMs: 1, retries: 2 },
      log: (l) => logs.push(l),
    });
    await runOnce(await options());
    const before = b.stats.calls;
    expect(await value(metrics, "rpcActive", { rpc: a.url })).to.equal(1);
    await a.close();
    await mine(d, 2);
    const r = await runOnce(await options());
    expect(r.checkpoint.block).to.equal(await d.ctx.ethers.provider.getBlockNumber());
    expect(b.stats.calls).to.be.greaterThan(before);
    expect(await value(metrics, "rpcFailovers", { from: a.url, to: b.url })).to.be.greaterThan(0);
    expect(await value(metrics, "rpcUp", { rpc: a.url })).to.equal(0);
    expect(await value(metrics, "rpcActive", { rpc: b.url })).to.equal(1);
    expect(await value(metrics, "rpcActive", { rpc: a.url })).to.equal(0);
    const text = await metrics.registry.metrics();
    expect(text).to.contain(`gatehouse_rpc_head_block{rpc="${b.url}"}`);
    expect(text + logs.join("\n")).not.to.contain("SECRETKEY123");
  });

  it("the policy's fallbackRpcs follow the network's endpoint, read from the environment (GH187 when unset)", async () => {
    const withFallbacks = (fallbackRpcs: NonNullable<Deployed["policy"]["watcher"]["fallbackRpcs"]>) => ({ ...d.setup, policy: { ...d.setup.policy, watcher: { ...d.setup.policy.watcher, fallbackRpcs } } });
    const endpoints = await endpointsOf(withFallbacks([{ urlEnv: "BACKUP_RPC_URL" }, { url: "http://127.0.0.1:1/" }]), { env: { BACKUP_RPC_URL: "https://rpc.example.com/v2/SECRET" } });
    expect(endpoints.map((e) => e.origin)).to.deep.equal(["in-process", "https://rpc.example.com", "http://127.0.0.1:1"]);
    const missing = await endpointsOf(withFallbacks([{ urlEnv: "BACKUP_RPC_URL" }]), { env: {} }).catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(GatehouseError);
    expect((missing as GatehouseError).message).to.contain("policies/default.yaml: watcher.fallbackRpcs[0].urlEnv: the environment variable BACKUP_RPC_URL is not set");
    expect((missing as GatehouseError).exitCode).to.equal(2);
  });

  it("monitoring/: promtool accepts the alert rules, and every metric the rules and the dashboard use is on a live /metrics", async () => {
    const rules = path.join(PROJECT_ROOT, "monitoring/alerts.yml");
    let out: string;
    try {
      out = execFileSync("promtool", ["check", "rules", rules], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
      if (err.code === "ENOENT") throw new Error("promtool is not installed: install Debian's `prometheus` package (apt-get install -y prometheus); .ci/run does it in CI");
      throw new Error(`promtool check rules failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
    expect(out).to.match(/SUCCESS: \d+ rules found/);

    const controller = new AbortController();
    let url = "";
    let steps = 0;
    const running = follow({
      ...(await watcherOptions(d.setup, { build: TEST_BUILD })),
      sinks: [],
      ledger: path.join(dir, "live.sqlite"),
      intervalMs: 20,
      metricsPort: 0,
      signal: controller.signal,
      onListening: (s) => (url = s.url),
      onStep: () => steps++,
    });
    cleanups.push(async () => {
      controller.abort();
      await running;
    });
    for (let i = 0; i < 500 && steps < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(steps).to.be.at.least(2);
    const exposition = await fetch(`${url}/metrics`).then((r) => r.text());
    const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) => (type === "histogram" ? [name!, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));

    const ruleExprs = (parseYaml(readFileSync(rules, "utf8")) as { groups: { rules: { expr: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.expr));
    const dashboard = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "monitoring/grafana-dashboard.json"), "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const dashExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(ruleExprs.length).to.be.greaterThan(10);
    expect(dashExprs.length).to.be.greaterThan(10);
    for (const expr of [...ruleExprs, ...dashExprs]) {
      const names = metricNames(expr);
      expect(names.length, expr).to.be.greaterThan(0);
      for (const n of names) expect(exported.has(n), `${n} (in ${expr}) is not exported by the watcher`).to.equal(true);
    }
  });
});

/**
 * The metric names a PromQL expression selects: identifiers left after removing strings, label matchers,
 * `by (…)`/`without (…)` lists, range durations, function calls and keywords.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "");
  const keywords = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"]);
  return [...stripped.matchAll(/\b([A-Za-z_:][A-Za-z0-9_:]*)\b(\s*\()?/g)].filter(([, id, call]) => !call && !keywords.has(id!) && !/^\d/.test(id!)).map(([, id]) => id!);
}
