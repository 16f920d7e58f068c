import { keccak256, toUtf8Bytes } from "ethers";

/**
 * Safe{Wallet} Transaction Builder batch files (pure). The guardian imports one into the Transaction
 * Builder app of the guardian Safe, or reads it to check what `gatehouse cancel` sends.
 */
export interface TxBuilderTransaction {
  to: string;
  value: string;
  data: string | null;
  contractMethod?: { inputs: { internalType: string; name: string; type: string }[]; name: string; payable: boolean };
  contractInputsValues?: Record<string, string>;
}

export interface TxBuilderFile {
  version: "1.0";
  chainId: string;
  createdAt: number;
  meta: {
    name: string;
    description: string;
    txBuilderVersion: string;
    createdFromSafeAddress: string;
    createdFromOwnerAddress: string;
    checksum?: string;
  };
  transactions: TxBuilderTransaction[];
}

const nullUndefined = (_k: string, v: unknown) => (v === undefined ? null : v);

/** The app's canonical serialization: keys sorted at every level, as in its src/lib/checksum.ts. */
function serialize(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(serialize).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).sort();
    let out = `{${JSON.stringify(keys, nullUndefined)}`;
    for (const k of keys) out += `${serialize((value as Record<string, unknown>)[k])},`;
    return `${out}}`;
  }
  return JSON.stringify(value, nullUndefined);
}

/** keccak256 of the file with meta.name nulled and without meta.checksum, as the Transaction Builder checks it. */
export function txBuilderChecksum(file: TxBuilderFile): string {
  const { checksum: _checksum, ...meta } = file.meta;
  return keccak256(toUtf8Bytes(serialize({ ...file, meta: { ...meta, name: null } })));
}

export function cancelTxBuilderFile(input: {
  chainId: bigint;
  timelock: string;
  operationId: string;
  calldata: string;
  guardianSafe?: string;
  description: string;
  createdAt: number;
}): TxBuilderFile {
  const file: TxBuilderFile = {
    version: "1.0",
    chainId: input.chainId.toString(),
    createdAt: input.createdAt,
    meta: {
      name: `Cancel timelock operation ${input.operationId.slice(0, 10)}`,
      description: input.description,
      txBuilderVersion: "1.18.2",
      createdFromSafeAddress: input.guardianSafe ?? "",
      createdFromOwnerAddress: "",
    },
    transactions: [
      {
        to: input.timelock,
        value: "0",
        data: input.calldata,
        contractMethod: { inputs: [{ internalType: "bytes32", name: "id", type: "bytes32" }], name: "cancel", payable: false },
        contractInputsValues: { id: input.operationId },
      },
    ],
  };
  return { ...file, meta: { ...file.meta, checksum: txBuilderChecksum(file) } };
}

/** A Transaction Builder batch of plain calls (no value) for a guardian Safe, e.g. `pause()` on proxies. */
export function callsTxBuilderFile(input: {
  chainId: bigint;
  safe?: string;
  name: string;
  description: string;
  createdAt: number;
  /** Each call with its method and named arguments, so the Transaction Builder shows them decoded. */
  calls: { to: string; data: string; method: string; args?: { name: string; type: string; value: string }[] }[];
}): TxBuilderFile {
  const file: TxBuilderFile = {
    version: "1.0",
    chainId: input.chainId.toString(),
    createdAt: input.createdAt,
    meta: { name: input.name, description: input.description, txBuilderVersion: "1.18.2", createdFromSafeAddress: input.safe ?? "", createdFromOwnerAddress: "" },
    transactions: input.calls.map((c) => ({
      to: c.to,
      value: "0",
      data: c.data,
      contractMethod: { inputs: (c.args ?? []).map((a) => ({ internalType: a.type, name: a.name, type: a.type })), name: c.method, payable: false },
      contractInputsValues: Object.fromEntries((c.args ?? []).map((a) => [a.name, a.value])),
    })),
  };
  return { ...file, meta: { ...file.meta, checksum: txBuilderChecksum(file) } };
}
