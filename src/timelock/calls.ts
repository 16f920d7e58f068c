import { AbiCoder, Interface, ZeroHash, keccak256 } from "ethers";

/**
 * Pure encoders and decoders for OpenZeppelin TimelockController 5.x and for the two upgrade calls the
 * timelock makes. No provider here: every function maps plain data to calldata or hashes and back.
 */
export const TIMELOCK_ABI = [
  "function schedule(address target, uint256 value, bytes data, bytes32 predecessor, bytes32 salt, uint256 delay)",
  "function scheduleBatch(address[] targets, uint256[] values, bytes[] payloads, bytes32 predecessor, bytes32 salt, uint256 delay)",
  "function execute(address target, uint256 value, bytes payload, bytes32 predecessor, bytes32 salt) payable",
  "function executeBatch(address[] targets, uint256[] values, bytes[] payloads, bytes32 predecessor, bytes32 salt) payable",
  "function cancel(bytes32 id)",
  "function getOperationState(bytes32 id) view returns (uint8)",
  "function getTimestamp(bytes32 id) view returns (uint256)",
  "function getMinDelay() view returns (uint256)",
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function grantRole(bytes32 role, address account)",
  "function revokeRole(bytes32 role, address account)",
  "function updateDelay(uint256 newDelay)",
  "function renounceRole(bytes32 role, address callerConfirmation)",
  "function hashOperationBatch(address[] targets, uint256[] values, bytes[] payloads, bytes32 predecessor, bytes32 salt) pure returns (bytes32)",
  "event CallScheduled(bytes32 indexed id, uint256 indexed index, address target, uint256 value, bytes data, bytes32 predecessor, uint256 delay)",
  "event CallExecuted(bytes32 indexed id, uint256 indexed index, address target, uint256 value, bytes data)",
  "event CallSalt(bytes32 indexed id, bytes32 salt)",
  "event Cancelled(bytes32 indexed id)",
  "event MinDelayChange(uint256 oldDuration, uint256 newDuration)",
  "event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)",
  "event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)",
  "error TimelockInsufficientDelay(uint256 delay, uint256 minDelay)",
  "error TimelockUnexpectedOperationState(bytes32 operationId, bytes32 expectedStates)",
  "error TimelockUnexecutedPredecessor(bytes32 predecessorId)",
  "error TimelockUnauthorizedCaller(address caller)",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
] as const;

export const UPGRADE_ABI = [
  "function upgradeToAndCall(address newImplementation, bytes data) payable",
  "function upgradeAndCall(address proxy, address implementation, bytes data) payable",
  "function owner() view returns (address)",
] as const;

export const timelockInterface = new Interface(TIMELOCK_ABI);
export const upgradeInterface = new Interface(UPGRADE_ABI);

export const ROLES = {
  DEFAULT_ADMIN_ROLE: ZeroHash,
  PROPOSER_ROLE: keccak256(new TextEncoder().encode("PROPOSER_ROLE")),
  EXECUTOR_ROLE: keccak256(new TextEncoder().encode("EXECUTOR_ROLE")),
  CANCELLER_ROLE: keccak256(new TextEncoder().encode("CANCELLER_ROLE")),
} as const;

export const OPERATION_STATES = ["Unset", "Waiting", "Ready", "Done"] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

/** One call the timelock makes. `value` is in wei. */
export interface Call {
  target: string;
  value: bigint;
  data: string;
}

export interface Batch {
  calls: Call[];
  predecessor: string;
  salt: string;
}

const coder = AbiCoder.defaultAbiCoder();

/** TimelockController.hashOperationBatch, computed off chain. */
export function hashOperationBatch(batch: Batch): string {
  return keccak256(
    coder.encode(
      ["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"],
      [batch.calls.map((c) => c.target), batch.calls.map((c) => c.value), batch.calls.map((c) => c.data), batch.predecessor, batch.salt],
    ),
  );
}

export function encodeScheduleBatch(batch: Batch, delay: bigint): string {
  return timelockInterface.encodeFunctionData("scheduleBatch", [
    batch.calls.map((c) => c.target),
    batch.calls.map((c) => c.value),
    batch.calls.map((c) => c.data),
    batch.predecessor,
    batch.salt,
    delay,
  ]);
}

export function encodeExecuteBatch(batch: Batch): string {
  return timelockInterface.encodeFunctionData("executeBatch", [
    batch.calls.map((c) => c.target),
    batch.calls.map((c) => c.value),
    batch.calls.map((c) => c.data),
    batch.predecessor,
    batch.salt,
  ]);
}

/** Single-call schedule, used by the benchmark's one-Safe-transaction-per-upgrade baseline. */
export function encodeSchedule(call: Call, predecessor: string, salt: string, delay: bigint): string {
  return timelockInterface.encodeFunctionData("schedule", [call.target, call.value, call.data, predecessor, salt, delay]);
}

export function encodeCancel(operationId: string): string {
  return timelockInterface.encodeFunctionData("cancel", [operationId]);
}

export interface DecodedSchedule {
  function: "schedule" | "scheduleBatch";
  batch: Batch;
  delay: bigint;
  operationId: string;
}

/** Decode schedule/scheduleBatch calldata back to the batch, and recompute its operation id. */
export function decodeSchedule(data: string): DecodedSchedule {
  const parsed = timelockInterface.parseTransaction({ data });
  if (!parsed || (parsed.name !== "scheduleBatch" && parsed.name !== "schedule")) {
    throw new Error(`not a TimelockController schedule call: selector ${data.slice(0, 10)}`);
  }
  if (parsed.name === "schedule") {
    const [target, value, payload, predecessor, salt, delay] = parsed.args as unknown as [string, bigint, string, string, string, bigint];
    const batch = { calls: [{ target, value, data: payload }], predecessor, salt };
    const operationId = keccak256(coder.encode(["address", "uint256", "bytes", "bytes32", "bytes32"], [target, value, payload, predecessor, salt]));
    return { function: "schedule", batch, delay, operationId };
  }
  const [targets, values, payloads, predecessor, salt, delay] = parsed.args as unknown as [string[], bigint[], string[], string, string, bigint];
  const batch = { calls: targets.map((target, i) => ({ target, value: values[i]!, data: payloads[i]! })), predecessor, salt };
  return { function: "scheduleBatch", batch, delay, operationId: hashOperationBatch(batch) };
}

export interface DecodedUpgrade {
  kind: "uups" | "transparent";
  /** The proxy being upgraded (for transparent proxies: the first argument of upgradeAndCall). */
  proxy: string;
  implementation: string;
  initializer: string;
}

/** Decode one timelock payload as a proxy upgrade, or undefined when it is some other call. */
export function decodeUpgradeCall(call: Call): DecodedUpgrade | undefined {
  const parsed = upgradeInterface.parseTransaction({ data: call.data });
  if (!parsed) return undefined;
  if (parsed.name === "upgradeToAndCall") {
    return { kind: "uups", proxy: call.target, implementation: parsed.args[0] as string, initializer: parsed.args[1] as string };
  }
  if (parsed.name === "upgradeAndCall") {
    return { kind: "transparent", proxy: parsed.args[0] as string, implementation: parsed.args[1] as string, initializer: parsed.args[2] as string };
  }
  return undefined;
}

/** "1h 2m 3s" for a number of seconds, as people read a countdown. */
export function formatDuration(seconds: bigint | number): string {
  let s = Number(seconds);
  if (s <= 0) return "0s";
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join(" ");
}
