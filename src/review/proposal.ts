import type { ProposalRecord, SafeTxRecord } from "../records/proposal.ts";
import { decodeSchedule, decodeUpgradeCall, formatDuration } from "../timelock/calls.ts";
import { decodeGovernanceCall } from "../proposal/governance.ts";

/**
 * What a signer reads before approving (pure): the inner call decoded from the Safe transaction's own
 * calldata, so what is shown is what is signed, and the three hashes a hardware wallet displays.
 */
export interface DecodedProposal {
  function: string;
  operationId: string;
  delaySeconds: string;
  salt: string;
  predecessor: string;
  calls: { index: number; target: string; kind?: string; proxy?: string; proxyName?: string; newImplementation?: string; contract?: string; oldImplementation?: string; initializer?: string; raw?: string; governance?: string }[];
}

export function decodeProposal(record: ProposalRecord, safeTx: SafeTxRecord): DecodedProposal {
  const decoded = decodeSchedule(safeTx.data);
  return {
    function: decoded.function,
    operationId: decoded.operationId,
    delaySeconds: decoded.delay.toString(),
    salt: decoded.batch.salt,
    predecessor: decoded.batch.predecessor,
    calls: decoded.batch.calls.map((call, index) => {
      const upgrade = decodeUpgradeCall(call);
      if (!upgrade) {
        // A governance change in words, from the calldata being signed (the proxy's name alone comes from the record).
        const names = (record.actions ?? []).flatMap((a) => (a.action === "unpause" ? [{ name: a.proxy, address: a.proxyAddress }] : []));
        const g = decodeGovernanceCall(call, { timelock: record.timelock, proxies: names });
        const governance = !g
          ? undefined
          : g.action === "updateDelay"
            ? `updateDelay: the timelock's minimum delay becomes ${g.delaySeconds}s (${formatDuration(g.delaySeconds)})`
            : g.action === "unpause"
              ? `unpause() on ${g.proxyName ? `${g.proxyName} ` : ""}${g.proxy}`
              : `${g.action} ${g.roleName ?? g.role} ${g.action === "grantRole" ? "to" : "from"} ${g.account} on the timelock`;
        return { index, target: call.target, raw: call.data, ...(governance ? { governance } : {}) };
      }
      const op = record.operations.find((o) => o.proxyAddress.toLowerCase() === upgrade.proxy.toLowerCase());
      return {
        index,
        target: call.target,
        kind: upgrade.kind,
        proxy: upgrade.proxy,
        proxyName: op?.proxy,
        newImplementation: upgrade.implementation,
        contract: op?.newImplementation.toLowerCase() === upgrade.implementation.toLowerCase() ? op?.contract : undefined,
        oldImplementation: op?.oldImplementation,
        initializer: upgrade.initializer,
      };
    }),
  };
}

export function renderSafeTxSummary(input: {
  record: ProposalRecord;
  safeTx: SafeTxRecord;
  approvals: string[];
  threshold: number;
  cancelFile?: string;
}): string {
  const guardianTx = input.record.cancel?.guardianSafeTx;
  const { record, safeTx } = input;
  const d = decodeProposal(record, safeTx);
  const lines = [
    `Safe transaction ${safeTx.purpose === "schedule" ? "scheduling" : "executing"} proposal ${record.id}${record.rollbackOf ? ` (rollback of proposal ${record.rollbackOf.proposal})` : record.kind === "governance" ? " (governance change)" : ""} on TimelockController ${record.timelock}`,
    `  inner call     ${d.function} (${d.calls.length} call${d.calls.length === 1 ? "" : "s"})`,
    `  operation id   ${d.operationId}${d.operationId === record.operationId ? "" : `  (MISMATCH: the record says ${record.operationId})`}`,
    `  delay          ${d.delaySeconds}s (${formatDuration(BigInt(d.delaySeconds))})`,
    `  salt           ${d.salt}`,
    `  predecessor    ${d.predecessor}`,
    ...d.calls.map((c) =>
      c.kind
        ? `  call ${c.index + 1}         ${c.proxyName ?? "?"} (${c.kind} proxy ${c.proxy}${c.kind === "transparent" ? ` via ProxyAdmin ${c.target}` : ""}): new implementation ${c.newImplementation}${c.contract ? ` (${c.contract})` : ""}, was ${c.oldImplementation ?? "?"}${c.initializer && c.initializer !== "0x" ? `, then calls ${c.initializer}` : ""}`
        : c.governance
          ? `  call ${c.index + 1}         ${c.governance} (to ${c.target}, data ${c.raw})`
          : `  call ${c.index + 1}         ${c.target} data ${c.raw}`,
    ),
    `  Safe           ${safeTx.safe} nonce ${safeTx.nonce}`,
    `  safeTxHash     ${safeTx.safeTxHash}`,
    `  domain hash    ${safeTx.domainHash}`,
    `  message hash   ${safeTx.messageHash}`,
    `  approvals      ${input.approvals.length} of ${input.threshold}${input.approvals.length ? ` (${input.approvals.join(", ")})` : ""}`,
  ];
  if (input.cancelFile) lines.push(`  cancel path    guardian: \`gatehouse cancel ${record.operationId}\` or Transaction Builder file ${input.cancelFile}`);
  if (input.cancelFile && guardianTx) {
    lines.push(`  guardian Safe  ${guardianTx.safe} nonce ${guardianTx.nonce}: cancel safeTxHash ${guardianTx.safeTxHash}`, `                 domain hash ${guardianTx.domainHash}, message hash ${guardianTx.messageHash}`);
  }
  return lines.join("\n");
}
