import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { listProposals, type ProposalRecord, type SafeTxRecord } from "../records/proposal.ts";
import { approveSafeTx, safeTxStatus } from "../safe/transactions.ts";
import { safeTxHashes } from "../safe/hash.ts";
import { safeTxData } from "../safe/transactions.ts";
import type { Setup } from "./setup.ts";
import { assertSafeTxShape } from "./verify-record.ts";
import { verify, type VerifyCheck } from "./verify.ts";

/**
 * `gatehouse sign <safeTxHash>`: another owner approves a proposed Safe transaction (approveHash on
 * chain, or a signature on the service). Nothing is approved before the whole of `gatehouse verify`
 * passes for its proposal: Gatehouse's one Safe transaction shape, the hash recomputed from the recorded
 * fields, the record against the chain and the policy, and the implementations against the build at
 * the proposal's commit. An owner never approves what verify would not call verified.
 */
export interface SignResult {
  record: ProposalRecord;
  safeTx: SafeTxRecord;
  approvedNow: boolean;
  approvals: string[];
  threshold: number;
  executed: boolean;
  /** The verification that ran before approving (every check passed). */
  checks: VerifyCheck[];
}

export function findSafeTx(setup: Setup, safeTxHash: string): { file: string; record: ProposalRecord; safeTx: SafeTxRecord } {
  const wanted = safeTxHash.toLowerCase();
  for (const { file, record } of listProposals(setup.root, setup.ctx.network)) {
    const safeTx = record.safeTransactions.find((t) => t.safeTxHash.toLowerCase() === wanted);
    if (safeTx) return { file, record, safeTx };
  }
  throw new GatehouseError("FILE_NOT_FOUND", { file: `proposals/${setup.ctx.network}/`, what: `no proposal has Safe transaction ${safeTxHash}` });
}

/**
 * `build: "current"` compares with the working tree's build instead of the commit's: only for the
 * in-process demo on a Hardhat dev chain, refused anywhere else.
 */
export async function sign(opts: { setup: Setup; safeTxHash: string; signer: Actor; build?: "commit" | "current" }): Promise<SignResult> {
  const { setup, signer } = opts;
  const { file, record, safeTx } = findSafeTx(setup, opts.safeTxHash);
  assertSafeTxShape(safeTx, record.timelock);
  const recomputed = safeTxHashes(setup.ctx.chainId, safeTx.safe, safeTxData(safeTx));
  if (recomputed.safeTxHash !== safeTx.safeTxHash) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `Safe transaction ${safeTx.safeTxHash} (its fields hash to ${recomputed.safeTxHash})` });
  }
  if (opts.build === "current" && !setup.ctx.isDevNetwork) throw new GatehouseError("USAGE", { message: "signing against the current build is only for Hardhat dev networks (the demo)" });
  const v = await verify({ setup, proposal: { record, file }, build: opts.build ?? "commit" });
  const failed = v.checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    throw new GatehouseError(
      "SIGN_REFUSED",
      { safeTxHash: safeTx.safeTxHash, count: failed.length, failures: failed.map((c) => `${c.name} (${c.detail})`).join("; ") },
      { details: { checks: v.checks } },
    );
  }
  const approvedNow = await approveSafeTx(setup.ctx, setup.deployment, safeTx, signer, setup.service);
  const status = await safeTxStatus(setup.ctx, safeTx, setup.service);
  return { record, safeTx, approvedNow, approvals: status.approvals, threshold: status.threshold, executed: status.executed, checks: v.checks };
}
