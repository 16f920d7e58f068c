import { createRequire } from "node:module";
import { ContractFactory, type Provider, type Signer } from "ethers";
import type { ContractNetworksConfig } from "@safe-global/protocol-kit";
import type { SafeInfra } from "../records/deployment.ts";
import { nonCanonicalSafeInfra } from "./config.ts";

const require = createRequire(import.meta.url);
const ARTIFACTS = "@safe-global/safe-smart-account/build/artifacts/contracts";

/** The Safe 1.5.0 contracts protocol-kit needs, with their build artifacts in @safe-global/safe-smart-account. */
const SAFE_ARTIFACTS: Record<keyof SafeInfra, string> = {
  // SafeL2 emits an event per transaction, which the watcher and explorers read.
  safeSingleton: "SafeL2.sol/SafeL2.json",
  safeProxyFactory: "proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
  multiSend: "libraries/MultiSend.sol/MultiSend.json",
  multiSendCallOnly: "libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json",
  fallbackHandler: "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
  signMessageLib: "libraries/SignMessageLib.sol/SignMessageLib.json",
  createCall: "libraries/CreateCall.sol/CreateCall.json",
  simulateTxAccessor: "accessors/SimulateTxAccessor.sol/SimulateTxAccessor.json",
};

/** Canonical Safe 1.5.0 addresses (safe-deployments); used where a chain already has them. */
export const CANONICAL_SAFE_1_5_0: SafeInfra = {
  safeSingleton: "0xEdd160fEBBD92E350D4D398fb636302fccd67C7e",
  safeProxyFactory: "0x14F2982D601c9458F93bd70B218933A6f8165e7b",
  multiSend: "0x218543288004CD07832472D464648173c77D7eB7",
  multiSendCallOnly: "0xA83c336B20401Af773B6219BA5027174338D1836",
  fallbackHandler: "0x3EfCBb83A4A7AfcB4F68D501E2c2203a38be77f4",
  signMessageLib: "0x4FfeF8222648872B3dE295Ba1e49110E61f5b5aa",
  createCall: "0x2Ef5ECfbea521449E4De05EDB1ce63B75eDA90B4",
  simulateTxAccessor: "0x07EfA797c55B5DdE3698d876b277aBb6B893654C",
};

export function safeArtifact(name: "SafeL2" | "SafeProxyFactory"): { abi: unknown[]; bytecode: string } {
  return require(`${ARTIFACTS}/${name === "SafeL2" ? SAFE_ARTIFACTS.safeSingleton : SAFE_ARTIFACTS.safeProxyFactory}`);
}

export async function hasCode(provider: Provider, address: string): Promise<boolean> {
  return (await provider.getCode(address)) !== "0x";
}

/** The canonical addresses hold the Safe 1.5.0 contracts: checked by code hash, since anyone can put code there on a new chain. */
export async function canonicalInfraPresent(provider: Provider): Promise<boolean> {
  return (await nonCanonicalSafeInfra(provider, CANONICAL_SAFE_1_5_0)).length === 0;
}

/** Deploy each Safe contract from its artifact; `onDeployed` lets the caller record progress after each one. */
export async function deploySafeInfra(deployer: Signer, existing: Partial<SafeInfra> = {}, onDeployed?: (key: keyof SafeInfra, address: string) => void): Promise<SafeInfra> {
  const out: Partial<SafeInfra> = { ...existing };
  for (const [key, file] of Object.entries(SAFE_ARTIFACTS) as [keyof SafeInfra, string][]) {
    if (out[key] && (await hasCode(deployer.provider!, out[key]!))) continue;
    const { abi, bytecode } = require(`${ARTIFACTS}/${file}`);
    const contract = await new ContractFactory(abi, bytecode, deployer).deploy();
    await contract.waitForDeployment();
    out[key] = await contract.getAddress();
    onDeployed?.(key, out[key]!);
  }
  return out as SafeInfra;
}

export function contractNetworks(chainId: bigint, infra: SafeInfra): ContractNetworksConfig {
  return {
    [chainId.toString()]: {
      safeSingletonAddress: infra.safeSingleton,
      safeProxyFactoryAddress: infra.safeProxyFactory,
      multiSendAddress: infra.multiSend,
      multiSendCallOnlyAddress: infra.multiSendCallOnly,
      fallbackHandlerAddress: infra.fallbackHandler,
      signMessageLibAddress: infra.signMessageLib,
      createCallAddress: infra.createCall,
      simulateTxAccessorAddress: infra.simulateTxAccessor,
    },
  };
}
