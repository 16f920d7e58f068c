import { expect } from "chai";
import { rmSync } from "node:fs";
import { Contract } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { startTxService, type TxService } from "../src/service/server.ts";
import { apiKitFor, type ApiKit } from "../src/safe/service-client.ts";
import { loadSetup, operationState, type Setup } from "../src/pipeline/setup.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { exportTypedData, sign, submitSignature } from "../src/pipeline/sign.ts";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { SafeTypedData } from "../src/safe/inspect.ts";
import { execute } from "../src/pipeline/execute.ts";
import { status } from "../src/pipeline/status.ts";
import { GatehouseError } from "../src/errors.ts";

/** The pipeline's default path: proposals and confirmations through the real api-kit and `gatehouse tx-service`. */
describe("pipeline through the Safe Transaction Service (--via service)", function () {
  // The first sign builds the commit (tens of seconds, more on a busy machine); later ones reuse it.
  this.timeout(300_000);
  let d: Deployed;
  let service: TxService;
  let api: ApiKit;
  let setup: Setup;

  beforeEach(async () => {
    d = await deployed();
    service = await startTxService({ ctx: d.ctx, dbFile: ":memory:", log: () => {} });
    api = apiKitFor(d.ctx.chainId, { url: service.url });
    setup = { ...loadSetup(d.ctx, d.root, d.policy, api), source: d.setup.source };
  });
  afterEach(async () => {
    await service.close();
    await d.close();
  });

  it("proposes with the proposer's signature, collects a second owner's, and executes with them", async () => {
    const staged = await stage({ setup, deployer: d.actors.deployer });
    const id = staged.proposal!.record.id;
    const p = await propose({ setup, proposal: id, proposer: d.actors.owners[0], via: "service" });
    expect(p.safeTx.via).to.equal("service");
    // Nothing on chain yet: the approval is a signature held by the service.
    expect(await new Contract(setup.deployment.safe.address, ["function approvedHashes(address,bytes32) view returns (uint256)"], d.ctx.ethers.provider).approvedHashes(d.actors.owners[0].address, p.safeTx.safeTxHash)).to.equal(0n);
    const remote = await api.getTransaction(p.safeTx.safeTxHash);
    expect(remote.confirmations!.map((c) => c.owner)).to.deep.equal([d.actors.owners[0].address]);
    expect(remote.data).to.equal(p.safeTx.data);

    // Proposing twice: the service already has the safeTxHash, nothing new is created.
    const twice = await propose({ setup, proposal: id, proposer: d.actors.owners[0], via: "service" });
    expect(twice.approvedNow).to.equal(false);
    expect((await api.getMultisigTransactions(setup.deployment.safe.address)).count).to.equal(1);

    const s = await sign({ setup, safeTxHash: p.safeTx.safeTxHash, signer: d.actors.owners[2] });
    expect(s.approvals.sort()).to.deep.equal([d.actors.owners[0].address, d.actors.owners[2].address].sort());
    expect((await api.getPendingTransactions(setup.deployment.safe.address)).results.map((t) => t.safeTxHash)).to.deep.equal([p.safeTx.safeTxHash]);

    const scheduled = await execute({ setup, proposal: id, executor: d.actors.outsider });
    expect(scheduled.step).to.equal("scheduled");
    expect((await operationState(setup.timelock, staged.proposal!.record.operationId)).state).to.equal("Waiting");
    const after = await api.getTransaction(p.safeTx.safeTxHash);
    expect(after.isExecuted).to.equal(true);
    expect(after.transactionHash).to.equal(scheduled.tx);
    expect((await api.getPendingTransactions(setup.deployment.safe.address)).results).to.deep.equal([]);
    expect((await status(setup))[0]).to.include({ operation: "Waiting", approvals: 2, safeTxExecuted: true });

    await d.ctx.connection.networkHelpers.time.increase(3600);
    const done = await execute({ setup, proposal: id, executor: d.actors.outsider });
    expect(done.postChecks!.every((c) => c.ok)).to.equal(true);
  });

  it("a signature made elsewhere from the exported typed data is confirmed on the service and counted by execute", async () => {
    const staged = await stage({ setup, deployer: d.actors.deployer });
    const id = staged.proposal!.record.id;
    const p = await propose({ setup, proposal: id, proposer: d.actors.owners[0], via: "service" });
    const file = path.join(d.root, "safe-tx.json");
    await exportTypedData({ setup, safeTxHash: p.safeTx.safeTxHash, file });
    // Stands in for a hardware wallet: it signs what the file says.
    const td = JSON.parse(readFileSync(file, "utf8")) as SafeTypedData;
    const signature = await d.actors.owners[1].signer.signTypedData(td.domain, { SafeTx: td.types.SafeTx }, td.message);
    const r = await submitSignature({ setup, safeTxHash: p.safeTx.safeTxHash, signature });
    expect(r.addedNow).to.equal(true);
    expect((await api.getTransaction(p.safeTx.safeTxHash)).confirmations!.map((c) => c.owner).sort()).to.deep.equal([d.actors.owners[0].address, d.actors.owners[1].address].sort());
    expect((await execute({ setup, proposal: id, executor: d.actors.outsider })).step).to.equal("scheduled");
  });

  it("a re-run that lost the record (CI cut off after proposing) finds the same implementations and the same Safe transaction", async () => {
    const first = await stage({ setup, deployer: d.actors.deployer });
    const p = await propose({ setup, proposal: first.proposal!.record.id, proposer: d.actors.owners[0], via: "service" });
    rmSync(first.proposal!.file);
    const again = await stage({ setup, deployer: d.actors.deployer });
    expect(again.deployed.every((x) => x.reused), "implementations reused").to.equal(true);
    expect(again.proposal!.record.operationId).to.equal(first.proposal!.record.operationId);
    const p2 = await propose({ setup, proposal: again.proposal!.record.id, proposer: d.actors.owners[0], via: "service" });
    expect(p2.safeTx.safeTxHash).to.equal(p.safeTx.safeTxHash);
    expect(p2.approvedNow).to.equal(false);
    expect((await api.getMultisigTransactions(setup.deployment.safe.address)).count).to.equal(1);
  });

  it("refuses to execute until the threshold of service signatures is met, and refuses a non-owner signer", async () => {
    const staged = await stage({ setup, deployer: d.actors.deployer });
    const p = await propose({ setup, proposal: staged.proposal!.record.id, proposer: d.actors.owners[0], via: "service" });
    try {
      await execute({ setup, proposal: staged.proposal!.record.id, executor: d.actors.deployer });
      expect.fail("executed below the threshold");
    } catch (e) {
      expect((e as GatehouseError).errorName).to.equal("THRESHOLD_NOT_MET");
    }
    try {
      await sign({ setup, safeTxHash: p.safeTx.safeTxHash, signer: d.actors.outsider });
      expect.fail("a non-owner signed");
    } catch (e) {
      expect((e as GatehouseError).errorName).to.equal("NOT_OWNER");
    }
    expect((await api.getTransaction(p.safeTx.safeTxHash)).confirmations).to.have.length(1);
  });
});
