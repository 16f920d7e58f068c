import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { ContractFactory, Interface, getAddress, keccak256 } from "ethers";
import { resolveAccount } from "../chain/context.ts";
import { buildAtCommit } from "../build/at-commit.ts";
import type { BuiltArtifact, TargetLookup } from "../build/target.ts";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { displayPath } from "../fs/atomic.ts";
import { bytecodeHash, runtimeMatches } from "../plan/bytecode.ts";
import { planUpgrade, proposalId, type Plan, type PlannedOperation, type ProxyChange } from "../plan/plan.ts";
import { listProposals, proposalFile, readProposalFile, writeProposal, type OperationRecord, type ProposalRecord } from "../records/proposal.ts";
import { runCheck, type CheckResult, type ProxyCheck } from "./check.ts";
import { operationState, scanFrom, sourceOf, type Setup } from "./setup.ts";
import { decodeSchedule, decodeUpgradeCall } from "../timelock/calls.ts";

/**
 * `gatehouse stage`: refuses when `check` finds anything; otherwise deploys each changed implementation
 * (reusing an identical one already on chain) and writes the proposal record. The record's salt is
 * derived from its content, so staging the same change again finds the same record and changes nothing.
 */
export interface StageResult {
  check: CheckResult;
  /** Undefined when every proxy already runs its target contract. */
  proposal?: { file: string; record: ProposalRecord; created: boolean };
  deployed: { proxy: string; contract: string; address: string; reused: boolean }[];
}

export function gitCommit(root: string): string | null {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, stdio: ["ignore", "pipe", "ignore"] }).toString().trim() || null;
  } catch {
    return null;
  }
}

/** What a build reads besides node_modules: a change to any of these changes what `stage` deploys. */
export const BUILD_INPUTS = [/^contracts\//, /^policies\//, /^hardhat\.config\.[cm]?[jt]s$/, /^package(-lock)?\.json$/, /^tsconfig\.json$/];

/**
 * The build inputs changed in a working tree, from `git status --porcelain=v1 -z --no-renames
 * --untracked-files=all` run at the repository's top level (pure). Untracked files count: Hardhat
 * compiles every file under contracts/.
 */
export function changedBuildInputs(porcelainZ: string, prefix = ""): string[] {
  const files = porcelainZ
    .split("\0")
    .filter((e) => e.length > 3)
    .map((e) => e.slice(3))
    .filter((f) => f.startsWith(prefix))
    .map((f) => f.slice(prefix.length));
  return [...new Set(files.filter((f) => BUILD_INPUTS.some((re) => re.test(f))))].sort();
}

/**
 * The commit a stage records: HEAD of the working tree at `root`, refused when the tree has uncommitted
 * build inputs (the deployed code would not be that commit's), or marked dirty with `allowDirty`.
 * Outside a git repository there is no commit (and verify will say so).
 */
export function workingTreeCommit(root: string, allowDirty = false): { commit: string | null; dirty?: { base: string | null; files: string[] } } {
  const head = gitCommit(root);
  if (head === null) return { commit: null };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: root, stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 }).toString();
  const files = changedBuildInputs(git("status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all"), git("rev-parse", "--show-prefix").trim());
  if (files.length === 0) return { commit: head };
  if (!allowDirty) throw new GatehouseError("TREE_DIRTY", { root: displayPath(root) || ".", files: files.join(", ") }, { details: { files } });
  return { commit: null, dirty: { base: head, files } };
}

export async function stage(opts: { setup: Setup; deployer: Actor; delaySeconds?: number; commit?: string | null; allowDirty?: boolean; log?: (line: string) => void }): Promise<StageResult> {
  const { setup, deployer } = opts;
  const { ctx, policy, root, timelock } = setup;
  const log = opts.log ?? (() => {});
  // Before anything is deployed: which commit this stage is the build of (refused from a dirty tree).
  const source = opts.commit !== undefined ? { commit: opts.commit } : setup.source?.commit ? { commit: setup.source.commit } : workingTreeCommit(setup.source?.repoRoot ?? root, opts.allowDirty);
  const { commit } = source;
  if (source.dirty) log(`--allow-dirty: uncommitted changes to ${source.dirty.files.join(", ")}; the record is marked dirty and cannot be verified`);

  const delay = BigInt(opts.delaySeconds ?? policy.governance.delaySeconds);
  if (delay < BigInt(policy.rules.minDelaySeconds)) throw new GatehouseError("DELAY_BELOW_POLICY", { delay, min: policy.rules.minDelaySeconds });
  const onchainMin = (await timelock.getMinDelay()) as bigint;
  if (delay < onchainMin) throw new GatehouseError("DELAY_BELOW_POLICY", { delay, min: `${onchainMin} (the timelock's own minimum)` });

  const check = await runCheck(setup, { commit, progress: setup.progress });
  if (check.findings.length > 0) {
    throw new GatehouseError("CHECK_FAILED", { count: check.findings.length }, { details: { findings: check.findings, report: check.markdown } });
  }
  const changed = check.proxies.filter((p) => !p.upToDate);
  if (changed.length === 0) return { check, deployed: [] };

  const deployed: StageResult["deployed"] = [];
  const changes: ProxyChange[] = [];
  const artifacts: ProposalRecord["artifacts"] = {};
  const candidates = await candidateImplementations(setup);
  // What gets deployed is the build of the recorded commit, made the way verify and the watcher make it
  // (git archive, fresh, pinned compiler): an incremental build of the working tree can compile the same
  // source to other bytecode, which no verifier could then reproduce. Without a commit: the working build.
  const commitBuild = commit ? await buildAtCommit({ ...sourceOf(setup), commit, requireProtected: false, pinned: policy.compiler, progress: setup.progress }) : undefined;
  for (const p of changed) {
    const artifact = commitBuild ? targetOrThrow(commitBuild.target(p.target), commit!) : await ctx.readArtifact(p.target);
    const { address, reused } = await implementationFor(setup, deployer, p.target, p.kind, artifact, candidates, commitBuild?.commit);
    const code = await ctx.ethers.provider.getCode(address);
    if (!runtimeMatches(code, artifact)) {
      throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `the implementation deployed for ${p.target} at ${address} (its code is not the build's)` });
    }
    deployed.push({ proxy: p.name, contract: p.target, address, reused });
    log(`${reused ? "reusing" : "deployed"} ${p.target} implementation ${address} for '${p.name}'`);
    changes.push(proxyChangeOf(p, address, upgradeCallData(setup, p.name, artifact.abi ?? [])));
    artifacts[p.name] = {
      contract: p.target,
      sourceName: artifact.sourceName,
      artifactHash: bytecodeHash(artifact.deployedBytecode, artifact.immutableReferences),
      bytecodeHash: bytecodeHash(code, artifact.immutableReferences),
      // What the proxy ran before, whole: `rollback` checks the old implementation still holds this code.
      oldCodeHash: keccak256(await ctx.ethers.provider.getCode(p.liveImplementation)),
      // Kept so that execute and the watcher recompute the hash from the record, not from a later build.
      ...(artifact.immutableReferences && Object.keys(artifact.immutableReferences).length > 0 ? { immutableReferences: artifact.immutableReferences } : {}),
    };
  }

  // A change already executed once (then rolled back) gets the next round, so its operation id is fresh.
  let plan: Plan = planUpgrade({ chainId: ctx.chainId, timelock: timelock.target as string, changes, delay });
  while ((await operationState(timelock, plan.operationId)).state === "Done") {
    plan = planUpgrade({ chainId: ctx.chainId, timelock: timelock.target as string, changes, delay, round: plan.round + 1 });
  }

  const id = proposalId(plan.operationId);
  const file = proposalFile(root, ctx.network, id);
  if (existsSync(file)) {
    const record = readProposalFile(file);
    log(`proposal ${id} already staged (${file})`);
    return { check, proposal: { file, record, created: false }, deployed };
  }
  const now = new Date().toISOString();
  const record: ProposalRecord = {
    version: 2,
    id,
    network: ctx.network,
    chainId: Number(ctx.chainId),
    createdAt: now,
    commit,
    ...(source.dirty ? { dirty: source.dirty } : {}),
    timelock: getAddress(timelock.target as string),
    safe: getAddress(setup.deployment.safe.address),
    ...planFields(plan, delay),
    artifacts,
    storageLayoutDiff: Object.fromEntries(changed.map((p) => [p.name, p.audit?.layoutDiff ?? []])),
    safeTransactions: [],
    state: "staged",
    history: [{ state: "staged", at: now }],
  };
  writeProposal(file, record);
  log(`staged proposal ${id}: operation ${plan.operationId}`);
  return { check, proposal: { file, record, created: true }, deployed };
}

/**
 * The policy's `upgradeCall` of one proxy, encoded with the target's ABI ("0x" when it has none). The
 * words `timelock`, `safe` and `guardian` stand for those addresses, so a reinitializer can name them.
 */
export function upgradeCallData(setup: Pick<Setup, "ctx" | "policy" | "deployment">, name: string, abi: readonly unknown[]): string {
  const call = setup.policy.contracts.find((c) => c.name === name)?.upgradeCall;
  if (!call) return "0x";
  const words: Record<string, string> = {
    timelock: getAddress(setup.deployment.timelock.address),
    safe: getAddress(setup.deployment.safe.address),
    guardian: resolveAccount(setup.ctx, setup.policy.governance.guardian[0]!),
  };
  const args = call.args.map((a) => (typeof a === "string" && a in words ? words[a]! : a));
  try {
    return new Interface(abi as never).encodeFunctionData(call.function, args);
  } catch (e) {
    throw new GatehouseError("FILE_INVALID", { file: `policies/${setup.policy.network}.yaml`, path: `contracts.${name}.upgradeCall`, expected: `a function of the target and arguments it accepts (${(e as Error).message.split(" (")[0]})` });
  }
}

function targetOrThrow(t: TargetLookup, commit: string): BuiltArtifact {
  if (!t.ok) throw new GatehouseError("BUILD_AT_COMMIT_FAILED", { commit, reason: t.reason });
  return t.artifact;
}

/** The upgrade of one proxy `check` found out of date, to the given implementation and upgrade call. */
export function proxyChangeOf(p: ProxyCheck, newImplementation: string, initializer: string): ProxyChange {
  return {
    name: p.name,
    kind: p.kind,
    proxy: p.proxy,
    proxyAdmin: p.proxyAdmin,
    contract: p.target,
    oldContract: p.liveContract,
    oldImplementation: p.liveImplementation,
    newImplementation,
    initializer,
  };
}

/** The fields of a proposal record that come from its plan: operations, batch, delay, rollback plan. */
export function planFields(plan: Plan, delay: bigint): Pick<ProposalRecord, "operations" | "predecessor" | "salt" | "round" | "delay" | "operationId" | "rollback"> {
  return {
    operations: plan.operations.map(toRecord),
    predecessor: plan.batch.predecessor,
    salt: plan.batch.salt,
    round: plan.round,
    delay: delay.toString(),
    operationId: plan.operationId,
    rollback: { operations: plan.rollback.operations.map(toRecord), salt: plan.rollback.batch.salt, predecessor: plan.rollback.batch.predecessor, operationId: plan.rollback.operationId },
  };
}

export function toRecord(op: PlannedOperation): OperationRecord {
  return {
    proxy: op.name,
    proxyAddress: getAddress(op.proxy),
    kind: op.kind,
    ...(op.proxyAdmin ? { proxyAdmin: getAddress(op.proxyAdmin) } : {}),
    contract: op.contract,
    ...(op.oldContract ? { oldContract: op.oldContract } : {}),
    oldImplementation: getAddress(op.oldImplementation),
    newImplementation: getAddress(op.newImplementation),
    initializer: op.initializer,
    call: { target: op.call.target, value: op.call.value.toString(), data: op.call.data },
  };
}

/**
 * Implementations already on their way: named by earlier proposal records, by upgrades scheduled on the
 * timelock, or by schedule transactions waiting on the Safe Transaction Service. Looking beyond the local
 * records means a stage re-run whose record was never committed (a CI job cut off after proposing) finds
 * the same implementation, hence the same operation id, instead of proposing the change a second time.
 */
async function candidateImplementations(setup: Setup): Promise<string[]> {
  const { ctx, timelock } = setup;
  const out = listProposals(setup.root, ctx.network).flatMap(({ record }) => record.operations.map((o) => o.newImplementation));
  const scheduled = await timelock.queryFilter(timelock.filters.CallScheduled!(), scanFrom(setup), "latest");
  const payloads = scheduled.map((e) => {
    const { target, value, data } = (e as unknown as { args: { target: string; value: bigint; data: string } }).args;
    return { target, value, data };
  });
  if (setup.service) {
    const pending = await setup.service.getPendingTransactions(setup.deployment.safe.address);
    for (const tx of pending.results) {
      if (!tx.data || getAddress(tx.to) !== getAddress(timelock.target as string)) continue;
      try {
        payloads.push(...decodeSchedule(tx.data).batch.calls);
      } catch {
        // Not a schedule call: nothing to reuse from it.
      }
    }
  }
  for (const call of payloads) {
    const upgrade = decodeUpgradeCall(call);
    if (upgrade) out.push(upgrade.implementation);
  }
  return [...new Set(out.map((a) => getAddress(a)))];
}

/**
 * An implementation of `contract` on chain: one already on its way (above) whose code is this build,
 * else a fresh deployment through hardhat-upgrades (which also reuses what its manifest knows).
 */
async function implementationFor(
  setup: Setup,
  deployer: Actor,
  contract: string,
  kind: "uups" | "transparent",
  artifact: BuiltArtifact,
  candidates: string[],
  fromCommitBuild: string | undefined,
): Promise<{ address: string; reused: boolean }> {
  const { ctx } = setup;
  for (const address of candidates) {
    if (runtimeMatches(await ctx.ethers.provider.getCode(address), artifact)) return { address, reused: true };
  }
  if (fromCommitBuild) {
    // check has already audited this contract; hardhat-upgrades would look its validations up in the
    // working build, which is not where these bytes come from, so deploy them as they are.
    if (!artifact.bytecode || !artifact.abi) throw new GatehouseError("BUILD_AT_COMMIT_FAILED", { commit: fromCommitBuild, reason: `the artifact of ${contract} has no creation code` });
    if (Object.keys((artifact as { linkReferences?: object }).linkReferences ?? {}).length > 0) {
      throw new GatehouseError("BUILD_AT_COMMIT_FAILED", { commit: fromCommitBuild, reason: `${contract} needs linked libraries, which Gatehouse does not deploy` });
    }
    const deployedContract = await new ContractFactory(artifact.abi as never, artifact.bytecode, deployer.signer).deploy();
    await deployedContract.waitForDeployment();
    return { address: getAddress(await deployedContract.getAddress()), reused: false };
  }
  const factory = await ctx.ethers.getContractFactory(contract, deployer.signer);
  const address = await ctx.up.deployImplementation(factory, { kind, unsafeAllow: setup.policy.rules.unsafeAllow });
  if (typeof address !== "string") throw new Error("deployImplementation returned a transaction instead of an address");
  return { address: getAddress(address), reused: false };
}
