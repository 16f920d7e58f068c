import type { SafeInfoFacts } from "./chain.ts";
import type { ConfirmationRow, TxRow } from "./store.ts";
import type { DelegateRow } from "./delegates.ts";

/**
 * Response bodies, pure, with the field names of the real service's serializers after its camelCase
 * renderer (history/serializers.py):
 *  - `SafeMultisigTransactionResponseSerializer` (v1: nonce, safeTxGas, baseGas as numbers) and
 *    `SafeMultisigTransactionResponseSerializerV2` (v2: the three as strings);
 *  - `SafeMultisigConfirmationResponseSerializer` (owner, submissionDate, transactionHash, signature, signatureType);
 *  - `SafeInfoResponseSerializer` (address, nonce as string, threshold, owners, masterCopy, modules,
 *    fallbackHandler, guard, moduleGuard, version);
 *  - DRF `LimitOffsetPagination` (count, next, previous, results) and views_v2.py `countUniqueNonce`.
 */

export type ApiVersion = "v1" | "v2";

/** DRF DateTimeField renders UTC as ISO 8601 with microseconds and "Z" (none when there are none). */
export function drfDate(iso: string | null): string | null {
  if (!iso) return null;
  if (iso.endsWith(".000Z")) return iso.replace(".000Z", "Z");
  return iso.replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Python's json.dumps with its default separators and ensure_ascii. */
function pyDumps(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(", ")}]`;
  if (typeof v === "object") return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyDumps(k)}: ${pyDumps(x)}`).join(", ")}}`;
  if (typeof v === "string") return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  return String(v);
}

/**
 * serializers.py validate_origin + get_origin: the origin is stored as JSON when it parses as JSON (else as
 * the string sent) and rendered back as a string: a string as is, anything else json.dumps'ed; none is "{}".
 */
export function originJson(origin: string | null): string {
  if (!origin) return "{}";
  let parsed: unknown;
  try {
    parsed = JSON.parse(origin);
  } catch {
    return origin;
  }
  return typeof parsed === "string" ? parsed : pyDumps(parsed);
}

export function confirmationJson(c: ConfirmationRow) {
  return { owner: c.owner, submissionDate: drfDate(c.created), transactionHash: null, signature: c.signature, signatureType: c.signatureType };
}

export function txJson(tx: TxRow, confirmations: ConfirmationRow[], confirmationsRequired: number | null, api: ApiVersion) {
  const num = (s: string) => (api === "v2" ? s : Number(s));
  return {
    safe: tx.safe,
    to: tx.to,
    value: tx.value,
    data: tx.data,
    operation: tx.operation,
    gasToken: tx.gasToken,
    safeTxGas: num(tx.safeTxGas),
    baseGas: num(tx.baseGas),
    gasPrice: tx.gasPrice,
    refundReceiver: tx.refundReceiver,
    nonce: api === "v2" ? String(tx.nonce) : tx.nonce,
    executionDate: drfDate(tx.executionDate),
    submissionDate: drfDate(tx.created),
    modified: drfDate(tx.modified),
    blockNumber: tx.blockNumber,
    transactionHash: tx.ethereumTxHash,
    safeTxHash: tx.safeTxHash,
    proposer: tx.proposer,
    proposedByDelegate: tx.proposedByDelegate ?? null,
    executor: tx.executor,
    isExecuted: tx.ethereumTxHash !== null,
    isSuccessful: tx.failed === null ? null : !tx.failed,
    ethGasPrice: tx.ethGasPrice,
    maxFeePerGas: tx.maxFeePerGas,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    gasUsed: tx.gasUsed,
    fee: tx.fee,
    payment: tx.payment,
    origin: originJson(tx.origin),
    dataDecoded: null,
    confirmationsRequired,
    confirmations: confirmations.map(confirmationJson),
    trusted: tx.trusted,
    signatures: tx.signatures,
  };
}

export function safeInfoJson(address: string, s: SafeInfoFacts) {
  return {
    address,
    nonce: s.nonce.toString(),
    threshold: s.threshold,
    owners: s.owners,
    masterCopy: s.masterCopy,
    modules: s.modules,
    fallbackHandler: s.fallbackHandler,
    guard: s.guard,
    moduleGuard: s.moduleGuard,
    version: s.version,
  };
}

/** DRF LimitOffsetPagination.get_paginated_response, with next/previous built from the request URL. */
export function paginated<T>(requestUrl: URL, count: number, limit: number, offset: number, results: T[], extra: Record<string, unknown> = {}) {
  const withParams = (set: Record<string, number | undefined>) => {
    const u = new URL(requestUrl);
    for (const [k, v] of Object.entries(set)) {
      if (v === undefined) u.searchParams.delete(k);
      else u.searchParams.set(k, String(v));
    }
    return u.toString();
  };
  const next = offset + limit >= count ? null : withParams({ limit, offset: offset + limit });
  const previous = offset <= 0 ? null : offset - limit <= 0 ? withParams({ limit, offset: undefined }) : withParams({ limit, offset: offset - limit });
  return { count, next, previous, results, ...extra };
}

/** LimitOffsetPagination.get_limit / get_offset: a bad or non-positive limit is the default; capped at max. */
export function pageParams(q: URLSearchParams, defaultLimit: number, maxLimit: number): { limit: number; offset: number } {
  const positive = (raw: string | null, strict: boolean): number | undefined => {
    if (raw === null || !/^\s*\d+\s*$/.test(raw)) return undefined;
    const n = Number(raw);
    if (strict && n === 0) return undefined;
    return n;
  };
  const limit = Math.min(positive(q.get("limit"), true) ?? defaultLimit, maxLimit);
  const offset = positive(q.get("offset"), false) ?? 0;
  return { limit, offset };
}

/** history/serializers.py SafeDelegateResponseSerializer (camelCase): safe, delegate, delegator, label, expiryDate. */
export function delegateJson(r: DelegateRow) {
  return { safe: r.safe, delegate: r.delegate, delegator: r.delegator, label: r.label, expiryDate: drfDate(r.expiryDate) };
}
