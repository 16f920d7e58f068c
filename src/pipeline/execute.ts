import { Contract, ZeroAddress, getAddress } from "ethers";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { resolveProposal, withState, writeProposal, type ProposalRecord, type SafeTxRecord } from "../records/proposal.ts";
import { chooseNonce, executeBatchArgs, executeCalldata, governanceActionWords, nextStep, type ChainView } from "../proposal/derive.ts";
import { approveSafeTx, buildSafeTx, executeSafeTx, safeTxStatus, submitToService } from "../safe/transactions.ts";
import { readSafe } from "../safe/kit.ts";
import { formatDuration, ROLES, UPGRADE_ABI } from "../timelock/calls.ts";
import { checkProposalAgainstChain } from "./verify-record.ts";
import { pendingSafeNonces } from "./propose.ts";
import { latestTimestamp, operationState, wasCancelled, type Setup } from "./setup.ts";

/**
 * `gatehouse execute <proposal>`: moves a proposal one step forward, whichever step it is at.
 *  - proposed, threshold met  -> executes the Safe transaction, which schedules the operation;
 *  - scheduled, before ETA    -> refuses with the time left (exit 1);
 *  - ready                    -> executes the operation (directly when EXECUTOR_ROLE is open, otherwise
 *                                through a second Safe transaction that the owners approve);
 *  - done                     -> verifies every proxy runs its new implementation.
 * Each branch reads the chain first, so running it again never sends a second transaction.
 */
export type ExecuteStep = "scheduled" | "executed" | "already-executed" | "execute-proposed";

export interface ExecuteResult {
  record: ProposalRecord;
  step: ExecuteStep;
  eta?: bigint;
  tx?: string;
  safeTx?: SafeTxRecord;
  postChecks?: PostCheck[];
  /** A governance record, once executed: each action's effect read back from the chain. */
  governanceChecks?: GovernanceCheck[];
}

export interface GovernanceCheck {
  action: string;
  ok: boolean;
  detail: string;
}

export interface PostCheck {
  proxy: string;
  implementation: string;
  expected: string;
  authority: string;
  ok: boolean;
}

export async function execute(opts: { setup: Setup; proposal: string; executor: Actor; log?: (line: string) => void }): Promise<ExecuteResult> {
  const { setup, executor } = opts;
  const { ctx, timelock } = setup;
  const { file, record: loaded } = resolveProposal(setup.root, ctx.network, opts.proposal);
  let record = loaded;
  await checkProposalAgainstChain(setup, file, record);
  const save = (next: ProposalRecord) => {
    record = next;
    writeProposal(file, record);
  };
  let op = await operationState(timelock, record.operationId);
  const scheduleTx = record.safeTransactions.filter((t) => t.purpose === "schedule").at(-1);
  // What the chain says, then the one pure rule that turns it into the next step.
  const view: ChainView = { operation: op, now: await latestTimestamp(ctx), cancelled: false };
  if (op.state === "Unset") {
    if (scheduleTx) {
      const status = await safeTxStatus(ctx, scheduleTx, setup.service);
      view.scheduleTx = { executed: status.executed, approvals: status.approvals.length, threshold: status.threshold };
    }
    view.cancelled = await wasCancelled(setup, record.operationId);
  }
  const next = nextStep(record, view);

  if (next.step === "cancelled") {
    save(withState(record, "cancelled"));
    throw new GatehouseError("OPERATION_CANCELLED", { operationId: record.operationId });
  }
  if (next.step === "propose") throw new GatehouseError("USAGE", { message: `proposal ${record.id} has not been proposed yet: run \`gatehouse propose ${record.id}\`` });
  if (next.step === "collect-approvals") throw new GatehouseError("THRESHOLD_NOT_MET", { safeTxHash: scheduleTx!.safeTxHash, have: next.have, need: next.need });
  if (next.step === "execute-safe-tx") {
    const tx = await executeSafeTx(ctx, setup.deployment, scheduleTx!, executor, setup.service);
    op = await operationState(timelock, record.operationId);
    save(
      withState(
        { ...record, safeTransactions: record.safeTransactions.map((t) => (t.safeTxHash === scheduleTx!.safeTxHash ? { ...t, executedTx: tx } : t)) },
        "scheduled",
        { tx },
      ),
    );
    return { record, step: "scheduled", eta: op.eta, tx };
  }

  if (next.step === "wait") {
    save(withState(record, "scheduled"));
    throw new GatehouseError("NOT_READY", {
      operationId: record.operationId,
      timeLeft: formatDuration(next.secondsLeft),
      eta: new Date(Number(next.eta) * 1000).toISOString(),
    });
  }

  if (next.step === "execute-operation") {
    const open = (await timelock.hasRole(ROLES.EXECUTOR_ROLE, ZeroAddress)) as boolean;
    let tx: string;
    if (open) {
      const { targets, values, payloads, predecessor, salt } = executeBatchArgs(record);
      const response = await (timelock.connect(executor.signer) as Contract).executeBatch(targets, values, payloads, predecessor, salt);
      const receipt = await response.wait();
      tx = receipt!.hash;
    } else {
      // EXECUTOR_ROLE belongs to the Safe: the owners approve a second Safe transaction that calls executeBatch.
      const data = executeCalldata(record);
      // The execute transaction goes where the schedule transaction went: on chain or to the service.
      const via = record.safeTransactions.find((t) => t.purpose === "schedule")?.via === "service" && setup.service ? "service" : "onchain";
      let executeTx = record.safeTransactions.find((t) => t.purpose === "execute" && t.data === data && t.via === via && !t.executedTx);
      const safe = await readSafe(ctx, record.safe);
      if (!executeTx || executeTx.nonce < safe.nonce) {
        if (via === "service" && !safe.owners.includes(executor.address)) throw new GatehouseError("NOT_OWNER", { address: executor.address, safe: record.safe });
        executeTx = await buildSafeTx({
          ctx,
          deployment: setup.deployment,
          safe: record.safe,
          to: record.timelock,
          data,
          // Same rule as propose: skip the nonces other pending proposals already took.
          nonce: chooseNonce({ safeNonce: safe.nonce, pendingNonces: pendingSafeNonces(setup, record) }),
          purpose: "execute",
          proposer: executor.address,
          via,
        });
        save({ ...record, safeTransactions: [...record.safeTransactions, executeTx] });
      }
      if (via === "service") await submitToService(ctx, setup.deployment, executeTx, executor, setup.service!);
      const status = await safeTxStatus(ctx, executeTx, setup.service);
      if (status.approvals.length < status.threshold) {
        if (safe.owners.includes(executor.address)) await approveSafeTx(ctx, setup.deployment, executeTx, executor, setup.service);
        const after = await safeTxStatus(ctx, executeTx, setup.service);
        if (after.approvals.length < after.threshold) return { record, step: "execute-proposed", safeTx: executeTx };
      }
      tx = await executeSafeTx(ctx, setup.deployment, executeTx, executor, setup.service);
      const executed = executeTx;
      save({ ...record, safeTransactions: record.safeTransactions.map((t) => (t.safeTxHash === executed.safeTxHash ? { ...t, executedTx: tx } : t)) });
    }
    const postChecks = await postUpgradeChecks(setup, record);
    const governanceChecks = await postGovernanceChecks(setup, record);
    save(withState(record, "executed", { tx }));
    return { record, step: "executed", tx, postChecks, ...(governanceChecks ? { governanceChecks } : {}) };
  }

  // Done: executed earlier (by this command, the Safe, or anyone when the executor role is open).
  const postChecks = await postUpgradeChecks(setup, record);
  const governanceChecks = await postGovernanceChecks(setup, record);
  save(withState(record, "executed"));
  return { record, step: "already-executed", postChecks, ...(governanceChecks ? { governanceChecks } : {}) };
}

/** After execution: each proxy runs its new implementation and the timelock is still its upgrade authority. */
export async function postUpgradeChecks(setup: Setup, record: ProposalRecord): Promise<PostCheck[]> {
  const { ctx } = setup;
  const timelock = getAddress(setup.deployment.timelock.address);
  return Promise.all(
    record.operations.map(async (op) => {
      const implementation = getAddress(await ctx.up.erc1967.getImplementationAddress(op.proxyAddress));
      const authorityAddress = op.kind === "uups" ? op.proxyAddress : getAddress(await ctx.up.erc1967.getAdminAddress(op.proxyAddress));
      const authority = getAddress((await new Contract(authorityAddress, UPGRADE_ABI, ctx.ethers.provider).owner()) as string);
      return {
        proxy: op.proxy,
        implementation,
        expected: getAddress(op.newImplementation),
        authority,
        ok: implementation === getAddress(op.newImplementation) && authority === timelock,
      };
    }),
  );
}

/** After a governance change executed: the delay, the role or the pause state it set, read back (undefined: not a governance record). */
export async function postGovernanceChecks(setup: Setup, record: ProposalRecord): Promise<GovernanceCheck[] | undefined> {
  if (record.kind !== "governance") return undefined;
  const { timelock, ctx } = setup;
  return Promise.all(
    (record.actions ?? []).map(async (a): Promise<GovernanceCheck> => {
      const words = governanceActionWords(a);
      if (a.action === "updateDelay") {
        const now = (await timelock.getMinDelay()) as bigint;
        return { action: words, ok: now.toString() === a.delaySeconds, detail: `the timelock's minimum delay is ${now}s` };
      }
      if (a.action === "unpause") {
        const paused = await new Contract(a.proxyAddress, ["function paused() view returns (bool)"], ctx.ethers.provider).paused().catch(() => undefined);
        return { action: words, ok: paused === false, detail: paused === undefined ? `${a.proxy} has no paused() to read` : `${a.proxy} is ${paused ? "still paused" : "not paused"}` };
      }
      const has = (await timelock.hasRole(ROLES[a.role], a.account)) as boolean;
      return { action: words, ok: has === (a.action === "grantRole"), detail: `${a.account} ${has ? "holds" : "does not hold"} ${a.role}` };
    }),
  );
}
