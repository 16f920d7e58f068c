import hre from "hardhat";
import { getAddress, id as keccakText, ZeroHash } from "ethers";
import { GatehouseError } from "../errors.ts";
import { planUpgrade, proposalId, type ProxyChange } from "../plan/plan.ts";
import type { CheckResult } from "../pipeline/check.ts";
import type { Setup } from "../pipeline/setup.ts";
import { proxyChangeOf, toRecord, upgradeCallData } from "../pipeline/stage.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import { serveRpc, type Eip1193 } from "./serve.ts";
import { simulateProposal } from "./run.ts";
import type { SimulationReport } from "./simulate.ts";

/**
 * The upgrade a PR would stage, simulated before merge (the PR check holds no key and deploys nothing):
 * an in-process EDR fork of the network (its read-only RPC, or the in-process chain served over
 * loopback) where the build's target implementations are deployed by a stand-in account, then the batch
 * `stage` would write for them, simulated on a fork of that fork like any proposal. The implementations'
 * addresses differ from the ones stage will deploy, so the state diff shows the same slots with other
 * values; what it proves is that the path completes, the writes are allowed and the probes pass.
 */
const STAND_IN_DEPLOYER = getAddress(`0x${keccakText("gatehouse.pr-simulation.deployer").slice(26)}`);

type Rpc = Eip1193;

export async function simulatePrUpgrade(setup: Setup, check: CheckResult, opts: { commit?: string | null } = {}): Promise<{ report: SimulationReport; record: ProposalRecord } | undefined> {
  const changed = check.proxies.filter((p) => !p.upToDate);
  if (changed.length === 0) return undefined;
  const { ctx, policy } = setup;
  const cfg = ctx.connection.networkConfig;
  const served = cfg.type === "http" ? undefined : await serveRpc(ctx.connection.provider as unknown as Eip1193);
  let fork;
  let forkServed;
  try {
    const url = cfg.type === "http" ? await cfg.url.getUrl() : served!.url;
    const block = await ctx.ethers.provider.getBlockNumber();
    try {
      fork = await hre.network.create<"generic">({
        network: "default",
        override: { chainId: Number(ctx.chainId), forking: { url, blockNumber: block }, initialBaseFeePerGas: 0, loggingEnabled: false, throwOnTransactionFailures: false },
      });
    } catch (e) {
      throw new GatehouseError("SIMULATION_FORK_FAILED", { network: ctx.network, block, reason: (e as Error).message.split("\n")[0] }, { cause: e });
    }
    const rpc = fork.provider as unknown as Rpc;
    await rpc.request({ method: "evm_mine", params: [] });
    await rpc.request({ method: "hardhat_impersonateAccount", params: [STAND_IN_DEPLOYER] });
    await rpc.request({ method: "hardhat_setBalance", params: [STAND_IN_DEPLOYER, "0x56bc75e2d63100000"] });
    const changes: ProxyChange[] = [];
    for (const p of changed) {
      const artifact = (await ctx.readArtifact(p.target)) as unknown as { bytecode: string; abi?: unknown[]; linkReferences?: object };
      if (!artifact.bytecode || artifact.bytecode === "0x") throw new GatehouseError("BUILD_AT_COMMIT_FAILED", { commit: opts.commit ?? "(working build)", reason: `the artifact of ${p.target} has no creation code` });
      if (Object.keys(artifact.linkReferences ?? {}).length > 0) throw new GatehouseError("BUILD_AT_COMMIT_FAILED", { commit: opts.commit ?? "(working build)", reason: `${p.target} needs linked libraries, which Gatehouse does not deploy` });
      const hash = (await rpc.request({ method: "eth_sendTransaction", params: [{ from: STAND_IN_DEPLOYER, data: artifact.bytecode, gas: "0xe4e1c0", gasPrice: "0x0" }] })) as string;
      const receipt = (await rpc.request({ method: "eth_getTransactionReceipt", params: [hash] })) as { status: string; contractAddress: string | null };
      if (receipt.status !== "0x1" || !receipt.contractAddress) throw new GatehouseError("SIMULATION_FORK_FAILED", { network: ctx.network, block, reason: `deploying ${p.target} on the fork reverted` });
      // The policy's upgrade call, as stage encodes it: the expected diff includes what the initializer writes.
      changes.push(proxyChangeOf(p, getAddress(receipt.contractAddress), upgradeCallData(setup, p.name, artifact.abi ?? [])));
    }
    const delay = BigInt(policy.governance.delaySeconds);
    const plan = planUpgrade({ chainId: ctx.chainId, timelock: setup.deployment.timelock.address, changes, delay });
    const now = new Date().toISOString();
    // The record stage would write, in memory only (never a file: it names fork-only implementations).
    const record: ProposalRecord = {
      version: 2,
      id: proposalId(plan.operationId),
      network: ctx.network,
      chainId: Number(ctx.chainId),
      createdAt: now,
      commit: opts.commit ?? null,
      timelock: getAddress(setup.deployment.timelock.address),
      safe: getAddress(setup.deployment.safe.address),
      operations: plan.operations.map(toRecord),
      predecessor: plan.batch.predecessor,
      salt: plan.batch.salt,
      round: plan.round,
      delay: delay.toString(),
      operationId: plan.operationId,
      artifacts: {},
      storageLayoutDiff: {},
      rollback: { operations: plan.rollback.operations.map(toRecord), salt: plan.rollback.batch.salt, predecessor: plan.rollback.batch.predecessor ?? ZeroHash, operationId: plan.rollback.operationId },
      safeTransactions: [],
      state: "staged",
      history: [{ state: "staged", at: now }],
    };
    forkServed = await serveRpc(rpc);
    const forkBlock = Number(BigInt((await rpc.request({ method: "eth_blockNumber", params: [] })) as string));
    const report = await simulateProposal(setup, record, { forkUrl: forkServed.url, blockNumber: forkBlock });
    return { report, record };
  } finally {
    await forkServed?.close();
    await fork?.close();
    await served?.close();
  }
}
