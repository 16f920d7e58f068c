import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, ZeroHash, id, parseEther } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { TEST_BUILD, scheduleThroughPipeline } from "./helpers/watch-scenario.ts";
import type { ProposalRecord } from "../src/records/proposal.ts";
import type { OperationSimulation } from "../src/review/operation.ts";
import { effectsHash, type ProposalEffects } from "../src/simulate/effects.ts";
import { pinnedKey } from "../src/simulate/serve.ts";
import { simulationAlerts, simulationPhase } from "../src/watch/decide.ts";
import { TIMELOCK_ABI, upgradeInterface } from "../src/timelock/calls.ts";
import { createWatchMetrics, type WatchMetrics } from "../src/watch/metrics.ts";
import { simulatorOf, watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { runOnce, type StepResult } from "../src/watch/watcher.ts";

/**
 * The watcher re-simulates pending operations on an EDR fork of the real chain (Hardhat's in-process
 * EVM with the Safe 1.5.0 + TimelockController topology, served to the fork over loopback JSON-RPC),
 * once when it sees them scheduled and again within `beforeEtaSeconds` of the ETA.
 */
const BEFORE_ETA = 600;

interface Post {
  state: string;
  severity: string;
  alerts: { kind: string; check?: string; message: string }[];
  simulation?: OperationSimulation;
}

describe("watch: re-simulation of pending operations", function () {
  let d: Deployed;
  let dir: string;
  let metrics: WatchMetrics;
  afterEach(async () => {
    await d?.close();
    if (d) rmSync(d.root, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function setup(): Promise<void> {
    d = await deployed();
    dir = mkdtempSync(path.join(tmpdir(), "gatehouse-watch-sim-"));
    metrics = createWatchMetrics();
  }
  const posts = () => path.join(dir, "posts");
  const run = async (records?: () => ProposalRecord[]): Promise<StepResult> =>
    runOnce({
      ...(await watcherOptions(d.setup, { build: TEST_BUILD })),
      ...(records ? { records } : {}),
      simulate: { run: simulatorOf(d.setup), beforeEtaSeconds: BEFORE_ETA },
      sinks: [filesSink(posts(), { id: "files:posts" })],
      ledger: path.join(dir, "watch.sqlite"),
      metrics,
      retry: { baseDelayMs: 1 },
    });
  const post = (operationId: string): Post & { markdown: string } => {
    const name = readdirSync(posts()).find((f) => f.startsWith(`op-${operationId}`) && f.endsWith(".json"))!;
    return { ...(JSON.parse(readFileSync(path.join(posts(), name), "utf8")) as Post), markdown: readFileSync(path.join(posts(), name.replace(/\.json$/, ".md")), "utf8") };
  };
  const simulations = async (labels: Record<string, string>) =>
    (await metrics.simulations.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((n, v) => n + v.value, 0);
  const writePacket = (record: ProposalRecord, effects: ProposalEffects, hash = effectsHash(effects)) => {
    mkdirSync(path.join(d.root, "proposals", "default"), { recursive: true });
    writeFileSync(path.join(d.root, "proposals", "default", `${record.id}.validation.json`), JSON.stringify({ effects, effectsHash: hash }, null, 2));
  };
  const nearEta = (record: ProposalRecord) => d.ctx.connection.networkHelpers.time.increase(Number(record.delay) - BEFORE_ETA / 2);

  it("an honest pending upgrade: the review shows the state diff and passing probes, once per phase (a restart neither re-simulates nor re-posts), and matches its signer packet near the ETA", async () => {
    await setup();
    const record = await scheduleThroughPipeline(d);
    const first = await run();
    expect(first.posts.filter((p) => p.action === "created" || p.action === "updated").map((p) => p.action)).to.deep.equal(["created", "updated"]);
    const p = post(record.operationId);
    expect(p.severity, JSON.stringify(p.alerts)).to.equal("review");
    const sim = p.simulation!;
    expect(sim).to.deep.include({ phase: "scheduled", status: "simulated", source: "record" });
    expect(sim.steps!.map((s) => s.ok)).to.deep.equal([true]); // already scheduled: executeBatch at the ETA
    expect(sim.changes!.map((c) => `${c.accountLabel} ${c.variable}`).sort()).to.deep.equal(["registry (proxy) erc1967.implementation", "vault (proxy) erc1967.implementation"]);
    const vault = record.operations.find((o) => o.proxy === "vault")!;
    expect(sim.changes!.find((c) => c.accountLabel === "vault (proxy)")!.decoded).to.equal(`erc1967.implementation: ${vault.oldImplementation} -> ${vault.newImplementation}`);
    expect(sim.permissions).to.deep.equal([]);
    expect(sim.probes!.length).to.be.greaterThan(3);
    expect(sim.probes!.every((x) => x.ok)).to.equal(true);
    // propose wrote the signer packet: the simulation at scheduling already matches what it pinned.
    expect(sim.packet).to.deep.equal({ file: `proposals/default/${record.id}.validation.json`, status: "match" });
    expect(p.markdown).to.contain("### Simulation (when it was scheduled)").and.to.contain("erc1967.implementation").and.to.contain("[x] vault: a stranger's upgradeToAndCall reverts");
    expect(await simulations({ phase: "scheduled", outcome: "ok" })).to.equal(1);

    // A restart at the same phase: the stored result, the same post.
    const again = await run();
    expect(again.posts.filter((x) => x.action !== "unchanged")).to.deep.equal([]);
    expect(await simulations({ phase: "scheduled" })).to.equal(1);

    // The signers' packet pins these effects; near the ETA the watcher simulates again and compares.
    writePacket(record, sim.effects!);
    await nearEta(record);
    await run();
    const near = post(record.operationId);
    expect(near.severity, JSON.stringify(near.alerts)).to.equal("review");
    expect(near.simulation).to.deep.include({ phase: "near-eta", status: "simulated" });
    expect(near.simulation!.packet!.status).to.equal("match");
    expect(near.markdown).to.contain("### Simulation (as its ETA nears)").and.to.contain("the effects match the packet the signers pinned");
    expect(await simulations({ phase: "near-eta", outcome: "ok" })).to.equal(1);
  });

  it("a tampered packet is an alert; a packet whose pinned state no longer holds is 'the world changed under the proposal', line by line", async () => {
    await setup();
    const record = await scheduleThroughPipeline(d);
    const bogus: ProposalEffects = { version: 1, operationId: record.operationId, changes: [], permissions: [], balances: [], probes: [], reverts: [] };
    writePacket(record, bogus, ZeroHash);
    await run();
    const tampered = post(record.operationId);
    expect(tampered.alerts.map((a) => a.kind)).to.deep.equal(["packet-tampered"]);
    expect(tampered.alerts[0]!.message).to.contain(`proposals/default/${record.id}.validation.json`).and.to.contain("is not the hash of its effects");

    // The packet re-hashed consistently, but pinned another before-value: the chain is not what the signers saw.
    const effects = structuredClone(tampered.simulation!.effects!);
    const vault = effects.changes.find((c) => c.account === d.setup.deployment.proxies.vault!.address)!;
    const pinnedBefore = `0x${"00".repeat(12)}${"ab".repeat(20)}`;
    vault.before = pinnedBefore;
    writePacket(record, effects);
    await nearEta(record);
    await run();
    const changed = post(record.operationId);
    expect(changed.alerts.map((a) => a.kind)).to.deep.equal(["effects-changed"]);
    expect(changed.alerts[0]!.message).to.contain("the world changed under the proposal").and.to.contain(`storage ${vault.account} erc1967.implementation: pinned ${pinnedBefore} -> ${vault.after}, now ${tampered.simulation!.effects!.changes.find((c) => c.account === vault.account)!.before} -> ${vault.after}`);
    expect(changed.simulation!.packet!.differences).to.have.length(1);
    expect(await simulations({ outcome: "alert" })).to.equal(2);
  });

  it("an operation nobody proposed is simulated from its on-chain calls: an open _authorizeUpgrade fails the takeover probe", async () => {
    await setup();
    await run();
    const impl = await (await d.ctx.ethers.deployContract("VaultV2OpenAuthorize", [], d.actors.outsider.signer)).waitForDeployment();
    // The Safe's address impersonated (owners who signed outside Gatehouse) schedules the batch directly.
    const safe = d.setup.deployment.safe.address;
    await d.ctx.connection.provider.request({ method: "hardhat_impersonateAccount", params: [safe] });
    await d.ctx.connection.provider.request({ method: "hardhat_setBalance", params: [safe, `0x${parseEther("1").toString(16)}`] });
    const timelock = new Contract(d.setup.deployment.timelock.address, TIMELOCK_ABI, await d.ctx.ethers.getSigner(safe));
    const data = upgradeInterface.encodeFunctionData("upgradeToAndCall", [await impl.getAddress(), "0x"]);
    const receipt = await (await timelock.scheduleBatch([d.setup.deployment.proxies.vault!.address], [0n], [data], ZeroHash, id("open"), 3600n)).wait();
    const operationId = receipt!.logs.find((l: { topics: string[] }) => l.topics[0] === timelock.interface.getEvent("CallScheduled")!.topicHash)!.topics[1]!;
    await run();
    const p = post(operationId);
    expect(p.simulation).to.deep.include({ status: "simulated", source: "calls" });
    const probe = p.alerts.find((a) => a.kind === "probe-failed")!;
    expect(probe.check).to.equal("probe: vault: a stranger's upgradeToAndCall reverts");
    expect(probe.message).to.contain("anyone can upgrade");
    expect(p.alerts.map((a) => a.kind)).to.include("unknown-operation");
    expect(p.markdown).to.contain("from the calls in the CallScheduled events (no proposal record)").and.to.contain("**FAILED**");
  });
});

describe("watch simulation: the pure parts", function () {
  it("the phase: scheduled until the ETA is within beforeEtaSeconds, then near-eta (an unknown ETA stays scheduled)", function () {
    expect(simulationPhase(10_000, 10_000 - 601, 600)).to.equal("scheduled");
    expect(simulationPhase(10_000, 10_000 - 600, 600)).to.equal("near-eta");
    expect(simulationPhase(10_000, 20_000, 600)).to.equal("near-eta");
    expect(simulationPhase(undefined, 20_000, 600)).to.equal("scheduled");
  });

  it("the fork cache keeps only answers that cannot change at the pinned block", function () {
    const slot = ["0x" + "11".repeat(20), "0x0", "0x10"];
    expect(pinnedKey("eth_getStorageAt", slot, 16)).to.be.a("string");
    expect(pinnedKey("eth_getStorageAt", [...slot.slice(0, 2), "latest"], 16)).to.equal(undefined);
    expect(pinnedKey("eth_getStorageAt", [...slot.slice(0, 2), "0x11"], 16)).to.equal(undefined);
    expect(pinnedKey("eth_getBlockByNumber", ["0x10", false], 16)).to.be.a("string");
    expect(pinnedKey("eth_getBlockByNumber", ["pending", false], 16)).to.equal(undefined);
    expect(pinnedKey("eth_blockNumber", [], 16)).to.equal(undefined);
    expect(pinnedKey("eth_sendRawTransaction", ["0x00"], 16)).to.equal(undefined);
    expect(pinnedKey("eth_chainId", [], 16)).to.equal("eth_chainId");
  });

  it("a simulation that could not run raises no alert and claims nothing; reverts and failed probes are named", function () {
    expect(simulationAlerts({ phase: "scheduled", status: "not-simulated", reason: "fork failed" })).to.deep.equal([]);
    const alerts = simulationAlerts({
      phase: "near-eta",
      status: "simulated",
      forkBlock: 7,
      steps: [{ name: "executeBatch", ok: false, gasUsed: "1", revert: "CapRequired(0)" }],
      probes: [{ name: "vault: owner is the timelock", ok: false, detail: "0xabc" }],
      findings: [{ kind: "revert", message: "x" }, { kind: "write", message: "write not allowed: vault depositCap" }],
    });
    expect(alerts.map((a) => a.kind)).to.deep.equal(["simulation-reverted", "probe-failed", "simulation-finding"]);
    expect(alerts[0]!.message).to.contain("CapRequired(0)").and.to.contain("block 7");
  });
});
