import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, ContractFactory, encodeBytes32String, parseEther } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { TEST_BUILD, cancelAsGuardian, execSafeTx } from "./helpers/watch-scenario.ts";
import type { OperationReview } from "../src/review/operation.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { runOnce } from "../src/watch/watcher.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { execute } from "../src/pipeline/execute.ts";
import { verify } from "../src/pipeline/verify.ts";
import { stageRollback } from "../src/pipeline/rollback.ts";
import { deriveSalt, proposalId, upgradeCall } from "../src/plan/plan.ts";
import { batchOf, operationIdOf, scheduleCalldata } from "../src/proposal/derive.ts";
import { safeCall, safeTxHashes } from "../src/safe/hash.ts";
import { proposalFile, readProposalFile, writeProposal, type ProposalRecord } from "../src/records/proposal.ts";
import { expectGatehouseError } from "./helpers/expect-error.ts";

const VAULT_ABI = ["function deposit() payable", "function balanceOf(address) view returns (uint256)", "function totalDeposits() view returns (uint256)", "function version() view returns (string)"];
const REGISTRY_ABI = ["function register(bytes32)", "function ownerOf(bytes32) view returns (address)", "function version() view returns (string)"];


/** Propose, sign, schedule, wait out the delay and execute one proposal on the real Safe and timelock. */
async function throughPipeline(d: Deployed, id: string): Promise<void> {
  const proposed = await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] });
  await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
  expect((await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer })).step).to.equal("scheduled");
  await d.ctx.connection.networkHelpers.time.increase(3600);
  const done = await execute({ setup: d.setup, proposal: id, executor: d.actors.outsider });
  expect(done.step).to.equal("executed");
  expect(done.postChecks!.every((c) => c.ok)).to.equal(true);
}

const dirs: string[] = [];
async function watch(d: Deployed): Promise<OperationReview[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-rollback-"));
  dirs.push(dir);
  await runOnce({ ...(await watcherOptions(d.setup, { build: TEST_BUILD })), sinks: [filesSink(path.join(dir, "posts"))], ledger: path.join(dir, "watch.sqlite"), retry: { baseDelayMs: 1 } });
  return readdirSync(path.join(dir, "posts"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(path.join(dir, "posts", f), "utf8")) as OperationReview & { type: string })
    .filter((j) => j.type === "operation");
}

describe("rollback: an executed upgrade returns to its old implementations through the governed path", function () {
  // The first build of the commit (stage, then verify in sign) dominates; a loaded CI machine needs headroom.
  this.timeout(600_000);
  let d: Deployed;
  let upgrade: ProposalRecord;
  let vault: Contract;
  let registry: Contract;
  before(async () => {
    d = await deployed();
    vault = new Contract(d.setup.deployment.proxies.vault!.address, VAULT_ABI, d.actors.user.signer);
    registry = new Contract(d.setup.deployment.proxies.registry!.address, REGISTRY_ABI, d.actors.user.signer);
    await (await vault.deposit({ value: parseEther("3") })).wait();
    await (await registry.register(encodeBytes32String("bob"))).wait();
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    upgrade = staged.proposal!.record;
    await throughPipeline(d, upgrade.id);
    expect(await vault.version()).to.equal("2.0.0");
  });
  after(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await d?.close();
    if (d) rmSync(d.root, { recursive: true, force: true });
  });

  it("refuses to roll back a proposal that has not executed", async () => {
    // Staged but never scheduled: the chain has nothing to roll back. (Uses a copy marked with another round.)
    const pending = { ...upgrade, round: upgrade.round + 7 };
    pending.salt = deriveSalt(BigInt(pending.chainId), pending.timelock, batchOf(pending).calls, pending.round);
    pending.operationId = operationIdOf(pending);
    pending.id = proposalId(pending.operationId);
    writeProposal(proposalFile(d.root, "default", pending.id), pending);
    const e = await expectGatehouseError(stageRollback({ setup: d.setup, proposal: pending.id }), "ROLLBACK_REFUSED");
    expect(e.message).to.contain("Unset on the timelock, not executed");
    rmSync(proposalFile(d.root, "default", pending.id));
  });

  it("refuses a rollback record edited to return to another implementation, even one with the same code", async () => {
    const staged = await stageRollback({ setup: d.setup, proposal: upgrade.id });
    // The attacker deploys a byte-identical VaultV1 and rewrites the record consistently around it:
    // calldata, salt, operation id, file name. Only the chain's history says it is not the old implementation.
    const artifact = await d.ctx.readArtifact("VaultV1");
    const copy = await new ContractFactory(artifact.abi as never, (artifact as { bytecode: string }).bytecode, d.actors.outsider.signer).deploy();
    await copy.waitForDeployment();
    const evil = structuredClone(staged.record);
    const op = evil.operations.find((o) => o.proxy === "vault")!;
    op.newImplementation = await copy.getAddress();
    op.call = { ...op.call, data: upgradeCall({ kind: op.kind, proxy: op.proxyAddress }, op.newImplementation, "0x").data };
    evil.salt = deriveSalt(BigInt(evil.chainId), evil.timelock, batchOf(evil).calls, evil.round);
    evil.operationId = operationIdOf(evil);
    evil.id = proposalId(evil.operationId);
    const file = proposalFile(d.root, "default", evil.id);
    writeProposal(file, evil);
    const e = await expectGatehouseError(propose({ setup: d.setup, proposal: evil.id, proposer: d.actors.owners[0] }), "ROLLBACK_RECORD_INVALID");
    expect(e.message).to.contain(`not to ${upgrade.operations.find((o) => o.proxy === "vault")!.oldImplementation}`);
    const v = await verify({ setup: d.setup, proposal: evil.id });
    expect(v.verified).to.equal(false);
    expect(v.checks.find((c) => c.name === "rollback")!.ok).to.equal(false);
    rmSync(file);
  });

  it("red team: the watcher alerts on a rollback to an attacker-deployed implementation the records claim was the old one", async () => {
    // The rolled-back proposal's oldImplementation/oldContract are not part of its calls, so an edit keeps its
    // operation id. The attacker deploys RegistryV1 (a build of the protected commit) and claims the vault ran
    // it before: the watcher must not call returning the UUPS vault to it (bricking it) "what was replaced".
    const artifact = await d.ctx.readArtifact("RegistryV1");
    const planted = await new ContractFactory(artifact.abi as never, (artifact as { bytecode: string }).bytecode, d.actors.outsider.signer).deploy();
    await planted.waitForDeployment();
    const x = await planted.getAddress();
    const earlierFile = proposalFile(d.root, "default", upgrade.id);
    const original = readFileSync(earlierFile, "utf8");
    const staged = await stageRollback({ setup: d.setup, proposal: upgrade.id });
    const rollbackFile = proposalFile(d.root, "default", staged.record.id);
    let evilFile: string | undefined;
    let scheduled: string | undefined;
    try {
      const earlier = readProposalFile(earlierFile);
      const eop = earlier.operations.find((o) => o.proxy === "vault")!;
      eop.oldImplementation = x;
      eop.oldContract = "RegistryV1";
      expect(operationIdOf(earlier)).to.equal(upgrade.operationId);
      writeProposal(earlierFile, earlier);
      const evil = structuredClone(staged.record);
      const op = evil.operations.find((o) => o.proxy === "vault")!;
      op.newImplementation = x;
      op.contract = "RegistryV1";
      op.call = { ...op.call, data: upgradeCall({ kind: op.kind, proxy: op.proxyAddress }, x, "0x").data };
      evil.salt = deriveSalt(BigInt(evil.chainId), evil.timelock, batchOf(evil).calls, evil.round);
      evil.operationId = operationIdOf(evil);
      evil.id = proposalId(evil.operationId);
      // Owners tricked outside Gatehouse (verify would refuse) schedule it through the real Safe.
      const data = scheduleCalldata(evil);
      const timelock = d.setup.deployment.timelock.address;
      const nonce = Number(await new Contract(d.setup.deployment.safe.address, ["function nonce() view returns (uint256)"], d.ctx.ethers.provider).nonce());
      const hashes = safeTxHashes(BigInt(evil.chainId), d.setup.deployment.safe.address, safeCall(timelock, data, nonce));
      evil.safeTransactions = [{ purpose: "schedule", ...safeCall(timelock, data, nonce), safe: d.setup.deployment.safe.address, nonce, ...hashes, proposer: d.actors.owners[0].address, via: "onchain" }];
      evilFile = proposalFile(d.root, "default", evil.id);
      writeProposal(evilFile, evil);
      const sent = await execSafeTx(d, { to: timelock, data });
      expect(sent.safeTxHash).to.equal(hashes.safeTxHash);
      scheduled = evil.operationId;
      const review = (await watch(d)).find((o) => o.operationId === evil.operationId.toLowerCase())!;
      expect(review.severity, JSON.stringify(review.alerts)).to.equal("alert");
      expect(review.alerts.filter((a) => a.check?.endsWith(": rollback")).map((a) => a.message).join(" ")).to.contain(x);
    } finally {
      if (scheduled) await cancelAsGuardian(d, scheduled);
      writeFileSync(earlierFile, original);
      if (evilFile) rmSync(evilFile, { force: true });
      rmSync(rollbackFile, { force: true });
    }
  });

  it("stages, proposes, signs, waits and executes the rollback; the proxies run V1 again on the state V1 and V2 wrote", async () => {
    const r = await stageRollback({ setup: d.setup, proposal: upgrade.id });
    expect(r.record.kind).to.equal("rollback");
    expect(r.record.rollbackOf).to.include({ proposal: upgrade.id, operationId: upgrade.operationId, commit: upgrade.commit });
    // The staged plan is the one the upgrade recorded.
    expect(r.record.operationId).to.equal(upgrade.rollback!.operationId);
    expect(r.record.operations.map((o) => [o.proxy, o.contract, o.newImplementation])).to.deep.equal(upgrade.operations.map((o) => [o.proxy, o.oldContract, o.oldImplementation]));
    // V2 appended depositCap: the rollback leaves it in storage and says so.
    expect(r.leftInStorage.vault!.map((x) => [x.label, x.status])).to.deep.include(["depositCap", "appended"]);
    expect((await stageRollback({ setup: d.setup, proposal: upgrade.id })).created).to.equal(false);

    const v = await verify({ setup: d.setup, proposal: r.record.id });
    expect(v.checks.filter((c) => !c.ok), JSON.stringify(v.checks.filter((c) => !c.ok))).to.deep.equal([]);
    expect(v.verified).to.equal(true);
    expect(v.checks.find((c) => c.name === "storage of 'vault'")!.detail).to.contain("depositCap");

    const proposed = await propose({ setup: d.setup, proposal: r.record.id, proposer: d.actors.owners[0] });
    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[2] });
    expect((await execute({ setup: d.setup, proposal: r.record.id, executor: d.actors.deployer })).step).to.equal("scheduled");
    // The watcher recognises the rollback from the chain: the rolled-back operation is Done, the proxies run what
    // it installed, and each return is the watcher's own build of the old contract at that proposal's commit.
    const review = (await watch(d)).find((o) => o.operationId === r.record.operationId.toLowerCase())!;
    expect(review.alerts).to.deep.equal([]);
    expect(review.severity).to.equal("review");
    expect(review.proposal).to.include({ kind: "rollback", rollbackOf: upgrade.id });
    expect(review.calls.map((c) => c.upgrade!.contract).sort()).to.deep.equal(["RegistryV1", "VaultV1"]);
    await d.ctx.connection.networkHelpers.time.increase(3600);
    expect((await execute({ setup: d.setup, proposal: r.record.id, executor: d.actors.outsider })).postChecks!.every((c) => c.ok)).to.equal(true);
    expect(await vault.version()).to.equal("1.0.0");
    expect(await registry.version()).to.equal("1.0.0");
    expect(await vault.balanceOf(d.actors.user.address)).to.equal(parseEther("3"));
    expect(await vault.totalDeposits()).to.equal(parseEther("3"));
    expect(await registry.ownerOf(encodeBytes32String("bob"))).to.equal(d.actors.user.address);
    expect(readProposalFile(r.file).state).to.equal("executed");
    // The old code still works on that state.
    await (await vault.deposit({ value: parseEther("1") })).wait();
    expect(await vault.totalDeposits()).to.equal(parseEther("4"));
  });
});
