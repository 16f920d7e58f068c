import { getAddress, ZeroAddress } from "ethers";
import { GatehouseError } from "../errors.ts";
import type { SafeTxData } from "./hash.ts";

/**
 * The one Safe transaction shape Gatehouse builds, signs and executes (pure): a plain call from the Safe
 * to the timelock, with no value, no delegatecall, and no gas refund. Any other field value could let a
 * record edited by an attacker make the Safe delegatecall into arbitrary code or pay a refund to an
 * address of the attacker's choosing, while every hash still recomputes correctly. verify, sign, execute
 * and the service-facing paths all ask this one function.
 */
export interface ShapeViolation {
  field: keyof SafeTxData;
  actual: string;
  expected: string;
}

export function safeTxShapeViolations(tx: Pick<SafeTxData, "to" | "value" | "operation" | "safeTxGas" | "baseGas" | "gasPrice" | "gasToken" | "refundReceiver">, timelock: string): ShapeViolation[] {
  const out: ShapeViolation[] = [];
  const addr = (a: string) => {
    try {
      return getAddress(a);
    } catch {
      return a;
    }
  };
  if (addr(tx.to) !== addr(timelock)) out.push({ field: "to", actual: tx.to, expected: `the timelock ${addr(timelock)}` });
  if (String(tx.value) !== "0") out.push({ field: "value", actual: String(tx.value), expected: "0" });
  if (Number(tx.operation) !== 0) out.push({ field: "operation", actual: `${tx.operation}${Number(tx.operation) === 1 ? " (delegatecall)" : ""}`, expected: "0 (call)" });
  for (const field of ["safeTxGas", "baseGas", "gasPrice"] as const) {
    if (String(tx[field]) !== "0") out.push({ field, actual: String(tx[field]), expected: "0 (no gas refund)" });
  }
  for (const field of ["gasToken", "refundReceiver"] as const) {
    if (addr(tx[field]) !== ZeroAddress) out.push({ field, actual: tx[field], expected: `the zero address (no refund)` });
  }
  return out;
}

export function describeShapeViolations(v: ShapeViolation[]): string {
  return v.map((x) => `${x.field} is ${x.actual}, expected ${x.expected}`).join("; ");
}

/** Refuse a Safe transaction that is not Gatehouse's one shape, naming each field (SAFE_TX_SHAPE). */
export function assertSafeTxShape(tx: Parameters<typeof safeTxShapeViolations>[0] & { safeTxHash: string }, timelock: string): void {
  const violations = safeTxShapeViolations(tx, timelock);
  if (violations.length > 0) throw new GatehouseError("SAFE_TX_SHAPE", { safeTxHash: tx.safeTxHash, violations: describeShapeViolations(violations) }, { details: { violations } });
}
