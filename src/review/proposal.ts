import type { ProposalRecord, SafeTxRecord } from "../records/proposal.ts";
import { decodeSchedule, decodeUpgradeCall, formatDuration } from "../timelock/calls.ts";

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
  calls: { index: number; target: string; kind?: string; proxy?: string; proxyName?: string; newImplementation?: string; contract?: string; oldImplementation?: string; initializer?: string; raw?: string }[];
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
      if (!upgrade) return { index, target: call.target, raw: call.data };
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
    `Safe transaction ${safeTx.purpose === "schedule" ? "scheduling" : "executing"} proposal ${record.id} on TimelockController ${record.timelock}`,
    `  inner call     ${d.function} (${d.calls.length} call${d.calls.length === 1 ? "" : "s"})`,
    `  operation id   ${d.operationId}${d.operationId === record.operationId ? "" : `  (MISMATCH: the record says ${record.operationId})`}`,
    `  delay          ${d.delaySeconds}s (${formatDuration(BigInt(d.delaySeconds))})`,
    `  salt           ${d.salt}`,
    `  predecessor    ${d.predecessor}`,
    ...d.calls.map((c) =>
      c.kind
        ? `  call ${c.index + 1}         ${c.proxyName ?? "?"} (${c.kind} proxy ${c.proxy}${c.kind === "transparent" ? ` via ProxyAdmin ${c.target}` : ""}): new implementation ${c.newImplementation}${c.contract ? ` (${c.contract})` : ""}, was ${c.oldImplementation ?? "?"}${c.initializer && c.initializer !== "0x" ? `, then calls ${c.initializer}` : ""}`
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
