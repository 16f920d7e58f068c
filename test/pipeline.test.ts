import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { Contract, encodeBytes32String, parseEther } from "ethers";
import { deployed, withTarget, type Deployed } from "./helpers/fixture.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { execute } from "../src/pipeline/execute.ts";
import { cancel } from "../src/pipeline/cancel.ts";
import { status } from "../src/pipeline/status.ts";
import { operationState } from "../src/pipeline/setup.ts";
import { listProposals, readProposalFile } from "../src/records/proposal.ts";
import { kitForPredictedSafe, kitForSafe, networksOf, safeContract, SAFE_VERSION } from "../src/safe/kit.ts";
import { txBuilderChecksum, type TxBuilderFile } from "../src/review/tx-builder.ts";
import { encodeCancel } from "../src/timelock/calls.ts";
import { expectGatehouseError } from "./helpers/expect-error.ts";

const VAULT_ABI = ["function deposit() payable", "function balanceOf(address) view returns (uint256)", "function totalDeposits() view returns (uint256)", "function version() view returns (string)", "function transfer(address,uint256)"];
const REGISTRY_ABI = ["function register(bytes32)", "function ownerOf(bytes32) view returns (address)", "function count() view returns (uint256)", "function label() view returns (string)", "function version() view returns (string)", "function transferName(bytes32,address)"];


describe("pipeline: stage → propose → sign → execute on a real Safe and TimelockController", function () {
  let d: Deployed;
  afterEach(async () => d?.close());

  async function stagedAndProposed() {
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    const proposed = await propose({ setup: d.setup, proposal: staged.proposal!.record.id, proposer: d.actors.owners[0] });
    return { staged, proposed, id: staged.proposal!.record.id };
  }

  it("upgrades the UUPS and the Transparent proxy to V2 after the delay, with their state intact", async () => {
    d = await deployed();
    const { user } = d.actors;
    const vault = new Contract(d.setup.deployment.proxies.vault!.address, VAULT_ABI, user.signer);
    const registry = new Contract(d.setup.deployment.proxies.registry!.address, REGISTRY_ABI, user.signer);
    await (await vault.deposit({ value: parseEther("2") })).wait();
    await (await registry.register(encodeBytes32String("alice"))).wait();

    const { staged, proposed, id } = await stagedAndProposed();
    const record = staged.proposal!.record;
    expect(record.operations.map((o) => [o.proxy, o.kind, o.contract, o.oldContract])).to.deep.equal([
      ["registry", "transparent", "RegistryV2", "RegistryV1"],
      ["vault", "uups", "VaultV2", "VaultV1"],
    ]);
    // The record carries everything SPEC "Files" lists.
    expect(record.commit === null || /^[0-9a-f]{40}$/.test(record.commit)).to.equal(true);
    expect(record.rollback!.operations.map((o) => o.newImplementation)).to.deep.equal(record.operations.map((o) => o.oldImplementation));
    expect(record.storageLayoutDiff.vault!.some((r) => r.label === "depositCap" && r.status === "appended")).to.equal(true);
    expect(await d.setup.timelock.hashOperationBatch(
      record.operations.map((o) => o.call.target), record.operations.map((o) => o.call.value), record.operations.map((o) => o.call.data), record.predecessor, record.salt,
    )).to.equal(record.operationId);
    expect(proposed.approvals).to.deep.equal([d.actors.owners[0].address]);

    const signed = await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
    expect(signed.approvals.length).to.equal(2);

    const scheduled = await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
    expect(scheduled.step).to.equal("scheduled");
    expect((await operationState(d.setup.timelock, record.operationId)).state).to.equal("Waiting");
    const rows = await status(d.setup);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ id, operation: "Waiting", approvals: 2, threshold: 2, safeTxExecuted: true });
    expect(rows[0]!.secondsLeft).to.be.within(3590, 3600);

    await d.ctx.connection.networkHelpers.time.increase(3600);
    const done = await execute({ setup: d.setup, proposal: id, executor: d.actors.outsider });
    expect(done.step).to.equal("executed");
    expect(done.postChecks!.every((c) => c.ok)).to.equal(true);

    expect(await vault.version()).to.equal("2.0.0");
    expect(await registry.version()).to.equal("2.0.0");
    expect(await vault.balanceOf(user.address)).to.equal(parseEther("2"));
    expect(await vault.totalDeposits()).to.equal(parseEther("2"));
    expect(await registry.ownerOf(encodeBytes32String("alice"))).to.equal(user.address);
    expect(await registry.label()).to.equal("Gatehouse names");
    // A V2-only function works on the state V1 wrote.
    await (await registry.transferName(encodeBytes32String("alice"), d.actors.outsider.address)).wait();
    expect(await registry.ownerOf(encodeBytes32String("alice"))).to.equal(d.actors.outsider.address);

    expect(readProposalFile(staged.proposal!.file).state).to.equal("executed");
    const again = await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
    expect(again.step).to.equal("already-executed");
    // Nothing left: re-staging finds every proxy up to date.
    expect((await stage({ setup: d.setup, deployer: d.actors.deployer })).proposal).to.equal(undefined);
  });

  it("refuses to execute before the ETA, saying how long is left", async () => {
    d = await deployed();
    const { proposed, id } = await stagedAndProposed();
    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[2] });
    await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
    await d.ctx.connection.networkHelpers.time.increase(1800);
    const e = await expectGatehouseError(execute({ setup: d.setup, proposal: id, executor: d.actors.deployer }), "NOT_READY");
    expect(e.exitCode).to.equal(1);
    expect(e.message).to.match(/not ready: 29m 5\d?s left|not ready: 30m left|not ready: 29m \d+s left/);
    // The timelock itself enforces it too: a direct executeBatch reverts.
    const r = readProposalFile(listProposals(d.root, "default")[0]!.file);
    await expect(
      (d.setup.timelock.connect(d.actors.deployer.signer) as Contract).executeBatch(r.operations.map((o) => o.call.target), r.operations.map(() => 0n), r.operations.map((o) => o.call.data), r.predecessor, r.salt),
    ).to.be.revertedWithCustomError(d.setup.timelock, "TimelockUnexpectedOperationState");
  });

  it("refuses to execute the Safe transaction below the threshold", async () => {
    d = await deployed();
    const { id } = await stagedAndProposed();
    const e = await expectGatehouseError(execute({ setup: d.setup, proposal: id, executor: d.actors.deployer }), "THRESHOLD_NOT_MET");
    expect(e.message).to.contain("has 1 of 2 approvals");
    expect((await status(d.setup))[0]!.operation).to.equal("Unset");
  });

  it("proposing twice yields one Safe transaction and one operation", async () => {
    d = await deployed();
    const { proposed, id } = await stagedAndProposed();
    const twice = await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] });
    expect(twice.created).to.equal(false);
    expect(twice.approvedNow).to.equal(false);
    expect(twice.safeTx.safeTxHash).to.equal(proposed.safeTx.safeTxHash);
    const restaged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    expect(restaged.proposal!.created).to.equal(false);
    expect(restaged.deployed.every((x) => x.reused)).to.equal(true);
    expect(listProposals(d.root, "default")).to.have.length(1);
    const record = listProposals(d.root, "default")[0]!.record;
    expect(record.safeTransactions).to.have.length(1);

    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
    await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
    // After scheduling, proposing again is a no-op: no second Safe transaction, no second operation.
    const thrice = await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] });
    expect(thrice.alreadyScheduled).to.equal(true);
    expect(Number(await safeContract(d.ctx, d.setup.deployment.safe.address).nonce())).to.equal(1);
    const scheduledLogs = await d.setup.timelock.queryFilter(d.setup.timelock.filters.CallScheduled!(), 0, "latest");
    expect(new Set(scheduledLogs.map((l) => (l as unknown as { args: string[] }).args[0])).size).to.equal(1);
  });

  it("rejects a non-owner's approval, in Gatehouse and in the Safe itself", async () => {
    d = await deployed();
    const { proposed } = await stagedAndProposed();
    const e = await expectGatehouseError(sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.outsider }), "NOT_OWNER");
    expect(e.message).to.contain(d.actors.outsider.address);
    const safe = safeContract(d.ctx, d.setup.deployment.safe.address).connect(d.actors.outsider.signer) as Contract;
    await expect(safe.approveHash(proposed.safeTx.safeTxHash)).to.be.revertedWith("GS030");
    await expectGatehouseError(propose({ setup: d.setup, proposal: listProposals(d.root, "default")[0]!.record.id, proposer: d.actors.outsider }), "NOT_OWNER");
  });

  it("lets the guardian cancel during the delay; execute then fails, and the cancel file is the same call", async () => {
    d = await deployed();
    const { proposed, id } = await stagedAndProposed();
    const record = listProposals(d.root, "default")[0]!.record;
    const builder = JSON.parse(readFileSync(proposed.cancelFile, "utf8")) as TxBuilderFile;
    expect(builder.transactions[0]).to.include({ to: record.timelock, value: "0", data: encodeCancel(record.operationId) });
    expect(builder.meta.checksum).to.equal(txBuilderChecksum(builder));

    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
    await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
    // Only the guardian may cancel: an owner of the Safe is refused.
    await expectGatehouseError(cancel({ setup: d.setup, operationId: record.operationId, guardian: d.actors.owners[0] }), "NOT_CANCELLER");
    const c = await cancel({ setup: d.setup, operationId: record.operationId, guardian: d.actors.guardian });
    expect(c.alreadyCancelled).to.equal(false);
    expect((await operationState(d.setup.timelock, record.operationId)).state).to.equal("Unset");
    expect((await cancel({ setup: d.setup, operationId: record.operationId, guardian: d.actors.guardian })).alreadyCancelled).to.equal(true);

    await d.ctx.connection.networkHelpers.time.increase(7200);
    await expectGatehouseError(execute({ setup: d.setup, proposal: id, executor: d.actors.deployer }), "OPERATION_CANCELLED");
    const vault = new Contract(d.setup.deployment.proxies.vault!.address, VAULT_ABI, d.ctx.ethers.provider);
    expect(await vault.version()).to.equal("1.0.0");
    expect(readProposalFile(listProposals(d.root, "default")[0]!.file).state).to.equal("cancelled");
    expect((await status(d.setup))[0]!.operation).to.equal("Cancelled");
  });

  it("with a guardian Safe: the cancel file carries its hashes, and the guardian's owners cancel through it", async () => {
    // The guardian Safe's address is predicted on a first chain; the same deployer, nonces and Safe
    // contracts put it at the same address on the second chain, whose policy names it as guardian.
    const guardianConfig = { safeAccountConfig: { owners: [] as string[], threshold: 1 }, safeDeploymentConfig: { safeVersion: SAFE_VERSION, saltNonce: "4242" } };
    const probe = await deployed();
    guardianConfig.safeAccountConfig.owners = [probe.actors.guardian.address, probe.actors.user.address];
    const predict = async (x: Deployed) => kitForPredictedSafe(x.ctx, networksOf(x.ctx, x.setup.deployment), guardianConfig, x.actors.deployer.kitSigner);
    const guardianSafe = await (await predict(probe)).getAddress();
    await probe.close();
    d = await deployed((y) => y.replace("guardian: [account:4]", `guardian: ["${guardianSafe}"]`));
    const kit = await predict(d);
    expect(await kit.getAddress()).to.equal(guardianSafe);
    const deployTx = await kit.createSafeDeploymentTransaction();
    await (await d.actors.deployer.signer.sendTransaction({ to: deployTx.to, data: deployTx.data })).wait();

    const { proposed, id } = await stagedAndProposed();
    const record = listProposals(d.root, "default")[0]!.record;
    expect(record.cancel!.guardianSafeTx).to.include({ safe: guardianSafe, nonce: 0 });
    const builder = JSON.parse(readFileSync(proposed.cancelFile, "utf8")) as TxBuilderFile;
    expect(builder.meta.createdFromSafeAddress).to.equal(guardianSafe);
    expect(builder.meta.description).to.contain(record.cancel!.guardianSafeTx!.safeTxHash);
    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
    await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });

    // What the Transaction Builder proposes to the guardian Safe is exactly the recorded call and hash.
    const guardianKit = await kitForSafe(d.ctx, d.setup.deployment, guardianSafe, d.actors.guardian.kitSigner);
    const cancelTx = await guardianKit.createTransaction({ transactions: [{ to: builder.transactions[0]!.to, value: builder.transactions[0]!.value, data: builder.transactions[0]!.data! }] });
    expect(await guardianKit.getTransactionHash(cancelTx)).to.equal(record.cancel!.guardianSafeTx!.safeTxHash);
    const signed = await guardianKit.signTransaction(cancelTx);
    await d.ctx.ethers.provider.waitForTransaction((await guardianKit.executeTransaction(signed)).hash);
    expect((await operationState(d.setup.timelock, record.operationId)).state).to.equal("Unset");
    await d.ctx.connection.networkHelpers.time.increase(3600);
    await expectGatehouseError(execute({ setup: d.setup, proposal: id, executor: d.actors.deployer }), "OPERATION_CANCELLED");
  });

  it("executes through a second Safe transaction when the executor role belongs to the Safe", async () => {
    d = await deployed((y) => y.replace("executor: open", "executor: safe"));
    const { proposed, id } = await stagedAndProposed();
    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
    await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
    await d.ctx.connection.networkHelpers.time.increase(3600);
    // The executor role is the Safe's: the first execute only proposes (and, as an owner, approves) the execute transaction.
    const first = await execute({ setup: d.setup, proposal: id, executor: d.actors.owners[0] });
    expect(first.step).to.equal("execute-proposed");
    await sign({ setup: d.setup, safeTxHash: first.safeTx!.safeTxHash, signer: d.actors.owners[2] });
    const done = await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
    expect(done.step).to.equal("executed");
    expect(done.postChecks!.every((p) => p.ok)).to.equal(true);
    expect(Number(await safeContract(d.ctx, d.setup.deployment.safe.address).nonce())).to.equal(2);
  });
});

describe("pipeline: unsafe upgrades and policy violations are refused", function () {
  let d: Deployed;
  afterEach(async () => d?.close());

  for (const [fixture, rules] of [
    ["VaultV2Inserted", ["storage-layout"]],
    ["VaultV2Retyped", ["storage-layout"]],
    ["VaultV2Selfdestruct", ["unsafe-selfdestruct", "forbidden-selfdestruct"]],
  ] as const) {
    it(`stage refuses ${fixture} with file:line, deploys nothing and writes no record`, async () => {
      d = await deployed(withTarget("vault", fixture));
      const blockBefore = await d.ctx.ethers.provider.getBlockNumber();
      const e = await expectGatehouseError(stage({ setup: d.setup, deployer: d.actors.deployer }), "CHECK_FAILED");
      expect(e.exitCode).to.equal(1);
      const findings = e.details.findings as { rule: string; file: string; line: number }[];
      for (const rule of rules) expect(findings.map((f) => f.rule), rule).to.include(rule);
      const source = readFileSync(`test/fixtures/contracts/${fixture}.sol`, "utf8").split("\n");
      for (const f of findings.filter((x) => (rules as readonly string[]).includes(x.rule))) {
        expect(f.file).to.equal(`test/fixtures/contracts/${fixture}.sol`);
        expect(source[f.line - 1], `${f.file}:${f.line}`).to.match(fixture === "VaultV2Inserted" ? /depositCap/ : fixture === "VaultV2Retyped" ? /address public totalDeposits/ : /selfdestruct\(/);
      }
      expect(String(e.details.report)).to.contain(`test/fixtures/contracts/${fixture}.sol:`);
      expect(await d.ctx.ethers.provider.getBlockNumber()).to.equal(blockBefore);
      expect(existsSync(`${d.root}/proposals/default`)).to.equal(false);
    });
  }

  it("stage refuses a Transparent V2 that delegatecalls", async () => {
    d = await deployed(withTarget("registry", "RegistryV2Delegatecall"));
    const e = await expectGatehouseError(stage({ setup: d.setup, deployer: d.actors.deployer }), "CHECK_FAILED");
    const findings = e.details.findings as { rule: string; file: string; line: number; proxy: string }[];
    const forbidden = findings.find((f) => f.rule === "forbidden-delegatecall")!;
    expect(forbidden.proxy).to.equal("registry");
    expect(readFileSync(forbidden.file, "utf8").split("\n")[forbidden.line - 1]).to.contain(".delegatecall(");
    expect(findings.map((f) => f.rule)).to.include("unsafe-delegatecall");
  });

  it("refuses a delay below the policy minimum at stage and at propose", async () => {
    d = await deployed();
    const e = await expectGatehouseError(stage({ setup: d.setup, deployer: d.actors.deployer, delaySeconds: 60 }), "DELAY_BELOW_POLICY");
    expect(e.message).to.contain("delay 60s is below the policy minimum of 3600s");
    expect(existsSync(`${d.root}/proposals/default`)).to.equal(false);
    // A record edited to a shorter delay is refused before anything is signed.
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    const { writeProposal } = await import("../src/records/proposal.ts");
    writeProposal(staged.proposal!.file, { ...staged.proposal!.record, delay: "60" });
    await expectGatehouseError(propose({ setup: d.setup, proposal: staged.proposal!.record.id, proposer: d.actors.owners[0] }), "DELAY_BELOW_POLICY");
    expect(readProposalFile(staged.proposal!.file).safeTransactions).to.have.length(0);
  });

  it("refuses a record whose calls were altered after staging", async () => {
    d = await deployed();
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    const { writeProposal } = await import("../src/records/proposal.ts");
    const r = staged.proposal!.record;
    // Point the vault upgrade at the registry's implementation but keep the original operation id.
    const tampered = { ...r, operations: r.operations.map((o) => (o.proxy === "vault" ? { ...o, call: { ...o.call, data: o.call.data.replace(o.newImplementation.slice(2).toLowerCase(), r.operations[0]!.newImplementation.slice(2).toLowerCase()) } } : o)) };
    writeProposal(staged.proposal!.file, tampered);
    const e = await expectGatehouseError(propose({ setup: d.setup, proposal: r.id, proposer: d.actors.owners[0] }), "PROPOSAL_STALE");
    expect(e.message).to.contain("is not the hash of its calls");
  });
});
