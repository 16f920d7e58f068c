import { Interface, getAddress, type LogDescription } from "ethers";
import { TIMELOCK_ABI } from "../timelock/calls.ts";

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
  | "OwnershipTransferStarted";

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
