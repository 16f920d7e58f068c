import { expect } from "chai";
import { Interface } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import type { GatehouseError } from "../src/errors.ts";
import { renderChecks, verify } from "../src/pipeline/verify.ts";
import { deriveSalt, upgradeCall } from "../src/plan/plan.ts";
import { batchOf, operationIdOf, scheduleCalldata } from "../src/proposal/derive.ts";
import { approveSafeTx, buildSafeTx } from "../src/safe/transactions.ts";
import { readProposalFile, writeProposal, type ProposalRecord } from "../src/records/proposal.ts";

/**
 * Red team: `verify` / `sign` against a record an attacker (one Safe owner, write access to a branch)
 * edited. The record is a claim; verify must prove from the chain and the protected branch.
 */
describe("redteam: verify and sign on an attacker's record", function () {
  let d: Deployed;
  before(async () => {
    d = await deployed();
  });
  after(async () => d.close());

  // Found by the red team: an initializer `upgradeToAndCall(evil, "")` runs in the proxy with msg.sender =
  // the timelock (the owner), so the UUPS proxy would re-upgrade itself to the attacker's code. verify
  // said verified and sign approved; now the initializer must be one the policy allows, decoded with the
  // build's ABI, so verify fails and sign refuses.
  it("refuses an upgrade whose initializer re-upgrades the proxy to the attacker's code", async () => {
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    const { file, record } = staged.proposal!;
    const evilFactory = await d.ctx.ethers.getContractFactory("VaultV2OpenUpgrade", d.actors.outsider.signer);
    const evil = await (await evilFactory.deploy()).getAddress();
    const reUpgrade = new Interface(["function upgradeToAndCall(address,bytes)"]).encodeFunctionData("upgradeToAndCall", [evil, "0x"]);
    const ops = record.operations.map((o) => (o.proxy === "vault" ? { ...o, initializer: reUpgrade, call: (() => { const c = upgradeCall({ kind: o.kind, proxy: o.proxyAddress, proxyAdmin: o.proxyAdmin }, o.newImplementation, reUpgrade); return { target: c.target, value: "0", data: c.data }; })() } : o));
    const tampered: ProposalRecord = { ...record, operations: ops };
    tampered.salt = deriveSalt(BigInt(record.chainId), record.timelock, batchOf(tampered).calls, record.round);
    tampered.operationId = operationIdOf(tampered);
    writeProposal(file, tampered);
    // propose simulates the batch first: the re-upgrade fails the takeover probes, and nothing is proposed.
    const stopped = await propose({ setup: d.setup, proposal: record.id, proposer: d.actors.owners[0] }).then(
      () => undefined,
      (e: unknown) => e as GatehouseError,
    );
    expect(stopped?.errorName, String(stopped)).to.equal("SIMULATION_FINDINGS");
    expect(stopped!.message).to.contain("a stranger's upgradeToAndCall reverts");
    expect(readProposalFile(file).safeTransactions).to.deep.equal([]);
    // The attacker, an owner, proposes it outside the pipeline: the Safe transaction lands in the record.
    const safeTx = await buildSafeTx({ ctx: d.ctx, deployment: d.setup.deployment, safe: record.safe, to: record.timelock, data: scheduleCalldata(tampered), nonce: 0, purpose: "schedule", proposer: d.actors.owners[0].address, via: "onchain" });
    await approveSafeTx(d.ctx, d.setup.deployment, safeTx, d.actors.owners[0]);
    writeProposal(file, { ...readProposalFile(file), safeTransactions: [safeTx], state: "proposed" });
    const proposed = readProposalFile(file);

    const v = await verify({ setup: d.setup, proposal: proposed.id });
    expect(v.verified, renderChecks(v.checks)).to.equal(false);
    const init = v.checks.find((c) => c.name === "initializer of 'vault'")!;
    expect(init.ok).to.equal(false);
    expect(init.detail).to.contain("upgradeToAndCall(").and.contain("not one of the policy's upgradeInitializers");
    const refused = await sign({ setup: d.setup, safeTxHash: proposed.safeTransactions[0]!.safeTxHash, signer: d.actors.owners[1] }).then(
      () => undefined,
      (e: unknown) => e as GatehouseError,
    );
    expect(refused?.errorName, String(refused)).to.equal("SIGN_REFUSED");
    expect(refused!.message).to.contain("initializer of 'vault'").and.contain("simulation");
  });
});
