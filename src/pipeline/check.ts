import { getAddress } from "ethers";
import { loadBuild, findContractByRuntimeCode, findContract, type Build } from "../check/build.ts";
import { auditUpgrade, type AuditResult, type Finding } from "../check/audit.ts";
import { renderCheckMarkdown, checkReportJson } from "../check/report.ts";
import { GatehouseError, notDeployed } from "../errors.ts";
import { runtimeMatches } from "../plan/bytecode.ts";
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
}

export interface CheckResult {
  proxies: ProxyCheck[];
  findings: Finding[];
  markdown: string;
  json: ReturnType<typeof checkReportJson> & { upToDate: string[] };
}

export async function runCheck(setup: Setup, opts: { compile?: boolean; commit?: string | null } = {}): Promise<CheckResult> {
  const { ctx, policy, deployment } = setup;
  if (opts.compile !== false) await ctx.build();
  const build: Build = loadBuild(ctx.buildInfoDir);
  const proxies: ProxyCheck[] = [];
  for (const [i, c] of policy.contracts.entries()) {
    const where = { file: `policies/${policy.network}.yaml`, path: `contracts.${i}.contract` };
    if (!findContract(build, c.contract)) throw new GatehouseError("UNKNOWN_CONTRACT", { ...where, name: c.contract });
    const proxy = c.proxy ?? deployment.proxies[c.name]?.address;
    if (!proxy) throw notDeployed(`the proxy '${c.name}'`, ctx.network);
    const liveImplementation = getAddress(await ctx.up.erc1967.getImplementationAddress(proxy));
    const liveCode = await ctx.ethers.provider.getCode(liveImplementation);
    const artifact = await ctx.readArtifact(c.contract);
    const proxyAdmin = c.kind === "transparent" ? getAddress(await ctx.up.erc1967.getAdminAddress(proxy)) : undefined;
    const base = { name: c.name, kind: c.kind, proxy: getAddress(proxy), proxyAdmin, liveImplementation, target: c.contract };
    if (runtimeMatches(liveCode, artifact)) {
      proxies.push({ ...base, liveContract: c.contract, upToDate: true });
      continue;
    }
    const live = findContractByRuntimeCode(build, liveCode);
    const audit = live
      ? auditUpgrade({ proxy: c.name, kind: c.kind, reference: { contract: live.contract }, target: c.contract, rules: policy.rules, compiler: policy.compiler, build })
      : {
          proxy: c.name,
          target: c.contract,
          reference: `unknown (${liveImplementation})`,
          layoutDiff: [],
          findings: [
            {
              proxy: c.name,
              rule: "unknown-live-implementation",
              file: where.file,
              line: 1,
              message: `the live implementation ${liveImplementation} of '${c.name}' matches no contract in the build, so its storage layout cannot be compared`,
              remedy: "keep the source of the deployed version in contracts/ (for example as VaultV1.sol) so the upgrade can be checked against it",
            },
          ],
        };
    proxies.push({ ...base, liveContract: live?.contract, upToDate: false, audit });
  }
  const results = proxies.flatMap((p) => (p.audit ? [p.audit] : []));
  const meta = { network: ctx.network, commit: opts.commit ?? undefined };
  const upToDate = proxies.filter((p) => p.upToDate).map((p) => `${p.name} (${p.target})`);
  const header = upToDate.length ? `Up to date: ${upToDate.join(", ")}\n\n` : "";
  return {
    proxies,
    findings: results.flatMap((r) => r.findings),
    markdown: header + (results.length ? renderCheckMarkdown(results, meta) : `# Gatehouse upgrade check: ${ctx.network}\n\nPASS: nothing to upgrade.\n`),
    json: { ...checkReportJson(results, meta), upToDate },
  };
}
