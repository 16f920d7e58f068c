import { Contract, getAddress } from "ethers";
import type { ChainContext } from "../chain/context.ts";
import { GatehouseError, notDeployed } from "../errors.ts";
import { loadPolicy } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import { readDeployment, type DeploymentRecord } from "../records/deployment.ts";
import type { ApiKit } from "../safe/service-client.ts";
import { OPERATION_STATES, TIMELOCK_ABI, type OperationState } from "../timelock/calls.ts";

/** What every pipeline step after `deploy` starts from: the policy, the deployment record and the chain. */
export interface Setup {
  ctx: ChainContext;
  root: string;
  policy: Policy;
  deployment: DeploymentRecord & { safe: NonNullable<DeploymentRecord["safe"]>; timelock: NonNullable<DeploymentRecord["timelock"]> };
  timelock: Contract;
  /** The Safe Transaction Service for `--via service` proposals (api-kit), when one is configured. */
  service?: ApiKit;
  /**
   * Where proposals' commits come from and are built. Default: the git repository at `root`, the
   * policy's protectedBranch, and the commit stage reads from that working tree. Tests set it to the
   * project's own checkout; a CI job may name the commit it checked out.
   */
  source?: { repoRoot?: string; protectedBranch?: string; commit?: string };
  /** Progress of long steps (a build at a commit, a simulation) for a person at a terminal; unset otherwise. */
  progress?: (line: string) => void;
}

/** The git repository and protected branch that verify and sign build a proposal's commit from. */
export function sourceOf(setup: Pick<Setup, "root" | "policy" | "source">): { repoRoot: string; protectedBranch: string } {
  return { repoRoot: setup.source?.repoRoot ?? setup.root, protectedBranch: setup.source?.protectedBranch ?? setup.policy.protectedBranch };
}

export function loadSetup(ctx: ChainContext, root: string, policy: Policy = loadPolicy(root, ctx.network), service?: ApiKit): Setup {
  if (BigInt(policy.chainId) !== ctx.chainId) {
    throw new GatehouseError("CHAIN_MISMATCH", { file: `policies/${policy.network}.yaml`, expected: policy.chainId, network: ctx.network, actual: ctx.chainId });
  }
  const deployment = readDeployment(root, ctx.network);
  if (!deployment?.safe || !deployment.timelock) throw notDeployed("the governance topology", ctx.network);
  if (BigInt(deployment.chainId) !== ctx.chainId) {
    throw new GatehouseError("CHAIN_MISMATCH", { file: `deployments/${ctx.network}.json`, expected: deployment.chainId, network: ctx.network, actual: ctx.chainId });
  }
  const timelock = new Contract(getAddress(deployment.timelock.address), TIMELOCK_ABI, ctx.ethers.provider);
  return { ctx, root, policy, deployment: deployment as Setup["deployment"], timelock, service };
}

export async function operationState(timelock: Contract, operationId: string): Promise<{ state: OperationState; eta: bigint }> {
  const [state, timestamp] = await Promise.all([timelock.getOperationState(operationId), timelock.getTimestamp(operationId)]);
  return { state: OPERATION_STATES[Number(state)]!, eta: timestamp as bigint };
}

/** The first block worth scanning for the timelock's events: its deployment, when the record knows it. */
export function scanFrom(setup: Pick<Setup, "deployment">): number {
  return setup.deployment.timelock.deployedAtBlock ?? 0;
}

export async function wasCancelled(setup: Pick<Setup, "deployment" | "timelock">, operationId: string): Promise<boolean> {
  const logs = await setup.timelock.queryFilter(setup.timelock.filters.Cancelled!(operationId), scanFrom(setup), "latest");
  return logs.length > 0;
}

export async function latestTimestamp(ctx: ChainContext): Promise<bigint> {
  const block = await ctx.ethers.provider.getBlock("latest");
  return BigInt(block!.timestamp);
}
