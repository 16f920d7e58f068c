import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, ZeroHash, getAddress, id, parseEther } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { TEST_BUILD, TEST_COMMIT, execSafeTx, safeInterface, scheduleThroughModule } from "./helpers/watch-scenario.ts";
import { bytecodeHash } from "../src/plan/bytecode.ts";
import { execute } from "../src/pipeline/execute.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { stage } from "../src/pipeline/stage.ts";
import { proposalFile, writeProposal, type ProposalRecord } from "../src/records/proposal.ts";
import type { OperationReview } from "../src/review/operation.ts";
import type { EventAlert } from "../src/review/alert.ts";
import { ROLES, TIMELOCK_ABI, encodeScheduleBatch, hashOperationBatch, timelockInterface, upgradeInterface, type Call } from "../src/timelock/calls.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { runOnce } from "../src/watch/watcher.ts";

/**
 * The watcher's verdict against an attacker who can commit records: each attack is scheduled through the
 * real Safe 1.5.0 (signed by two owners who were tricked), or by a second proposer or a Safe module where
 * that is the attack, with a committed record whose calls hash to the on-chain operation id. Each must
 * end as an alert naming the failed check; the honest pipeline path stays a review with no alert.
 * One deployment; every test starts from the same snapshot (V2 implementations staged, nothing proposed).
 */

type Posted = { ops: OperationReview[]; alerts: EventAlert[] };

describe("watch verdict: a committed record is a claim, the chain and the protected branch are the truth", function () {
  let d: Deployed;
  let base: ProposalRecord;
  let malicious: string;
  let snapshot: { restore(): Promise<void> };
  const dirs: string[] = [];

  before(async function () {
    d = await deployed();
    base = (await stage({ setup: d.setup, deployer: d.actors.deployer, commit: TEST_COMMIT })).proposal!.record;
    // The attacker's implementation: storage-compatible, but it can selfdestruct (any code that is not the reviewed build).
    const evil = await d.ctx.ethers.deployContract("VaultV2Selfdestruct", [], d.actors.outsider.signer);
    malicious = getAddress(await evil.getAddress());
    snapshot = await d.ctx.connection.networkHelpers.takeSnapshot();
  });
  beforeEach(async () => {
    await snapshot.restore();
    rmSync(path.join(d.root, "proposals"), { recursive: true, force: true });
  });
  after(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    rmSync(d.root, { recursive: true, force: true });
    await d?.close();
  });

  const op = (name: "vault" | "registry") => base.operations.find((o) => o.proxy === name)!;
  const timelock = () => d.setup.deployment.timelock.address;
  const vaultUpgrade = (impl = op("vault").newImplementation, init = "0x") => ({ target: op("vault").proxyAddress, value: "0", data: upgradeInterface.encodeFunctionData("upgradeToAndCall", [impl, init]) });

  /** A record as the attacker commits it: the base record with its calls replaced, and ids that hash right. */
  function attackRecord(calls: { target: string; value: string; data: string }[], over: Partial<ProposalRecord> = {}): ProposalRecord {
    const salt = id(`attack ${JSON.stringify(calls)}`);
    const operations = calls.map((call) => {
      const up = upgradeInterface.parseTransaction({ data: call.data });
      const impl = up?.name === "upgradeToAndCall" ? (up.args[0] as string) : up?.name === "upgradeAndCall" ? (up.args[1] as string) : op("vault").newImplementation;
      return { ...op("vault"), newImplementation: getAddress(impl), call };
    });
    const batch: Call[] = calls.map((c) => ({ target: c.target, value: BigInt(c.value), data: c.data }));
    const operationId = hashOperationBatch({ calls: batch, predecessor: ZeroHash, salt });
    return { ...base, operations, salt, operationId, id: operationId.slice(2, 14), ...over };
  }

  function scheduleData(r: ProposalRecord): string {
    return encodeScheduleBatch({ calls: r.operations.map((o) => ({ target: o.call.target, value: BigInt(o.call.value), data: o.call.data })), predecessor: r.predecessor, salt: r.salt }, BigInt(r.delay));
  }

  /** Commit the record naming the Safe transaction that schedules it (as propose would have written it). */
  function commitRecord(r: ProposalRecord, safeTx: { safeTxHash: string; nonce: number }): ProposalRecord {
    const full: ProposalRecord = {
      ...r,
      safeTransactions: [
        {
          purpose: "schedule",
          safe: d.setup.deployment.safe.address,
          to: timelock(),
          value: "0",
          data: scheduleData(r),
          operation: 0,
          safeTxGas: "0",
          baseGas: "0",
          gasPrice: "0",
          gasToken: "0x0000000000000000000000000000000000000000",
          refundReceiver: "0x0000000000000000000000000000000000000000",
          nonce: safeTx.nonce,
          safeTxHash: safeTx.safeTxHash,
          domainHash: id("domain"),
          messageHash: id("message"),
          proposer: d.actors.owners[0].address,
          via: "onchain",
        },
      ],
    };
    writeProposal(proposalFile(d.root, "default", full.id), full);
    return full;
  }

  /** The tricked owners sign and execute the Safe transaction that schedules the record's batch. */
  async function scheduleViaSafe(r: ProposalRecord): Promise<ProposalRecord> {
    const exec = await execSafeTx(d, { to: timelock(), data: scheduleData(r) });
    return commitRecord(r, exec);
  }

  async function watch(): Promise<Posted> {
    const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-verdict-"));
    dirs.push(dir);
    await runOnce({ ...(await watcherOptions(d.setup, { build: TEST_BUILD })), sinks: [filesSink(path.join(dir, "posts"))], ledger: path.join(dir, "watch.sqlite"), retry: { baseDelayMs: 1 } });
    const posted: Posted = { ops: [], alerts: [] };
    for (const f of readdirSync(path.join(dir, "posts")).filter((x) => x.endsWith(".json"))) {
      const json = JSON.parse(readFileSync(path.join(dir, "posts", f), "utf8")) as { type: string };
      if (json.type === "operation") posted.ops.push(json as unknown as OperationReview);
      else posted.alerts.push(json as unknown as EventAlert);
    }
    return posted;
  }

  /** The one post of `operationId`: an alert whose failed checks are exactly `kinds` (check names included). */
  function expectAlert(posted: Posted, operationId: string, failed: [kind: string, check: string][]): OperationReview {
    const review = posted.ops.find((o) => o.operationId === operationId.toLowerCase());
    expect(review, `no post for ${operationId}`).to.not.equal(undefined);
    expect(review!.severity).to.equal("alert");
    expect(review!.verification.status).to.not.equal("verified");
    expect(review!.alerts.map((a) => [a.kind, a.check])).to.deep.equal(failed);
    return review!;
  }

  it("the honest pipeline path (stage → propose → sign → execute) is a verified review with no alert", async () => {
    writeProposal(proposalFile(d.root, "default", base.id), base);
    const p = await propose({ setup: d.setup, proposal: base.id, proposer: d.actors.owners[0] });
    await sign({ setup: d.setup, safeTxHash: p.safeTx.safeTxHash, signer: d.actors.owners[1] });
    await execute({ setup: d.setup, proposal: base.id, executor: d.actors.deployer });
    const posted = await watch();
    expect(posted.alerts).to.deep.equal([]);
    expect(posted.ops).to.have.length(1);
    const review = posted.ops[0]!;
    expect(review.alerts).to.deep.equal([]);
    expect(review).to.include({ severity: "review", operationId: base.operationId.toLowerCase() });
    expect(review.verification.status).to.equal("verified");
    expect(review.verification.checks.every((c) => c.ok)).to.equal(true);
    expect(review.calls.map((c) => [c.upgrade!.proxyName, c.upgrade!.contract, c.upgrade!.build?.commit])).to.have.deep.members([
      ["vault", "VaultV2", TEST_COMMIT],
      ["registry", "RegistryV2", TEST_COMMIT],
    ]);
  });

  it("upgrade + grantRole(PROPOSER_ROLE, attacker): alert not-an-upgrade, the grant in plain words", async () => {
    const grant = { target: timelock(), value: "0", data: timelockInterface.encodeFunctionData("grantRole", [ROLES.PROPOSER_ROLE, d.actors.outsider.address]) };
    const r = await scheduleViaSafe(attackRecord([vaultUpgrade(), grant]));
    const review = expectAlert(await watch(), r.operationId, [["not-an-upgrade", "call 2: governed upgrade"]]);
    expect(review.calls[1]!.description).to.contain(`**Grant PROPOSER_ROLE** to \`${d.actors.outsider.address}\` on the timelock`);
  });

  it("upgrade + updateDelay(0): alert not-an-upgrade (a timelock self-call)", async () => {
    const updateDelay = { target: timelock(), value: "0", data: "0x64d62353" + "0".repeat(64) };
    const r = await scheduleViaSafe(attackRecord([vaultUpgrade(), updateDelay]));
    const review = expectAlert(await watch(), r.operationId, [["not-an-upgrade", "call 2: governed upgrade"]]);
    expect(review.calls[1]!.description).to.contain("**Change the timelock's minimum delay** to 0s");
  });

  it("upgrade + 1 ETH to an arbitrary contract: alerts value-transfer and not-an-upgrade", async () => {
    const pay = { target: malicious, value: parseEther("1").toString(), data: "0x" };
    const r = await scheduleViaSafe(attackRecord([vaultUpgrade(), pay]));
    const review = expectAlert(await watch(), r.operationId, [
      ["value-transfer", "call 2: value"],
      ["not-an-upgrade", "call 2: governed upgrade"],
    ]);
    expect(review.calls[1]!.description).to.contain(`**Send 1.0 ETH (1000000000000000000 wei)** to \`${malicious}\``);
  });

  it("UUPS upgrade whose initializer is transferOwnership(attacker): alert initializer-not-allowed, decoded", async () => {
    const init = new Contract(malicious, ["function transferOwnership(address newOwner)"]).interface.encodeFunctionData("transferOwnership", [d.actors.outsider.address]);
    const r = await scheduleViaSafe(attackRecord([vaultUpgrade(undefined, init)]));
    const review = expectAlert(await watch(), r.operationId, [["initializer-not-allowed", "call 1: initializer"]]);
    expect(review.calls[0]!.upgrade!.initializerCall).to.equal(`transferOwnership(newOwner=${d.actors.outsider.address})`);
    expect(review.alerts[0]!.message).to.contain("the policy allows no initializer");
  });

  it("a Transparent upgrade sent to a contract that is not the proxy's ProxyAdmin (read on chain): alert wrong-upgrade-path", async () => {
    const registry = op("registry");
    const fake = { target: malicious, value: "0", data: upgradeInterface.encodeFunctionData("upgradeAndCall", [registry.proxyAddress, registry.newImplementation, "0x"]) };
    const r = await scheduleViaSafe(attackRecord([fake]));
    const review = expectAlert(await watch(), r.operationId, [["wrong-upgrade-path", "call 1: upgrade path"]]);
    expect(review.alerts[0]!.message).to.contain(`but the ProxyAdmin in registry's EIP-1967 admin slot at block`).and.to.contain(registry.proxyAdmin!);
  });

  it("a record claiming VaultV2 whose bytecodeHash is the malicious code's: alert bytecode-mismatch against the watcher's own build", async () => {
    const code = await d.ctx.ethers.provider.getCode(malicious);
    const claim = attackRecord([vaultUpgrade(malicious)]);
    const r = await scheduleViaSafe({ ...claim, artifacts: { ...claim.artifacts, vault: { ...claim.artifacts.vault!, contract: "VaultV2", bytecodeHash: bytecodeHash(code) } } });
    const review = expectAlert(await watch(), r.operationId, [["bytecode-mismatch", "call 1: implementation build"]]);
    expect(review.calls[0]!.upgrade).to.include({ claimedContract: "VaultV2", recordBytecodeHash: bytecodeHash(code) });
    expect(review.calls[0]!.upgrade!.contract).to.equal(undefined);
    expect(review.alerts[0]!.message).to.contain(`the build of VaultV2 at commit ${TEST_COMMIT}`).and.to.contain("the record is not the reference");
  });

  it("scheduled by a second proposer, not the Safe: alert not-scheduled-by-safe (and the role grant)", async () => {
    const proposer = d.actors.outsider;
    const provider = d.ctx.connection.provider;
    await provider.request({ method: "hardhat_impersonateAccount", params: [timelock()] });
    await provider.request({ method: "hardhat_setBalance", params: [timelock(), "0x" + parseEther("1").toString(16)] });
    const asTimelock = new Contract(timelock(), TIMELOCK_ABI, await d.ctx.ethers.getSigner(timelock()));
    await (await asTimelock.grantRole(ROLES.PROPOSER_ROLE, proposer.address)).wait();
    await provider.request({ method: "hardhat_stopImpersonatingAccount", params: [timelock()] });
    const r = commitRecord(base, { safeTxHash: id("the recorded Safe transaction"), nonce: 0 });
    const receipt = await (await proposer.signer.sendTransaction({ to: timelock(), data: scheduleData(r) })).wait();
    const posted = await watch();
    const review = expectAlert(posted, r.operationId, [["not-scheduled-by-safe", "scheduled by the Safe"]]);
    expect(review.alerts[0]!.message).to.contain(`sent by \`${proposer.address}\` to \`${timelock()}\``).and.to.contain("executed no Safe transaction");
    expect(review.scheduled.txHash).to.equal(receipt!.hash);
    expect(posted.alerts.map((a) => a.kind)).to.deep.equal(["role-change"]);
  });

  it("scheduled by a Safe module (no signatures): alert not-scheduled-by-safe, and the module's enabling and execution are alerts", async () => {
    const r = commitRecord(base, { safeTxHash: id("the recorded Safe transaction"), nonce: 0 });
    await scheduleThroughModule(d, d.actors.outsider, scheduleData(r));
    const posted = await watch();
    const review = expectAlert(posted, r.operationId, [["not-scheduled-by-safe", "scheduled by the Safe"]]);
    expect(review.alerts[0]!.message).to.contain(`ran module \`${d.actors.outsider.address}\` as the Safe`);
    expect(posted.alerts.map((a) => [a.kind, a.event.name]).sort()).to.deep.equal([
      ["safe-config-change", "EnabledModule"],
      ["safe-module-execution", "ExecutionFromModuleSuccess"],
    ]);
  });

  it("scheduled by a Safe transaction other than the recorded one: alert safe-tx-mismatch", async () => {
    const exec = await execSafeTx(d, { to: timelock(), data: scheduleData(base), safeTxGas: 1n });
    const r = commitRecord(base, { safeTxHash: id("what the owners were shown"), nonce: exec.nonce });
    const review = expectAlert(await watch(), r.operationId, [["safe-tx-mismatch", "recorded Safe transaction"]]);
    expect(review.alerts[0]!.message).to.contain(exec.safeTxHash);
    expect(review.safeTransaction).to.include({ safeTxHash: exec.safeTxHash, matchesRecord: false });
  });

  it("a Safe configuration change made on chain (add owner) is an alert", async () => {
    const safe = d.setup.deployment.safe.address;
    const exec = await execSafeTx(d, { to: safe, data: safeInterface.encodeFunctionData("addOwnerWithThreshold", [d.actors.outsider.address, 2]) });
    const posted = await watch();
    expect(posted.ops).to.deep.equal([]);
    expect(posted.alerts.map((a) => [a.kind, a.event.name, a.event.txHash])).to.deep.equal([["safe-config-change", "AddedOwner", exec.txHash]]);
    expect(posted.alerts[0]!.title).to.equal(`ALERT: Safe configuration changed: owner ${d.actors.outsider.address} added`);
  });
});
