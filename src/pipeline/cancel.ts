import { Contract } from "ethers";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { cancelArtifact, proposalWords, type CancelArtifact } from "../proposal/derive.ts";
import { listProposals, withState, writeProposal, type ProposalRecord } from "../records/proposal.ts";
import type { TxBuilderFile } from "../review/tx-builder.ts";
import { readSafe } from "../safe/kit.ts";
import { ROLES } from "../timelock/calls.ts";
import { operationState, wasCancelled, type Setup } from "./setup.ts";

/**
 * `gatehouse cancel <operationId>`: the guardian cancels a pending operation. With a guardian Safe the
 * same call is written as a Transaction Builder file instead (`--builder-file`), for its owners to sign.
 */
export interface CancelResult {
  operationId: string;
  tx?: string;
  alreadyCancelled: boolean;
  builder?: TxBuilderFile;
}

/** The guardian Safe the Transaction Builder file is for: the only canceller, when it is a contract. */
export async function guardianSafe(setup: Setup): Promise<string | undefined> {
  const cancellers = setup.deployment.timelock.cancellers;
  if (cancellers.length !== 1) return undefined;
  return (await setup.ctx.ethers.provider.getCode(cancellers[0]!)) === "0x" ? undefined : cancellers[0];
}

/**
 * The cancel path of an operation as the guardian gets it, the same file whoever writes it: with its
 * proposal's words and creation time when a record names the operation, and a guardian Safe's hashes at
 * its current nonce.
 */
export async function cancelFor(setup: Setup, operationId: string, record?: ProposalRecord): Promise<CancelArtifact> {
  const proposal = record ?? listProposals(setup.root, setup.ctx.network).find((p) => p.record.operationId === operationId)?.record;
  const guardian = await guardianSafe(setup);
  return cancelArtifact({
    chainId: setup.ctx.chainId,
    timelock: setup.deployment.timelock.address,
    operationId,
    ...(proposal ? { what: proposalWords(proposal), createdAt: Date.parse(proposal.createdAt) } : {}),
    ...(guardian ? { guardianSafe: { safe: guardian, nonce: (await readSafe(setup.ctx, guardian)).nonce } } : {}),
  });
}

export async function cancelBuilder(setup: Setup, operationId: string): Promise<TxBuilderFile> {
  return (await cancelFor(setup, operationId)).txBuilder;
}

export async function cancel(opts: { setup: Setup; operationId: string; guardian: Actor }): Promise<CancelResult> {
  const { setup, operationId, guardian } = opts;
  if (!/^0x[0-9a-fA-F]{64}$/.test(operationId)) throw new GatehouseError("USAGE", { message: `operation id '${operationId}': expected a 0x-prefixed 32-byte hex value` });
  const op = await operationState(setup.timelock, operationId);
  const proposal = listProposals(setup.root, setup.ctx.network).find((p) => p.record.operationId === operationId);
  if (op.state === "Unset" || op.state === "Done") {
    const cancelled = await wasCancelled(setup, operationId);
    if (cancelled) {
      if (proposal) writeProposal(proposal.file, withState(proposal.record, "cancelled"));
      return { operationId, alreadyCancelled: true };
    }
    throw new GatehouseError("NOT_PENDING", { operationId, state: op.state });
  }
  if (!((await setup.timelock.hasRole(ROLES.CANCELLER_ROLE, guardian.address)) as boolean)) {
    throw new GatehouseError("NOT_CANCELLER", { address: guardian.address, timelock: setup.deployment.timelock.address });
  }
  const response = await (setup.timelock.connect(guardian.signer) as Contract).cancel(operationId);
  const receipt = await response.wait();
  if (proposal) writeProposal(proposal.file, withState(proposal.record, "cancelled", { tx: receipt!.hash }));
  return { operationId, tx: receipt!.hash, alreadyCancelled: false };
}
