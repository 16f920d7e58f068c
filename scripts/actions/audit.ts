#!/usr/bin/env node
// The PR check's audit, run from the BASE branch's checkout (the trusted tooling, config and policy),
// with the PR's checkout as data: it never imports, requires or executes a file of the PR.
//  1. the files the PR changes (git's blob ids of both checkouts); a change to proposals/,
//     deployments/ or .openzeppelin/ is a finding unless the PR is the bot's own record commit;
//  2. each policy file of the PR compared with the base's: every relaxation is a finding named as such;
//  3. the upgrade check per network the BASE configures, on the PR's Solidity sources (the folders of
//     `auditSources` in the base's .github/gatehouse.json, copied into this checkout) with the base
//     policy, only each proxy's target contract taken from the PR; read-only RPC from `readRpc`.
// Writes <report-dir>/audit.json (the artifact the comment workflow reads), the job summary, an error
// annotation per finding; fails (GH261) on any finding or failed check. "Nothing to check" (the base
// configures no network) is decided here, by the base's code, and is not a failure.
// Inputs: pr-dir (default $GITHUB_WORKSPACE), report-dir (default <pr-dir>/.gatehouse/report).
// Outside Actions: cd <base checkout> && node scripts/actions/audit.ts --pr-dir <PR checkout>
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { GatehouseError } from "../../src/errors.ts";
import { Policy } from "../../src/policy/schema.ts";
import { policyRelaxations } from "../../src/policy/relaxations.ts";
import { CheckArtifact } from "../../src/actions/check-report.ts";
import { auditFailed, auditMarkdown, buildOutputFindings, BUILD_OUTPUT_DIRS, changedFiles, effectivePolicy, recordFindings, ciConfigFindings, type AuditFinding, type AuditReport } from "../../src/actions/audit.ts";
import { readConfig } from "../../src/actions/config.ts";
import { runContext } from "../../src/actions/github.ts";
import { actionsIO, InputError } from "../../src/actions/io.ts";
import { configuredNetworks, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
await runAction(io, async () => {
  const baseRoot = process.cwd();
  const prDir = path.resolve(io.input("pr-dir", { fallback: process.env.GITHUB_WORKSPACE ?? "" }) || ".");
  if (prDir === baseRoot) throw new InputError("input pr-dir: the PR's checkout must not be the base checkout this script runs from");
  const reportDir = path.resolve(io.input("report-dir", { fallback: path.join(prDir, ".gatehouse/report") }));
  const config = readConfig(baseRoot);
  const ctx = runContext();
  const pull = ctx.event.pull_request as { number?: number; user?: { login?: string }; head?: { sha?: string }; base?: { sha?: string } } | undefined;

  // 1. What the PR changes, and its records.
  const changed = changedFiles(tree(baseRoot), tree(prDir));
  const records = recordFindings(changed, pull?.user?.login, config.bot);
  const findings: AuditFinding[] = [...records.findings, ...ciConfigFindings(changed), ...buildOutputFindings(changed)];

  // 2. Policies: every relaxation against the base is a finding.
  const prPolicies = new Map<string, Policy>();
  const policyFiles = [...new Set([...changed, ...listPolicies(baseRoot)].filter((f) => /^policies\/[^/]+\.yaml$/.test(f)))].sort();
  for (const file of policyFiles) {
    const base = readPolicy(baseRoot, file);
    const pr = readPolicy(prDir, file);
    if (pr.error) {
      findings.push({ kind: "policy-invalid", file, message: `the PR's ${file} is not a valid policy (${pr.error}); it cannot be compared with the base policy` });
      continue;
    }
    if (pr.policy) prPolicies.set(file, pr.policy);
    for (const r of policyRelaxations(base.policy, pr.policy)) findings.push({ kind: r.kind, file, path: r.path, message: `policy relaxation (${r.kind}): ${r.message}` });
  }

  // 3. The upgrade check on the networks the base configures, with the PR's sources.
  const networks = configuredNetworks(baseRoot);
  const checks: CheckArtifact[] = [];
  if (networks.length) {
    // The base checkout's build outputs, if any were ever committed, are not trusted: the build makes its own.
    for (const dir of BUILD_OUTPUT_DIRS) rmSync(path.join(baseRoot, dir), { recursive: true, force: true });
    for (const folder of config.auditSources) {
      rmSync(path.join(baseRoot, folder), { recursive: true, force: true });
      // Symbolic links are not followed: a PR's source tree is data, and stays inside the PR.
      if (existsSync(path.join(prDir, folder))) cpSync(path.join(prDir, folder), path.join(baseRoot, folder), { recursive: true, filter: (src) => !lstatSync(src).isSymbolicLink() });
    }
    const scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-audit-"));
    try {
      for (const network of networks) {
        const file = `policies/${network}.yaml`;
        const base = readPolicy(baseRoot, file).policy!;
        writeFileSync(path.join(baseRoot, file), stringifyYaml(effectivePolicy(base, prPolicies.get(file))));
        checks.push(checkNetwork(network, baseRoot, scratch, config.readRpc[network], pull?.head?.sha ?? ctx.sha ?? null));
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  const report: AuditReport = {
    version: 1,
    pr: typeof pull?.number === "number" ? pull.number : null,
    headSha: pull?.head?.sha ?? ctx.sha ?? null,
    baseSha: pull?.base?.sha ?? null,
    networks,
    findings,
    checks,
    ...(records.botRecords ? { botRecords: records.botRecords } : {}),
  };
  mkdirSync(reportDir, { recursive: true });
  const out = path.join(reportDir, "audit.json");
  writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + "\n");
  rmSync(out, { force: true });
  cpSync(`${out}.tmp`, out);
  rmSync(`${out}.tmp`);
  for (const f of findings) io.annotate({ level: "error", title: `gatehouse audit: ${f.kind}`, message: f.message, file: f.file });
  io.output("finding-count", findings.length);
  io.output("networks", JSON.stringify(networks));
  await io.summary(auditMarkdown(report, { runUrl: ctx.runUrl }));
  if (auditFailed(report)) {
    const failedChecks = networks.filter((n) => !checks.find((c) => c.network === n)?.ok);
    throw new GatehouseError("PR_AUDIT_FAILED", {
      summary: [findings.length ? `${findings.length} finding(s): ${[...new Set(findings.map((f) => f.kind))].join(", ")}` : "", failedChecks.length ? `upgrade check failed on ${failedChecks.join(", ")}` : ""].filter(Boolean).join("; "),
    });
  }
  io.log(networks.length ? `audit passed on ${networks.join(", ")}` : "audit passed; nothing to check on chain (the base configures no network)");
});

/** Tracked files of a checkout and their blob ids (git's index: exactly the checked-out commit). */
function tree(dir: string): Map<string, string> {
  const r = spawnSync("git", ["ls-files", "-s", "-z"], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new InputError(`${dir}: not a git checkout (${r.stderr.trim()})`);
  const m = new Map<string, string>();
  for (const entry of r.stdout.split("\0").filter(Boolean)) {
    const tab = entry.indexOf("\t");
    m.set(entry.slice(tab + 1), entry.slice(0, tab));
  }
  return m;
}

function listPolicies(root: string): string[] {
  return [...tree(root).keys()].filter((f) => f.startsWith("policies/"));
}

/** A policy file as data: absent, valid, or why it is not. */
function readPolicy(root: string, file: string): { policy?: Policy; error?: string } {
  const p = path.join(root, file);
  if (!existsSync(p)) return {};
  try {
    const parsed = Policy.safeParse(parseYaml(readFileSync(p, "utf8")));
    if (parsed.success) return { policy: parsed.data };
    const issue = parsed.error.issues[0]!;
    return { error: `${issue.path.join(".") || "(root)"}: ${issue.message}` };
  } catch (e) {
    return { error: (e as Error).message.split("\n")[0]! };
  }
}

/** The base's own check.ts on one network, in a child process: its annotations go to this step's log. */
function checkNetwork(network: string, root: string, scratch: string, readRpc: string | undefined, commit: string | null): CheckArtifact {
  const reportDir = path.join(scratch, network);
  const env: NodeJS.ProcessEnv = { ...process.env, INPUT_COMMIT: commit ?? "", INPUT_NETWORK: network, "INPUT_REPORT-DIR": reportDir, GITHUB_OUTPUT: path.join(scratch, `${network}.out`), GITHUB_STEP_SUMMARY: path.join(scratch, `${network}.md`) };
  delete env.GATEHOUSE_RPC_URL;
  if (readRpc) env.GATEHOUSE_RPC_URL = readRpc;
  writeFileSync(env.GITHUB_OUTPUT!, "");
  writeFileSync(env.GITHUB_STEP_SUMMARY!, "");
  spawnSync(process.execPath, ["scripts/actions/check.ts"], { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
  const file = path.join(reportDir, `${network}.json`);
  if (!existsSync(file)) return { network, ok: false, findingCount: 0, error: "the check wrote no report" };
  return CheckArtifact.parse(JSON.parse(readFileSync(file, "utf8")));
}
