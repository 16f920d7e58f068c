import { governanceActionWords, nextStep, type NextStep } from "../proposal/derive.ts";
import { listProposals, type ProposalRecord } from "../records/proposal.ts";
import { safeTxStatus } from "../safe/transactions.ts";
import type { OperationState } from "../timelock/calls.ts";
import { latestTimestamp, operationState, wasCancelled, type Setup } from "./setup.ts";

/** `gatehouse status`: every proposal of the network with its Safe and timelock state, read from the chain. */
export interface ProposalStatus {
  id: string;
  operationId: string;
  proxies: string[];
  recordState: ProposalRecord["state"];
  operation: OperationState | "Cancelled";
  eta?: string;
  secondsLeft?: number;
  safeTxHash?: string;
  approvals?: number;
  threshold?: number;
  safeTxExecuted?: boolean;
  /** What moves it forward (the proposal domain's nextStep). */
  next: NextStep["step"];
}

export async function status(setup: Setup): Promise<ProposalStatus[]> {
  const now = await latestTimestamp(setup.ctx);
  const out: ProposalStatus[] = [];
  for (const { record } of listProposals(setup.root, setup.ctx.network)) {
    const op = await operationState(setup.timelock, record.operationId);
    const scheduleTx = record.safeTransactions.filter((t) => t.purpose === "schedule").at(-1);
    const safe = scheduleTx ? await safeTxStatus(setup.ctx, scheduleTx, setup.service) : undefined;
    const next = nextStep(record, {
      operation: op,
      now,
      cancelled: op.state === "Unset" && (await wasCancelled(setup, record.operationId)),
      ...(safe ? { scheduleTx: { executed: safe.executed, approvals: safe.approvals.length, threshold: safe.threshold } } : {}),
    });
    const cancelled = next.step === "cancelled";
    out.push({
      id: record.id,
      operationId: record.operationId,
      // What it changes, in the record's words: upgrades per proxy, a governance record's actions, a rollback says so.
      proxies: record.kind === "governance" ? (record.actions ?? []).map(governanceActionWords) : record.operations.map((o) => `${o.proxy} -> ${o.contract}${record.rollbackOf ? ` (rollback of ${record.rollbackOf.proposal})` : ""}`),
      recordState: record.state,
      operation: cancelled ? "Cancelled" : op.state,
      next: next.step,
      ...(op.eta > 1n ? { eta: new Date(Number(op.eta) * 1000).toISOString(), secondsLeft: Math.max(0, Number(op.eta - now)) } : {}),
      ...(scheduleTx && safe
        ? { safeTxHash: scheduleTx.safeTxHash, approvals: safe.approvals.length, threshold: safe.threshold, safeTxExecuted: safe.executed }
        : {}),
    });
  }
  return out;
}
