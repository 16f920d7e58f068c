import { existsSync, readdirSync } from "node:fs";
import { getAddress } from "ethers";
import { loadBuild, findContractRefByRuntimeCode, findContract, projectFile, type Build, type ContractRef } from "../check/build.ts";
import { auditUpgrade, type AuditResult, type Finding } from "../check/audit.ts";
import { renderCheckMarkdown, checkReportJson } from "../check/report.ts";
import { GatehouseError, notDeployed } from "../errors.ts";
import { runtimeMatches, type RuntimeArtifact } from "../plan/bytecode.ts";
import type { Policy } from "../policy/schema.ts";
import type { Setup } from "./setup.ts";

/**
 * `gatehouse check`: compile, then for each governed proxy compare the live implementation with the
 * build of the contract the policy names (desired state). A proxy whose live code already is that build
 * is up to date; any other is audited against the contract its live code was built from.
 */
export interface ProxyCheck {
  name: string;
  kind: "uups" | "transparent";
  proxy: string;
  proxyAdmin?: string;
  liveImplementation: string;
  /** The contract the live implementation was built from, when the build still has it. */
  liveContract?: string;
  target: string;
  upToDate: boolean;
  audit?: AuditResult;
  /** The build unit (build-info id) the target was audited from. */
  build?: string;
  /** The build unit whose code is the live implementation. */
  liveBuild?: string;
}

export interface CheckResult {
  proxies: ProxyCheck[];
  findings: Finding[];
  markdown: string;
  json: ReturnType<typeof checkReportJson> & {
    upToDate: string[];
    build: CompileSummary & { proxies: { name: string; build: string | null; liveBuild: string | null }[] };
  };
}

/** What the effectful edge read for one governed proxy: its live code and the Hardhat artifact of its target. */
export interface ProxyFacts {
  name: string;
  kind: "uups" | "transparent";
  proxy: string;
  proxyAdmin?: string;
  liveImplementation: string;
  liveCode: string;
  /** The target's Hardhat artifact: the build unit that produced it is `buildInfoId`. */
  artifact: RuntimeArtifact & { buildInfoId?: string; inputSourceName?: string };
  target: string;
  /** Where the proxy is declared, for findings about the policy entry. */
  policyFile: string;
}

function missingBuildFinding(f: ProxyFacts, message: string, remedy: string): AuditResult {
  return { proxy: f.name, target: f.target, reference: `unknown (${f.liveImplementation})`, layoutDiff: [], findings: [{ proxy: f.name, rule: "build-unit-missing", file: f.policyFile, line: 1, message, remedy }] };
}

const REBUILD = "Rebuild from a clean state (`npx hardhat clean && npx hardhat build`) and run check again.";

/**
 * The audit of one proxy, pure over the loaded build. The target is the contract of the build unit its
 * artifact names (not any unit that happens to hold a contract of that name), and the reference is the
 * contract of the unit whose code *is* the live implementation: a stale unit still in artifacts/ can then
 * neither stand in for the target nor hide an in-place edit of the live contract.
 */
export function checkProxy(build: Build, f: ProxyFacts, policy: Pick<Policy, "rules" | "compiler">): ProxyCheck {
  const base = { name: f.name, kind: f.kind, proxy: f.proxy, proxyAdmin: f.proxyAdmin, liveImplementation: f.liveImplementation, target: f.target };
  const unit = build.units.find((u) => u.id === f.artifact.buildInfoId);
  const sourceName = f.artifact.inputSourceName ?? `project/${f.artifact.sourceName}`;
  const output = unit?.output.contracts[sourceName]?.[f.artifact.contractName];
  if (!unit || !output) {
    const audit = missingBuildFinding(
      f,
      `the artifact of ${f.target} names build ${f.artifact.buildInfoId ?? "(none)"}, which is not in ${build.dir}, so what would be deployed cannot be audited`,
      REBUILD,
    );
    return { ...base, upToDate: false, audit };
  }
  const target: ContractRef = { name: f.artifact.contractName, sourceName, file: projectFile(sourceName), fullyQualifiedName: `${sourceName}:${f.artifact.contractName}`, unit, output };
  if (runtimeMatches(f.liveCode, f.artifact)) return { ...base, liveContract: f.target, upToDate: true, build: unit.id };
  const live = findContractRefByRuntimeCode(build, f.liveCode);
  if (!live) {
    const audit = missingBuildFinding(
      f,
      `the live implementation ${f.liveImplementation} of '${f.name}' matches no contract in the build, so the build that produced it (and its storage layout) cannot be found`,
      `Keep the source of the deployed version in the project (for example as contracts/VaultV1.sol, unchanged) so the upgrade can be checked against it; edit a copy, not the deployed contract. ${REBUILD}`,
    );
    return { ...base, upToDate: false, audit, build: unit.id };
  }
  const audit = auditUpgrade({ proxy: f.name, kind: f.kind, reference: { contract: live.ref }, target, rules: policy.rules, compiler: policy.compiler, build });
  return { ...base, liveContract: live.ref.name, upToDate: false, audit, build: unit.id, liveBuild: live.ref.unit.id };
}

/** What `check` compiled: the build units this run wrote (empty when the sources had not changed). */
export interface CompileSummary {
  compiled: boolean;
  seconds?: number;
  units: { id: string; sources: string[] }[];
}

/** One line for people: what was compiled and which build each proxy was audited from. */
export function describeBuild(summary: CompileSummary, proxies: ProxyCheck[]): string[] {
  const compiled = !summary.compiled
    ? "Build: not compiled by this run (existing artifacts used)"
    : summary.units.length === 0
      ? `Build: compiled in ${summary.seconds?.toFixed(1)} s, nothing changed since the last build`
      : `Build: compiled in ${summary.seconds?.toFixed(1)} s: ${summary.units.map((u) => `${u.sources.join(", ")} -> ${u.id}`).join("; ")}`;
  const audited = proxies.map((p) => `${p.name}: ${p.target} from build ${p.build ?? "(not found)"}${p.liveBuild ? `, live code from build ${p.liveBuild}` : ""}`);
  return [compiled, ...(audited.length ? [`Audited: ${audited.join("; ")}`] : [])];
}

export async function runCheck(
  setup: Setup,
  opts: { compile?: boolean; commit?: string | null; progress?: (line: string) => void } = {},
): Promise<CheckResult> {
  const { ctx, policy, deployment } = setup;
  const compile: CompileSummary = { compiled: opts.compile !== false, units: [] };
  const before = new Set(existsSync(ctx.buildInfoDir) ? readdirSync(ctx.buildInfoDir) : []);
  if (compile.compiled) {
    opts.progress?.("check: compiling the contracts (hardhat build)...");
    const started = performance.now();
    await ctx.build();
    compile.seconds = (performance.now() - started) / 1000;
  }
  const build: Build = loadBuild(ctx.buildInfoDir);
  if (compile.compiled) compile.units = build.units.filter((u) => !before.has(`${u.id}.json`)).map((u) => ({ id: u.id, sources: u.roots.map(projectFile) }));
  const proxies: ProxyCheck[] = [];
  for (const [i, c] of policy.contracts.entries()) {
    const policyFile = `policies/${policy.network}.yaml`;
    if (!findContract(build, c.contract)) throw new GatehouseError("UNKNOWN_CONTRACT", { file: policyFile, path: `contracts.${i}.contract`, name: c.contract });
    const proxy = c.proxy ?? deployment.proxies[c.name]?.address;
    if (!proxy) throw notDeployed(`the proxy '${c.name}'`, ctx.network);
    const liveImplementation = getAddress(await ctx.up.erc1967.getImplementationAddress(proxy));
    const liveCode = await ctx.ethers.provider.getCode(liveImplementation);
    const artifact = await ctx.readArtifact(c.contract);
    const proxyAdmin = c.kind === "transparent" ? getAddress(await ctx.up.erc1967.getAdminAddress(proxy)) : undefined;
    proxies.push(checkProxy(build, { name: c.name, kind: c.kind, proxy: getAddress(proxy), proxyAdmin, liveImplementation, liveCode, artifact, target: c.contract, policyFile }, policy));
  }
  const results = proxies.flatMap((p) => (p.audit ? [p.audit] : []));
  const meta = { network: ctx.network, commit: opts.commit ?? undefined };
  const upToDate = proxies.filter((p) => p.upToDate).map((p) => `${p.name} (${p.target})`);
  const buildLines = describeBuild(compile, proxies);
  for (const line of buildLines) opts.progress?.(`check: ${line}`);
  const header = [...buildLines, ...(upToDate.length ? [`Up to date: ${upToDate.join(", ")}`] : [])].join("\n") + "\n\n";
  return {
    proxies,
    findings: results.flatMap((r) => r.findings),
    markdown: header + (results.length ? renderCheckMarkdown(results, meta) : `# Gatehouse upgrade check: ${ctx.network}\n\nPASS: nothing to upgrade.\n`),
    json: { ...checkReportJson(results, meta), upToDate, build: { ...compile, proxies: proxies.map((p) => ({ name: p.name, build: p.build ?? null, liveBuild: p.liveBuild ?? null })) } },
  };
}
