import { existsSync } from "node:fs";
import { getAddress, id as topicOf, keccak256 } from "ethers";
import { buildAtCommit } from "../build/at-commit.ts";
import { GatehouseError } from "../errors.ts";
import { displayPath } from "../fs/atomic.ts";
import { bytecodeHash, runtimeMatches } from "../plan/bytecode.ts";
import { planUpgrade, proposalId, type Plan } from "../plan/plan.ts";
import { operationIdOf } from "../proposal/derive.ts";
import { inverseChanges, leftInStorage, rollbackProblems, type RollbackFacts } from "../proposal/rollback.ts";
import { proposalFile, readProposalFile, resolveProposal, writeProposal, type ProposalRecord } from "../records/proposal.ts";
import { planFields } from "./stage.ts";
import { operationState, scanFrom, sourceOf, type Setup } from "./setup.ts";

/**
 * `gatehouse rollback <proposal>`: stage the rollback plan of an executed proposal as a new proposal
 * record (kind "rollback"), which then goes through the same pipeline: propose, sign, the delay,
 * execute, the watcher's review. Nothing is deployed: the old implementations are still on chain.
 */
export interface RollbackResult {
  file: string;
  record: ProposalRecord;
  created: boolean;
  /** Per proxy: the variables the newer version appended, left in storage by the rollback. */
  leftInStorage: ProposalRecord["storageLayoutDiff"];
}

const UPGRADED = topicOf("Upgraded(address)");

/** What the chain says about the earlier proposal's proxies (see RollbackFacts). */
export async function readRollbackFacts(setup: Setup, earlier: ProposalRecord, rollbackOperationId?: string): Promise<RollbackFacts> {
  const { ctx, timelock } = setup;
  const provider = ctx.ethers.provider;
  const earlierId = operationIdOf(earlier);
  const [{ state: earlierState }, rollbackState] = await Promise.all([
    operationState(timelock, earlierId),
    rollbackOperationId ? operationState(timelock, rollbackOperationId).then((s) => s.state) : undefined,
  ]);
  // Where the earlier operation executed: the Upgraded event there is the one it caused.
  const executed = earlierState === "Done" ? (await timelock.queryFilter(timelock.filters.CallExecuted!(earlierId), scanFrom(setup), "latest"))[0] : undefined;
  const proxies: RollbackFacts["proxies"] = {};
  await Promise.all(
    earlier.operations.map(async (op) => {
      const [current, oldCode, previous] = await Promise.all([
        ctx.up.erc1967.getImplementationAddress(op.proxyAddress).then((a) => getAddress(a)),
        provider.getCode(op.oldImplementation),
        executed ? previousImplementation(setup, op.proxyAddress, op.newImplementation, executed) : Promise.resolve(undefined),
      ]);
      proxies[op.proxy] = { current, oldCode, ...(previous ? { previous } : {}) };
    }),
  );
  return { earlierState, ...(rollbackState ? { rollbackState } : {}), proxies };
}

/** Blocks per eth_getLogs request: public RPCs refuse wide ranges, so the scan walks back in windows. */
const LOG_WINDOW = 5_000;

/**
 * What the proxy ran before the earlier operation's execution: the Upgraded event that precedes the one its
 * execution emitted (to `installed`), found by walking back from that block; undefined when there is none.
 */
async function previousImplementation(setup: Setup, proxy: string, installed: string, executed: { blockNumber: number; transactionHash: string }): Promise<string | undefined> {
  const provider = setup.ctx.ethers.provider;
  const implOf = (l: { topics: readonly string[] }) => getAddress(`0x${l.topics[1]!.slice(26)}`);
  const floor = scanFrom(setup);
  let seen = false;
  for (let to = executed.blockNumber; to >= floor; to -= LOG_WINDOW) {
    const logs = await provider.getLogs({ address: proxy, topics: [UPGRADED], fromBlock: Math.max(floor, to - LOG_WINDOW + 1), toBlock: to });
    for (let i = logs.length - 1; i >= 0; i--) {
      const l = logs[i]!;
      if (!seen) seen = l.transactionHash === executed.transactionHash && implOf(l) === getAddress(installed);
      else return implOf(l);
    }
  }
  return undefined;
}


export async function stageRollback(opts: { setup: Setup; proposal: string; delaySeconds?: number; log?: (line: string) => void }): Promise<RollbackResult> {
  const { setup } = opts;
  const { ctx, policy, timelock, root } = setup;
  const log = opts.log ?? (() => {});
  const { record: earlier } = resolveProposal(root, ctx.network, opts.proposal);
  const refuse = (reasons: string[]) => new GatehouseError("ROLLBACK_REFUSED", { proposal: earlier.id, reasons: reasons.join("; ") }, { details: { reasons } });

  const delay = BigInt(opts.delaySeconds ?? policy.governance.delaySeconds);
  if (delay < BigInt(policy.rules.minDelaySeconds)) throw new GatehouseError("DELAY_BELOW_POLICY", { delay, min: policy.rules.minDelaySeconds });
  const onchainMin = (await timelock.getMinDelay()) as bigint;
  if (delay < onchainMin) throw new GatehouseError("DELAY_BELOW_POLICY", { delay, min: `${onchainMin} (the timelock's own minimum)` });
  if (BigInt(earlier.chainId) !== ctx.chainId || getAddress(earlier.timelock) !== getAddress(timelock.target as string)) throw refuse([`it was staged for chain ${earlier.chainId} and timelock ${earlier.timelock}, not this network's`]);

  const facts = await readRollbackFacts(setup, earlier);
  const problems = rollbackProblems(earlier, facts);
  if (!earlier.commit) problems.push("it names no commit, so the old implementations' build cannot be reproduced");
  if (problems.length > 0) throw refuse(problems);

  // The old implementations are the build of the earlier proposal's commit: the same build verify makes.
  const build = await buildAtCommit({ ...sourceOf(setup), commit: earlier.commit!, requireProtected: false, pinned: policy.compiler });
  const artifacts: ProposalRecord["artifacts"] = {};
  for (const op of earlier.operations) {
    const t = build.target(op.oldContract!);
    const oldCode = facts.proxies[op.proxy]!.oldCode;
    if (!t.ok) throw refuse([`'${op.proxy}': ${t.reason}`]);
    if (!runtimeMatches(oldCode, t.artifact)) throw refuse([`'${op.proxy}': the code at ${op.oldImplementation} is not the build of ${op.oldContract} at commit ${earlier.commit}`]);
    const refs = t.artifact.immutableReferences;
    artifacts[op.proxy] = {
      contract: op.oldContract!,
      sourceName: t.artifact.sourceName,
      artifactHash: bytecodeHash(t.artifact.deployedBytecode, refs),
      bytecodeHash: bytecodeHash(oldCode, refs),
      oldCodeHash: keccak256(await ctx.ethers.provider.getCode(op.newImplementation)),
      ...(refs && Object.keys(refs).length > 0 ? { immutableReferences: refs } : {}),
    };
  }

  const changes = inverseChanges(earlier);
  let plan: Plan = planUpgrade({ chainId: ctx.chainId, timelock: timelock.target as string, changes, delay });
  // A rollback already executed once (then re-upgraded) gets the next round, so its operation id is fresh.
  while ((await operationState(timelock, plan.operationId)).state === "Done") {
    plan = planUpgrade({ chainId: ctx.chainId, timelock: timelock.target as string, changes, delay, round: plan.round + 1 });
  }
  const id = proposalId(plan.operationId);
  const file = proposalFile(root, ctx.network, id);
  const left = leftInStorage(earlier);
  if (existsSync(file)) {
    log(`rollback of ${earlier.id} already staged (${displayPath(file)})`);
    return { file, record: readProposalFile(file), created: false, leftInStorage: left };
  }
  const now = new Date().toISOString();
  const record: ProposalRecord = {
    version: 2,
    kind: "rollback",
    rollbackOf: { proposal: earlier.id, operationId: earlier.operationId, commit: earlier.commit, leftInStorage: left },
    id,
    network: ctx.network,
    chainId: Number(ctx.chainId),
    createdAt: now,
    // The commit whose build the implementations are: the earlier proposal's (verify builds it).
    commit: earlier.commit,
    timelock: getAddress(timelock.target as string),
    safe: getAddress(setup.deployment.safe.address),
    ...planFields(plan, delay),
    artifacts,
    // No layout change for the old code to read: the newer version's appended variables stay behind (rollbackOf.leftInStorage).
    storageLayoutDiff: Object.fromEntries(earlier.operations.map((op) => [op.proxy, []])),
    safeTransactions: [],
    state: "staged",
    history: [{ state: "staged", at: now, note: `rollback of proposal ${earlier.id}` }],
  };
  writeProposal(file, record);
  for (const [proxy, rows] of Object.entries(left)) if (rows.length) log(`'${proxy}': left in storage by the rollback (appended by ${earlier.operations.find((o) => o.proxy === proxy)?.contract}): ${rows.map((r) => `${r.label} (${r.type}, slot ${r.slot})`).join(", ")}`);
  log(`staged rollback of proposal ${earlier.id} as proposal ${id}: operation ${plan.operationId}`);
  return { file, record, created: true, leftInStorage: left };
}

/**
 * Before a rollback record is proposed, signed or executed: it is the exact return to what the proposal it
 * names replaced, proven again from the chain (the record may have been edited since it was staged).
 */
export async function checkRollbackRecord(setup: Setup, file: string, record: ProposalRecord): Promise<void> {
  const ref = record.rollbackOf!;
  const fail = (reasons: string[]) => new GatehouseError("ROLLBACK_RECORD_INVALID", { file: displayPath(file), proposal: ref.proposal, reasons: reasons.join("; ") }, { details: { reasons } });
  const earlierFile = proposalFile(setup.root, setup.ctx.network, ref.proposal);
  if (!existsSync(earlierFile)) throw fail([`the proposal it rolls back (${displayPath(earlierFile)}) is not in the records`]);
  const earlier = readProposalFile(earlierFile);
  const facts = await readRollbackFacts(setup, earlier, record.operationId);
  const problems = rollbackProblems(earlier, facts, record);
  if (record.commit !== earlier.commit || ref.commit !== earlier.commit) problems.push(`its commit ${record.commit ?? "(none)"} is not proposal ${earlier.id}'s (${earlier.commit ?? "none"}), whose build holds the old implementations`);
  if (problems.length > 0) throw fail(problems);
}
