import { getAddress } from "ethers";
import type { ProposalInput } from "./verify.ts";

/**
 * Field-by-field validation of request bodies, pure, with the field names and error words of the real
 * service so api-kit's HttpError carries the same text:
 *  - safe-eth-py safe_eth/safe/serializers.py `SafeMultisigTxSerializer` (to, value, data, operation,
 *    gasToken, safeTxGas, baseGas, gasPrice, refundReceiver, nonce; "Unknown operation"; CREATE refused);
 *  - safe-eth-py safe_eth/eth/django/serializers.py `EthereumAddressField` ("Address … is not checksumed",
 *    "0x0 address is not allowed") and `HexadecimalField` / `Sha3HashField` (hex, min/max length);
 *  - safe-transaction-service history/serializers.py `SafeMultisigTransactionSerializer`
 *    (contractTransactionHash, sender, signature min 65 bytes, origin max 200 chars) and
 *    `SafeMultisigConfirmationSerializer` (signature 65..5000 bytes);
 *  - Django REST framework's own words for missing / null / non-integer fields.
 * Errors are keyed by the camelCase field name (the real service renders errors with
 * djangorestframework-camel-case); errors of the whole object go under `nonFieldErrors`.
 */

export type FieldErrors = Record<string, string[]>;
export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

const REQUIRED = "This field is required.";
const NOT_NULL = "This field may not be null.";
const UINT256_MAX = (1n << 256n) - 1n;
/** history/models.py MAX_SIGNATURE_LENGTH = utils/constants.py SIGNATURE_LENGTH. */
export const MAX_SIGNATURE_BYTES = 5000;

type Field<T> = (raw: unknown, present: boolean) => { value: T } | { error: string };

/** JSON text -> value, keeping integers too large for a double as their exact source text. */
export function parseJson(text: string): unknown {
  return JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined ? context.source : value,
  );
}

/** DRF's `Invalid data. Expected a dictionary, but got list.` for a body that is not a JSON object. */
export function expectObject(body: unknown): Parsed<Record<string, unknown>> {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) return { ok: true, value: body as Record<string, unknown> };
  const got = Array.isArray(body) ? "list" : body === null ? "NoneType" : typeof body === "string" ? "str" : typeof body === "boolean" ? "bool" : typeof body === "number" ? (Number.isInteger(body) ? "int" : "float") : typeof body;
  return { ok: false, errors: { nonFieldErrors: [`Invalid data. Expected a dictionary, but got ${got}.`] } };
}

function integer(opts: { max?: bigint } = {}): Field<bigint> {
  return (raw, present) => {
    if (!present) return { error: REQUIRED };
    if (raw === null) return { error: NOT_NULL };
    let text: string;
    if (typeof raw === "number") text = Number.isInteger(raw) ? BigInt(raw).toString() : String(raw);
    else if (typeof raw === "string") text = raw.trim().replace(/\.0*$/, "");
    else return { error: "A valid integer is required." };
    if (text.length > 1000) return { error: "String value too large." };
    if (!/^[-+]?\d+$/.test(text)) return { error: "A valid integer is required." };
    const value = BigInt(text);
    if (value < 0n) return { error: "Ensure this value is greater than or equal to 0." };
    const max = opts.max ?? UINT256_MAX;
    if (value > max) return { error: `Ensure this value is less than or equal to ${max}.` };
    return { value };
  };
}

function address(opts: { optional?: boolean; allowZero?: boolean; allowSentinel?: boolean }): Field<string | null> {
  return (raw, present) => {
    if (!present) return opts.optional ? { value: null } : { error: REQUIRED };
    if (raw === null) return opts.optional ? { value: null } : { error: NOT_NULL };
    if (typeof raw !== "string" || !isChecksumAddress(raw)) return { error: `Address ${String(raw)} is not checksumed` };
    const n = BigInt(raw);
    if (n === 0n && !opts.allowZero) return { error: "0x0 address is not allowed" };
    if (n === 1n && !opts.allowSentinel) return { error: "0x1 address is not allowed" };
    return { value: raw };
  };
}

/** HexadecimalField: "0x…" (or bare) hex, returned lower-case with 0x; null/blank only when allowed. */
function hex(opts: { optional?: boolean; allowNull?: boolean; allowBlank?: boolean; minBytes?: number; maxBytes?: number }): Field<string | null> {
  return (raw, present) => {
    if (!present) return opts.optional ? { value: null } : { error: REQUIRED };
    if (raw === null) return opts.allowNull ? { value: null } : { error: NOT_NULL };
    if (typeof raw !== "string") return { error: `${String(raw)} is not a hexadecimal value.` };
    // An oversized value is refused from its length, before the regex and the copies below walk it.
    if (opts.maxBytes !== undefined && raw.length > 2 * opts.maxBytes + 2 && raw.trim().length > 2 * opts.maxBytes + 2) {
      return { error: `Ensure this field has no more than ${opts.maxBytes} hexadecimal chars (not counting 0x).` };
    }
    let body = raw.trim();
    if (body.startsWith("0x")) body = body.slice(2);
    if (body === "") return opts.allowBlank ? { value: null } : { error: "This field may not be blank." };
    if (!/^[0-9a-fA-F]*$/.test(body) || body.length % 2 !== 0) return { error: `${raw} is not a hexadecimal value.` };
    const bytes = body.length / 2;
    if (opts.minBytes !== undefined && bytes < opts.minBytes) return { error: `Ensure this field has at least ${opts.minBytes} hexadecimal chars (not counting 0x).` };
    if (opts.maxBytes !== undefined && bytes > opts.maxBytes) return { error: `Ensure this field has no more than ${opts.maxBytes} hexadecimal chars (not counting 0x).` };
    return { value: "0x" + body.toLowerCase() };
  };
}

function charField(maxLength: number): Field<string | null> {
  return (raw, present) => {
    if (!present || raw === null) return { value: null };
    if (typeof raw !== "string" && typeof raw !== "number") return { error: "Not a valid string." };
    const text = String(raw);
    if (text.length > maxLength) return { error: `Ensure this field has no more than ${maxLength} characters.` };
    return { value: text };
  };
}

/** The camelCase parser of the real service turns `contractTransactionHash` into `contract_transaction_hash`; accept both spellings. */
function pick(body: Record<string, unknown>, camel: string): { raw: unknown; present: boolean } {
  if (body[camel] !== undefined && Object.hasOwn(body, camel)) return { raw: body[camel], present: true };
  const snake = camel.replace(/([A-Z])/g, "_$1").toLowerCase();
  if (body[snake] !== undefined && Object.hasOwn(body, snake)) return { raw: body[snake], present: true };
  return { raw: undefined, present: false };
}

function run<T extends Record<string, Field<unknown>>>(body: Record<string, unknown>, fields: T): Parsed<{ [K in keyof T]: T[K] extends Field<infer V> ? V : never }> {
  const errors: FieldErrors = {};
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    const { raw, present } = pick(body, name);
    const r = field(raw, present);
    if ("error" in r) errors[name] = [r.error];
    else out[name] = r.value;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, value: out as never };
}

/** The largest nonce the SQLite store keeps exactly (a Safe nonce never gets near it). */
export const MAX_NONCE = BigInt(Number.MAX_SAFE_INTEGER);

/** POST /v{1,2}/safes/{address}/multisig-transactions/ body -> the proposal, or DRF-style field errors (422). */
export function parseProposal(safe: string, body: unknown): Parsed<ProposalInput & { origin: string | null }> {
  const obj = expectObject(body);
  if (!obj.ok) return obj;
  const parsed = run(obj.value, {
    to: address({ allowZero: true, allowSentinel: true }),
    value: integer(),
    data: hex({ optional: true, allowNull: true, allowBlank: true }),
    operation: integer({ max: 255n }),
    gasToken: address({ optional: true, allowZero: true }),
    safeTxGas: integer(),
    baseGas: integer(),
    gasPrice: integer(),
    refundReceiver: address({ optional: true, allowZero: true }),
    nonce: integer({ max: MAX_NONCE }),
    contractTransactionHash: hex({ minBytes: 32, maxBytes: 32 }),
    sender: address({}),
    // The real service still accepts a proposal without a signature and stores it as untrusted ("TODO Make
    // signature mandatory"). This service trusts nothing it is sent, so a signature is required.
    // Capped like a confirmation's (history/models.py MAX_SIGNATURE_LENGTH); the owner count caps it further (verify.ts).
    signature: hex({ minBytes: 65, maxBytes: MAX_SIGNATURE_BYTES }),
    origin: charField(200),
  });
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  const op = Number(v.operation);
  if (op > 2) return { ok: false, errors: { operation: ["Unknown operation"] } };
  if (op === 2) return { ok: false, errors: { nonFieldErrors: ["Operation CREATE not supported. Please use Safe CreateLib"] } };
  const zero = "0x0000000000000000000000000000000000000000";
  return {
    ok: true,
    value: {
      tx: {
        safe,
        to: v.to!,
        value: v.value.toString(),
        data: v.data ?? "0x",
        operation: op as 0 | 1,
        safeTxGas: v.safeTxGas.toString(),
        baseGas: v.baseGas.toString(),
        gasPrice: v.gasPrice.toString(),
        gasToken: v.gasToken ?? zero,
        refundReceiver: v.refundReceiver ?? zero,
        nonce: Number(v.nonce),
      },
      contractTransactionHash: v.contractTransactionHash!,
      sender: v.sender!,
      signature: v.signature!,
      origin: v.origin,
    },
  };
}

/** POST /v1/multisig-transactions/{hash}/confirmations/ body -> the signature, or field errors (400). */
export function parseConfirmation(body: unknown): Parsed<{ signature: string }> {
  const obj = expectObject(body);
  if (!obj.ok) return obj;
  const parsed = run(obj.value, { signature: hex({ minBytes: 65, maxBytes: MAX_SIGNATURE_BYTES }) });
  if (!parsed.ok) return parsed;
  return { ok: true, value: { signature: parsed.value.signature! } };
}

export function isChecksumAddress(value: string): boolean {
  try {
    return /^0x[0-9a-fA-F]{40}$/.test(value) && getAddress(value) === value;
  } catch {
    return false;
  }
}

export function isSafeTxHash(value: string): boolean {
  return /^0x[0-9a-fA-F]{64}$/.test(value);
}

const DATETIME_FORMAT = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/** DRF DateTimeField (ISO 8601; a time without an offset is UTC, the service's TIME_ZONE), null allowed. */
function dateTime(): Field<string | null> {
  return (raw, present) => {
    if (!present || raw === null) return { value: null };
    if (typeof raw !== "string" || !/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/.test(raw.trim())) return { error: DATETIME_FORMAT };
    const text = raw.trim().replace(" ", "T");
    const t = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : text + "Z");
    if (Number.isNaN(t)) return { error: DATETIME_FORMAT };
    return { value: new Date(t).toISOString() };
  };
}

/** CharField(max_length) that is required and may not be blank (DRF's defaults). */
function requiredChar(maxLength: number): Field<string> {
  return (raw, present) => {
    if (!present) return { error: REQUIRED };
    if (raw === null) return { error: NOT_NULL };
    if (typeof raw !== "string" && typeof raw !== "number") return { error: "Not a valid string." };
    const text = String(raw).trim();
    if (text === "") return { error: "This field may not be blank." };
    if (text.length > maxLength) return { error: `Ensure this field has no more than ${maxLength} characters.` };
    return { value: text };
  };
}

export interface DelegateInput {
  safe: string | null;
  delegate: string;
  delegator: string;
  signature: string;
  label: string;
  expiryDate: string | null;
}

/** POST /v2/delegates/ body (history/serializers.py DelegateSerializerV2) -> the request, or field errors (400). */
export function parseDelegate(body: unknown): Parsed<DelegateInput> {
  const obj = expectObject(body);
  if (!obj.ok) return obj;
  const parsed = run(obj.value, {
    safe: address({ optional: true }),
    delegate: address({}),
    delegator: address({}),
    signature: hex({ minBytes: 65, maxBytes: MAX_SIGNATURE_BYTES }),
    label: requiredChar(50),
    expiryDate: dateTime(),
  });
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  return { ok: true, value: { safe: v.safe, delegate: v.delegate!, delegator: v.delegator!, signature: v.signature!, label: v.label, expiryDate: v.expiryDate } };
}

/** DELETE /v2/delegates/{delegate}/ body (DelegateDeleteSerializerV2) -> the request, or field errors (400). */
export function parseDelegateDelete(body: unknown): Parsed<{ safe: string | null; delegator: string; signature: string }> {
  const obj = expectObject(body);
  if (!obj.ok) return obj;
  const parsed = run(obj.value, { safe: address({ optional: true }), delegator: address({}), signature: hex({ minBytes: 65, maxBytes: MAX_SIGNATURE_BYTES }) });
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  return { ok: true, value: { safe: v.safe, delegator: v.delegator!, signature: v.signature! } };
}
