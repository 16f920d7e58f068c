import { z } from "zod";
import type { Policy } from "../policy/schema.ts";
import type { RelaxationKind } from "../policy/relaxations.ts";
import { artifactVerdict, CheckArtifact } from "./check-report.ts";

/**
 * Pure: the PR audit's decisions. The audit runs the base branch's tooling and policy (the trusted
 * side) against what the PR brings (claims): its Solidity sources, its policy files, its records.
 * What it decides here: which files changed, whether a change to proposals/ or deployments/ is the
 * bot's own record commit, which policy the upgrade check runs with, and how the report reads.
 */

/** Folders whose files are pipeline records: written by the bot, never by a PR. */
export const RECORD_DIRS = ["proposals/", "deployments/", ".openzeppelin/"] as const;

export const AuditFinding = z
  .object({
    kind: z.string(),
    file: z.string(),
    /** The field, for a policy relaxation. */
    path: z.string().optional(),
    message: z.string(),
  })
  .strict();
export type AuditFinding = z.infer<typeof AuditFinding> & { kind: RelaxationKind | "policy-invalid" | "records-changed" | "ci-config-changed" | "build-output-committed" };

/** The artifact the audit job uploads and the comment workflow reads (as data, never as code). */
export const AuditReport = z
  .object({
    version: z.literal(1),
    pr: z.number().int().positive().nullable(),
    headSha: z.string().nullable(),
    baseSha: z.string().nullable(),
    /** The base branch's configured networks: the ones audited. Empty: nothing to check on chain. */
    networks: z.array(z.string()),
    findings: z.array(AuditFinding),
    checks: z.array(CheckArtifact),
    /** Set when the changed records were accepted as the bot's own record commit, and why. */
    botRecords: z.string().optional(),
  })
  .strict();
export type AuditReport = z.infer<typeof AuditReport>;

/** Paths whose content differs between two trees (path -> blob id), sorted. */
export function changedFiles(base: Map<string, string>, pr: Map<string, string>): string[] {
  const all = new Set([...base.keys(), ...pr.keys()]);
  return [...all].filter((f) => base.get(f) !== pr.get(f)).sort();
}

const isRecord = (f: string) => RECORD_DIRS.some((d) => f.startsWith(d));

/**
 * Changes to records in a PR are findings, unless the PR is the bot's own record commit: its author
 * (GitHub's event payload, which no committer can set) is the configured bot AND every changed file is
 * a record. Both are needed: a human's PR may not edit records, and the bot's PR may not carry code.
 */
export function recordFindings(changed: string[], author: string | undefined, bot: string): { findings: AuditFinding[]; botRecords?: string } {
  const records = changed.filter(isRecord);
  if (records.length === 0) return { findings: [] };
  if (author === bot && changed.every(isRecord)) {
    return { findings: [], botRecords: `${records.length} record file(s) changed by ${bot}, and nothing else` };
  }
  const why = author === bot ? `the PR by ${bot} also changes ${changed.find((f) => !isRecord(f))}` : `the PR's author is ${author ?? "unknown"}, not the bot ${bot}`;
  return {
    findings: records.map((file) => ({
      kind: "records-changed",
      file,
      message: `${file} is a pipeline record: only the bot writes records (${why}). Records are claims checked against the chain; a PR that edits them needs a human decision.`,
    })),
  };
}

/** The workflows' own configuration: who the bot is, the protected branch, the networks and their RPC. */
export const CI_CONFIG_FILES = [".github/gatehouse.json"] as const;

/**
 * A change to the workflows' configuration is a finding: naming another bot would let that account's
 * record PRs pass as the bot's, and moving the protected branch or the networks moves what is trusted.
 */
export function ciConfigFindings(changed: string[]): AuditFinding[] {
  return changed
    .filter((f) => (CI_CONFIG_FILES as readonly string[]).includes(f))
    .map((file) => ({ kind: "ci-config-changed", file, message: `${file} configures the workflows' trust (the bot, the protected branch, the networks): a PR that changes it needs a human decision.` }));
}

/**
 * Build outputs, generated and never committed: Hardhat's paths.artifacts and paths.cache, and Gatehouse's
 * own .gatehouse/ (builds of commits that verify, sign and the watcher reuse; reports).
 */
export const BUILD_OUTPUT_DIRS = ["artifacts/", "cache/", ".gatehouse/"] as const;

/**
 * A PR that commits build outputs is a finding: once merged, a committed compile-cache entry can point the
 * build at forged artifacts in every later checkout at a predictable path (the audit's own, a runner's), so
 * `check` would audit them instead of the sources. The audit also deletes them before its own build.
 */
export function buildOutputFindings(changed: string[]): AuditFinding[] {
  return changed
    .filter((f) => BUILD_OUTPUT_DIRS.some((d) => f.startsWith(d)))
    .map((file) => ({ kind: "build-output-committed", file, message: `${file} is a build output (Hardhat's artifacts or compile cache, or a Gatehouse build of a commit): committed, it can make a build skip compiling and use forged artifacts. Remove it from git.` }));
}

/**
 * The policy the upgrade check runs with: the base policy (rules, governance, compiler, chain, the
 * governed proxies) with only each governed proxy's target `contract` taken from the PR, since choosing
 * the target is what an upgrade PR does. Everything else the PR changes is compared, not applied.
 */
export function effectivePolicy(base: Policy, pr: Policy | undefined): Policy {
  if (!pr) return base;
  const targets = new Map(pr.contracts.map((c) => [c.name, c.contract]));
  return { ...base, contracts: base.contracts.map((c) => ({ ...c, contract: targets.get(c.name) ?? c.contract })) };
}

export function auditFailed(r: AuditReport): boolean {
  return r.findings.length > 0 || r.checks.some((c) => !c.ok) || r.networks.some((n) => !r.checks.some((c) => c.network === n));
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

/** The audit's Markdown: findings first, then each network's verdict and report. */
export function auditMarkdown(r: AuditReport, opts: { heading?: string; runUrl?: string; conclusion?: string } = {}): string {
  const failed = auditFailed(r);
  const verdict = opts.conclusion && opts.conclusion !== "success" && !failed ? `FAIL (the run concluded ${opts.conclusion})` : failed ? "FAIL" : "PASS";
  const lines = [
    `## ${opts.heading ?? "Gatehouse PR audit"}: ${verdict}`,
    "",
    [r.headSha ? `Commit \`${r.headSha}\`` : undefined, r.baseSha ? `against base \`${r.baseSha}\`` : undefined, opts.runUrl ? `[workflow run](${opts.runUrl})` : undefined].filter(Boolean).join(" · "),
    "",
    "The base branch's tooling and policy audited this PR's contracts; a policy change in the PR is compared with the base policy, not applied.",
    "",
  ];
  if (r.findings.length) {
    lines.push(`### Findings (${r.findings.length}): a human decides`, "", "| Finding | File | Detail |", "| --- | --- | --- |");
    for (const f of r.findings) lines.push(`| \`${f.kind}\` | \`${cell(f.file)}\` | ${cell(f.message)} |`);
    lines.push("");
  }
  if (r.botRecords) lines.push(`Records: accepted as the bot's own record commit (${r.botRecords}).`, "");
  if (r.networks.length === 0) lines.push("Upgrade check: nothing to check (the base branch configures no network: policies/<network>.yaml with deployments/<network>.json).", "");
  else {
    const byNetwork = new Map(r.checks.map((c) => [c.network, c]));
    lines.push("| Network | Upgrade check |", "| --- | --- |", ...r.networks.map((n) => `| \`${n}\` | ${cell(artifactVerdict(byNetwork.get(n)))} |`), "");
    for (const n of r.networks) {
      const a = byNetwork.get(n);
      if (a?.markdown) lines.push(`<details${a.ok ? "" : " open"}><summary>Report for <code>${n}</code></summary>`, "", a.markdown.trim(), "", "</details>", "");
    }
  }
  return lines.join("\n");
}
