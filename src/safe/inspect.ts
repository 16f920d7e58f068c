import { Interface, TypedDataEncoder, getAddress, type InterfaceAbi, type ParamType, type Result } from "ethers";
import { ROLES, TIMELOCK_ABI, UPGRADE_ABI, formatDuration } from "../timelock/calls.ts";
import { SAFE_TX_TYPES, safeTxHashes, type SafeTxData } from "./hash.ts";
import { safeTxShapeViolations } from "./shape.ts";
import { terminalSafe } from "../review/untrusted.ts";

/**
 * What a signer compares with a hardware wallet's screen and with independent tools such as
 * safe-tx-hashes-util, before signing (pure): every field of the Safe transaction, the EIP-712 typed
 * data and its three hashes recomputed from those fields, the encoded message, the calls it makes
 * decoded by function name and argument, and a warning for anything Gatehouse itself would never build.
 * Nothing here trusts a recorded hash: the hashes are computed from the fields shown.
 */

/** EIP-712 typed data as `eth_signTypedData_v4`, Frame, `cast wallet sign --data` and Safe{Wallet} take it. */
export interface SafeTypedData {
  types: { EIP712Domain: { name: string; type: string }[]; SafeTx: { name: string; type: string }[] };
  primaryType: "SafeTx";
  domain: { chainId: string; verifyingContract: string };
  message: Record<string, string | number>;
}

export function safeTxTypedData(chainId: bigint, safe: string, tx: SafeTxData): SafeTypedData {
  return {
    types: {
      // Safe >= 1.3 signs over a domain of chain id and Safe address only (no name, no version).
      EIP712Domain: [
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
      SafeTx: SAFE_TX_TYPES.SafeTx,
    },
    primaryType: "SafeTx",
    domain: { chainId: chainId.toString(), verifyingContract: getAddress(safe) },
    message: {
      to: getAddress(tx.to),
      value: tx.value,
      data: tx.data,
      operation: tx.operation,
      safeTxGas: tx.safeTxGas,
      baseGas: tx.baseGas,
      gasPrice: tx.gasPrice,
      gasToken: getAddress(tx.gasToken),
      refundReceiver: getAddress(tx.refundReceiver),
      nonce: tx.nonce,
    },
  };
}

export interface DecodedArg {
  name: string;
  type: string;
  value: string;
}

export interface DecodedCall {
  /** `name(types)`, or undefined when no known ABI matches the selector. */
  function?: string;
  args: DecodedArg[];
  /** The calldata, when it could not be decoded. */
  raw?: string;
}

export interface InnerCall extends DecodedCall {
  index: number;
  target: string;
  targetLabel?: string;
  value: string;
  /** For an upgrade that also calls the new implementation: that call, decoded with the contracts' ABIs. */
  initializer?: DecodedCall;
}

export interface SignerView {
  chainId: string;
  safe: string;
  nonce: number;
  to: string;
  toLabel?: string;
  value: string;
  data: string;
  operation: { value: number; name: "CALL" | "DELEGATECALL" | "UNKNOWN" };
  safeTxGas: string;
  baseGas: string;
  gasPrice: string;
  gasToken: string;
  refundReceiver: string;
  domainHash: string;
  messageHash: string;
  safeTxHash: string;
  /** abi.encode(SAFE_TX_TYPEHASH, to, value, keccak256(data), operation, …, nonce): what the message hash hashes. */
  encodedMessage: string;
  typedData: SafeTypedData;
  /** The Safe's own call (on the timelock: scheduleBatch, executeBatch, cancel …). */
  call: DecodedCall;
  innerCalls: InnerCall[];
  warnings: string[];
}

/** Calls a governance batch legitimately makes, beyond the timelock's own functions. */
const KNOWN_ABI = [
  ...UPGRADE_ABI,
  "function grantRole(bytes32 role, address account)",
  "function revokeRole(bytes32 role, address account)",
  "function renounceRole(bytes32 role, address callerConfirmation)",
  "function updateDelay(uint256 newDelay)",
  "function transferOwnership(address newOwner)",
  "function renounceOwnership()",
  "function pause()",
  "function unpause()",
  "function addOwnerWithThreshold(address owner, uint256 _threshold)",
  "function removeOwner(address prevOwner, address owner, uint256 _threshold)",
  "function swapOwner(address prevOwner, address oldOwner, address newOwner)",
  "function changeThreshold(uint256 _threshold)",
  "function enableModule(address module)",
  "function setGuard(address guard)",
  "function setFallbackHandler(address handler)",
];

const timelockIface = new Interface(TIMELOCK_ABI);
const knownIface = new Interface(KNOWN_ABI);
const ROLE_NAMES = new Map(Object.entries(ROLES).map(([k, v]) => [v.toLowerCase(), k]));

function show(v: unknown, type: ParamType): string {
  if (type.baseType === "array" && Array.isArray(v)) return `[${(v as unknown[]).map((x) => show(x, type.arrayChildren!)).join(", ")}]`;
  if (type.baseType === "tuple" && v && typeof v === "object") return `(${type.components!.map((c, i) => show((v as Result)[i], c)).join(", ")})`;
  if (type.type === "bytes32" && typeof v === "string" && ROLE_NAMES.has(v.toLowerCase())) return `${v} (${ROLE_NAMES.get(v.toLowerCase())})`;
  if (typeof v === "bigint") return v.toString();
  return String(v);
}

/** Decode calldata with the first interface that knows its selector. */
export function decodeCalldata(data: string, ifaces: Interface[]): DecodedCall {
  if (data === "0x" || data.length < 10) return { function: data === "0x" ? "(no calldata: a plain transfer)" : undefined, args: [], ...(data === "0x" ? {} : { raw: data }) };
  for (const iface of ifaces) {
    try {
      const parsed = iface.parseTransaction({ data });
      if (!parsed) continue;
      return { function: parsed.fragment.format("sighash"), args: parsed.fragment.inputs.map((p, i) => ({ name: p.name || `arg${i}`, type: p.type, value: show(parsed.args[i], p) })) };
    } catch {
      /* another interface */
    }
  }
  return { args: [], raw: data };
}

export interface InspectInput {
  chainId: bigint;
  safe: string;
  tx: SafeTxData;
  /** The timelock of the deployment: a Safe transaction Gatehouse builds calls only it. */
  timelock?: string;
  /** The deployment's Safe: a transaction for another Safe is not this deployment's governance. */
  expectedSafe?: string;
  /** Hashes a record or a service claims for this transaction; each is compared with the recomputed one. */
  claimed?: { safeTxHash?: string; domainHash?: string; messageHash?: string; source: string };
  /** Names of known addresses (the timelock, the governed proxies and their ProxyAdmins). */
  labels?: Record<string, string>;
  /** ABIs of the governed contracts, to decode an upgrade's initializer call. */
  abis?: InterfaceAbi[];
}

export function inspectSafeTx(input: InspectInput): SignerView {
  const { tx } = input;
  const hashes = safeTxHashes(input.chainId, input.safe, tx);
  const encodedMessage = TypedDataEncoder.from(SAFE_TX_TYPES).encodeData("SafeTx", tx);
  const labels = new Map(Object.entries(input.labels ?? {}).map(([a, l]) => [a.toLowerCase(), l]));
  const label = (a: string) => labels.get(a.toLowerCase());
  const contractIfaces = (input.abis ?? []).map((a) => new Interface(a));
  const warnings: string[] = [];

  const call = decodeCalldata(tx.data, [timelockIface, knownIface]);
  const innerCalls: InnerCall[] = [];
  const parsed = (() => {
    try {
      return timelockIface.parseTransaction({ data: tx.data });
    } catch {
      return null;
    }
  })();
  if (parsed && ["scheduleBatch", "executeBatch", "schedule", "execute"].includes(parsed.name)) {
    const batch = parsed.name.endsWith("Batch");
    const targets = (batch ? parsed.args[0] : [parsed.args[0]]) as string[];
    const values = (batch ? parsed.args[1] : [parsed.args[1]]) as bigint[];
    const payloads = (batch ? parsed.args[2] : [parsed.args[2]]) as string[];
    targets.forEach((target, index) => {
      const data = payloads[index]!;
      const decoded = decodeCalldata(data, [knownIface, timelockIface, ...contractIfaces]);
      const inner: InnerCall = { index, target: getAddress(target), ...(label(target) ? { targetLabel: label(target) } : {}), value: values[index]!.toString(), ...decoded };
      const init = decoded.args.find((a) => a.name === "data" && a.type === "bytes");
      if (init && decoded.function?.startsWith("upgrade") && init.value !== "0x") inner.initializer = decodeCalldata(init.value, contractIfaces);
      innerCalls.push(inner);
      if (values[index]! !== 0n) warnings.push(`call ${index + 1} sends ${values[index]} wei`);
      if (!decoded.function) warnings.push(`call ${index + 1} to ${target}: calldata matches no known function (${data.slice(0, 10)})`);
      else if (!decoded.function.startsWith("upgradeToAndCall(") && !decoded.function.startsWith("upgradeAndCall(")) warnings.push(`call ${index + 1} is ${decoded.function}, not an upgrade: read it carefully`);
      if (inner.initializer && !inner.initializer.function) warnings.push(`call ${index + 1} calls the new implementation with calldata no known ABI decodes`);
    });
    if (parsed.name.startsWith("schedule")) {
      const delay = parsed.args[5] as bigint;
      call.args.push({ name: "(delay, read)", type: "", value: formatDuration(delay) });
    }
  } else if (!call.function) warnings.push(`the Safe's call matches no TimelockController function (${tx.data.slice(0, 10)})`);

  if (input.expectedSafe && getAddress(input.expectedSafe) !== getAddress(input.safe)) warnings.push(`the transaction is for Safe ${getAddress(input.safe)}, not the deployment's Safe ${getAddress(input.expectedSafe)}`);
  if (tx.operation === 1) warnings.push("operation is DELEGATECALL: the Safe would run the target's code as itself (it can change owners, modules, anything)");
  if (input.timelock) {
    for (const v of safeTxShapeViolations(tx, input.timelock)) if (v.field !== "operation") warnings.push(`${v.field} is ${v.actual}, expected ${v.expected}`);
  } else {
    if (tx.value !== "0") warnings.push(`the Safe sends ${tx.value} wei`);
    for (const f of ["safeTxGas", "baseGas", "gasPrice"] as const) if (tx[f] !== "0") warnings.push(`${f} is ${tx[f]}: the Safe may pay a gas refund`);
    for (const f of ["gasToken", "refundReceiver"] as const) if (BigInt(tx[f]) !== 0n) warnings.push(`${f} is ${tx[f]}: a refund goes to or is paid in it`);
  }
  if (input.claimed) {
    for (const k of ["safeTxHash", "domainHash", "messageHash"] as const) {
      const c = input.claimed[k];
      if (c && c.toLowerCase() !== hashes[k].toLowerCase()) warnings.push(`${input.claimed.source} claims ${k} ${c}, but the fields hash to ${hashes[k]}`);
    }
  }
  return {
    chainId: input.chainId.toString(),
    safe: getAddress(input.safe),
    nonce: tx.nonce,
    to: getAddress(tx.to),
    ...(label(tx.to) ? { toLabel: label(tx.to) } : {}),
    value: tx.value,
    data: tx.data,
    operation: { value: tx.operation, name: tx.operation === 0 ? "CALL" : tx.operation === 1 ? "DELEGATECALL" : "UNKNOWN" },
    safeTxGas: tx.safeTxGas,
    baseGas: tx.baseGas,
    gasPrice: tx.gasPrice,
    gasToken: tx.gasToken,
    refundReceiver: tx.refundReceiver,
    ...hashes,
    encodedMessage,
    typedData: safeTxTypedData(input.chainId, input.safe, tx),
    call,
    innerCalls,
    warnings,
  };
}

function renderCall(c: DecodedCall, indent: string): string[] {
  if (!c.function) return [`${indent}(undecoded) ${c.raw ?? ""}`];
  return [`${indent}${c.function}`, ...c.args.map((a) => `${indent}  ${a.name}${a.type ? ` (${a.type})` : ""}: ${a.value}`)];
}

/** The signer view as aligned text: the order follows a hardware wallet's screens, then the decoding. */
export function renderSignerView(v: SignerView): string {
  const L = [
    `chain id        ${v.chainId}`,
    `Safe            ${v.safe}`,
    `nonce           ${v.nonce}`,
    `to              ${v.to}${v.toLabel ? ` (${v.toLabel})` : ""}`,
    `value           ${v.value}`,
    `data            ${v.data.length > 200 ? `${v.data.slice(0, 200)}… (${(v.data.length - 2) / 2} bytes)` : v.data}`,
    `operation       ${v.operation.value} (${v.operation.name})`,
    `safeTxGas       ${v.safeTxGas}`,
    `baseGas         ${v.baseGas}`,
    `gasPrice        ${v.gasPrice}`,
    `gasToken        ${v.gasToken}`,
    `refundReceiver  ${v.refundReceiver}`,
    `domain hash     ${v.domainHash}`,
    `message hash    ${v.messageHash}`,
    `safeTxHash      ${v.safeTxHash}`,
    `encoded message ${v.encodedMessage}`,
    "",
    "The Safe calls:",
    ...renderCall(v.call, "  "),
  ];
  for (const c of v.innerCalls) {
    L.push("", `Inner call ${c.index + 1}: ${c.target}${c.targetLabel ? ` (${c.targetLabel})` : ""}, value ${c.value}`, ...renderCall(c, "  "));
    if (c.initializer) L.push("  then calls the new implementation:", ...renderCall(c.initializer, "    "));
  }
  L.push("", v.warnings.length ? `WARNINGS (${v.warnings.length}):` : "No warnings: one plain call to the timelock, no value, no gas refund.", ...v.warnings.map((w) => `  ! ${w}`));
  return L.map(terminalSafe).join("\n");
}
