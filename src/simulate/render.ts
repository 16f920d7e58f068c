import type { SimulationReport } from "./simulate.ts";

/** The simulation report as Markdown-ish text for a terminal, a job summary or a PR comment (pure). */
export function renderSimulation(r: SimulationReport): string {
  const L: string[] = [];
  L.push(`## Simulation of proposal ${r.proposal} on '${r.network}' (chain ${r.chainId}), fork at block ${r.forkBlock}`);
  L.push("", `Operation ${r.operationId}; ${r.start === "propose" ? "from the owners' approvals of the schedule transaction" : "already scheduled on chain: from the ETA"}.`);
  L.push("", "### Steps");
  for (const s of r.steps) {
    L.push(`- ${s.ok ? "success" : "REVERTED"}: ${s.name} (from ${s.from}, gas ${s.gasUsed})${s.revert ? `: ${s.revert}` : ""}`);
    for (const e of s.events) L.push(`    - ${e}`);
  }
  L.push("", `### State diff (${r.stateDiff.length} slot(s) changed, ${r.unknownSlots} unnamed)`);
  if (r.stateDiff.length === 0) L.push("- (no storage changed)");
  for (const c of r.stateDiff) {
    const what = c.name ? c.name.path : `unknown slot ${c.slot}`;
    const values = c.decoded ? c.decoded.map((d) => `${d.path}: ${d.before} -> ${d.after}`).join("; ") : `${c.before} -> ${c.after}`;
    L.push(`- ${c.accountLabel} ${c.account}: ${what}${c.name ? ` [slot ${c.slot}]` : ""}: ${values}`);
  }
  L.push("", "### Permission changes");
  L.push(...(r.permissions.length ? r.permissions.map((p) => `- ${p.what}: ${p.before} -> ${p.after}`) : ["- none (Safe owners, threshold, modules, guard, fallback handler; timelock roles and delay; proxy owners and admins)"]));
  L.push("", "### Balance changes");
  L.push(...(r.balances.length ? r.balances.map((b) => `- ${b.account}: ${b.before} -> ${b.after} wei (${b.delta})`) : ["- none"]));
  L.push("", "### Post-upgrade probes");
  L.push(...(r.probes.length ? r.probes.map((p) => `- ${p.ok ? "pass" : "FAIL"}: ${p.name} (${p.detail})`) : ["- not run"]));
  if (r.notes.length) L.push("", "### Notes", ...r.notes.map((n) => `- ${n}`));
  L.push("", r.findings.length ? `### ${r.findings.length} finding(s)` : "### No findings: the path completed, every write is allowed, no permission changed, every probe passed");
  for (const f of r.findings) L.push(`- ${f.kind}: ${f.message}`);
  return L.join("\n");
}
