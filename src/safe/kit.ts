import Safe from "@safe-global/protocol-kit";
import type { ContractNetworksConfig, PredictedSafeProps } from "@safe-global/protocol-kit";
import { Contract, getAddress } from "ethers";
import type { ChainContext } from "../chain/context.ts";
import type { DeploymentRecord, SafeInfra } from "../records/deployment.ts";
import { contractNetworks } from "./infra.ts";
import { notDeployed } from "../errors.ts";

/** protocol-kit adapter: the only place that builds Safe kits. */
export type SafeKit = Awaited<ReturnType<typeof Safe.init>>;

export { SAFE_VERSION } from "./config.ts";

export const SAFE_ABI = [
  "function getOwners() view returns (address[])",
  "function getThreshold() view returns (uint256)",
  "function nonce() view returns (uint256)",
  "function isOwner(address owner) view returns (bool)",
  "function approvedHashes(address owner, bytes32 hash) view returns (uint256)",
  "function approveHash(bytes32 hashToApprove)",
  "function VERSION() view returns (string)",
  "event ApproveHash(bytes32 indexed approvedHash, address indexed owner)",
  "event ExecutionSuccess(bytes32 indexed txHash, uint256 payment)",
  "event ExecutionFailure(bytes32 indexed txHash, uint256 payment)",
] as const;

export function networksOf(ctx: ChainContext, deployment: DeploymentRecord): ContractNetworksConfig {
  if (!deployment.safeInfra || deployment.safeInfra.source === "partial") throw notDeployed("the Safe contracts", ctx.network);
  return contractNetworks(ctx.chainId, deployment.safeInfra as SafeInfra);
}

export async function kitForSafe(ctx: ChainContext, deployment: DeploymentRecord, safeAddress: string, kitSigner?: string): Promise<SafeKit> {
  return Safe.init({ provider: ctx.safeProvider, signer: kitSigner, safeAddress, contractNetworks: networksOf(ctx, deployment) });
}

export async function kitForPredictedSafe(ctx: ChainContext, networks: ContractNetworksConfig, predictedSafe: PredictedSafeProps, kitSigner: string): Promise<SafeKit> {
  return Safe.init({ provider: ctx.safeProvider, signer: kitSigner, predictedSafe, contractNetworks: networks });
}

export function safeContract(ctx: ChainContext, address: string): Contract {
  return new Contract(getAddress(address), SAFE_ABI, ctx.ethers.provider);
}

/** On-chain state of the Safe that a signer or executor acts on. */
export async function readSafe(ctx: ChainContext, address: string): Promise<{ owners: string[]; threshold: number; nonce: number }> {
  const safe = safeContract(ctx, address);
  const [owners, threshold, nonce] = await Promise.all([safe.getOwners(), safe.getThreshold(), safe.nonce()]);
  return { owners: (owners as string[]).map((o) => getAddress(o)), threshold: Number(threshold), nonce: Number(nonce) };
}

/** Owners who approved `safeTxHash` on chain with approveHash. */
export async function approvalsOf(ctx: ChainContext, safeAddress: string, owners: string[], safeTxHash: string): Promise<string[]> {
  const safe = safeContract(ctx, safeAddress);
  const approved = await Promise.all(owners.map(async (o) => ((await safe.approvedHashes(o, safeTxHash)) as bigint) !== 0n));
  return owners.filter((_, i) => approved[i]);
}
