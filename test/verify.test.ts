import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { deployed, PROJECT_ROOT, type Deployed } from "./helpers/fixture.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { verify, verifyRecord } from "../src/pipeline/verify.ts";
import { writeProposal } from "../src/records/proposal.ts";

describe("verify: what a signer recomputes before trusting a proposal", function () {
  let d: Deployed;
  let id: string;
  let file: string;
  const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: PROJECT_ROOT }).toString().trim();

  before(async () => {
    d = await deployed();
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer, commit: head });
    id = staged.proposal!.record.id;
    file = staged.proposal!.file;
    await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] });
  });
  after(async () => d.close());

  it("passes every check for a proposal staged from this repository, building its commit afresh", async () => {
    const r = await verify({ setup: d.setup, proposal: id, repoRoot: PROJECT_ROOT });
    expect(r.checks.filter((c) => !c.ok), JSON.stringify(r.checks.filter((c) => !c.ok))).to.deep.equal([]);
    const names = r.checks.map((c) => c.name);
    for (const n of ["operation id", "salt", "calldata of 'vault'", "calldata of 'registry'", "bytecode of 'vault' implementation", "Safe transaction schedule (nonce 0) hashes", "Safe transaction schedule (nonce 0) call", "ProxyAdmin of 'registry'"]) {
      expect(names).to.include(n);
    }
    expect(r.checks.find((c) => c.name === "bytecode of 'vault' implementation")!.detail).to.contain(`at commit ${head.slice(0, 12)}`);
  });

  it("fails when a call does not do what the record says in words", async () => {
    const r = (await verify({ setup: d.setup, proposal: id, atCommit: false })).record;
    const registryImpl = r.operations.find((o) => o.proxy === "registry")!.newImplementation;
    // The vault's call is pointed at another implementation while the words still say VaultV2.
    const tampered = { ...r, operations: r.operations.map((o) => (o.proxy === "vault" ? { ...o, call: { ...o.call, data: o.call.data.replace(o.newImplementation.slice(2).toLowerCase(), registryImpl.slice(2).toLowerCase()) } } : o)) };
    const failed = verifyRecord(tampered).filter((c) => !c.ok).map((c) => c.name);
    expect(failed).to.include("calldata of 'vault'");
    expect(failed).to.include("operation id");
  });

  it("fails when a recorded Safe hash was altered, and when an implementation is not the build of its contract", async () => {
    const { record } = await verify({ setup: d.setup, proposal: id, atCommit: false });
    const badHash = { ...record, safeTransactions: record.safeTransactions.map((t) => ({ ...t, messageHash: "0x" + "00".repeat(32) })) };
    expect(verifyRecord(badHash).filter((c) => !c.ok).map((c) => c.name)).to.deep.equal(["Safe transaction schedule (nonce 0) hashes"]);

    // Say the vault's new implementation is the registry's: the words and calldata agree, the bytecode does not.
    const registryImpl = record.operations.find((o) => o.proxy === "registry")!.newImplementation;
    writeProposal(file, { ...record, operations: record.operations.map((o) => (o.proxy === "vault" ? { ...o, newImplementation: registryImpl } : o)) });
    try {
      const r = await verify({ setup: d.setup, proposal: id, atCommit: false });
      const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
      expect(failed).to.include("bytecode of 'vault' implementation");
      expect(failed).to.include("calldata of 'vault'");
    } finally {
      writeProposal(file, record);
    }
  });
});
