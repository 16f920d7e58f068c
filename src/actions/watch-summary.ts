/**
 * Pure: the job summary of one `gatehouse watch --once` run (its --json result): how far it read, and
 * every post it wrote, updated or adopted, with alerts first.
 */
export interface WatchRunResult {
  ok: boolean;
  error?: { code: string; message: string };
  head: number;
  checkpoint: { block: number; hash: string };
  events: number;
  reorgs: number;
  /** `severity` says whether a post is an alert; an unknown operation is an alert in state "scheduled". */
  posts: { sink: string; key: string; state: string; severity: "review" | "alert"; action: "created" | "updated" | "adopted" | "unchanged" | "skipped" }[];
  pendingGroups: number;
  sinkErrors: string[];
}

export function watchSummaryMarkdown(network: string, r: WatchRunResult): string {
  const written = r.posts.filter((p) => p.action !== "unchanged" && p.action !== "skipped").sort((a, b) => Number(b.severity === "alert") - Number(a.severity === "alert"));
  const lines = [
    `## Gatehouse watch on \`${network}\``,
    "",
    `Read up to block ${r.checkpoint.block} (head ${r.head}): ${r.events} event(s)${r.reorgs ? `, ${r.reorgs} reorg(s) handled` : ""}${r.pendingGroups ? `, ${r.pendingGroups} waiting for a sink` : ""}.`,
    "",
  ];
  if (written.length === 0) lines.push("No new or changed post.");
  else lines.push("| Post | State | Sink | Action |", "| --- | --- | --- | --- |", ...written.map((p) => `| \`${p.key}\` | ${p.severity === "alert" ? `**alert** (${p.state})` : p.state} | ${p.sink} | ${p.action} |`));
  if (r.sinkErrors.length) lines.push("", "### Sink errors (retried on the next run)", "", ...r.sinkErrors.map((e) => `- ${e}`));
  return [...lines, ""].join("\n");
}
