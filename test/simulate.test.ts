import { expect } from "chai";
import { rmSync } from "node:fs";
import { Interface } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { execute } from "../src/pipeline/execute.ts";
import { operationIdOf } from "../src/proposal/derive.ts";
import type { ProposalRecord } from "../src/records/proposal.ts";
import { simulateProposal } from "../src/simulate/run.ts";
import { renderSimulation } from "../src/simulate/render.ts";
import { ROLES, timelockInterface, upgradeInterface } from "../src/timelock/calls.ts";

/**
 * `simulate` on an EDR fork of the real chain (a Safe 1.5.0, a TimelockController, UUPS and Transparent
 * proxies), read over loopback HTTP JSON-RPC from the in-process network that holds them.
 */
const withProbes = (yaml: string) =>
  yaml.replace("contract: VaultV2\n", 'contract: VaultV2\n    probes: [{ call: "version()", returns: "2.0.0" }, { call: "owner()", returns: "timelock" }]\n');

function withOps(record: ProposalRecord, ops: ProposalRecord["operations"]): ProposalRecord {
  const r = { ...record, operations: ops };
  return { ...r, operationId: operationIdOf(r) };
}

describe("simulate: the proposal's real path on a fork", function () {
  let d: Deployed;
  afterEach(async () => {
    await d?.close();
    if (d) rmSync(d.root, { recursive: true, force: true });
  });

  it("honest V2 upgrade: only the ERC-1967 implementation slots and the timelock/Safe bookkeeping change, probes pass; then again from the schedule", async () => {
    d = await deployed(withProbes);
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    const record = staged.proposal!.record;
    const proposed = await propose({ setup: d.setup, proposal: record.id, proposer: d.actors.owners[0] });
    const r = await simulateProposal(d.setup, proposed.record);
    const text = renderSimulation(r);
    expect(r.findings, text).to.deep.equal([]);
    expect(r.start).to.equal("propose");
    expect(r.steps.map((s) => s.ok)).to.deep.equal([true, true, true]); // one more approveHash, execTransaction, executeBatch
    expect(r.steps[1]!.events.some((e) => e.startsWith("timelock: CallScheduled("))).to.equal(true);
    expect(r.steps[2]!.events.filter((e) => /: Upgraded\(/.test(e))).to.have.length(2);
    const rows = r.stateDiff.map((c) => `${c.accountLabel} ${c.name?.variable}`).sort();
    expect(rows).to.deep.equal(["Safe approvedHashes", "Safe nonce", "registry (proxy) erc1967.implementation", "timelock _timestamps", "vault (proxy) erc1967.implementation"]);
    expect(r.unknownSlots).to.equal(0);
    const vaultImpl = r.stateDiff.find((c) => c.accountLabel === "vault (proxy)")!;
    const op = record.operations.find((o) => o.proxy === "vault")!;
    expect(vaultImpl.decoded![0]).to.deep.include({ before: op.oldImplementation, after: op.newImplementation });
    expect(r.stateDiff.find((c) => c.name?.variable === "_timestamps")!.name!.path).to.equal(`_timestamps[${record.operationId}]`);
    expect(r.permissions).to.deep.equal([]);
    expect(r.probes.every((p) => p.ok), text).to.equal(true);
    expect(r.probes.map((p) => p.name)).to.include.members(["vault: a stranger's upgradeToAndCall reverts", "registry: a stranger's ProxyAdmin.upgradeAndCall reverts", "VaultV2.version() == 2.0.0", "VaultV2.owner() == timelock"]);
    expect(text).to.match(/vault \(proxy\) 0x[0-9a-fA-F]{40}: erc1967\.implementation/);

    // Scheduled for real: the simulation starts at the ETA with executeBatch alone.
    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
    await execute({ setup: d.setup, proposal: record.id, executor: d.actors.deployer });
    const again = await simulateProposal(d.setup, record);
    expect(again.start).to.equal("scheduled");
    expect(again.findings, renderSimulation(again)).to.deep.equal([]);
    expect(again.steps).to.have.length(1);
    expect(again.stateDiff.map((c) => `${c.accountLabel} ${c.name?.variable}`).sort()).to.deep.equal(["registry (proxy) erc1967.implementation", "timelock _timestamps", "vault (proxy) erc1967.implementation"]);
  });

  it("a batch that also grants PROPOSER_ROLE shows the permission diff and the undeclared write, and is a finding", async () => {
    d = await deployed();
    const record = (await stage({ setup: d.setup, deployer: d.actors.deployer })).proposal!.record;
    const timelock = d.setup.deployment.timelock.address;
    const outsider = d.actors.outsider.address;
    const grant = { ...record.operations[0]!, proxy: "timelock", call: { target: timelock, value: "0", data: timelockInterface.encodeFunctionData("grantRole", [ROLES.PROPOSER_ROLE, outsider]) } };
    const r = await simulateProposal(d.setup, withOps(record, [...record.operations, grant]));
    expect(r.steps.every((s) => s.ok)).to.equal(true);
    const perm = r.permissions.find((p) => p.what === "timelock PROPOSER_ROLE")!;
    expect(perm.after).to.include(outsider);
    expect(perm.before).to.not.include(outsider);
    expect(r.findings.some((f) => f.kind === "permission" && f.message.includes("timelock PROPOSER_ROLE"))).to.equal(true);
    const write = r.findings.find((f) => f.kind === "write")!;
    expect(write.message).to.include(`_roles[PROPOSER_ROLE].hasRole[${outsider}]`).and.include("false -> true").and.include(timelock);
  });

  it("an open _authorizeUpgrade fails the takeover probe; an initializer's undeclared write is named; a reverting initializer is decoded", async () => {
    d = await deployed();
    // check now refuses to stage an open _authorizeUpgrade, so the attacker's record is written by hand:
    // the honest record with the vault pointed at the open V2 (records are claims; simulate must not care).
    const honest = (await stage({ setup: d.setup, deployer: d.actors.deployer })).proposal!.record;
    const impl = await (await d.ctx.ethers.deployContract("VaultV2OpenAuthorize", [], d.actors.outsider.signer)).waitForDeployment();
    const openImpl = await impl.getAddress();
    const record = withOps(
      honest,
      honest.operations.map((o) => (o.proxy === "vault" ? { ...o, contract: "VaultV2OpenAuthorize", newImplementation: openImpl, call: { ...o.call, data: upgradeInterface.encodeFunctionData("upgradeToAndCall", [openImpl, "0x"]) } } : o)),
    );
    const open = await simulateProposal(d.setup, record);
    const takeover = open.probes.find((p) => p.name === "vault: a stranger's upgradeToAndCall reverts")!;
    expect(takeover.ok).to.equal(false);
    expect(takeover.detail).to.include("anyone can upgrade");
    // Red team: its reinitializer initializeV2 was left uncalled by the upgrade, so a stranger can run it.
    const openInit = open.probes.find((p) => p.name === "vault: a stranger's initializeV2(uint256) reverts")!;
    expect(openInit.ok).to.equal(false);
    expect(openInit.detail).to.include("an initializer is still open");
    expect(open.probes.find((p) => p.name === "vault: a stranger's initialize(address) reverts")!.ok).to.equal(true);
    expect(open.findings.map((f) => f.kind)).to.deep.equal(["probe", "probe"]);

    const vaultOp = record.operations.find((o) => o.proxy === "vault")!;
    const withInit = (cap: bigint) =>
      withOps(record, record.operations.map((o) => (o === vaultOp ? { ...o, call: { ...o.call, data: upgradeInterface.encodeFunctionData("upgradeToAndCall", [o.newImplementation, new Interface(["function initializeV2(uint256)"]).encodeFunctionData("initializeV2", [cap])]) } } : o)));

    const writes = await simulateProposal(d.setup, withInit(5n));
    const undeclared = writes.findings.filter((f) => f.kind === "write").map((f) => f.message);
    expect(undeclared.some((m) => m.includes("depositCap") && m.includes("0 -> 5"))).to.equal(true);
    expect(undeclared.some((m) => m.includes("Initializable._initialized"))).to.equal(true);

    const reverting = await simulateProposal(d.setup, withInit(0n));
    const failed = reverting.steps.find((s) => !s.ok)!;
    expect(failed.name).to.match(/^executeBatch/);
    expect(failed.revert).to.equal("CapRequired(0)");
    expect(reverting.findings[0]!.message).to.include("CapRequired(0)");
    expect(reverting.probes).to.deep.equal([]);
  });
});
