import { getAddress } from "ethers";
import { GatehouseError } from "../errors.ts";
import { displayPath } from "../fs/atomic.ts";
import { bytecodeHash } from "../plan/bytecode.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import { hashOperationBatch, type Batch } from "../timelock/calls.ts";
import type { Setup } from "./setup.ts";

export function batchOf(record: Pick<ProposalRecord, "operations" | "predecessor" | "salt">): Batch {
  return {
    calls: record.operations.map((o) => ({ target: o.call.target, value: BigInt(o.call.value), data: o.call.data })),
    predecessor: record.predecessor,
    salt: record.salt,
  };
}

/**
 * Before anything is signed or sent: the record must describe this chain, its operation id must be the
 * hash of its calls, and every new implementation must hold the bytecode the record says it does.
 */
export async function checkProposalAgainstChain(setup: Setup, file: string, record: ProposalRecord): Promise<void> {
  const rel = displayPath(file);
  const stale = (reason: string) => new GatehouseError("PROPOSAL_STALE", { file: rel, reason });
  if (BigInt(record.chainId) !== setup.ctx.chainId) {
    throw new GatehouseError("CHAIN_MISMATCH", { file: rel, expected: record.chainId, network: setup.ctx.network, actual: setup.ctx.chainId });
  }
  if (getAddress(record.timelock) !== getAddress(setup.deployment.timelock.address)) throw stale(`timelock ${record.timelock} is not the deployed one (${setup.deployment.timelock.address})`);
  if (getAddress(record.safe) !== getAddress(setup.deployment.safe.address)) throw stale(`Safe ${record.safe} is not the deployed one (${setup.deployment.safe.address})`);
  const recomputed = hashOperationBatch(batchOf(record));
  if (recomputed !== record.operationId) throw stale(`operationId ${record.operationId} is not the hash of its calls (${recomputed})`);
  for (const op of record.operations) {
    const code = await setup.ctx.ethers.provider.getCode(op.newImplementation);
    const expected = record.artifacts[op.proxy];
    if (code === "0x") throw stale(`new implementation ${op.newImplementation} of '${op.proxy}' has no code`);
    const artifact = await setup.ctx.readArtifact(op.contract).catch(() => undefined);
    const hash = bytecodeHash(code, artifact?.immutableReferences);
    if (expected && hash !== expected.bytecodeHash) throw stale(`new implementation of '${op.proxy}' has bytecode hash ${hash}, the record says ${expected.bytecodeHash}`);
  }
}
