import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { listProposals, type ProposalRecord, type SafeTxRecord } from "../records/proposal.ts";
import { approveSafeTx, safeTxStatus } from "../safe/transactions.ts";
import { safeTxHashes } from "../safe/hash.ts";
import { safeTxData } from "../safe/transactions.ts";
import type { Setup } from "./setup.ts";

/**
 * `gatehouse sign <safeTxHash>`: another owner approves a proposed Safe transaction on chain
 * (approveHash). The hash is recomputed from the recorded fields first, so an owner never approves a
 * hash that does not belong to the transaction it is shown as.
 */
export interface SignResult {
  record: ProposalRecord;
  safeTx: SafeTxRecord;
  approvedNow: boolean;
  approvals: string[];
  threshold: number;
  executed: boolean;
}

export function findSafeTx(setup: Setup, safeTxHash: string): { file: string; record: ProposalRecord; safeTx: SafeTxRecord } {
  const wanted = safeTxHash.toLowerCase();
  for (const { file, record } of listProposals(setup.root, setup.ctx.network)) {
    const safeTx = record.safeTransactions.find((t) => t.safeTxHash.toLowerCase() === wanted);
    if (safeTx) return { file, record, safeTx };
  }
  throw new GatehouseError("FILE_NOT_FOUND", { file: `proposals/${setup.ctx.network}/`, what: `no proposal has Safe transaction ${safeTxHash}` });
}

export async function sign(opts: { setup: Setup; safeTxHash: string; signer: Actor }): Promise<SignResult> {
  const { setup, signer } = opts;
  const { record, safeTx } = findSafeTx(setup, opts.safeTxHash);
  const recomputed = safeTxHashes(setup.ctx.chainId, safeTx.safe, safeTxData(safeTx));
  if (recomputed.safeTxHash !== safeTx.safeTxHash) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `Safe transaction ${safeTx.safeTxHash} (its fields hash to ${recomputed.safeTxHash})` });
  }
  const approvedNow = await approveSafeTx(setup.ctx, setup.deployment, safeTx, signer, setup.service);
  const status = await safeTxStatus(setup.ctx, safeTx, setup.service);
  return { record, safeTx, approvedNow, approvals: status.approvals, threshold: status.threshold, executed: status.executed };
}
