import { getAddress, keccak256 } from "ethers";
import { upgradeCall, type ProxyChange } from "../plan/plan.ts";
import type { LayoutRowRecord, OperationRecord, ProposalRecord } from "../records/proposal.ts";
import type { OperationState } from "../timelock/calls.ts";
import { operationIdOf } from "./derive.ts";

/**
 * Rolling back an executed proposal (pure): the exact inverse of its operations, and every reason the
 * chain and the record do not allow an exact return. The record's words are checked against the chain:
 * the earlier operation must be Done on the timelock, each proxy's ERC-1967 history must show the
 * recorded old implementation right before the one the proposal installed, and that old code must
 * still exist (and hash to what stage recorded, when it did).
 */

/** What the shell reads from the chain for one proxy of the earlier proposal. */
export interface RollbackProxyFacts {
  /** The implementation the proxy runs now (ERC-1967 slot). */
  current: string;
  /** The implementation before the earlier proposal's upgrade, from the proxy's Upgraded events; undefined: none found. */
  previous?: string;
  /** Runtime code at the recorded old implementation ("0x": none). */
  oldCode: string;
}

export interface RollbackFacts {
  /** State of the earlier proposal's operation id (recomputed from its calls) on the timelock. */
  earlierState: OperationState;
  /** State of the rollback record's own operation, when one is being checked (it may already be Done). */
  rollbackState?: OperationState;
  proxies: Record<string, RollbackProxyFacts>;
}

/** The changes that return each proxy of `earlier` to the implementation it ran before. */
export function inverseChanges(earlier: Pick<ProposalRecord, "operations">): ProxyChange[] {
  return earlier.operations.map((op) => ({
    name: op.proxy,
    kind: op.kind,
    proxy: op.proxyAddress,
    ...(op.proxyAdmin ? { proxyAdmin: op.proxyAdmin } : {}),
    contract: op.oldContract ?? "(previous implementation)",
    oldContract: op.contract,
    oldImplementation: op.newImplementation,
    newImplementation: op.oldImplementation,
    initializer: "0x",
  }));
}

/** Variables the newer version appended, per proxy: a rollback leaves them in storage, unused. */
export function leftInStorage(earlier: Pick<ProposalRecord, "storageLayoutDiff" | "operations">): Record<string, LayoutRowRecord[]> {
  return Object.fromEntries(earlier.operations.map((op) => [op.proxy, (earlier.storageLayoutDiff[op.proxy] ?? []).filter((r) => r.status === "appended")]));
}

const same = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && getAddress(a) === getAddress(b);

/**
 * Why `earlier` cannot be rolled back exactly (empty: it can). With `rollback`, also why that record is
 * not the exact return (it names another implementation, another proxy, an initializer, or another proposal).
 */
export function rollbackProblems(earlier: ProposalRecord, facts: RollbackFacts, rollback?: ProposalRecord): string[] {
  const problems: string[] = [];
  if ((earlier.kind ?? "upgrade") === "governance") return [`proposal ${earlier.id} is a governance change: it has no rollback plan (stage the inverse change with \`gatehouse govern\`)`];
  const recomputed = operationIdOf(earlier);
  if (recomputed !== earlier.operationId) problems.push(`its operation id ${earlier.operationId} is not the hash of its calls (${recomputed})`);
  if (facts.earlierState !== "Done") problems.push(`its operation ${recomputed} is ${facts.earlierState} on the timelock, not executed: there is nothing to roll back (cancel it instead)`);

  const inverse = inverseChanges(earlier);
  const recorded = earlier.rollback?.operations ?? [];
  const derivedCalls = inverse.map((c) => upgradeCall(c, c.newImplementation, "0x"));
  const sameCalls = recorded.length === derivedCalls.length && recorded.every((o, i) => same(o.call.target, derivedCalls[i]!.target) && o.call.data === derivedCalls[i]!.data && o.call.value === "0");
  if (!sameCalls) problems.push("its recorded rollback plan is not the exact inverse of its operations");

  for (const op of earlier.operations) {
    const f = facts.proxies[op.proxy];
    const label = `'${op.proxy}'`;
    if (!f) {
      problems.push(`${label}: its proxy ${op.proxyAddress} could not be read`);
      continue;
    }
    // Once the rollback itself has executed, the proxy runs the old implementation: that is the point.
    const rolledBack = facts.rollbackState === "Done";
    const expectedNow = rolledBack ? op.oldImplementation : op.newImplementation;
    if (!same(f.current, expectedNow)) {
      problems.push(`${label} runs ${getAddress(f.current)}, not ${getAddress(expectedNow)}${rolledBack ? " (what the rollback installed)" : ` (what proposal ${earlier.id} installed): it has changed since; roll back from what it runs now`}`);
    }
    if (f.previous === undefined) problems.push(`${label}: no Upgraded event of ${op.proxyAddress} shows what it ran before proposal ${earlier.id}`);
    else if (!same(f.previous, op.oldImplementation)) {
      problems.push(`${label}: the chain says the proxy ran ${getAddress(f.previous)} before proposal ${earlier.id}, the record says ${getAddress(op.oldImplementation)}`);
    }
    if (f.oldCode === "0x") problems.push(`${label}: the old implementation ${op.oldImplementation} has no code`);
    else {
      const recordedHash = earlier.artifacts[op.proxy]?.oldCodeHash;
      if (recordedHash && keccak256(f.oldCode) !== recordedHash) problems.push(`${label}: the code at ${op.oldImplementation} hashes to ${keccak256(f.oldCode)}, stage recorded ${recordedHash}`);
    }
    if (!op.oldContract) problems.push(`${label}: the record does not name the contract of the old implementation, so its build cannot be found`);
    // An exact return needs the newer layout to be the old one plus appended variables.
    const moved = (earlier.storageLayoutDiff[op.proxy] ?? []).filter((r) => r.status !== "kept" && r.status !== "appended");
    if (moved.length > 0) problems.push(`${label}: the newer version did not only append variables (${moved.map((r) => `${r.label} ${r.status}`).join(", ")}): the old code would misread its storage`);
  }

  if (rollback) problems.push(...rollbackRecordProblems(earlier, rollback));
  return problems;
}

/** The rollback record is the exact inverse of `earlier`: same proxies, back to the recorded old implementations, no initializer. */
export function rollbackRecordProblems(earlier: ProposalRecord, rollback: ProposalRecord): string[] {
  const problems: string[] = [];
  if (rollback.rollbackOf?.proposal !== earlier.id) problems.push(`it names proposal ${rollback.rollbackOf?.proposal ?? "(none)"}, not ${earlier.id}`);
  if (rollback.rollbackOf?.operationId !== earlier.operationId) problems.push(`it names operation ${rollback.rollbackOf?.operationId ?? "(none)"}, proposal ${earlier.id} is ${earlier.operationId}`);
  const want = inverseChanges(earlier);
  const byProxy = new Map(rollback.operations.map((o) => [o.proxy, o] as [string, OperationRecord]));
  if (rollback.operations.length !== want.length || !want.every((c) => byProxy.has(c.name))) {
    problems.push(`it changes ${rollback.operations.map((o) => o.proxy).join(", ") || "nothing"}; proposal ${earlier.id} changed ${want.map((c) => c.name).join(", ")}`);
  }
  for (const c of want) {
    const op = byProxy.get(c.name);
    if (!op) continue;
    const call = upgradeCall(c, c.newImplementation, "0x");
    if (!same(op.proxyAddress, c.proxy) || op.kind !== c.kind || (c.proxyAdmin && !same(op.proxyAdmin, c.proxyAdmin))) problems.push(`'${c.name}': it targets proxy ${op.proxyAddress} (${op.kind}), proposal ${earlier.id} upgraded ${c.proxy} (${c.kind})`);
    if (!same(op.newImplementation, c.newImplementation)) problems.push(`'${c.name}': it returns to ${getAddress(op.newImplementation)}, not to ${getAddress(c.newImplementation)}, the implementation proposal ${earlier.id} replaced`);
    if (op.initializer !== "0x") problems.push(`'${c.name}': it calls an initializer (${op.initializer.slice(0, 10)}…); a rollback calls nothing`);
    if (!same(op.call.target, call.target) || op.call.data !== call.data || op.call.value !== "0") problems.push(`'${c.name}': its call is not the upgrade back to ${getAddress(c.newImplementation)}`);
  }
  return problems;
}
