import { expect } from "chai";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AbiCoder, Contract, ZeroHash, id, keccak256, parseEther } from "ethers";
import { pausableDeployed, pausable } from "./helpers/pausable.ts";
import type { Deployed } from "./helpers/fixture.ts";
import { execSafeTx } from "./helpers/watch-scenario.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.ts";
import { isGatehouseError } from "../src/errors.ts";
import { pause, pauseBuilder, pauseInterface } from "../src/pipeline/pause.ts";
import { closeIncident, openIncident, updateIncident, type IncidentDeps } from "../src/pipeline/incident.ts";
import { drill } from "../src/pipeline/drill.ts";
import { incidentFile, readIncident } from "../src/incident/record.ts";
import { operationState, wasCancelled } from "../src/pipeline/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { webhookSink } from "../src/watch/sinks/webhook.ts";
import { TIMELOCK_ABI } from "../src/timelock/calls.ts";
import { diagnose, expectationOf, pauseRoles, readTopology } from "../src/pipeline/doctor.ts";

/**
 * Contain and rehearse (issue 13), on the in-process Hardhat network with the real Safe 1.5.0 and
 * TimelockController: the proxies are upgraded V2 → V3 (pausable) through stage, propose, sign and the
 * delay; the sinks are a real files sink and a real webhook sink posting to a loopback receiver.
 */
describe("incident response: pause, cancel everything, notify, rehearse", function () {
  let d: Deployed;
  let hook: WebhookReceiver;
  let scratch: string;
  /** The proxies through their V3 ABIs, for the custom errors the matchers look up. */
  const abi = {} as { vault: Contract; registry: Contract };
  const timelockAs = (d: Deployed) => new Contract(d.setup.deployment.timelock.address, TIMELOCK_ABI);

  /** Two operations the Safe's owners queue on the timelock (real signatures): both pending. */
  async function queueTwo(tag: string): Promise<string[]> {
    const vault = d.setup.deployment.proxies.vault!.address;
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const data = new Contract(vault, ["function setDepositCap(uint256)"]).interface.encodeFunctionData("setDepositCap", [parseEther(String(n))]);
      const salt = id(`${tag}-${n}`);
      await execSafeTx(d, { to: d.setup.deployment.timelock.address, data: timelockAs(d).interface.encodeFunctionData("schedule", [vault, 0n, data, ZeroHash, salt, 3600n]) });
      ids.push(keccak256(AbiCoder.defaultAbiCoder().encode(["address", "uint256", "bytes", "bytes32", "bytes32"], [vault, 0n, data, ZeroHash, salt])));
    }
    return ids;
  }

  function deps(sinks: IncidentDeps["sinks"]): IncidentDeps {
    return { setup: d.setup, sinks, guardian: d.actors.guardian };
  }

  /** The governed unpause: the Safe schedules `unpause()` on each proxy, the delay passes, anyone executes. */
  async function unpauseThroughTimelock(): Promise<void> {
    const targets = ["vault", "registry"].map((n) => d.setup.deployment.proxies[n]!.address);
    const data = targets.map(() => pauseInterface.encodeFunctionData("unpause"));
    const salt = id(`unpause-${Date.now()}`);
    const tl = timelockAs(d).interface;
    await execSafeTx(d, { to: d.setup.deployment.timelock.address, data: tl.encodeFunctionData("scheduleBatch", [targets, [0n, 0n], data, ZeroHash, salt, 3600n]) });
    await d.ctx.connection.networkHelpers.time.increase(3600);
    await (await (d.setup.timelock.connect(d.actors.outsider.signer) as Contract).executeBatch!(targets, [0n, 0n], data, ZeroHash, salt)).wait();
  }

  before(async function () {
    d = await pausableDeployed();
    abi.vault = await pausable(d, "vault");
    abi.registry = await pausable(d, "registry");
    hook = await startWebhookReceiver();
    scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-incident-"));
  });
  after(async function () {
    await hook?.close();
    await d?.close();
    if (d) rmSync(d.root, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("runs V3 (reached through the governed path) with the guardian as pauser and the timelock as owner", async function () {
    for (const name of ["vault", "registry"] as const) {
      const c = await pausable(d, name);
      expect(await c.version!()).to.equal("3.0.0");
      expect(await c.guardian!()).to.equal(d.actors.guardian.address);
      expect(await c.owner!()).to.equal(d.setup.deployment.timelock.address);
      expect(await c.paused!()).to.equal(false);
    }
  });

  it("refuses a non-guardian's pause before sending anything, and writes a guardian Safe's file only for a Safe", async function () {
    const block = await d.ctx.ethers.provider.getBlockNumber();
    const err = await pause({ setup: d.setup, contracts: ["vault", "registry"], guardian: d.actors.outsider }).catch((e) => e);
    expect(isGatehouseError(err, "NOT_PAUSER"), String(err)).to.equal(true);
    expect(err.message).to.contain(d.actors.outsider.address).and.contain(`its pauser is ${d.actors.guardian.address}`);
    expect(await d.ctx.ethers.provider.getBlockNumber()).to.equal(block);
    // On chain too: the contract itself refuses anyone but its guardian.
    await expect((await pausable(d, "vault", d.actors.outsider.signer)).pause!()).to.be.revertedWithCustomError(abi.vault, "NotGuardian");
    // The guardian here is an account: a Transaction Builder file (for a guardian Safe) is refused.
    const builder = await pauseBuilder(d.setup, ["vault"]).catch((e) => e);
    expect(isGatehouseError(builder, "USAGE") && builder.message.includes("is an account, not a Safe"), String(builder)).to.equal(true);
    expect(await (await pausable(d, "vault")).paused!()).to.equal(false);
  });

  it("incident open cancels both pending operations, pauses, posts one notice per sink; a second run changes nothing", async function () {
    const ops = await queueTwo("open");
    for (const op of ops) expect((await operationState(d.setup.timelock, op)).state).to.equal("Waiting");
    let written = 0;
    const sinks = () => [filesSink(path.join(scratch, "a"), { id: "files:a", onWrite: () => written++ }), webhookSink({ id: "webhook:HOOK", url: hook.url, format: "json", attempts: 1 })];
    const input = { title: "Vault drained via transfer()", severity: "critical" as const, pause: ["vault", "registry"], id: "drained", detectedBy: "watcher alert" };
    // A key that may not cancel is refused before anything is sent; the recorded intents wait for the guardian.
    const block0 = await d.ctx.ethers.provider.getBlockNumber();
    const refused = await openIncident({ ...deps(sinks()), guardian: d.actors.outsider }, input).catch((e) => e);
    expect(isGatehouseError(refused, "NOT_CANCELLER"), String(refused)).to.equal(true);
    expect(await d.ctx.ethers.provider.getBlockNumber()).to.equal(block0);
    expect(written + hook.deliveries.length).to.equal(0);
    const r = await openIncident(deps(sinks()), input);

    for (const op of ops) {
      expect((await operationState(d.setup.timelock, op)).state).to.equal("Unset");
      expect(await wasCancelled(d.setup, op)).to.equal(true);
    }
    expect(await (await pausable(d, "vault")).paused!()).to.equal(true);
    expect(await (await pausable(d, "registry")).paused!()).to.equal(true);
    await expect((await pausable(d, "vault", d.actors.user.signer)).deposit!({ value: 1n })).to.be.revertedWithCustomError(abi.vault, "EnforcedPause");
    expect(written).to.equal(1);
    expect(hook.deliveries.map((x) => x.gatehouseKey)).to.deep.equal(["incident:drained:0"]);
    const body = hook.deliveries[0]!.body as { title: string; markdown: string };
    expect(body.title).to.equal("Incident: Vault drained via transfer() [critical]");
    for (const op of ops) expect(body.markdown).to.contain(op);
    expect(body.markdown).to.contain("`vault`: paused").and.contain("### Next update");
    expect(r.incident.steps.map((s) => `${s.key}=${s.result?.status}`)).to.deep.equal([
      `cancel:${ops[0]}=done`,
      `cancel:${ops[1]}=done`,
      "pause:vault=done",
      "pause:registry=done",
      "post:0:files:a=done",
      "post:0:webhook:HOOK=done",
    ]);

    const file = incidentFile(d.root, "drained");
    const before = readFileSync(file, "utf8");
    const block = await d.ctx.ethers.provider.getBlockNumber();
    const again = await openIncident(deps(sinks()), { title: "Vault drained via transfer()", severity: "critical", pause: ["vault", "registry"], id: "drained" });
    expect(again.actions).to.deep.equal([]);
    expect(readFileSync(file, "utf8")).to.equal(before);
    expect(await d.ctx.ethers.provider.getBlockNumber()).to.equal(block);
    expect(written).to.equal(1);
    expect(hook.deliveries).to.have.length(1);
  });

  it("only the timelock can unpause", async function () {
    for (const who of [d.actors.guardian, d.actors.outsider, d.actors.owners[0]]) {
      await expect((await pausable(d, "vault", who.signer)).unpause!()).to.be.revertedWithCustomError(abi.vault, "OwnableUnauthorizedAccount");
      await expect((await pausable(d, "registry", who.signer)).unpause!()).to.be.revertedWithCustomError(abi.registry, "OwnableUnauthorizedAccount");
    }
    await unpauseThroughTimelock();
    expect(await (await pausable(d, "vault")).paused!()).to.equal(false);
    expect(await (await pausable(d, "registry")).paused!()).to.equal(false);
  });

  it("resumes after a failure between pause and notice, and posts exactly once", async function () {
    const ops = await queueTwo("crash");
    let written = 0;
    const sinks = () => [filesSink(path.join(scratch, "b"), { id: "files:b", onWrite: () => written++ }), webhookSink({ id: "webhook:HOOK", url: hook.url, format: "json", attempts: 1 })];
    const input = { title: "Registry spam", severity: "high" as const, pause: ["vault"], id: "spam" };
    hook.failNext(1, 500);
    const deliveries = hook.deliveries.length;
    const err = await openIncident(deps(sinks()), input).catch((e) => e);
    expect(isGatehouseError(err, "NOTICE_FAILED"), String(err)).to.equal(true);
    expect(err.exitCode).to.equal(3);
    // Contained on chain, recorded in the file; the webhook notice is the one step left.
    expect(await (await pausable(d, "vault")).paused!()).to.equal(true);
    for (const op of ops) expect(await wasCancelled(d.setup, op)).to.equal(true);
    const mid = readIncident(incidentFile(d.root, "spam"))!;
    expect(mid.steps.filter((s) => s.result?.status !== "done").map((s) => `${s.key}=${s.result?.status}`)).to.deep.equal(["post:0:webhook:HOOK=failed"]);
    expect(written).to.equal(1);

    const r = await openIncident(deps(sinks()), input);
    expect(r.actions).to.deep.equal(["posted the open notice to webhook:HOOK"]);
    expect(written).to.equal(1);
    expect(hook.deliveries.slice(deliveries).map((x) => x.gatehouseKey)).to.deep.equal(["incident:spam:0"]);
    expect(r.incident.steps.every((s) => s.result?.status === "done")).to.equal(true);
  });

  it("update posts once per sink; close posts once and writes the post-mortem draft with the times", async function () {
    const sinks = () => [filesSink(path.join(scratch, "b"), { id: "files:b" }), webhookSink({ id: "webhook:HOOK", url: hook.url, format: "json", attempts: 1 })];
    const n = hook.deliveries.length;
    await updateIncident(deps(sinks()), { id: "spam", message: "Root cause found; a fix is being staged." });
    await updateIncident(deps(sinks()), { id: "spam", message: "Root cause found; a fix is being staged." });
    expect(hook.deliveries.slice(n).map((x) => x.gatehouseKey)).to.deep.equal(["incident:spam:1"]);
    const closed = await closeIncident(deps(sinks()), { id: "spam", message: "Fixed." });
    const again = await closeIncident(deps(sinks()), { id: "spam" });
    expect(hook.deliveries.slice(n).map((x) => x.gatehouseKey)).to.deep.equal(["incident:spam:1", "incident:spam:2"]);
    expect(closed.incident.status).to.equal("closed");
    expect(again.actions).to.deep.equal([`kept ${path.relative(process.cwd(), closed.postmortem!)} (already written; edit it by hand)`]);
    const pm = readFileSync(closed.postmortem!, "utf8");
    expect(pm).to.contain("# Post-mortem: Registry spam").and.contain("| Time to contain | ").and.contain("paused 'vault'").and.not.contain("{{");
    expect(readdirSync(path.join(scratch, "b")).filter((f) => f.endsWith(".json")).sort()).to.deep.equal(["incident-spam-0.json", "incident-spam-1.json", "incident-spam-2.json"]);
  });

  it("drill rehearses on a fork: cancels the rogue upgrade, pauses, notifies a scratch sink; the real chain is untouched", async function () {
    const block = await d.ctx.ethers.provider.getBlockNumber();
    const dir = path.join(scratch, "drill");
    const r = await drill({ setup: d.setup, scenario: "rogue-upgrade", dir });
    expect(r.actions.filter((a) => /^cancelled operation 0x[0-9a-f]{64}: tx 0x/.test(a))).to.have.length(1);
    expect(r.actions.filter((a) => a.startsWith(`paused 'registry' (${d.setup.deployment.proxies.registry!.address}): tx 0x`))).to.have.length(1);
    expect(r.actions).to.include("pause 'vault': already (paused() is true)");
    expect(r.incident.steps.find((s) => s.key === "pause:vault")!.result!.status).to.equal("already");
    expect(r.findings).to.deep.equal([]);
    expect(r.containmentMs).to.be.greaterThan(0);
    expect(r.notices).to.have.length(1);
    expect(path.dirname(r.notices[0]!)).to.equal(path.join(dir, "notices"));
    expect(JSON.parse(readFileSync(r.notices[0]!, "utf8")).title).to.equal("Incident: Drill: rogue-upgrade [high]");
    expect(await d.ctx.ethers.provider.getBlockNumber()).to.equal(block);
    expect(await (await pausable(d, "registry")).paused!()).to.equal(false);
  });

  it("doctor reports who can pause each contract and flags a pauser that is not the policy's guardian", async function () {
    const want = expectationOf(d.setup);
    let view = await readTopology(d.setup);
    expect(diagnose(want, view)).to.deep.equal([]);
    expect(pauseRoles(view, want.guardians)).to.deep.equal(
      // The vault is still paused by the incident above; the registry was unpaused by the timelock.
      [["vault", "PAUSED"], ["registry", "not paused"]].map(([n, state]) => `pause '${n}': pauser ${d.actors.guardian.address} (the guardian), unpauser the timelock; ${state}`),
    );
    // The timelock (through the Safe and the delay) hands the vault's pause to someone else.
    const vault = d.setup.deployment.proxies.vault!.address;
    const data = (await pausable(d, "vault")).interface.encodeFunctionData("setGuardian", [d.actors.outsider.address]);
    const salt = id("set-guardian");
    await execSafeTx(d, { to: d.setup.deployment.timelock.address, data: timelockAs(d).interface.encodeFunctionData("schedule", [vault, 0n, data, ZeroHash, salt, 3600n]) });
    await d.ctx.connection.networkHelpers.time.increase(3600);
    await (await (d.setup.timelock.connect(d.actors.outsider.signer) as Contract).execute!(vault, 0n, data, ZeroHash, salt)).wait();
    view = await readTopology(d.setup);
    const drifts = diagnose(want, view);
    expect(drifts.map((x) => `${x.rule} ${x.subject}`)).to.deep.equal(["pauser-not-guardian vault"]);
    expect(drifts[0]!.remedy).to.equal(`setGuardian(${d.actors.guardian.address}) on 'vault': schedule it through the timelock (a Safe-proposed operation)`);
    expect(pauseRoles(view, want.guardians)[0]).to.contain(`pauser ${d.actors.outsider.address} (NOT the policy's guardian)`);
  });
});

describe("pausable V3 deployed fresh", function () {
  it("deploy names the guardian as pauser (initializerArgs 'guardian'), and nobody can run initializeV3 afterwards", async function () {
    const { deployed } = await import("./helpers/fixture.ts");
    const d = await deployed((yaml) =>
      yaml
        .replace("initialContract: VaultV1\n    contract: VaultV2\n    initializerArgs: [timelock]", "contract: VaultV3\n    initializerArgs: [timelock, guardian]")
        .replace('initialContract: RegistryV1\n    contract: RegistryV2\n    initializerArgs: ["Gatehouse names"]', 'contract: RegistryV3\n    initializerArgs: ["Gatehouse names", timelock, guardian]'),
    );
    try {
      for (const name of ["vault", "registry"] as const) {
        const c = await pausable(d, name, d.actors.outsider.signer);
        expect(await c.guardian!()).to.equal(d.actors.guardian.address);
        expect(await c.owner!()).to.equal(d.setup.deployment.timelock.address);
        // initialize is reinitializer(2): the upgrade's initializer can never run on a fresh V3 proxy.
        const args = name === "vault" ? [d.actors.outsider.address] : [d.actors.outsider.address, d.actors.outsider.address];
        await expect(c.initializeV3!(...args)).to.be.revertedWithCustomError(c, "InvalidInitialization");
      }
      const want = expectationOf(d.setup);
      expect(diagnose(want, await readTopology(d.setup))).to.deep.equal([]);
    } finally {
      await d.close();
      rmSync(d.root, { recursive: true, force: true });
    }
  });
});
