import type { PostCheck } from "../pipeline/execute.ts";
import type { ProposalStatus } from "../pipeline/status.ts";
import { formatDuration } from "../timelock/calls.ts";

/**
 * Pure: what the scheduled executor does with each proposal, decided from `gatehouse status` alone, and
 * the job summary of what it did. Only two things are ever executed: a Safe transaction the owners have
 * fully approved (it schedules the operation), and an operation whose ETA has passed and that nobody
 * cancelled. Everything else is left for a later run, with the reason.
 */
export type ExecutionPlan = { action: "execute"; reason: string } | { action: "skip"; reason: string };

export interface ExecutionResult {
  id: string;
  operationId: string;
  action: "scheduled" | "executed" | "skipped" | "failed";
  detail: string;
  tx?: string;
  postChecks?: PostCheck[];
}

/** The step comes from the proposal domain (`nextStep`, via `gatehouse status`); this only words it. */
export function planExecution(p: ProposalStatus): ExecutionPlan {
  switch (p.next) {
    case "cancelled":
      return { action: "skip", reason: "cancelled by the guardian" };
    case "execute-operation":
      return { action: "execute", reason: "ETA passed" };
    case "wait":
      return { action: "skip", reason: `waiting: ${formatDuration(BigInt(p.secondsLeft ?? 0))} left (ETA ${p.eta ?? "?"})` };
    case "post-checks":
      // Executed by someone else (open executor role): record it and run the post-upgrade checks once.
      return p.recordState === "executed" ? { action: "skip", reason: "already executed" } : { action: "execute", reason: "executed elsewhere; recording it" };
    case "propose":
      return { action: "skip", reason: p.safeTxExecuted ? "Safe transaction executed but the operation is not scheduled" : "not proposed yet" };
    case "collect-approvals":
      return { action: "skip", reason: `waiting for approvals: ${p.approvals ?? 0} of ${p.threshold ?? "?"}` };
    case "execute-safe-tx":
      return { action: "execute", reason: `Safe transaction approved (${p.approvals} of ${p.threshold})` };
  }
}

export function executeSummaryMarkdown(network: string, results: ExecutionResult[]): string {
  const lines = [`## Gatehouse execute on \`${network}\``, ""];
  if (results.length === 0) return [...lines, "No proposal on this network.", ""].join("\n");
  lines.push("| Proposal | Operation | Result | Detail |", "| --- | --- | --- | --- |");
  for (const r of results) lines.push(`| \`${r.id}\` | \`${r.operationId.slice(0, 10)}…\` | ${r.action} | ${r.detail.replace(/\|/g, "\\|").replace(/\r?\n/g, " ")}${r.tx ? ` (tx \`${r.tx}\`)` : ""} |`);
  const checks = results.flatMap((r) => r.postChecks ?? []);
  if (checks.length) {
    lines.push("", "### Post-upgrade checks", "", "| Proxy | Implementation | Expected | Upgrade authority | |", "| --- | --- | --- | --- | --- |");
    for (const c of checks) lines.push(`| ${c.proxy} | \`${c.implementation}\` | \`${c.expected}\` | \`${c.authority}\` | ${c.ok ? "ok" : "**FAIL**"} |`);
  }
  return [...lines, ""].join("\n");
}
