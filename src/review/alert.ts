import type { AlertKind } from "./operation.ts";

/**
 * An alert that is not an operation's review (pure): a governance event that happened on chain, such as
 * an upgrade that bypassed the timelock, a role change or a delay change. Markdown and JSON.
 */
export interface EventAlert {
  key: string;
  network: string;
  chainId: number;
  kind: AlertKind;
  status: "alert" | "retracted";
  title: string;
  message: string;
  /** The contract that emitted the event, as people know it ("timelock", "proxy vault", "ProxyAdmin of registry"). */
  contract: string;
  event: { name: string; address: string; block: number; blockHash: string; txHash: string; logIndex: number; args: Record<string, string> };
  from?: string;
  /** The timelock operation whose execution emitted the event, when there is one. */
  viaOperation?: string;
  remedy: string;
}

export function alertSummary(a: EventAlert): string {
  return `${a.status === "retracted" ? "RETRACTED: " : ""}${a.title}. ${a.message}`;
}

export function renderAlertMarkdown(a: EventAlert): string {
  const c = (s: string | number) => `\`${s}\``;
  const lines = [`## 🚨 ${a.title}`, ""];
  if (a.status === "retracted") {
    lines.push("> **RETRACTED.** The block with this event is no longer on the canonical chain (reorg). The event did not happen on the chain as it stands.", "");
  }
  lines.push("> [!CAUTION]", `> **${a.kind}**: ${a.message}`, "");
  lines.push("| Field | Value |", "| --- | --- |");
  lines.push(`| Network | ${a.network} (chain ${a.chainId}) |`);
  lines.push(`| Contract | ${a.contract} ${c(a.event.address)} |`);
  lines.push(`| Event | ${c(a.event.name)} ${Object.entries(a.event.args).map(([k, v]) => `${k}=${c(v)}`).join(", ")} |`);
  lines.push(`| Block | ${a.event.block} (${c(a.event.blockHash)}) |`);
  lines.push(`| Transaction | ${c(a.event.txHash)}${a.from ? ` from ${c(a.from)}` : ""} |`);
  if (a.viaOperation) lines.push(`| Through timelock operation | ${c(a.viaOperation)} |`);
  lines.push("", `**What to do:** ${a.remedy}`, "");
  return lines.join("\n");
}
