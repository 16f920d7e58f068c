import { getAddress, id as keccakText, keccak256, toBeHex } from "ethers";
import type { Preimage } from "./trace.ts";

/**
 * Naming storage slots (pure): an account's layout (the OZ upgrades layout of a governed contract, with
 * its ERC-7201 namespaces; the timelock's; the Safe's; the ERC-1967 proxy slots) plus the keccak
 * preimages seen in the trace turn a raw slot into `_roles[PROPOSER_ROLE].hasRole[0xabc…]`.
 */

/** One variable in OZ upgrades-core / solc layout form (`slot` a decimal string). */
export interface LayoutItem {
  label: string;
  slot: string;
  offset: number;
  type: string;
}

/** Type table entry (upgrades-core omits solc's encoding/key/value: those are parsed from the type id). */
export interface LayoutType {
  label: string;
  numberOfBytes?: string;
  members?: LayoutItem[] | string[];
}

export interface StorageLayout {
  storage: LayoutItem[];
  types: Record<string, LayoutType>;
  /** `erc7201:<id>` → the namespace's members, slots relative to the namespace root. */
  namespaces?: Record<string, LayoutItem[]>;
}

/** A slot's meaning: the variables in it (several when packed). */
export interface SlotName {
  /** The root variable: `balanceOf`, `Ownable._owner`, `erc1967.implementation`. Allowed-writes match on it. */
  variable: string;
  /** The full path with keys, e.g. `_roles[PROPOSER_ROLE].hasRole[0xAbc…]`. */
  path: string;
  /** The values in the slot, one per variable packed in it. */
  parts: { path: string; type: string; offset: number; bytes: number }[];
}

/** ERC-1967 slots: keccak256("eip1967.proxy.<name>") - 1. */
export const ERC1967 = {
  implementation: BigInt(keccakText("eip1967.proxy.implementation")) - 1n,
  admin: BigInt(keccakText("eip1967.proxy.admin")) - 1n,
  beacon: BigInt(keccakText("eip1967.proxy.beacon")) - 1n,
} as const;

/** ERC-7201: keccak256(abi.encode(uint256(keccak256(id)) - 1)) & ~0xff. */
export function erc7201Root(namespaceId: string): bigint {
  const inner = BigInt(keccakText(namespaceId)) - 1n;
  return BigInt(keccak256(toBeHex(inner, 32))) & ~0xffn;
}

/** Safe 1.5.0 storage (SafeStorage.sol and the managers' sentinel-linked lists), in layout form. */
export const SAFE_LAYOUT: StorageLayout = {
  storage: [
    { label: "singleton", slot: "0", offset: 0, type: "t_address" },
    { label: "modules", slot: "1", offset: 0, type: "t_mapping(t_address,t_address)" },
    { label: "owners", slot: "2", offset: 0, type: "t_mapping(t_address,t_address)" },
    { label: "ownerCount", slot: "3", offset: 0, type: "t_uint256" },
    { label: "threshold", slot: "4", offset: 0, type: "t_uint256" },
    { label: "nonce", slot: "5", offset: 0, type: "t_uint256" },
    { label: "_deprecatedDomainSeparator", slot: "6", offset: 0, type: "t_bytes32" },
    { label: "signedMessages", slot: "7", offset: 0, type: "t_mapping(t_bytes32,t_uint256)" },
    { label: "approvedHashes", slot: "8", offset: 0, type: "t_mapping(t_address,t_mapping(t_bytes32,t_uint256))" },
  ],
  types: {
    t_address: { label: "address", numberOfBytes: "20" },
    t_uint256: { label: "uint256", numberOfBytes: "32" },
    t_bytes32: { label: "bytes32", numberOfBytes: "32" },
  },
};
/** Safe slots set by keccak of a text (GuardManager, FallbackManager, ModuleGuardManager). */
const SAFE_FIXED: Record<string, bigint> = {
  guard: BigInt(keccakText("guard_manager.guard.address")),
  fallbackHandler: BigInt(keccakText("fallback_manager.handler.address")),
  moduleGuard: BigInt(keccakText("module_manager.module_guard.address")),
};

/** OZ 5 ProxyAdmin (Ownable, not upgradeable): `_owner` at slot 0. */
export const PROXY_ADMIN_LAYOUT: StorageLayout = {
  storage: [{ label: "_owner", slot: "0", offset: 0, type: "t_address" }],
  types: { t_address: { label: "address", numberOfBytes: "20" } },
};

/** Names for well-known 32-byte keys (roles), so `_roles[0xb09a…]` reads `_roles[PROPOSER_ROLE]`. */
export const KNOWN_WORDS: Record<string, string> = Object.fromEntries(
  ["PROPOSER_ROLE", "EXECUTOR_ROLE", "CANCELLER_ROLE", "UPGRADER_ROLE", "PAUSER_ROLE", "MINTER_ROLE"].map((r) => [keccakText(r), r]),
);
KNOWN_WORDS[`0x${"0".repeat(64)}`] = "DEFAULT_ADMIN_ROLE";

// ------------------------------------------------------------------------------------------ types

/** Splits `t_mapping(K,V)` into K and V (balanced parentheses). */
function mappingParts(t: string): { key: string; value: string } | undefined {
  if (!t.startsWith("t_mapping(")) return undefined;
  const inner = t.slice("t_mapping(".length, -1);
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) return { key: inner.slice(0, i), value: inner.slice(i + 1) };
  }
  return undefined;
}

function arrayParts(t: string): { base: string; length?: number } | undefined {
  const m = /^t_array\((.*)\)(dyn|\d+)_storage$/.exec(t);
  if (!m) return undefined;
  return { base: m[1]!, length: m[2] === "dyn" ? undefined : Number(m[2]) };
}

function isBytesLike(t: string): boolean {
  return t === "t_string_storage" || t === "t_bytes_storage";
}

function sizeOf(layout: StorageLayout, t: string): number {
  const n = layout.types[t]?.numberOfBytes;
  if (n) return Number(n);
  if (mappingParts(t) || isBytesLike(t) || /dyn_storage$/.test(t)) return 32;
  const m = /^t_(?:u?int|bytes)(\d+)$/.exec(t);
  if (m) return t.startsWith("t_bytes") ? Number(m[1]) : Number(m[1]) / 8;
  if (t === "t_address" || t.startsWith("t_contract")) return 20;
  if (t === "t_bool" || t.startsWith("t_enum")) return 1;
  return 32;
}

function slotsOf(layout: StorageLayout, t: string): number {
  return Math.max(1, Math.ceil(sizeOf(layout, t) / 32));
}

function structMembers(layout: StorageLayout, t: string): LayoutItem[] | undefined {
  const m = layout.types[t]?.members;
  return t.startsWith("t_struct(") && Array.isArray(m) && typeof m[0] === "object" ? (m as LayoutItem[]) : undefined;
}

function typeLabel(layout: StorageLayout, t: string): string {
  return layout.types[t]?.label ?? t.replace(/^t_/, "");
}

// ------------------------------------------------------------------------------------------ naming

interface Placed {
  variable: string;
  path: string;
  type: string;
  offset: number;
}

/** Variables that start exactly at `rel` inside a value of type `t` placed at `path` (structs and static arrays expanded). */
function within(layout: StorageLayout, t: string, rel: number, variable: string, path: string, offset = 0): Placed[] {
  const members = structMembers(layout, t);
  if (members) {
    return members.flatMap((m) => {
      const ms = Number(m.slot);
      const span = slotsOf(layout, m.type);
      return rel >= ms && rel < ms + span ? within(layout, m.type, rel - ms, variable, `${path}.${m.label}`, m.offset) : [];
    });
  }
  const arr = arrayParts(t);
  if (arr && arr.length !== undefined) {
    const es = sizeOf(layout, arr.base);
    if (es >= 32) {
      const span = slotsOf(layout, arr.base);
      const i = Math.floor(rel / span);
      return i < arr.length ? within(layout, arr.base, rel - i * span, variable, `${path}[${i}]`) : [];
    }
    const per = Math.floor(32 / es);
    const n = arr.length;
    return Array.from({ length: per }, (_, k) => rel * per + k)
      .filter((i) => i < n)
      .map((i) => ({ variable, path: `${path}[${i}]`, type: arr.base, offset: (i % per) * es }));
  }
  return rel < slotsOf(layout, t) ? [{ variable, path: rel === 0 ? path : `${path} (word ${rel})`, type: t, offset }] : [];
}

function formatKey(layout: StorageLayout, keyType: string, key: bigint): string {
  if (keyType === "t_address" || keyType.startsWith("t_contract")) return getAddress(toBeHex(key & ((1n << 160n) - 1n), 20));
  if (keyType.startsWith("t_bytes")) {
    const hex = toBeHex(key, 32);
    return KNOWN_WORDS[hex] ?? hex;
  }
  if (/^t_u?int/.test(keyType) || keyType === "t_bool" || keyType.startsWith("t_enum")) return key.toString();
  return toBeHex(key, 32) + ` (${typeLabel(layout, keyType)})`;
}

export class SlotNamer {
  private fixed = new Map<bigint, Placed[]>();
  private readonly layout: StorageLayout;
  private readonly preimages: Map<bigint, Preimage>;

  constructor(layout: StorageLayout, preimages: Map<bigint, Preimage>, extra: { slot: bigint; variable: string; type: string }[] = []) {
    this.layout = layout;
    this.preimages = preimages;
    const place = (root: bigint, items: LayoutItem[], prefix: string) => {
      for (const item of items) {
        const base = root + BigInt(item.slot);
        const variable = `${prefix}${item.label}`;
        for (let rel = 0; rel < Math.min(slotsOf(layout, item.type), 64); rel++) {
          for (const p of within(layout, item.type, rel, variable, variable, item.offset)) this.add(base + BigInt(rel), p);
        }
      }
    };
    place(0n, layout.storage, "");
    for (const [ns, items] of Object.entries(layout.namespaces ?? {})) {
      const nsId = ns.replace(/^erc7201:/, "");
      // `openzeppelin.storage.Ownable` → `Ownable._owner`: the short name a reviewer knows.
      place(erc7201Root(nsId), items, `${nsId.split(".").at(-1)}.`);
    }
    for (const e of extra) this.add(e.slot, { variable: e.variable, path: e.variable, type: e.type, offset: 0 });
  }

  private add(slot: bigint, p: Placed): void {
    const list = this.fixed.get(slot) ?? [];
    list.push(p);
    this.fixed.set(slot, list);
  }

  /** Variables starting at `slot` (containers included: a mapping's base, a struct's first word). */
  private at(slot: bigint, depth = 0): Placed[] {
    const direct = this.fixed.get(slot);
    if (direct) return direct;
    if (depth > 6) return [];
    for (let d = 0n; d < 64n; d++) {
      const pre = this.preimages.get(slot - d);
      if (!pre) continue;
      const parents = this.at(pre.base, depth + 1);
      for (const parent of parents) {
        if (pre.kind === "mapping") {
          const mp = mappingParts(parent.type);
          if (!mp) continue;
          const path = `${parent.path}[${formatKey(this.layout, mp.key, pre.key)}]`;
          const found = within(this.layout, mp.value, Number(d), parent.variable, path);
          if (found.length) return found;
        } else {
          const arr = arrayParts(parent.type);
          if (arr && arr.length === undefined) {
            const span = slotsOf(this.layout, arr.base);
            const i = Math.floor(Number(d) / span);
            const found = within(this.layout, arr.base, Number(d) - i * span, parent.variable, `${parent.path}[${i}]`);
            if (found.length) return found;
          } else if (isBytesLike(parent.type)) {
            return [{ variable: parent.variable, path: `${parent.path} (data word ${d})`, type: "t_bytes32", offset: 0 }];
          }
        }
      }
    }
    return [];
  }

  name(slot: bigint): SlotName | undefined {
    const placed = this.at(slot).filter((p) => !mappingParts(p.type) && !structMembers(this.layout, p.type));
    if (placed.length === 0) return undefined;
    return {
      variable: placed[0]!.variable,
      path: placed.map((p) => p.path).join(" + "),
      parts: placed.map((p) => ({ path: p.path, type: p.type, offset: p.offset, bytes: Math.min(32, sizeOf(this.layout, p.type)) })),
    };
  }
}

/** The fixed slots a proxy (ERC-1967) or a Safe has outside its layout. */
export function proxySlots(): { slot: bigint; variable: string; type: string }[] {
  return [
    { slot: ERC1967.implementation, variable: "erc1967.implementation", type: "t_address" },
    { slot: ERC1967.admin, variable: "erc1967.admin", type: "t_address" },
    { slot: ERC1967.beacon, variable: "erc1967.beacon", type: "t_address" },
  ];
}

export function safeSlots(): { slot: bigint; variable: string; type: string }[] {
  return Object.entries(SAFE_FIXED).map(([variable, slot]) => ({ slot, variable, type: "t_address" }));
}

// ------------------------------------------------------------------------------------------ values

/** One packed value out of a 32-byte slot word, formatted for a reviewer. */
export function decodeValue(wordHex: string, part: { type: string; offset: number; bytes: number }): string {
  const w = BigInt(wordHex);
  const v = (w >> BigInt(part.offset * 8)) & ((1n << BigInt(part.bytes * 8)) - 1n);
  const t = part.type;
  if (t === "t_address" || t.startsWith("t_contract")) return getAddress(toBeHex(v, 20));
  if (t === "t_bool") return v === 0n ? "false" : v === 1n ? "true" : `0x${v.toString(16)}`;
  if (/^t_u?int\d+$/.test(t) || t.startsWith("t_enum")) return v.toString();
  if (t === "t_bytes32") return KNOWN_WORDS[toBeHex(v, 32)] ?? toBeHex(v, 32);
  return toBeHex(v, part.bytes);
}
