import { getAddress } from "ethers";
import { GatehouseError } from "../errors.ts";
import { displayPath } from "../fs/atomic.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import { safeTxHashes } from "../safe/hash.ts";
import { assertSafeTxShape } from "../safe/shape.ts";
import { safeTxData } from "../safe/transactions.ts";
import { operationIdOf, recordedCodeHash } from "../proposal/derive.ts";
import type { Setup } from "./setup.ts";
import { checkRollbackRecord } from "./rollback.ts";
import { governanceRecordProblems } from "./govern.ts";

export { assertSafeTxShape };

/**
 * Before anything is signed or sent: the record must describe this chain, its operation id must be the
 * hash of its calls, its Safe transactions must have Gatehouse's shape and their hashes, and every new
 * implementation must hold the bytecode the record says it does. That bytecode hash is recomputed with
 * the immutable ranges recorded at stage time, never from today's build: a later edit of the contract
 * must not make a legitimate pending proposal look stale.
 */
export async function checkProposalAgainstChain(setup: Setup, file: string, record: ProposalRecord): Promise<void> {
  const rel = displayPath(file);
  const stale = (reason: string) => new GatehouseError("PROPOSAL_STALE", { file: rel, reason });
  if (BigInt(record.chainId) !== setup.ctx.chainId) {
    throw new GatehouseError("CHAIN_MISMATCH", { file: rel, expected: record.chainId, network: setup.ctx.network, actual: setup.ctx.chainId });
  }
  if (getAddress(record.timelock) !== getAddress(setup.deployment.timelock.address)) throw stale(`timelock ${record.timelock} is not the deployed one (${setup.deployment.timelock.address})`);
  if (getAddress(record.safe) !== getAddress(setup.deployment.safe.address)) throw stale(`Safe ${record.safe} is not the deployed one (${setup.deployment.safe.address})`);
  const recomputed = operationIdOf(record);
  if (recomputed !== record.operationId) throw stale(`operationId ${record.operationId} is not the hash of its calls (${recomputed})`);
  for (const tx of record.safeTransactions) {
    assertSafeTxShape(tx, record.timelock);
    const hashes = safeTxHashes(BigInt(record.chainId), tx.safe, safeTxData(tx));
    if (hashes.safeTxHash !== tx.safeTxHash) throw stale(`Safe transaction ${tx.safeTxHash} (nonce ${tx.nonce}): its fields hash to ${hashes.safeTxHash}`);
  }
  for (const op of record.operations) {
    const code = await setup.ctx.ethers.provider.getCode(op.newImplementation);
    const expected = record.artifacts[op.proxy];
    if (code === "0x") throw stale(`new implementation ${op.newImplementation} of '${op.proxy}' has no code`);
    if (!expected) throw stale(`the record has no build entry (artifacts.${op.proxy}) for the new implementation of '${op.proxy}'`);
    // Records older than `immutableReferences` fall back to the current build's ranges (the old rule).
    const fallback = expected.immutableReferences ? undefined : (await setup.ctx.readArtifact(op.contract).catch(() => undefined))?.immutableReferences;
    const { actual } = recordedCodeHash(record, op.proxy, code, fallback);
    if (actual !== expected.bytecodeHash) throw stale(`new implementation of '${op.proxy}' has bytecode hash ${actual}, the record says ${expected.bytecodeHash}`);
  }
  // A rollback is also the exact return to what the proposal it names replaced, proven from the chain.
  if (record.kind === "rollback") await checkRollbackRecord(setup, file, record);
  // A governance change: its calls are what its typed actions derive, and it keeps the policy's topology.
  if (record.kind === "governance") {
    const problems = governanceRecordProblems(setup, record);
    if (problems.length > 0) throw new GatehouseError("GOVERNANCE_REFUSED", { reasons: `${rel}: ${problems.join("; ")}` }, { details: { reasons: problems } });
  }
}
