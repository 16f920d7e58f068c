import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Interface, getAddress } from "ethers";
import { checkImmutableValues, immutableDeclarations, type ImmutableNames } from "../build/immutables.ts";
import { buildAtCommit, commitBuildDir } from "../build/at-commit.ts";
import { PROJECT_SOURCES, type BuiltArtifact } from "../build/target.ts";
import { GatehouseError } from "../errors.ts";
import { deriveSalt, upgradeCall } from "../plan/plan.ts";
import { runtimeMatches, type ImmutableReferences } from "../plan/bytecode.ts";
import type { Policy } from "../policy/schema.ts";
import type { DeploymentRecord } from "../records/deployment.ts";
import { proposalFile, readProposalFile, resolveProposal, type ProposalRecord } from "../records/proposal.ts";
import { leftInStorage, rollbackProblems } from "../proposal/rollback.ts";
import { readRollbackFacts } from "./rollback.ts";
import { governanceRules } from "./govern.ts";
import { decodeGovernanceCall, governanceCallProblems, governanceProblems, governanceVerdict } from "../proposal/governance.ts";
import { safeCall, safeTxHashes } from "../safe/hash.ts";
import { describeShapeViolations, safeTxShapeViolations } from "../safe/shape.ts";
import { safeTxData } from "../safe/transactions.ts";
import { decodeSchedule, decodeUpgradeCall } from "../timelock/calls.ts";
import { batchOf, cancelArtifact, executeCalldata, operationIdOf } from "../proposal/derive.ts";
import { sourceOf, type Setup } from "./setup.ts";
import { terminalSafe } from "../review/untrusted.ts";
import { checkSignerPacket } from "./packet.ts";

/**
 * `gatehouse verify <proposal|operationId>`: recompute everything a signer must trust, without trusting
 * the record: the calldata from the operations in words, the salt and operation id, every Safe
 * transaction's shape, three hashes and decoded inner call, that each operation upgrades a proxy of the
 * policy to the policy's target contract, and that each new implementation's on-chain bytecode is the
 * build of that contract at the proposal's commit (a full SHA on the protected branch, built by
 * buildAtCommit without the verifier's secrets). Immutables are checked where their value is known
 * (UUPSUpgradeable's `__self`), and listed as unchecked otherwise. Then what the batch does: simulated
 * on a fork and compared with the signer packet (src/pipeline/packet.ts).
 */
export interface VerifyCheck {
  name: string;
  /** False: a mismatch. True: proven, or (with `unchecked`) not a mismatch but not proven either. */
  ok: boolean;
  detail: string;
  /** Not proven: the output says so instead of "ok" (e.g. an immutable whose value cannot be derived). */
  unchecked?: boolean;
}

type Check = (name: string, ok: boolean, detail: string, unchecked?: boolean) => void;

function collector(): { checks: VerifyCheck[]; check: Check } {
  const checks: VerifyCheck[] = [];
  return { checks, check: (name, ok, detail, unchecked) => checks.push({ name, ok, detail, ...(unchecked ? { unchecked: true } : {}) }) };
}

/** What the record says, recomputed from itself (pure): calldata, salt, operation id, cancel path, Safe transactions. */
export function verifyRecord(record: ProposalRecord): VerifyCheck[] {
  const { checks, check } = collector();
  for (const op of record.operations) {
    const expected = upgradeCall({ kind: op.kind, proxy: op.proxyAddress, proxyAdmin: op.proxyAdmin }, op.newImplementation, op.initializer);
    const ok = expected.target === getAddress(op.call.target) && expected.data === op.call.data && op.call.value === "0";
    const decoded = decodeUpgradeCall({ target: op.call.target, value: BigInt(op.call.value), data: op.call.data });
    check(`calldata of '${op.proxy}'`, ok, ok ? `${op.kind} upgrade of ${op.proxyAddress} to ${op.newImplementation}` : `the call does not upgrade ${op.proxyAddress} to ${op.newImplementation} (it decodes to ${decoded ? `${decoded.proxy} -> ${decoded.implementation}` : "something else"})`);
  }
  const batch = batchOf(record);
  const salt = deriveSalt(BigInt(record.chainId), record.timelock, batch.calls, record.round);
  check("salt", salt === record.salt, salt === record.salt ? `derived from the content (round ${record.round})` : `recomputed ${salt}, the record says ${record.salt}`);
  const operationId = operationIdOf(record);
  check("operation id", operationId === record.operationId, operationId === record.operationId ? operationId : `recomputed ${operationId}, the record says ${record.operationId}`);
  if (record.cancel) {
    const ok = record.cancel.calldata === cancelArtifact({ chainId: record.chainId, timelock: record.timelock, operationId: record.operationId }).calldata && getAddress(record.cancel.target) === getAddress(record.timelock);
    check("cancel path", ok, ok ? `cancel(${record.operationId.slice(0, 10)}…) on the timelock` : `the recorded cancel call does not cancel ${record.operationId} on ${record.timelock}`);
    const g = record.cancel.guardianSafeTx;
    if (g) {
      const hashes = safeTxHashes(BigInt(record.chainId), g.safe, safeCall(record.timelock, record.cancel.calldata, g.nonce));
      const same = hashes.safeTxHash === g.safeTxHash && hashes.domainHash === g.domainHash && hashes.messageHash === g.messageHash;
      check("guardian Safe cancel hashes", same, same ? `safeTxHash ${g.safeTxHash} (domain hash ${g.domainHash}, message hash ${g.messageHash}) at nonce ${g.nonce}` : `recomputed safeTxHash ${hashes.safeTxHash}`);
    }
  }
  for (const tx of record.safeTransactions) {
    const label = `Safe transaction ${tx.purpose} (nonce ${tx.nonce})`;
    // The Safe a signature is for (the EIP-712 verifyingContract) is the record's, which verify holds to
    // the deployment's: the one the simulation runs.
    const sameSafe = getAddress(tx.safe) === getAddress(record.safe);
    check(`${label} Safe`, sameSafe, sameSafe ? `the proposal's Safe ${getAddress(tx.safe)}` : `it is for Safe ${tx.safe}, not the proposal's Safe ${record.safe}`);
    const violations = safeTxShapeViolations(tx, record.timelock);
    check(`${label} shape`, violations.length === 0, violations.length === 0 ? "a call to the timelock, value 0, operation 0, no gas refund" : describeShapeViolations(violations));
    const hashes = safeTxHashes(BigInt(record.chainId), tx.safe, safeTxData(tx));
    const hashesOk = hashes.safeTxHash === tx.safeTxHash && hashes.domainHash === tx.domainHash && hashes.messageHash === tx.messageHash;
    check(
      `${label} hashes`,
      hashesOk,
      hashesOk
        ? `safeTxHash ${tx.safeTxHash}, domain hash ${tx.domainHash}, message hash ${tx.messageHash}`
        : `recomputed safeTxHash ${hashes.safeTxHash}, domain hash ${hashes.domainHash}, message hash ${hashes.messageHash}`,
    );
    let ok = false;
    let detail: string;
    if (tx.purpose === "schedule") {
      try {
        const decoded = decodeSchedule(tx.data);
        ok = getAddress(tx.to) === getAddress(record.timelock) && decoded.operationId === record.operationId && decoded.delay.toString() === record.delay;
        detail = ok ? `${decoded.function} of operation ${decoded.operationId} with delay ${decoded.delay}s on the timelock` : `it schedules ${decoded.operationId} (delay ${decoded.delay}s) on ${tx.to}`;
      } catch (e) {
        detail = (e as Error).message;
      }
    } else {
      ok = getAddress(tx.to) === getAddress(record.timelock) && tx.data === executeCalldata(record);
      detail = ok ? `executeBatch of operation ${record.operationId} on the timelock` : `its data is not executeBatch of operation ${record.operationId} on the timelock`;
    }
    check(`${label} call`, ok, detail);
  }
  return checks;
}

/**
 * Every operation upgrades a proxy the policy governs, with the policy's kind, at the deployment's
 * address, to the policy's target contract, built from the project's sources (pure). The record's
 * `contract` is a claim; the policy says what the proxy must run.
 */
export function verifyAgainstPolicy(
  record: ProposalRecord,
  policy: Pick<Policy, "contracts">,
  deployment: Pick<DeploymentRecord, "proxies">,
  /** A rollback's targets: the contracts the proposal it undoes replaced (from rollbackTargets), not the policy's. */
  targets?: Record<string, string>,
): VerifyCheck[] {
  const { checks, check } = collector();
  for (const op of record.operations) {
    const entry = policy.contracts.find((c) => c.name === op.proxy);
    const address = entry?.proxy ?? deployment.proxies[op.proxy]?.address;
    const problems: string[] = [];
    const wanted = targets ? targets[op.proxy] : entry?.contract;
    if (!entry) problems.push(`the policy governs no proxy named '${op.proxy}'`);
    else {
      if (wanted !== op.contract) problems.push(`the record upgrades to ${op.contract}, ${targets ? "the rollback's target (what the earlier proposal replaced)" : "the policy's target"} is ${wanted ?? "none"}`);
      if (entry.kind !== op.kind) problems.push(`the record says ${op.kind}, the policy ${entry.kind}`);
      if (!address || getAddress(address) !== getAddress(op.proxyAddress)) problems.push(`the record's proxy ${op.proxyAddress} is not the governed one (${address ?? "none recorded"})`);
    }
    const built = record.artifacts[op.proxy];
    if (!built) problems.push("the record has no build entry for it");
    else if (built.contract !== op.contract) problems.push(`its build entry is for ${built.contract}`);
    else if (!PROJECT_SOURCES.some((s) => built.sourceName.startsWith(s))) problems.push(`its source ${built.sourceName} is not under ${PROJECT_SOURCES.join(", ")}`);
    check(
      `${targets ? "rollback" : "policy"} target of '${op.proxy}'`,
      problems.length === 0,
      problems.length === 0 ? `${op.contract} (${built!.sourceName}), ${targets ? "the contract the rolled-back proposal replaced" : "the policy's target"} for ${op.kind} proxy ${op.proxyAddress}` : problems.join("; "),
    );
  }
  return checks;
}

/**
 * The call an upgrade makes inside the proxy (upgradeToAndCall/upgradeAndCall data) runs with the timelock
 * as msg.sender: it may do anything the owner may, re-upgrading the proxy included. So it is allowed only
 * when empty, or a function the policy lists for that contract (`upgradeInitializers`), decoded with the
 * target's ABI from the build: the record's words are never the reference.
 */
export function checkInitializer(op: Pick<ProposalRecord["operations"][number], "proxy" | "initializer">, allowed: string[], abi: readonly unknown[] | undefined): VerifyCheck {
  const name = `initializer of '${op.proxy}'`;
  if (op.initializer === "0x") return { name, ok: true, detail: "none (the upgrade calls nothing in the proxy)" };
  if (!abi) return { name, ok: false, detail: `${op.initializer.slice(0, 10)}…: no build of the target to decode it with` };
  let decoded: ReturnType<Interface["parseTransaction"]> = null;
  try {
    decoded = new Interface(abi as never).parseTransaction({ data: op.initializer });
  } catch {
    decoded = null;
  }
  if (!decoded) return { name, ok: false, detail: `${op.initializer.slice(0, 10)}… is no function of the target contract` };
  const words = `${decoded.name}(${decoded.fragment.inputs.map((p, i) => `${p.name || `arg${i}`}=${String(decoded!.args[i])}`).join(", ")})`;
  if (!allowed.includes(decoded.name)) return { name, ok: false, detail: `${words} is not one of the policy's upgradeInitializers (${allowed.join(", ") || "none"}): it would run in the proxy with the timelock's rights` };
  return { name, ok: true, detail: `${words}, allowed by the policy` };
}

/** verify's checks of an implementation's immutables (src/build/immutables.ts decides). */
export function checkImmutables(code: string, refs: ImmutableReferences | undefined, names: ImmutableNames, implementation: string, label: string): VerifyCheck[] {
  const checks: VerifyCheck[] = checkImmutableValues(code, refs, names, implementation).map((c) => ({ ...c, name: `${label} immutable ${c.name}` }));
  if (Object.keys(refs ?? {}).length === 0) checks.push({ name: `${label} immutables`, ok: true, detail: "none" });
  return checks;
}

export interface VerifyResult {
  record: ProposalRecord;
  checks: VerifyCheck[];
  /** What the bytecode was compared with: the build at the record's commit, or (developer option) the current build. */
  build: { kind: "commit"; commit: string } | { kind: "current" } | { kind: "none"; reason: string };
  /** Every check passed against the build at a protected commit. Never true with the current build. */
  verified: boolean;
}

/**
 * `build: "current"` is a developer option: the bytecode is compared with the working tree's build, and
 * the result is never `verified`.
 */
export async function verify(opts: { setup: Setup; proposal: string | { record: ProposalRecord; file?: string }; build?: "commit" | "current" }): Promise<VerifyResult> {
  const { setup } = opts;
  const { ctx } = setup;
  const { record, file } =
    typeof opts.proposal === "string" ? resolveProposal(setup.root, ctx.network, opts.proposal) : { record: opts.proposal.record, file: opts.proposal.file ?? proposalFile(setup.root, ctx.network, opts.proposal.record.id) };
  // A rollback's implementations are the ones the earlier proposal replaced, built from its commit.
  const rollback = record.kind === "rollback" ? await verifyRollback(setup, record) : undefined;
  const targetOf = (proxy: string) => rollback?.targets[proxy] ?? setup.policy.contracts.find((c) => c.name === proxy)?.contract;
  const checks = [...verifyRecord(record), ...verifyAgainstPolicy(record, setup.policy, setup.deployment, rollback?.targets), ...(rollback?.checks ?? []), ...verifyGovernance(setup, record)];
  const check: Check = (name, ok, detail, unchecked) => checks.push({ name, ok, detail, ...(unchecked ? { unchecked: true } : {}) });
  check("chain", BigInt(record.chainId) === ctx.chainId, `record chain ${record.chainId}, network '${ctx.network}' chain ${ctx.chainId}`);
  check("timelock", getAddress(record.timelock) === getAddress(setup.deployment.timelock.address), `record ${record.timelock}, deployment ${setup.deployment.timelock.address}`);
  check("Safe", getAddress(record.safe) === getAddress(setup.deployment.safe.address), `record ${record.safe}, deployment ${setup.deployment.safe.address}`);
  for (const op of record.operations) {
    if (op.kind === "transparent") {
      const admin = getAddress(await ctx.up.erc1967.getAdminAddress(op.proxyAddress));
      check(`ProxyAdmin of '${op.proxy}'`, admin === getAddress(op.proxyAdmin!), `on chain ${admin}, the call targets ${op.proxyAdmin}`);
    }
  }

  // The build to compare with: the record's commit, built afresh; no commit is a failure, never a fallback.
  let build: VerifyResult["build"];
  let lookup: (contract: string) => { artifact?: BuiltArtifact; reason?: string; buildInfoOutput?: string };
  if (opts.build === "current") {
    build = { kind: "current" };
    const artifacts = new Map<string, BuiltArtifact>();
    for (const op of record.operations) {
      const target = targetOf(op.proxy) ?? op.contract;
      const a = (await ctx.readArtifact(target).catch(() => undefined)) as BuiltArtifact | undefined;
      if (a) artifacts.set(target, a);
    }
    lookup = (contract) => {
      const a = artifacts.get(contract);
      if (!a) return { reason: `no contract ${contract} in the current build` };
      if (!PROJECT_SOURCES.some((s) => a.sourceName.startsWith(s))) return { reason: `${contract} in the current build comes from ${a.sourceName}, not ${PROJECT_SOURCES.join(", ")}` };
      return { artifact: a, buildInfoOutput: a.buildInfoId ? path.join(ctx.buildInfoDir, `${a.buildInfoId}.output.json`) : undefined };
    };
    check("build", true, "UNCHECKED: compared with the current build of this working tree (--current-build), not with the build of a commit", true);
  } else if (record.dirty) {
    build = { kind: "none", reason: "staged from a dirty working tree" };
    check("commit", false, `the record was staged with --allow-dirty from uncommitted changes to ${record.dirty.files.join(", ") || "(unknown files)"} (based on ${record.dirty.base ?? "no commit"}): no commit holds its source`);
    lookup = () => ({ reason: "no commit to build" });
  } else {
    const { repoRoot, protectedBranch } = sourceOf(setup);
    try {
      const b = await buildAtCommit({ repoRoot, commit: record.commit as string, protectedBranch, pinned: setup.policy.compiler, progress: setup.progress });
      build = { kind: "commit", commit: b.commit };
      check("commit", true, `${b.commit} is on the protected branch '${protectedBranch}'; built with the policy's solc ${setup.policy.compiler.version} and no secrets`);
      lookup = (contract) => {
        const t = b.target(contract);
        if (!t.ok) return { reason: t.reason };
        const id = t.artifact.buildInfoId;
        return { artifact: t.artifact, buildInfoOutput: id ? path.join(commitBuildDir({ repoRoot }, b.commit), "artifacts", "build-info", `${id}.output.json`) : undefined };
      };
    } catch (e) {
      if (!(e instanceof GatehouseError)) throw e;
      build = { kind: "none", reason: e.message };
      check("commit", false, `${e.code}: ${e.message}`);
      lookup = () => ({ reason: "the proposal's commit was not built" });
    }
  }

  for (const op of record.operations) {
    // The policy's target (a rollback: the replaced contract), not the record's claim (verifyAgainstPolicy reports when they differ).
    const target = targetOf(op.proxy) ?? op.contract;
    const label = `'${op.proxy}' implementation`;
    const code = await ctx.ethers.provider.getCode(op.newImplementation);
    const { artifact, reason, buildInfoOutput } = lookup(target);
    const source = build.kind === "commit" ? `the build of ${target} at commit ${build.commit.slice(0, 12)}` : `the current build of ${target}`;
    checks.push(checkInitializer(op, setup.policy.contracts.find((c) => c.name === op.proxy)?.upgradeInitializers ?? [], artifact?.abi));
    if (!artifact) {
      check(`bytecode of ${label}`, false, reason ?? `no ${target}`);
      continue;
    }
    const same = code !== "0x" && runtimeMatches(code, artifact);
    check(`bytecode of ${label}`, same, same ? `${op.newImplementation} is ${source} (${artifact.sourceName}), immutables aside` : code === "0x" ? `${op.newImplementation} has no code` : `${op.newImplementation} is not ${source}`);
    if (!same) continue;
    const ids = Object.keys(artifact.immutableReferences ?? {});
    let names: ImmutableNames = artifact.immutableNames ?? {};
    if (!artifact.immutableNames && ids.length > 0 && buildInfoOutput && existsSync(buildInfoOutput)) names = immutableDeclarations(JSON.parse(readFileSync(buildInfoOutput, "utf8")), ids);
    checks.push(...checkImmutables(code, artifact.immutableReferences, names, op.newImplementation, label));
  }
  // What the batch does: simulated again on a fork and compared with the signer packet propose wrote.
  checks.push(...(await checkSignerPacket(setup, file, record)));
  const failed = checks.some((c) => !c.ok);
  return { record, checks, build, verified: !failed && build.kind === "commit" };
}

/** A governance record: each action's call is the one its fields derive, and keeps the policy's topology (same rules as the watcher). */
export function verifyGovernance(setup: Pick<Setup, "deployment" | "policy" | "ctx">, record: ProposalRecord): VerifyCheck[] {
  if (record.kind !== "governance") return [];
  const rules = governanceRules(setup);
  return (record.actions ?? []).map((a, i) => {
    const problems = [...governanceCallProblems([a], rules), ...governanceProblems([a], rules)];
    const decoded = decodeGovernanceCall(a.call, rules);
    const words = decoded ? governanceVerdict(decoded, rules, a.call.value).detail : a.action;
    return { name: `governance action ${i + 1}`, ok: problems.length === 0, detail: problems.length === 0 ? words : problems.join("; ") };
  });
}

/**
 * A rollback record: the proposal it names executed on chain, each proxy returns to the implementation that
 * proposal replaced (the proxy's Upgraded history says so, its code is still there), and the record names
 * that proposal's commit, whose build must be that code. The appended variables it leaves are listed.
 */
async function verifyRollback(setup: Setup, record: ProposalRecord): Promise<{ checks: VerifyCheck[]; targets: Record<string, string> }> {
  const { checks, check } = collector();
  const ref = record.rollbackOf!;
  const file = proposalFile(setup.root, setup.ctx.network, ref.proposal);
  if (!existsSync(file)) {
    check("rolled-back proposal", false, `the record rolls back proposal ${ref.proposal}, which is not in proposals/${setup.ctx.network}/`);
    return { checks, targets: {} };
  }
  const earlier = readProposalFile(file);
  const problems = rollbackProblems(earlier, await readRollbackFacts(setup, earlier, record.operationId), record);
  if (record.commit !== earlier.commit) problems.push(`its commit ${record.commit ?? "(none)"} is not proposal ${earlier.id}'s (${earlier.commit ?? "none"}), whose build holds the old implementations`);
  check(
    "rollback",
    problems.length === 0,
    problems.length === 0 ? `the exact return of proposal ${earlier.id} (operation ${earlier.operationId}, executed on chain) to the implementations the proxies' Upgraded history shows before it` : problems.join("; "),
  );
  for (const [proxy, rows] of Object.entries(leftInStorage(earlier))) {
    if (rows.length > 0) check(`storage of '${proxy}'`, true, `left in storage, unused by the old code: ${rows.map((r) => `${r.label} (${r.type}, slot ${r.slot})`).join(", ")}`);
  }
  return { checks, targets: Object.fromEntries(earlier.operations.map((o) => [o.proxy, o.oldContract ?? "(unknown)"])) };
}

/** One line per check, as the CLI prints them: "ok", "FAIL" or "UNCHECKED", never "ok" for what was not proven. */
export function renderChecks(checks: VerifyCheck[]): string {
  // Names and details carry record text: no control character may hide a FAIL line (review/untrusted.ts).
  return checks.map((k) => terminalSafe(`${!k.ok ? "FAIL     " : k.unchecked ? "UNCHECKED" : "ok       "} ${k.name}: ${k.detail.replace(/^UNCHECKED: /, "")}`)).join("\n");
}
