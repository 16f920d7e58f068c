import { expect } from "chai";
import { ZeroHash, getAddress, id } from "ethers";
import { batchOf, cancelArtifact, chooseNonce, executeBatchArgs, nextStep, operationIdOf, recordedCodeHash, scheduleCalldata, type ChainView } from "../src/proposal/derive.ts";
import { bytecodeHash } from "../src/plan/bytecode.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isGatehouseError } from "../src/errors.ts";
import { readProposalFile, writeProposal, type ProposalRecord } from "../src/records/proposal.ts";
import { record as fixtureRecord } from "./helpers/watch-fixtures.ts";
import { txBuilderChecksum } from "../src/review/tx-builder.ts";
import { decodeSchedule, encodeCancel, hashOperationBatch, timelockInterface } from "../src/timelock/calls.ts";

const TIMELOCK = getAddress("0x" + "11".repeat(20));
const GUARDIAN = getAddress("0x" + "22".repeat(20));
const call = (n: number) => ({ target: getAddress("0x" + n.toString(16).padStart(40, "0")), value: "0", data: "0x4f1ef286" + n.toString(16).padStart(64, "0") });
const record = {
  operations: [1, 2].map((n) => ({ call: call(n) })) as unknown as ProposalRecord["operations"],
  predecessor: ZeroHash,
  salt: id("salt"),
  delay: "3600",
};

describe("proposal domain: one derivation of what a record means (pure)", () => {
  it("derives the batch, the operation id and the schedule calldata from the calls", () => {
    const batch = batchOf(record);
    expect(batch.calls.map((c) => c.target)).to.deep.equal([call(1).target, call(2).target]);
    expect(operationIdOf(record)).to.equal(hashOperationBatch(batch));
    const decoded = decodeSchedule(scheduleCalldata(record));
    expect(decoded.operationId).to.equal(operationIdOf(record));
    expect(decoded.delay).to.equal(3600n);
    const args = executeBatchArgs(record);
    expect(timelockInterface.encodeFunctionData("executeBatch", [args.targets, args.values, args.payloads, args.predecessor, args.salt])).to.match(/^0xe38335e5/);
  });

  it("hands out one cancel file per operation: same bytes and checksum wherever it is made", () => {
    const op = operationIdOf(record);
    const a = cancelArtifact({ chainId: 31337, timelock: TIMELOCK, operationId: op, what: "vault -> VaultV2", createdAt: 1000 });
    const b = cancelArtifact({ chainId: 31337n, timelock: TIMELOCK.toLowerCase(), operationId: op, what: "vault -> VaultV2", createdAt: 1000 });
    expect(JSON.stringify(a.txBuilder)).to.equal(JSON.stringify(b.txBuilder));
    expect(a.txBuilder.meta.checksum).to.equal(txBuilderChecksum(a.txBuilder));
    expect(a.calldata).to.equal(encodeCancel(op));
    expect(a.txBuilder.transactions[0]!.data).to.equal(a.calldata);
    expect(a.guardianSafeTx).to.equal(undefined);

    const g = cancelArtifact({ chainId: 31337, timelock: TIMELOCK, operationId: op, createdAt: 1000, guardianSafe: { safe: GUARDIAN, nonce: 4 } });
    expect(g.guardianSafeTx!.nonce).to.equal(4);
    expect(g.txBuilder.meta.createdFromSafeAddress).to.equal(GUARDIAN);
    expect(g.txBuilder.meta.description).to.contain(g.guardianSafeTx!.safeTxHash);
    // Another nonce is another guardian Safe transaction.
    expect(cancelArtifact({ chainId: 31337, timelock: TIMELOCK, operationId: op, guardianSafe: { safe: GUARDIAN, nonce: 5 } }).guardianSafeTx!.safeTxHash).to.not.equal(g.guardianSafeTx!.safeTxHash);
  });

  it("hashes on-chain code with the immutable ranges recorded at stage time, not today's build", () => {
    // 8 bytes of code whose bytes 2..5 are an immutable (e.g. UUPS __self): two deployments differ only there.
    const refs = { "7": [{ start: 2, length: 4 }] };
    const a = "0x6080aaaaaaaa5b00";
    const b = "0x6080bbbbbbbb5b00";
    const record = { artifacts: { vault: { contract: "VaultV2", sourceName: "contracts/VaultV2.sol", artifactHash: id("a"), bytecodeHash: bytecodeHash(a, refs), immutableReferences: refs } } };
    expect(recordedCodeHash(record, "vault", b)).to.deep.equal({ actual: bytecodeHash(a, refs), expected: bytecodeHash(a, refs) });
    // Today's build may place its immutables elsewhere: the recorded ranges win over the fallback.
    expect(recordedCodeHash(record, "vault", b, { "9": [{ start: 0, length: 1 }] }).actual).to.equal(bytecodeHash(a, refs));
    expect(recordedCodeHash(record, "registry", a)).to.deep.equal({ actual: bytecodeHash(a) });
  });

  it("chooses a Safe nonce no pending Gatehouse transaction or the service already took", () => {
    expect(chooseNonce({ safeNonce: 3, pendingNonces: [] })).to.equal(3);
    expect(chooseNonce({ safeNonce: 3, pendingNonces: [1, 2] })).to.equal(3);
    expect(chooseNonce({ safeNonce: 3, pendingNonces: [3, 5] })).to.equal(6);
    expect(chooseNonce({ safeNonce: 3, pendingNonces: [3], serviceNext: 9 })).to.equal(9);
    expect(chooseNonce({ safeNonce: 3, pendingNonces: [3], serviceNext: 9, sameOnService: 7 })).to.equal(7);
  });

  it("tells the next step from a view of the chain", () => {
    const scheduled = { safeTransactions: [{ purpose: "schedule" }] } as unknown as Pick<ProposalRecord, "safeTransactions">;
    const none = { safeTransactions: [] } as unknown as Pick<ProposalRecord, "safeTransactions">;
    const view = (v: Partial<ChainView>): ChainView => ({ operation: { state: "Unset", eta: 0n }, now: 100n, cancelled: false, ...v });
    expect(nextStep(none, view({})).step).to.equal("propose");
    expect(nextStep(scheduled, view({ scheduleTx: { executed: false, approvals: 1, threshold: 2 } }))).to.deep.equal({ step: "collect-approvals", have: 1, need: 2 });
    expect(nextStep(scheduled, view({ scheduleTx: { executed: false, approvals: 2, threshold: 2 } })).step).to.equal("execute-safe-tx");
    expect(nextStep(scheduled, view({ operation: { state: "Waiting", eta: 3700n } }))).to.deep.include({ step: "wait", secondsLeft: 3600n });
    expect(nextStep(scheduled, view({ operation: { state: "Ready", eta: 50n } })).step).to.equal("execute-operation");
    expect(nextStep(scheduled, view({ operation: { state: "Done", eta: 1n } })).step).to.equal("post-checks");
    // Cancelled: Unset again, with a Cancelled event, after its schedule transaction ran.
    expect(nextStep(scheduled, view({ cancelled: true, scheduleTx: { executed: true, approvals: 2, threshold: 2 } })).step).to.equal("cancelled");
    // A Cancelled event of an earlier round does not stop a new round whose transaction has not run yet.
    expect(nextStep(scheduled, view({ cancelled: true, scheduleTx: { executed: false, approvals: 2, threshold: 2 } })).step).to.equal("execute-safe-tx");
  });

  it("loads a version 1 record by migrating it, and refuses one whose layout rows are not layout rows", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-record-"));
    try {
      const v2 = { ...fixtureRecord(), safeTransactions: [] };
      const file = path.join(dir, `${v2.id}.json`);
      writeFileSync(file, JSON.stringify({ ...v2, version: 1 }));
      const loaded = readProposalFile(file);
      expect(loaded.version).to.equal(2);
      expect(loaded).to.deep.equal(v2);
      // Saved again, it is a version 2 file.
      writeProposal(file, loaded);
      expect(JSON.parse(readFileSync(file, "utf8")).version).to.equal(2);

      writeFileSync(file, JSON.stringify({ ...v2, version: 1, storageLayoutDiff: { vault: [{ label: "x", status: "sideways" }] } }));
      const err = (() => {
        try {
          readProposalFile(file);
        } catch (e) {
          return e;
        }
      })();
      expect(isGatehouseError(err, "FILE_INVALID") && err.exitCode, String(err)).to.equal(2);
      expect((err as Error).message).to.contain("storageLayoutDiff.vault.0");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
