import type { AuditResult, Finding, LayoutRow, LayoutStatus } from "./audit.ts";

/** Pure rendering of audit results for `gatehouse check` (Markdown for humans and PRs, JSON for tools). */

export interface CheckMeta {
  network: string;
  commit?: string;
}

export interface CheckReportJson {
  ok: boolean;
  network: string;
  commit: string | null;
  findingCount: number;
  proxies: {
    proxy: string;
    target: string;
    reference: string;
    ok: boolean;
    findings: Finding[];
    layoutDiff: LayoutRow[];
    allowedCalls: NonNullable<AuditResult["allowedCalls"]>;
  }[];
}

const BAD_STATUS: ReadonlySet<LayoutStatus> = new Set(["inserted", "deleted", "retyped", "renamed", "moved"]);

function countFindings(results: AuditResult[]): number {
  return results.reduce((n, r) => n + r.findings.length, 0);
}

/** Table cells: a pipe would end the cell and a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>");
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)];
}

function findingsSection(findings: Finding[]): string[] {
  if (findings.length === 0) return ["No findings."];
  return table(
    ["Location", "Rule", "Message", "Remedy"],
    findings.map((f) => [code(`${f.file}:${f.line}`), code(f.rule), f.message, f.remedy]),
  );
}

// Namespaced variables carry no slot of their own unless the namespaced compilation was available.
function slotText(row: LayoutRow): { slot: string; offset: string } {
  const unknown = row.namespace !== undefined && row.slot === row.namespace;
  return { slot: row.slot, offset: unknown ? "?" : String(row.offset) };
}

function layoutSection(rows: LayoutRow[]): string[] {
  if (rows.length === 0) return ["The target has no storage variables."];
  return table(
    ["Variable", "Type", "Slot", "Offset", "Status", "Declared at"],
    rows.map((r) => {
      const { slot, offset } = slotText(r);
      return [code(r.label), code(r.type), slot, offset, BAD_STATUS.has(r.status) ? `**${r.status}**` : r.status, code(`${r.file}:${r.line}`)];
    }),
  );
}

function proxySection(r: AuditResult): string[] {
  const verdict = r.findings.length === 0 ? "PASS" : `FAIL (${r.findings.length} finding${r.findings.length === 1 ? "" : "s"})`;
  return [
    `## ${r.proxy}: ${r.target} (reference: ${r.reference})`,
    "",
    `**${verdict}**`,
    "",
    "### Findings",
    "",
    ...findingsSection(r.findings),
    "",
    ...allowedSection(r.allowedCalls ?? []),
    "### Storage layout",
    "",
    ...layoutSection(r.layoutDiff),
    "",
  ];
}

// What the forbidden-construct walk trusted instead of reading: a reviewer should see it.
function allowedSection(allowed: NonNullable<AuditResult["allowedCalls"]>): string[] {
  if (allowed.length === 0) return [];
  return ["### Library calls not walked into", "", ...table(["Call at", "Function", "Why"], allowed.map((a) => [code(`${a.file}:${a.line}`), code(a.function), a.reason])), ""];
}

export function renderCheckMarkdown(results: AuditResult[], meta: CheckMeta): string {
  const count = countFindings(results);
  const failing = results.filter((r) => r.findings.length > 0).length;
  const overall =
    count === 0
      ? `**Result: PASS** — ${results.length} prox${results.length === 1 ? "y" : "ies"} checked, no findings.`
      : `**Result: FAIL** — ${count} finding${count === 1 ? "" : "s"} in ${failing} of ${results.length} prox${results.length === 1 ? "y" : "ies"}.`;
  return [
    `# Gatehouse check: ${meta.network}`,
    "",
    ...(meta.commit ? [`Commit: ${code(meta.commit)}`, ""] : []),
    overall,
    "",
    ...results.flatMap(proxySection),
  ].join("\n");
}

export function checkReportJson(results: AuditResult[], meta: CheckMeta): CheckReportJson {
  return {
    ok: countFindings(results) === 0,
    network: meta.network,
    commit: meta.commit ?? null,
    findingCount: countFindings(results),
    proxies: results.map((r) => ({
      proxy: r.proxy,
      target: r.target,
      reference: r.reference,
      ok: r.findings.length === 0,
      findings: r.findings.map((f) => ({ ...f })),
      layoutDiff: r.layoutDiff.map((row) => ({ ...row })),
      allowedCalls: (r.allowedCalls ?? []).map((a) => ({ ...a })),
    })),
  };
}
