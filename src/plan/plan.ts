import { AbiCoder, ZeroHash, getAddress, keccak256 } from "ethers";
import { hashOperationBatch, upgradeInterface, type Batch, type Call } from "../timelock/calls.ts";

/**
 * Planning is pure: from the proxies that must change (live implementation vs the build of their target
 * contract) to the timelock batch, its content-derived salt and operation id, and the rollback batch.
 */

export interface ProxyChange {
  /** Policy key of the proxy, e.g. "vault". */
  name: string;
  kind: "uups" | "transparent";
  proxy: string;
  /** Transparent proxies are upgraded through their ProxyAdmin. */
  proxyAdmin?: string;
  contract: string;
  oldContract?: string;
  oldImplementation: string;
  newImplementation: string;
  /** Calldata run on the new implementation during the upgrade ("0x" for none). */
  initializer: string;
}

export interface PlannedOperation extends ProxyChange {
  call: Call;
}

export interface Plan {
  chainId: bigint;
  timelock: string;
  operations: PlannedOperation[];
  batch: Batch;
  operationId: string;
  delay: bigint;
  /** Incremented only when the same change was already executed once and must be scheduled again. */
  round: number;
  rollback: { operations: PlannedOperation[]; batch: Batch; operationId: string };
}

const SALT_DOMAIN = "gatehouse.salt.v1";

/** The timelock call that points `change.proxy` at `implementation`. */
export function upgradeCall(change: Pick<ProxyChange, "kind" | "proxy" | "proxyAdmin">, implementation: string, initializer: string): Call {
  if (change.kind === "uups") {
    return { target: getAddress(change.proxy), value: 0n, data: upgradeInterface.encodeFunctionData("upgradeToAndCall", [implementation, initializer]) };
  }
  if (!change.proxyAdmin) throw new Error(`transparent proxy ${change.proxy} has no ProxyAdmin`);
  return {
    target: getAddress(change.proxyAdmin),
    value: 0n,
    data: upgradeInterface.encodeFunctionData("upgradeAndCall", [change.proxy, implementation, initializer]),
  };
}

/**
 * The salt is a hash of what the operation does on which chain and timelock, so the same change always
 * maps to the same operation id (re-staging is idempotent), and a different change never collides.
 */
export function deriveSalt(chainId: bigint, timelock: string, calls: Call[], round: number): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["string", "uint256", "address", "address[]", "uint256[]", "bytes[]", "uint256"],
      [SALT_DOMAIN, chainId, timelock, calls.map((c) => c.target), calls.map((c) => c.value), calls.map((c) => c.data), round],
    ),
  );
}

function batchFor(chainId: bigint, timelock: string, calls: Call[], round: number): Batch {
  return { calls, predecessor: ZeroHash, salt: deriveSalt(chainId, timelock, calls, round) };
}

/** Proxies are ordered by name so that the same set of changes always yields the same batch. */
export function planUpgrade(input: { chainId: bigint; timelock: string; changes: ProxyChange[]; delay: bigint; round?: number }): Plan {
  const round = input.round ?? 0;
  const timelock = getAddress(input.timelock);
  const changes = [...input.changes].sort((a, b) => a.name.localeCompare(b.name));
  if (changes.length === 0) throw new Error("planUpgrade needs at least one change");
  const operations = changes.map((c) => ({ ...c, call: upgradeCall(c, c.newImplementation, c.initializer) }));
  const batch = batchFor(input.chainId, timelock, operations.map((o) => o.call), round);
  const rollbackOps = changes.map((c) => ({
    ...c,
    contract: c.oldContract ?? "(previous implementation)",
    oldContract: c.contract,
    oldImplementation: c.newImplementation,
    newImplementation: c.oldImplementation,
    initializer: "0x",
    call: upgradeCall(c, c.oldImplementation, "0x"),
  }));
  const rollbackBatch = batchFor(input.chainId, timelock, rollbackOps.map((o) => o.call), round);
  return {
    chainId: input.chainId,
    timelock,
    operations,
    batch,
    operationId: hashOperationBatch(batch),
    delay: input.delay,
    round,
    rollback: { operations: rollbackOps, batch: rollbackBatch, operationId: hashOperationBatch(rollbackBatch) },
  };
}

/** Short, stable proposal id used for file names: the first 12 hex digits of the operation id. */
export function proposalId(operationId: string): string {
  return operationId.slice(2, 14).toLowerCase();
}
