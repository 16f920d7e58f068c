import { createRequire } from "node:module";
import { Interface, getAddress, type LogDescription } from "ethers";
import { TIMELOCK_ABI } from "../timelock/calls.ts";

const require = createRequire(import.meta.url);
const SAFE_ARTIFACTS = "@safe-global/safe-smart-account/build/artifacts/contracts";

/**
 * The Safe's own configuration events, exactly as the Safe 1.5.0 artifacts declare them (ChangedMasterCopy
 * comes from SafeMigration, which a Safe delegatecalls to change its singleton, so the Safe emits it).
 * A change to who can sign or what can act as the Safe without signatures is an alert.
 */
export const SAFE_CONFIG_EVENTS = [
  "AddedOwner",
  "RemovedOwner",
  "ChangedThreshold",
  "EnabledModule",
  "DisabledModule",
  "ChangedGuard",
  "ChangedModuleGuard",
  "ChangedFallbackHandler",
  "ChangedMasterCopy",
] as const;
/** A module executed a transaction as the Safe: no owner signed it. */
export const SAFE_MODULE_EVENTS = ["ExecutionFromModuleSuccess"] as const;

function safeEventFragments(): string[] {
  const safe = new Interface((require(`${SAFE_ARTIFACTS}/Safe.sol/Safe.json`) as { abi: never[] }).abi);
  const migration = new Interface((require(`${SAFE_ARTIFACTS}/libraries/SafeMigration.sol/SafeMigration.json`) as { abi: never[] }).abi);
  // SafeSetup marks the Safe's creation: the configuration events of that transaction are the deployment's own.
  return [...SAFE_CONFIG_EVENTS, ...SAFE_MODULE_EVENTS, "SafeSetup"].map((name) => {
    const fragment = safe.getEvent(name) ?? migration.getEvent(name);
    if (!fragment) throw new Error(`the Safe 1.5.0 artifacts declare no event ${name}`);
    return fragment.format("full");
  });
}

/**
 * The events the watcher reads (pure): TimelockController operations and governance, and the admin events
 * of governed proxies and their ProxyAdmins. Raw JSON-RPC logs in, plain JSON-safe records out.
 */
export const WATCH_EVENT_ABI = [
  // TimelockController 5.x and its AccessControl roles: the same fragments the pipeline encodes with.
  ...TIMELOCK_ABI.filter((f) => f.startsWith("event ")),
  // AccessControl (any governed contract that uses roles)
  "event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole)",
  // ERC-1967 proxies, Ownable proxies (UUPS) and ProxyAdmins (Transparent)
  "event Upgraded(address indexed implementation)",
  "event BeaconUpgraded(address indexed beacon)",
  "event AdminChanged(address previousAdmin, address newAdmin)",
  "event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
  "event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner)",
  // The governing Safe itself
  ...safeEventFragments(),
];

export const watchInterface = new Interface(WATCH_EVENT_ABI);

export type WatchedEventName =
  | "CallScheduled"
  | "CallExecuted"
  | "CallSalt"
  | "Cancelled"
  | "MinDelayChange"
  | "RoleGranted"
  | "RoleRevoked"
  | "RoleAdminChanged"
  | "Upgraded"
  | "BeaconUpgraded"
  | "AdminChanged"
  | "OwnershipTransferred"
  | "OwnershipTransferStarted"
  | (typeof SAFE_CONFIG_EVENTS)[number]
  | (typeof SAFE_MODULE_EVENTS)[number]
  | "SafeSetup";

/** Events that only mean something when the governing Safe emits them. */
export const SAFE_ONLY = new Set<string>([...SAFE_CONFIG_EVENTS, ...SAFE_MODULE_EVENTS, "SafeSetup"]);

/** Events that only mean something when the timelock emits them. */
export const TIMELOCK_ONLY = new Set<WatchedEventName>(["CallScheduled", "CallExecuted", "CallSalt", "Cancelled", "MinDelayChange"]);
/** Timelock events that belong to one operation (keyed by its id). */
export const OPERATION_EVENTS = new Set<WatchedEventName>(["CallScheduled", "CallExecuted", "CallSalt", "Cancelled"]);

/** topic0 of every watched event, for the eth_getLogs filter. */
export const WATCH_TOPICS: string[] = WATCH_EVENT_ABI.map((sig) => watchInterface.getEvent(sig.slice("event ".length, sig.indexOf("(")))!.topicHash);

/** An eth_getLogs entry as JSON-RPC returns it (quantities are hex strings). */
export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  transactionIndex: string;
  logIndex: string;
  removed?: boolean;
}

/** One decoded event; every argument is a string (addresses checksummed, integers decimal, bytes hex). */
export interface WatchedEvent {
  name: WatchedEventName;
  address: string;
  block: number;
  blockHash: string;
  txHash: string;
  txIndex: number;
  logIndex: number;
  args: Record<string, string>;
}

function argString(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(argString).join(",");
  if (typeof value === "string") return /^0x[0-9a-fA-F]{40}$/.test(value) ? getAddress(value) : value;
  return String(value);
}

/** Decode a raw log; undefined for logs that are not watched events (or that a watched address emits in another shape). */
export function decodeLog(log: RawLog): WatchedEvent | undefined {
  let parsed: LogDescription | null;
  try {
    parsed = watchInterface.parseLog({ topics: log.topics, data: log.data });
  } catch {
    return undefined;
  }
  if (!parsed) return undefined;
  const args: Record<string, string> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name] = argString(parsed!.args[i]);
  });
  return {
    name: parsed.name as WatchedEventName,
    address: getAddress(log.address),
    block: Number(BigInt(log.blockNumber)),
    blockHash: log.blockHash.toLowerCase(),
    txHash: log.transactionHash.toLowerCase(),
    txIndex: Number(BigInt(log.transactionIndex)),
    logIndex: Number(BigInt(log.logIndex)),
    args,
  };
}

/** The dirty group an event belongs to: its operation (timelock operation events) or its transaction. */
export function groupsOf(e: WatchedEvent, timelock: string): string[] {
  const groups = [`tx:${e.txHash}`];
  if (OPERATION_EVENTS.has(e.name) && e.address === timelock) groups.unshift(`op:${e.args.id!.toLowerCase()}`);
  return groups;
}

export function compareEvents(a: WatchedEvent, b: WatchedEvent): number {
  return a.block - b.block || a.logIndex - b.logIndex;
}
