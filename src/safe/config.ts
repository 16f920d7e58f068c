import { createRequire } from "node:module";
import { Contract, ZeroAddress, dataSlice, getAddress, keccak256, toUtf8Bytes, type BlockTag, type Provider } from "ethers";
import {
  getCompatibilityFallbackHandlerDeployments,
  getCreateCallDeployments,
  getMultiSendCallOnlyDeployments,
  getMultiSendDeployments,
  getProxyFactoryDeployments,
  getSafeL2SingletonDeployments,
  getSafeSingletonDeployments,
  getSignMessageLibDeployments,
  getSimulateTxAccessorDeployments,
  type SingletonDeploymentV2,
} from "@safe-global/safe-deployments";
import type { SafeInfra } from "../records/deployment.ts";

/**
 * The configuration of a Safe as the chain holds it (owners, threshold, modules, guards, fallback handler,
 * singleton and the code behind them), read in one place, and a pure comparison with what the policy
 * expects. `doctor`, `deploy` (adopting a Safe) and the watcher use it.
 *
 * Canonical code is recognised by its runtime code hash, never by an address or by the presence of code:
 * `@safe-global/safe-deployments` ships one `codeHash` (keccak256 of the runtime code) per contract and
 * version. The local chain deploys the same contracts from `@safe-global/safe-smart-account` artifacts at
 * other addresses; the singletons, the proxy factory and the fallback handler have no immutables, so their
 * runtime code hash equals the canonical one wherever they live. MultiSend and SimulateTxAccessor store
 * their own address in an immutable, so their code is compared with the artifact after masking that word.
 */

export const SAFE_VERSION = "1.5.0" as const;
const SENTINEL = "0x0000000000000000000000000000000000000001";

/** Storage slots of Safe 1.5.0 (contracts/base/*.sol). */
export const SAFE_SLOTS = {
  singleton: "0x" + "00".repeat(32),
  guard: keccak256(toUtf8Bytes("guard_manager.guard.address")),
  moduleGuard: keccak256(toUtf8Bytes("module_manager.module_guard.address")),
  fallbackHandler: keccak256(toUtf8Bytes("fallback_manager.handler.address")),
};

const SAFE_CONFIG_ABI = [
  "function getOwners() view returns (address[])",
  "function getThreshold() view returns (uint256)",
  "function nonce() view returns (uint256)",
  "function getModulesPaginated(address start, uint256 pageSize) view returns (address[] array, address next)",
];

export interface SafeConfig {
  address: string;
  owners: string[];
  threshold: number;
  nonce: bigint;
  /** Every enabled module (all pages). */
  modules: string[];
  guard: string;
  /** Safe 1.5.0's guard on module transactions. */
  moduleGuard: string;
  fallbackHandler: string;
  /** The implementation the proxy delegates to (slot 0). */
  singleton: string;
  /** keccak256 of the runtime code at the Safe's own address, its singleton and its fallback handler ("0x" code hashes to keccak256("0x")). */
  codeHashes: { proxy: string; singleton: string; fallbackHandler: string };
}

const addressAt = (word: string) => getAddress(dataSlice(word, 12));

export async function codeHashAt(provider: Provider, address: string, blockTag?: BlockTag): Promise<string> {
  return keccak256(await provider.getCode(address, blockTag));
}

/** Read the Safe's whole configuration from the chain (at `blockTag`, default latest). */
export async function readSafeConfig(provider: Provider, safe: string, blockTag?: BlockTag): Promise<SafeConfig> {
  const address = getAddress(safe);
  const c = new Contract(address, SAFE_CONFIG_ABI, provider);
  const overrides = blockTag === undefined ? {} : { blockTag };
  const [owners, threshold, nonce, singletonWord, guardWord, moduleGuardWord, handlerWord] = await Promise.all([
    c.getOwners!(overrides) as Promise<string[]>,
    c.getThreshold!(overrides) as Promise<bigint>,
    c.nonce!(overrides) as Promise<bigint>,
    provider.getStorage(address, SAFE_SLOTS.singleton, blockTag),
    provider.getStorage(address, SAFE_SLOTS.guard, blockTag),
    provider.getStorage(address, SAFE_SLOTS.moduleGuard, blockTag),
    provider.getStorage(address, SAFE_SLOTS.fallbackHandler, blockTag),
  ]);
  const modules: string[] = [];
  for (let start = SENTINEL; ; ) {
    const [page, next] = (await c.getModulesPaginated!(start, 50, overrides)) as [string[], string];
    modules.push(...page.map((m) => getAddress(m)));
    if (page.length === 0 || getAddress(next) === SENTINEL || getAddress(next) === ZeroAddress) break;
    start = next;
  }
  const singleton = addressAt(singletonWord);
  const fallbackHandler = addressAt(handlerWord);
  const [proxyHash, singletonHash, handlerHash] = await Promise.all([
    codeHashAt(provider, address, blockTag),
    codeHashAt(provider, singleton, blockTag),
    codeHashAt(provider, fallbackHandler, blockTag),
  ]);
  return {
    address,
    owners: owners.map((o) => getAddress(o)),
    threshold: Number(threshold),
    nonce,
    modules,
    guard: addressAt(guardWord),
    moduleGuard: addressAt(moduleGuardWord),
    fallbackHandler,
    singleton,
    codeHashes: { proxy: proxyHash, singleton: singletonHash, fallbackHandler: handlerHash },
  };
}

// ---- canonical code (pure) ----

const require = createRequire(import.meta.url);
const ARTIFACTS = "@safe-global/safe-smart-account/build/artifacts/contracts";

function hashesOf(d: SingletonDeploymentV2 | undefined): string[] {
  return Object.values(d?.deployments ?? {}).map((x) => x!.codeHash.toLowerCase());
}

function artifactHash(file: string): string {
  return keccak256((require(`${ARTIFACTS}/${file}`) as { deployedBytecode: string }).deployedBytecode).toLowerCase();
}

/**
 * Runtime code hashes accepted for each Safe contract: those safe-deployments lists for the version, plus
 * the `@safe-global/safe-smart-account` artifact's own (equal for contracts without immutables).
 */
export const CANONICAL_CODE = {
  /** Both singletons of the version: Safe and SafeL2. */
  singleton: [...hashesOf(getSafeSingletonDeployments({ version: SAFE_VERSION })), ...hashesOf(getSafeL2SingletonDeployments({ version: SAFE_VERSION }))],
  fallbackHandler: hashesOf(getCompatibilityFallbackHandlerDeployments({ version: SAFE_VERSION })),
  /** SafeProxy has no entry in safe-deployments; its runtime code is the 1.5.0 proxy factory's. */
  proxy: [artifactHash("proxies/SafeProxy.sol/SafeProxy.json")],
};

const INFRA_CODE: Record<keyof SafeInfra, { hashes: readonly string[]; artifact: string }> = {
  safeSingleton: { hashes: CANONICAL_CODE.singleton, artifact: "SafeL2.sol/SafeL2.json" },
  safeProxyFactory: { hashes: hashesOf(getProxyFactoryDeployments({ version: SAFE_VERSION })), artifact: "proxies/SafeProxyFactory.sol/SafeProxyFactory.json" },
  multiSend: { hashes: hashesOf(getMultiSendDeployments({ version: SAFE_VERSION })), artifact: "libraries/MultiSend.sol/MultiSend.json" },
  multiSendCallOnly: { hashes: hashesOf(getMultiSendCallOnlyDeployments({ version: SAFE_VERSION })), artifact: "libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json" },
  fallbackHandler: { hashes: CANONICAL_CODE.fallbackHandler, artifact: "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json" },
  signMessageLib: { hashes: hashesOf(getSignMessageLibDeployments({ version: SAFE_VERSION })), artifact: "libraries/SignMessageLib.sol/SignMessageLib.json" },
  createCall: { hashes: hashesOf(getCreateCallDeployments({ version: SAFE_VERSION })), artifact: "libraries/CreateCall.sol/CreateCall.json" },
  simulateTxAccessor: { hashes: hashesOf(getSimulateTxAccessorDeployments({ version: SAFE_VERSION })), artifact: "accessors/SimulateTxAccessor.sol/SimulateTxAccessor.json" },
};

/**
 * Whether `code`, found at `address`, is the Safe contract `key` of the version: its hash is a listed
 * one, or, with every 32-byte word holding its own address zeroed (the immutable `address(this)` of
 * MultiSend and SimulateTxAccessor), it equals the artifact's runtime code.
 */
export function isCanonicalSafeCode(key: keyof SafeInfra, address: string, code: string): boolean {
  if (code === "0x") return false;
  const { hashes, artifact } = INFRA_CODE[key];
  if (hashes.includes(keccak256(code).toLowerCase())) return true;
  const word = address.toLowerCase().slice(2).padStart(64, "0");
  const masked = "0x" + code.slice(2).toLowerCase().split(word).join("0".repeat(64));
  return masked !== code.toLowerCase() && keccak256(masked).toLowerCase() === artifactHash(artifact);
}

/** The Safe contracts of `infra` whose code is not the version's (missing code included); empty when all are. */
export async function nonCanonicalSafeInfra(provider: Provider, infra: SafeInfra): Promise<(keyof SafeInfra)[]> {
  const keys = Object.keys(INFRA_CODE) as (keyof SafeInfra)[];
  const codes = await Promise.all(keys.map((k) => provider.getCode(infra[k])));
  return keys.filter((k, i) => !isCanonicalSafeCode(k, infra[k], codes[i]!));
}

// ---- comparison with the policy (pure) ----

export interface SafeExpectation {
  owners: string[];
  threshold: number;
  /** rules.minThreshold: reported separately, so that a policy below its own rule is visible too. */
  minThreshold?: number;
  /** Fallback handlers accepted besides the canonical CompatibilityFallbackHandler (by code hash); ZeroAddress allows none. */
  fallbackHandlers?: string[];
}

export interface SafeFinding {
  rule: string;
  subject: string;
  message: string;
  remedy: string;
}

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function compareSafeConfig(config: SafeConfig, expected: SafeExpectation): SafeFinding[] {
  const out: SafeFinding[] = [];
  const add = (rule: string, subject: string, message: string, remedy: string) => out.push({ rule, subject, message, remedy });
  const safe = config.address;
  const sign = "with a Safe transaction signed by the owners";

  if (!CANONICAL_CODE.proxy.includes(config.codeHashes.proxy.toLowerCase())) {
    add("safe-proxy-code", safe, `the code at the Safe ${safe} is not the Safe ${SAFE_VERSION} proxy (code hash ${config.codeHashes.proxy})`, "point the policy and deployment record at a real Safe, or redeploy with `gatehouse deploy`");
  }
  if (!CANONICAL_CODE.singleton.includes(config.codeHashes.singleton.toLowerCase())) {
    add("safe-singleton", config.singleton, `the Safe ${safe} delegates to ${config.singleton}, whose code is not the canonical Safe ${SAFE_VERSION} singleton (code hash ${config.codeHashes.singleton})`, `migrate back to the Safe ${SAFE_VERSION} singleton ${sign} (e.g. SafeMigration), or move governance to a new Safe`);
  }
  const want = new Set(expected.owners.map((o) => getAddress(o)));
  const have = new Set(config.owners);
  for (const o of config.owners) {
    if (!want.has(o)) add("safe-owner-extra", o, `${o} is an owner of the Safe ${safe} but not in the policy`, `remove it (removeOwner) ${sign}, or add it to governance.safe.owners`);
  }
  for (const o of want) {
    if (!have.has(o)) add("safe-owner-missing", o, `the policy names ${o} as an owner of the Safe ${safe}, but it is not one`, `add it (addOwnerWithThreshold) ${sign}, or remove it from governance.safe.owners`);
  }
  if (config.threshold !== expected.threshold) {
    add("safe-threshold", safe, `the Safe's threshold is ${config.threshold}, the policy says ${expected.threshold}`, `set it with changeThreshold(${expected.threshold}) ${sign}, or correct governance.safe.threshold`);
  }
  if (expected.minThreshold !== undefined && config.threshold < expected.minThreshold) {
    add("threshold-below-minimum", safe, `the Safe's threshold is ${config.threshold}, below the policy minimum of ${expected.minThreshold}`, `raise it with changeThreshold ${sign}`);
  }
  for (const m of config.modules) {
    add("safe-module", m, `the Safe ${safe} has the module ${m} enabled: a module executes Safe transactions without the owners' signatures`, `disableModule ${sign}`);
  }
  if (config.guard !== ZeroAddress) {
    add("safe-guard", config.guard, `the Safe ${safe} has the transaction guard ${config.guard}: a guard can block every transaction, the cancel path included`, `setGuard(address(0)) ${sign}`);
  }
  if (config.moduleGuard !== ZeroAddress) {
    add("safe-module-guard", config.moduleGuard, `the Safe ${safe} has the module guard ${config.moduleGuard}`, `setModuleGuard(address(0)) ${sign}`);
  }
  const allowed = (expected.fallbackHandlers ?? []).some((a) => sameAddress(a, config.fallbackHandler)) || CANONICAL_CODE.fallbackHandler.includes(config.codeHashes.fallbackHandler.toLowerCase());
  if (!allowed) {
    add("safe-fallback-handler", config.fallbackHandler, `the Safe ${safe}'s fallback handler ${config.fallbackHandler} is not the canonical CompatibilityFallbackHandler ${SAFE_VERSION} (code hash ${config.codeHashes.fallbackHandler}) nor in governance.safe.fallbackHandlers`, `setFallbackHandler to the CompatibilityFallbackHandler ${sign}, or allowlist it in governance.safe.fallbackHandlers`);
  }
  return out;
}
