import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import { loadBuild, hashBuildUnits, findContractRefByRuntimeCode, findContract, projectFile, type Build, type ContractRef } from "../check/build.ts";
import { auditUpgrade, type AuditResult, type Finding } from "../check/audit.ts";
import { renderCheckMarkdown, checkReportJson } from "../check/report.ts";
import { cacheKey, diskCheckCache, type CheckCache, type ValidationStore } from "../check/cache.ts";
import { refuseTrackedBuildOutputs } from "../check/tracked-outputs.ts";
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
export function checkProxy(build: Build, f: ProxyFacts, policy: Pick<Policy, "rules" | "compiler">, validations?: ValidationStore): ProxyCheck {
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
  const audit = auditUpgrade({ proxy: f.name, kind: f.kind, reference: { contract: live.ref }, target, rules: policy.rules, compiler: policy.compiler, build, validations });
  return { ...base, liveContract: live.ref.name, upToDate: false, audit, build: unit.id, liveBuild: live.ref.unit.id };
}

/**
 * The build units the audit reads: each target's (its artifact names it) and the unit of an artifact whose
 * code is the live implementation's. When no artifact has the live code (a stale unit, or a source no
 * longer in the project), every unit is read, so the search for the live code's build stays complete.
 */
function unitsNeeded(artifactsDir: string, facts: { liveCode: string; artifact?: object }[]): Set<string> | undefined {
  const ids = new Set<string>();
  const all = readArtifactsIn(artifactsDir, new Set(facts.map((f) => f.liveCode.length)));
  for (const f of facts) {
    const target = (f.artifact as { buildInfoId?: string } | undefined)?.buildInfoId;
    if (!target) return undefined;
    ids.add(target);
    const live = all.find((a) => a.buildInfoId && a.deployedBytecode.length > 2 && runtimeMatches(f.liveCode, a));
    if (!live) return undefined;
    ids.add(live.buildInfoId!);
  }
  return ids;
}

const DEPLOYED_BYTECODE_KEY = /"deployedBytecode":\s*"/g;

/**
 * The artifacts under `dir` whose runtime code could be one of the live codes: runtimeMatches needs equal
 * lengths, so an artifact whose `deployedBytecode` string has another length is not parsed (most of them;
 * parsing every artifact was a fifth of check's own time). The length is read from the text when the key
 * occurs exactly once (a quote inside a JSON string is escaped, so the pattern cannot hide in one);
 * otherwise the artifact is parsed.
 */
function readArtifactsIn(dir: string, codeLengths: ReadonlySet<number>): (RuntimeArtifact & { buildInfoId?: string })[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".json") && !e.parentPath.includes("build-info"))
    .flatMap((e) => {
      const text = readFileSync(path.join(e.parentPath, e.name), "utf8");
      const keys = [...text.matchAll(DEPLOYED_BYTECODE_KEY)];
      if (keys.length === 1) {
        const start = keys[0]!.index + keys[0]![0].length;
        const end = text.indexOf('"', start);
        if (end > start && !codeLengths.has(end - start)) return [];
      }
      return [JSON.parse(text) as RuntimeArtifact & { buildInfoId?: string }];
    })
    .filter((a) => typeof a.deployedBytecode === "string");
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

/** What the results cache keeps of a run: the audits, and the units they read (for "what was compiled"). */
interface CachedRun {
  proxies: ProxyCheck[];
  units: { id: string; roots: string[] }[];
}

export async function runCheck(
  setup: Setup,
  opts: { compile?: boolean; commit?: string | null; progress?: (line: string) => void; cache?: CheckCache | null } = {},
): Promise<CheckResult> {
  const { ctx, policy, deployment } = setup;
  const compile: CompileSummary = { compiled: opts.compile !== false, units: [] };
  // Committed build outputs would steer Hardhat's compile cache to forged artifacts (src/check/tracked-outputs.ts).
  if (ctx.buildOutputs) refuseTrackedBuildOutputs(ctx.buildOutputs.projectRoot, ctx.buildOutputs.dirs);
  const before = new Set(existsSync(ctx.buildInfoDir) ? readdirSync(ctx.buildInfoDir) : []);
  if (compile.compiled) {
    opts.progress?.("check: compiling the contracts (hardhat build)...");
    const started = performance.now();
    await ctx.build();
    compile.seconds = (performance.now() - started) / 1000;
  }
  // Chain facts and artifacts first: they say which build units the audit needs, so only those are parsed.
  const facts: ({ c: Policy["contracts"][number]; i: number; proxy: string; liveImplementation: string; liveCode: string; artifact: Awaited<ReturnType<typeof ctx.readArtifact>> | undefined; proxyAdmin?: string })[] = [];
  // Independent reads: every proxy at once, and each proxy's reads side by side.
  facts.push(
    ...(await Promise.all(
      policy.contracts.map(async (c, i) => {
        const proxy = c.proxy ?? deployment.proxies[c.name]?.address;
        if (!proxy) throw notDeployed(`the proxy '${c.name}'`, ctx.network);
        const [liveImplementation, artifact, proxyAdmin] = await Promise.all([
          ctx.up.erc1967.getImplementationAddress(proxy).then((a) => getAddress(a)),
          ctx.readArtifact(c.contract).catch(() => undefined),
          c.kind === "transparent" ? ctx.up.erc1967.getAdminAddress(proxy).then((a) => getAddress(a)) : undefined,
        ]);
        const liveCode = await ctx.ethers.provider.getCode(liveImplementation);
        return { c, i, proxy: getAddress(proxy), liveImplementation, liveCode, artifact, ...(proxyAdmin ? { proxyAdmin } : {}) };
      }),
    )),
  );
  const needed = unitsNeeded(path.dirname(ctx.buildInfoDir), facts);
  const policyFile = `policies/${policy.network}.yaml`;
  // null: no persistent cache (each run validates and audits from scratch).
  const cache = opts.cache === null ? undefined : (opts.cache ?? diskCheckCache());
  // Everything the audits below are computed from (checkProxy is pure over these): a cached result is
  // reused only for the same bytes of the same build units, the same chain facts and artifacts, the same
  // policy rules and the same Gatehouse code (cache.ts).
  const resultKey = (units: { file: string; contentHash: string }[]) =>
    cacheKey("check-run", {
      dir: ctx.buildInfoDir,
      units,
      policyFile,
      rules: policy.rules,
      compiler: policy.compiler,
      facts: facts.map((f) => ({ i: f.i, name: f.c.name, kind: f.c.kind, contract: f.c.contract, proxy: f.proxy, proxyAdmin: f.proxyAdmin ?? null, liveImplementation: f.liveImplementation, liveCode: f.liveCode, artifact: f.artifact ?? null })),
    });
  const hashed = cache && facts.every((f) => f.artifact) ? hashBuildUnits(ctx.buildInfoDir, needed) : undefined;
  let run = hashed && (cache!.results.get(resultKey(hashed)) as CachedRun | undefined);
  if (!run || !Array.isArray(run.proxies) || !Array.isArray(run.units)) {
    const build: Build = loadBuild(ctx.buildInfoDir, needed);
    const proxies: ProxyCheck[] = [];
    for (const f of facts) {
      if (!f.artifact || !findContract(build, f.c.contract)) throw new GatehouseError("UNKNOWN_CONTRACT", { file: policyFile, path: `contracts.${f.i}.contract`, name: f.c.contract });
      proxies.push(checkProxy(build, { name: f.c.name, kind: f.c.kind, proxy: f.proxy, proxyAdmin: f.proxyAdmin, liveImplementation: f.liveImplementation, liveCode: f.liveCode, artifact: f.artifact, target: f.c.contract, policyFile }, policy, cache?.validations));
    }
    // Through JSON either way, so a cached run and a fresh one are the same values.
    run = JSON.parse(JSON.stringify({ proxies, units: build.units.map((u) => ({ id: u.id, roots: u.roots })) })) as CachedRun;
    if (cache) cache.results.put(resultKey(build.units.map((u) => ({ file: `${u.id}.json`, contentHash: u.contentHash! }))), run);
  }
  const proxies = run.proxies;
  if (compile.compiled) compile.units = run.units.filter((u) => !before.has(`${u.id}.json`)).map((u) => ({ id: u.id, sources: u.roots.map(projectFile) }));
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
