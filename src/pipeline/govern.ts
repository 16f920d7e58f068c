import { existsSync } from "node:fs";
import { ZeroAddress, ZeroHash, getAddress } from "ethers";
import { resolveAccount } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { displayPath } from "../fs/atomic.ts";
import { deriveSalt, proposalId } from "../plan/plan.ts";
import { batchOf, operationIdOf } from "../proposal/derive.ts";
import { governanceAction, governanceCallProblems, governanceProblems, type GovernanceInput, type GovernanceRules } from "../proposal/governance.ts";
import { proposalFile, readProposalFile, writeProposal, type ProposalRecord } from "../records/proposal.ts";
import { operationState, type Setup } from "./setup.ts";
import { workingTreeCommit } from "./stage.ts";

/**
 * `gatehouse govern <action> …`: a governance change `doctor` recommends, staged as a proposal record of
 * its own kind ("governance", typed actions), then proposed, signed, reviewed, cancellable and executed
 * through the same pipeline as an upgrade. Staging refuses a change that breaks the policy's topology.
 */
export function governanceRules(setup: Pick<Setup, "deployment" | "policy" | "ctx">): GovernanceRules {
  const { deployment, policy } = setup;
  return {
    timelock: getAddress(deployment.timelock.address),
    safe: getAddress(deployment.safe.address),
    ...policyRoleHolders(setup),
    minDelaySeconds: policy.rules.minDelaySeconds,
    proxies: policy.contracts.flatMap((c) => {
      const address = c.proxy ?? deployment.proxies[c.name]?.address;
      return address ? [{ name: c.name, address: getAddress(address) }] : [];
    }),
  };
}

/**
 * Who the policy (the protected branch) says must hold CANCELLER_ROLE and EXECUTOR_ROLE, as doctor reads it:
 * never the deployment record's lists, which are claims (an edited `timelock.cancellers` would otherwise
 * make granting the attacker the role "consistent with the policy").
 */
export function policyRoleHolders(setup: Pick<Setup, "deployment" | "policy" | "ctx">): { cancellers: string[]; executors: string[] } {
  const g = setup.policy.governance;
  return {
    cancellers: g.guardian.map((r) => resolveAccount(setup.ctx, r, "policy governance.guardian")),
    executors: g.executor === "open" ? [ZeroAddress] : [getAddress(setup.deployment.safe.address)],
  };
}

/** A governance record's actions are the calls their fields derive, and keep the policy's topology. */
export function governanceRecordProblems(setup: Pick<Setup, "deployment" | "policy" | "ctx">, record: ProposalRecord): string[] {
  const rules = governanceRules(setup);
  const actions = record.actions ?? [];
  return [...governanceCallProblems(actions, rules), ...governanceProblems(actions, rules)];
}

export async function stageGovernance(opts: {
  setup: Setup;
  actions: GovernanceInput[];
  delaySeconds?: number;
  commit?: string | null;
  log?: (line: string) => void;
}): Promise<{ file: string; record: ProposalRecord; created: boolean }> {
  const { setup } = opts;
  const { ctx, policy, timelock, root } = setup;
  const log = opts.log ?? (() => {});
  const rules = governanceRules(setup);
  const actions = opts.actions.map((a) => {
    if (a.action === "unpause" && !rules.proxies.some((p) => p.name === a.proxy)) {
      throw new GatehouseError("GOVERNANCE_ACTION_INVALID", { action: "unpause", reason: `no governed proxy named '${a.proxy}' (the policy's contracts: ${rules.proxies.map((p) => p.name).join(", ")})` });
    }
    return governanceAction(a, rules);
  });
  const problems = governanceProblems(actions, rules);
  if (problems.length > 0) throw new GatehouseError("GOVERNANCE_REFUSED", { reasons: problems.join("; ") }, { details: { reasons: problems } });

  const delay = BigInt(opts.delaySeconds ?? policy.governance.delaySeconds);
  if (delay < BigInt(policy.rules.minDelaySeconds)) throw new GatehouseError("DELAY_BELOW_POLICY", { delay, min: policy.rules.minDelaySeconds });
  const onchainMin = (await timelock.getMinDelay()) as bigint;
  if (delay < onchainMin) throw new GatehouseError("DELAY_BELOW_POLICY", { delay, min: `${onchainMin} (the timelock's own minimum)` });
  // The commit whose policy this change follows (verify checks it is on the protected branch).
  const commit = opts.commit !== undefined ? opts.commit : setup.source?.commit ? setup.source.commit : workingTreeCommit(setup.source?.repoRoot ?? root).commit;

  const timelockAddress = getAddress(timelock.target as string);
  const draft = { kind: "governance" as const, actions, operations: [], predecessor: ZeroHash, salt: ZeroHash };
  const calls = batchOf(draft).calls;
  let round = 0;
  let operationId: string;
  // The same change executed once already (e.g. a delay restored, then changed again) gets the next round.
  for (;;) {
    draft.salt = deriveSalt(ctx.chainId, timelockAddress, calls, round);
    operationId = operationIdOf(draft);
    if ((await operationState(timelock, operationId)).state !== "Done") break;
    round++;
  }
  const id = proposalId(operationId);
  const file = proposalFile(root, ctx.network, id);
  if (existsSync(file)) {
    log(`governance change already staged (${displayPath(file)})`);
    return { file, record: readProposalFile(file), created: false };
  }
  const now = new Date().toISOString();
  const record: ProposalRecord = {
    version: 2,
    kind: "governance",
    actions,
    id,
    network: ctx.network,
    chainId: Number(ctx.chainId),
    createdAt: now,
    commit,
    timelock: timelockAddress,
    safe: getAddress(setup.deployment.safe.address),
    operations: [],
    predecessor: ZeroHash,
    salt: draft.salt,
    round,
    delay: delay.toString(),
    operationId,
    artifacts: {},
    storageLayoutDiff: {},
    safeTransactions: [],
    state: "staged",
    history: [{ state: "staged", at: now }],
  };
  writeProposal(file, record);
  log(`staged governance change ${id}: operation ${operationId}`);
  return { file, record, created: true };
}
