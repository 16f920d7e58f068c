import path from "node:path";
import { z } from "zod";
import { Address } from "../policy/schema.ts";
import { parseWith } from "../policy/load.ts";
import { displayPath, readJsonIfExists, writeJsonAtomic } from "../fs/atomic.ts";

/** deployments/<network>.json: every address `deploy` created or adopted on one network (committed). */
export const SafeInfra = z
  .object({
    safeSingleton: Address,
    safeProxyFactory: Address,
    multiSend: Address,
    multiSendCallOnly: Address,
    fallbackHandler: Address,
    signMessageLib: Address,
    createCall: Address,
    simulateTxAccessor: Address,
  })
  .strict();

export const DeployedProxy = z
  .object({
    address: Address,
    kind: z.enum(["uups", "transparent"]),
    /** Transparent proxies: the ProxyAdmin (owned by the timelock). */
    proxyAdmin: Address.optional(),
    /** The contract and implementation the proxy was deployed with. */
    initialContract: z.string(),
    initialImplementation: Address,
  })
  .strict();

export const DeploymentRecord = z
  .object({
    network: z.string(),
    chainId: z.number().int(),
    deployer: Address,
    // "partial" while `deploy` is part-way through deploying the Safe contracts (it resumes from there).
    safeInfra: z.union([SafeInfra.extend({ source: z.enum(["deployed", "canonical"]) }).strict(), SafeInfra.partial().extend({ source: z.literal("partial") }).strict()]).optional(),
    safe: z.object({ address: Address, owners: z.array(Address), threshold: z.number().int(), version: z.string(), saltNonce: z.string() }).strict().optional(),
    timelock: z
      .object({
        address: Address,
        /** Where event scans start (role history, cancellations, scheduled upgrades); 0 when unknown. */
        deployedAtBlock: z.number().int().nonnegative().optional(),
        minDelay: z.number().int(),
        executors: z.array(Address),
        cancellers: z.array(Address),
        adminRenounced: z.boolean(),
      })
      .strict()
      .optional(),
    /**
     * Written just before the timelock's deployment is sent: its CREATE address (from the deployer's
     * nonce) and a block before it. A run cut off before recording the timelock adopts it from here.
     */
    pendingTimelock: z.object({ address: Address, nonce: z.number().int().nonnegative(), atBlock: z.number().int().nonnegative() }).strict().optional(),
    proxies: z.record(z.string(), DeployedProxy).default({}),
    /** The Multicall3 the watcher reads monitors through (`deploy` adds it when the policy has monitors). */
    multicall: z.object({ address: Address, source: z.enum(["canonical", "deployed"]) }).strict().optional(),
  })
  .strict();

export type DeploymentRecord = z.infer<typeof DeploymentRecord>;
export type SafeInfra = z.infer<typeof SafeInfra>;

export function deploymentPath(root: string, network: string): string {
  return path.join(root, "deployments", `${network}.json`);
}

export function readDeployment(root: string, network: string): DeploymentRecord | undefined {
  const file = deploymentPath(root, network);
  const data = readJsonIfExists(file);
  return data === undefined ? undefined : parseWith(DeploymentRecord, data, displayPath(file));
}

export function writeDeployment(root: string, record: DeploymentRecord): void {
  writeJsonAtomic(deploymentPath(root, record.network), DeploymentRecord.parse(record));
}
