import { expect } from "chai";
import { Interface } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { execute } from "../src/pipeline/execute.ts";
import { renderChecks, verify } from "../src/pipeline/verify.ts";
import { deriveSalt, upgradeCall } from "../src/plan/plan.ts";
import { batchOf, operationIdOf } from "../src/proposal/derive.ts";
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

  // HOLE (verify/sign, severity critical): verify never checks an operation's initializer against the
  // policy's `upgradeInitializers` (src/pipeline/verify.ts verifyRecord recomputes the call FROM
  // op.initializer; verifyAgainstPolicy ignores it). An initializer `upgradeToAndCall(evil, "")` runs in
  // the proxy with msg.sender = the timelock (the owner), so the UUPS proxy re-upgrades itself to any
  // code the attacker deployed. verify says verified, sign approves, execute lands the attacker's code.
  // The watcher does alert (initializer-not-allowed), but the owners' own gate signs it.
  it.skip("refuses an upgrade whose initializer re-upgrades the proxy to the attacker's code (HOLE: verify ignores upgradeInitializers)", async () => {
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
    await propose({ setup: d.setup, proposal: record.id, proposer: d.actors.owners[0] });
    const proposed = readProposalFile(file);

    const v = await verify({ setup: d.setup, proposal: proposed.id });
    expect(v.verified, renderChecks(v.checks)).to.equal(false);
    // What happens today when the gate says verified: a second owner signs, the upgrade executes, and the
    // vault runs the attacker's VaultV2OpenUpgrade (anyone can upgrade it).
    await sign({ setup: d.setup, safeTxHash: proposed.safeTransactions[0]!.safeTxHash, signer: d.actors.owners[1] });
    await execute({ setup: d.setup, proposal: proposed.id, executor: d.actors.deployer });
    await d.ctx.connection.networkHelpers.time.increase(3600);
    await execute({ setup: d.setup, proposal: proposed.id, executor: d.actors.deployer });
    const vault = proposed.operations.find((o) => o.proxy === "vault")!.proxyAddress;
    expect((await d.ctx.up.erc1967.getImplementationAddress(vault)).toLowerCase()).not.to.equal(evil.toLowerCase());
  });
});
