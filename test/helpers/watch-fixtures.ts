import { ZeroAddress, ZeroHash, getAddress, id, keccak256 } from "ethers";
import type { ProposalRecord } from "../../src/records/proposal.ts";
import { ROLES, hashOperationBatch, timelockInterface, upgradeInterface } from "../../src/timelock/calls.ts";
import type { ChainFacts, Topology, TxFacts } from "../../src/watch/decide.ts";
import type { SafeExecution } from "../../src/watch/safe-signers.ts";
import type { WatchedEvent, WatchedEventName } from "../../src/watch/events.ts";

/** Synthetic topology, records, events and facts for the watcher's pure core (no chain). */
export const A = {
  timelock: getAddress("0x" + "71".repeat(20)),
  safe: getAddress("0x" + "5a".repeat(20)),
  deployer: getAddress("0x" + "de".repeat(20)),
  guardian: getAddress("0x" + "9a".repeat(20)),
  vault: getAddress("0x" + "aa".repeat(20)),
  registry: getAddress("0x" + "bb".repeat(20)),
  registryAdmin: getAddress("0x" + "bc".repeat(20)),
  vaultV1: getAddress("0x" + "a1".repeat(20)),
  vaultV2: getAddress("0x" + "a2".repeat(20)),
  registryV1: getAddress("0x" + "b1".repeat(20)),
  registryV2: getAddress("0x" + "b2".repeat(20)),
  attacker: getAddress("0x" + "66".repeat(20)),
  owner1: getAddress("0x" + "01".repeat(20)),
  owner2: getAddress("0x" + "02".repeat(20)),
};

export const topology: Topology = {
  network: "default",
  chainId: 31337,
  timelock: A.timelock,
  safe: A.safe,
  deployer: A.deployer,
  adminRenounced: true,
  minDelay: 3600,
  cancellers: [A.guardian],
  proxies: [
    { name: "registry", address: A.registry, kind: "transparent", proxyAdmin: A.registryAdmin, initialImplementation: A.registryV1 },
    { name: "vault", address: A.vault, kind: "uups", initialImplementation: A.vaultV1 },
  ],
  governed: { registry: { contract: "RegistryV2", upgradeInitializers: [] }, vault: { contract: "VaultV2", upgradeInitializers: ["initializeV2"] } },
};

/** Stand-ins for runtime code: the watcher's "build" of each target and the code on chain are the same bytes. */
export const VAULT_CODE = "0x" + Buffer.from("VaultV2 runtime").toString("hex");
export const REGISTRY_CODE = "0x" + Buffer.from("RegistryV2 runtime").toString("hex");
export const VAULT_CODE_HASH = keccak256(VAULT_CODE);
export const REGISTRY_CODE_HASH = keccak256(REGISTRY_CODE);
export const COMMIT = "c0ffee0000000000000000000000000000000000";
export const SAFE_TX_HASH = "0x" + "5e".repeat(32);

export const calls = {
  registry: { target: A.registryAdmin, value: "0", data: upgradeInterface.encodeFunctionData("upgradeAndCall", [A.registry, A.registryV2, "0x"]) },
  vault: { target: A.vault, value: "0", data: upgradeInterface.encodeFunctionData("upgradeToAndCall", [A.vaultV2, "0x"]) },
};

export const SALT = id("salt");

export function record(): ProposalRecord {
  const callList = [calls.registry, calls.vault];
  const operationId = hashOperationBatch({ calls: callList.map((c) => ({ ...c, value: BigInt(c.value) })), predecessor: ZeroHash, salt: SALT });
  const op = (name: "registry" | "vault") => ({
    proxy: name,
    proxyAddress: name === "vault" ? A.vault : A.registry,
    kind: name === "vault" ? ("uups" as const) : ("transparent" as const),
    ...(name === "registry" ? { proxyAdmin: A.registryAdmin } : {}),
    contract: name === "vault" ? "VaultV2" : "RegistryV2",
    oldContract: name === "vault" ? "VaultV1" : "RegistryV1",
    oldImplementation: name === "vault" ? A.vaultV1 : A.registryV1,
    newImplementation: name === "vault" ? A.vaultV2 : A.registryV2,
    initializer: "0x",
    call: calls[name],
  });
  return {
    version: 2,
    id: operationId.slice(2, 14),
    network: "default",
    chainId: 31337,
    createdAt: "2026-01-01T00:00:00.000Z",
    commit: COMMIT,
    timelock: A.timelock,
    safe: A.safe,
    operations: [op("registry"), op("vault")],
    predecessor: ZeroHash,
    salt: SALT,
    round: 0,
    delay: "3600",
    operationId,
    artifacts: {
      registry: { contract: "RegistryV2", sourceName: "contracts/RegistryV2.sol", artifactHash: REGISTRY_CODE_HASH, bytecodeHash: REGISTRY_CODE_HASH },
      vault: { contract: "VaultV2", sourceName: "contracts/VaultV2.sol", artifactHash: VAULT_CODE_HASH, bytecodeHash: VAULT_CODE_HASH },
    },
    storageLayoutDiff: { vault: [{ label: "depositCap", type: "uint256", slot: "2", offset: 0, status: "appended", file: "contracts/VaultV2.sol", line: 12 }] },
    rollback: { operations: [], salt: SALT, predecessor: ZeroHash, operationId: id("rollback") },
    safeTransactions: [
      {
        purpose: "schedule",
        safe: A.safe,
        to: A.timelock,
        value: "0",
        data: scheduleBatchData(callList, SALT),
        operation: 0,
        safeTxGas: "0",
        baseGas: "0",
        gasPrice: "0",
        gasToken: ZeroAddress,
        refundReceiver: ZeroAddress,
        nonce: 4,
        safeTxHash: SAFE_TX_HASH,
        domainHash: id("domain"),
        messageHash: id("message"),
      } as ProposalRecord["safeTransactions"][number],
    ],
    state: "scheduled",
    history: [],
  };
}

let logIndex = 0;
export function event(name: WatchedEventName, args: Record<string, string>, at: { block: number; tx: string; address?: string }): WatchedEvent {
  return {
    name,
    address: at.address ?? A.timelock,
    block: at.block,
    blockHash: id(`block ${at.block}`),
    txHash: at.tx,
    txIndex: 0,
    logIndex: logIndex++,
    args,
  };
}

/** The events of scheduleBatch(calls, 0, salt, delay) in one transaction. */
export function scheduled(operationId: string, callList: { target: string; value: string; data: string }[], at: { block: number; tx: string }, salt = SALT): WatchedEvent[] {
  return [
    ...callList.map((c, i) => event("CallScheduled", { id: operationId, index: String(i), ...c, predecessor: ZeroHash, delay: "3600" }, at)),
    ...(salt !== ZeroHash ? [event("CallSalt", { id: operationId, salt }, at)] : []),
  ];
}

export function scheduleBatchData(callList: { target: string; value: string; data: string }[], salt = SALT, predecessor = ZeroHash): string {
  return timelockInterface.encodeFunctionData("scheduleBatch", [callList.map((c) => c.target), callList.map((c) => c.value), callList.map((c) => c.data), predecessor, salt, 3600n]);
}

/** A transaction in which the Safe executed `data` on the timelock (execTransaction sent to the Safe, signed by two owners). */
export function safeExecuted(data: string, over: Partial<SafeExecution> = {}): TxFacts {
  return {
    from: A.deployer,
    to: A.safe,
    safeExecution: { safe: A.safe, safeTxHash: SAFE_TX_HASH, signers: [A.owner1, A.owner2], nonce: 4, threshold: 2, direct: true, executions: 1, call: { to: A.timelock, value: "0", data, operation: 0 }, modules: [], ...over },
  };
}

export function facts(over: Partial<ChainFacts> = {}): ChainFacts {
  const batch = safeExecuted(scheduleBatchData([calls.registry, calls.vault]));
  const owners = { owners: [A.owner1, A.owner2, getAddress("0x" + "03".repeat(20))], threshold: 2 };
  return {
    now: 1_000_100,
    blockTimestamps: { [id("block 10")]: 1_000_000, [id("block 20")]: 1_000_050 },
    txs: { [TX.schedule]: batch, [TX.again]: batch },
    code: { [A.vaultV2.toLowerCase()]: VAULT_CODE, [A.registryV2.toLowerCase()]: REGISTRY_CODE },
    implementations: {},
    admins: { [`${A.registry.toLowerCase()}@10`]: A.registryAdmin, [`${A.registry.toLowerCase()}@20`]: A.registryAdmin },
    builds: { [`${COMMIT}:VaultV2`]: { ok: true, bytecodeHash: VAULT_CODE_HASH, abi: ["function initializeV2(uint256 cap)", "function transferOwnership(address newOwner)"] }, [`${COMMIT}:RegistryV2`]: { ok: true, bytecodeHash: REGISTRY_CODE_HASH } },
    safeOwners: { "10": owners, "20": owners },
    operations: {},
    ...over,
  };
}

export const TX = { schedule: id("tx schedule"), execute: id("tx execute"), cancel: id("tx cancel"), other: id("tx other"), again: id("tx again") };
export { ROLES, ZeroAddress };
