import type { ProposalRecord, SafeTxRecord } from "../records/proposal.ts";
import { decodeProposal } from "../review/proposal.ts";
import { formatDuration } from "../timelock/calls.ts";

/**
 * Pure: the job summary of the stage-and-propose workflow, which is what a signer opens from the
 * notification. The three hashes are the ones a hardware wallet shows; the link opens the transaction
 * in Safe{Wallet} (or in the Transaction Service for chains Safe{Wallet} does not serve).
 */

/** EIP-3770 short names Safe{Wallet} uses in its URLs. */
const SAFE_SHORT_NAMES: Record<string, string> = {
  "1": "eth",
  "10": "oeth",
  "56": "bnb",
  "100": "gno",
  "137": "matic",
  "324": "zksync",
  "8453": "base",
  "42161": "arb1",
  "43114": "avax",
  "59144": "linea",
  "84532": "basesep",
  "534352": "scr",
  "11155111": "sep",
};

export function safeLink(input: { chainId: number | bigint; safe: string; safeTxHash: string; serviceUrl?: string }): string | undefined {
  const short = SAFE_SHORT_NAMES[String(input.chainId)];
  if (short) return `https://app.safe.global/transactions/tx?safe=${short}:${input.safe}&id=multisig_${input.safe}_${input.safeTxHash}`;
  if (input.serviceUrl) return `${input.serviceUrl.replace(/\/+$/, "").replace(/\/api$/, "")}/api/v1/multisig-transactions/${input.safeTxHash}/`;
  return undefined;
}

export function proposalSummaryMarkdown(input: {
  network: string;
  record: ProposalRecord;
  safeTx: SafeTxRecord;
  approvals: string[];
  threshold: number;
  link?: string;
  status: string;
}): string {
  const { record, safeTx } = input;
  const d = decodeProposal(record, safeTx);
  const rows: [string, string][] = [
    ["Network", `\`${input.network}\` (chain ${record.chainId})`],
    ["Proposal", `\`${record.id}\` (\`proposals/${input.network}/${record.id}.json\`)`],
    ["Operation id", `\`${record.operationId}\``],
    ["Delay", `${record.delay}s (${formatDuration(BigInt(record.delay))})`],
    ["Safe", `\`${safeTx.safe}\` nonce ${safeTx.nonce}`],
    ["safeTxHash", `\`${safeTx.safeTxHash}\``],
    ["Domain hash", `\`${safeTx.domainHash}\``],
    ["Message hash", `\`${safeTx.messageHash}\``],
    ["Approvals", `${input.approvals.length} of ${input.threshold}`],
    ["Submitted", safeTx.via === "service" ? "to the Safe Transaction Service" : "on chain (approveHash)"],
    ["Safe link", input.link ? `[open the transaction](${input.link})` : "none for this chain"],
  ];
  const calls = d.calls.map((c) =>
    c.kind
      ? `${c.index + 1}. **${c.proxyName ?? c.proxy}** (${c.kind} proxy \`${c.proxy}\`): upgrade to \`${c.newImplementation}\`${c.contract ? ` (${c.contract})` : ""}, was \`${c.oldImplementation ?? "?"}\``
      : `${c.index + 1}. call \`${c.target}\` with data \`${c.raw}\``,
  );
  return [
    `## Gatehouse proposal on \`${input.network}\`: ${input.status}`,
    "",
    "| | |",
    "| --- | --- |",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    `The Safe transaction calls \`${d.function}\` on the TimelockController \`${record.timelock}\`:`,
    "",
    ...calls,
    "",
    "Signers: compare the safeTxHash, domain hash and message hash with what the hardware wallet shows.",
    "",
    `Cancel path (guardian, before the ETA): \`gatehouse cancel ${record.operationId} --network ${input.network}\` or the Transaction Builder file \`proposals/${input.network}/${record.id}.cancel.json\`.`,
    ...(record.cancel?.guardianSafeTx
      ? [
          "",
          `In the guardian Safe \`${record.cancel.guardianSafeTx.safe}\` (nonce ${record.cancel.guardianSafeTx.nonce}) that cancel has safeTxHash \`${record.cancel.guardianSafeTx.safeTxHash}\`, domain hash \`${record.cancel.guardianSafeTx.domainHash}\`, message hash \`${record.cancel.guardianSafeTx.messageHash}\`.`,
        ]
      : []),
    "",
  ].join("\n");
}
