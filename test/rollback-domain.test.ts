import { expect } from "chai";
import { keccak256 } from "ethers";
import { A, record } from "./helpers/watch-fixtures.ts";
import { planUpgrade } from "../src/plan/plan.ts";
import { inverseChanges, leftInStorage, rollbackProblems, rollbackRecordProblems, type RollbackFacts } from "../src/proposal/rollback.ts";
import { ProposalRecord } from "../src/records/proposal.ts";
import { parseWith } from "../src/policy/load.ts";

/** The pure exact-return rules over synthetic records and chain facts (the chain path is test/rollback.test.ts). */
describe("rollback domain: an exact return, proven from the chain facts", () => {
  const OLD_CODE = "0x6001";
  function executed(): ProposalRecord {
    const r = record();
    const plan = planUpgrade({ chainId: 31337n, timelock: A.timelock, changes: inverseChanges(r).map((c) => ({ ...c, oldImplementation: c.newImplementation, newImplementation: c.oldImplementation })), delay: 3600n });
    return { ...r, rollback: { operations: plan.rollback.operations.map((o) => ({ proxy: o.name, proxyAddress: o.proxy, kind: o.kind, ...(o.proxyAdmin ? { proxyAdmin: o.proxyAdmin } : {}), contract: o.contract, oldImplementation: o.oldImplementation, newImplementation: o.newImplementation, initializer: "0x", call: { target: o.call.target, value: "0", data: o.call.data } })), salt: plan.rollback.batch.salt, predecessor: plan.rollback.batch.predecessor, operationId: plan.rollback.operationId } };
  }
  const facts = (over: Partial<RollbackFacts> = {}): RollbackFacts => ({
    earlierState: "Done",
    proxies: {
      vault: { current: A.vaultV2, previous: A.vaultV1, oldCode: OLD_CODE },
      registry: { current: A.registryV2, previous: A.registryV1, oldCode: OLD_CODE },
    },
    ...over,
  });

  it("accepts the exact return and lists the appended variables left in storage", () => {
    expect(rollbackProblems(executed(), facts())).to.deep.equal([]);
    expect(leftInStorage(executed()).vault!.map((r) => r.label)).to.deep.equal(["depositCap"]);
  });

  it("refuses what the chain contradicts: not executed, moved on since, another previous implementation, no code, another code hash", () => {
    const r = executed();
    expect(rollbackProblems(r, facts({ earlierState: "Waiting" })).join()).to.contain("Waiting on the timelock, not executed");
    const f = facts();
    f.proxies.vault = { current: A.attacker, previous: A.attacker, oldCode: "0x" };
    const problems = rollbackProblems(r, f).join("\n");
    expect(problems).to.contain(`runs ${A.attacker}`);
    expect(problems).to.contain(`the chain says the proxy ran ${A.attacker} before`);
    expect(problems).to.contain("has no code");
    r.artifacts.vault!.oldCodeHash = keccak256("0x6002");
    expect(rollbackProblems(r, facts()).join()).to.contain("stage recorded");
  });

  it("refuses a newer layout that did more than append, and a rollback record that returns elsewhere", () => {
    const r = executed();
    r.storageLayoutDiff.vault = [{ label: "owner", type: "address", slot: "0", offset: 0, status: "retyped", file: "contracts/VaultV2.sol", line: 9 }];
    expect(rollbackProblems(r, facts()).join()).to.contain("owner retyped");
    const e = executed();
    const rb: ProposalRecord = { ...e, kind: "rollback", rollbackOf: { proposal: e.id, operationId: e.operationId, commit: e.commit, leftInStorage: {} }, operations: e.rollback!.operations.map((o) => (o.proxy === "vault" ? { ...o, newImplementation: A.attacker } : o)) };
    expect(rollbackRecordProblems(e, rb).join()).to.contain(`returns to ${A.attacker}, not to ${A.vaultV1}`);
  });

  it("the record's kinds: each carries what it needs, and a bad file names the field", () => {
    const base = { ...record(), safeTransactions: [] };
    const message = (r: unknown) => {
      try {
        parseWith(ProposalRecord, r, "proposals/default/x.json");
        return "parsed";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(message(base)).to.equal("parsed");
    expect(message({ ...base, operations: [] })).to.equal("proposals/default/x.json: operations: expected at least one operation (a record of kind upgrade)");
    expect(message({ ...base, kind: "governance" })).to.contain("actions: expected at least one action");
    expect(message({ ...base, kind: "rollback" })).to.contain("rollbackOf: expected the proposal a rollback record rolls back");
  });
});
