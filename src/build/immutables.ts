import path from "node:path";
import { getAddress, zeroPadValue } from "ethers";
import type { ImmutableReferences } from "../plan/bytecode.ts";

/**
 * Immutables of an implementation against what they must be (pure). Comparing code "immutables aside"
 * masks them, so these are checked on their own: every copy of an immutable holds the same value, and
 * UUPSUpgradeable's `__self` is the implementation's own address (its `onlyProxy` guard depends on it:
 * a foreign `__self` bricks later upgrades, or lets the implementation be called as if it were a proxy).
 * Any other immutable is set by a constructor whose arguments no record holds: reported as unchecked,
 * with its value. verify and the watcher both ask this module.
 */
export type ImmutableNames = Record<string, { name: string; source: string }>;

export interface ImmutableCheck {
  /** `__self (UUPSUpgradeable.sol)`, or `#<ast id>` when the declaration is unknown. */
  name: string;
  ok: boolean;
  detail: string;
  unchecked?: boolean;
}

/** The immutables of a build, by AST id: the declared name and its source file, from the build-info output. */
export function immutableDeclarations(buildInfoOutput: unknown, ids: string[]): ImmutableNames {
  const wanted = new Set(ids.map(Number));
  const found: ImmutableNames = {};
  const sources = ((buildInfoOutput as { output?: { sources?: Record<string, { ast?: unknown }> } })?.output?.sources ?? {}) as Record<string, { ast?: unknown }>;
  const walk = (node: unknown, source: string): void => {
    if (!node || typeof node !== "object" || Object.keys(found).length === wanted.size) return;
    const n = node as { id?: number; nodeType?: string; name?: string };
    if (n.nodeType === "VariableDeclaration" && typeof n.id === "number" && wanted.has(n.id)) found[String(n.id)] = { name: n.name ?? "?", source };
    for (const v of Object.values(node)) if (v && typeof v === "object") walk(v, source);
  };
  for (const [source, s] of Object.entries(sources)) walk(s.ast, source);
  return found;
}

const UUPS_SOURCE = /(^|\/)@openzeppelin\/contracts(-upgradeable)?(@[^/]+)?\/proxy\/utils\/UUPSUpgradeable\.sol$/;

export function checkImmutableValues(code: string, refs: ImmutableReferences | undefined, names: ImmutableNames, implementation: string): ImmutableCheck[] {
  const out: ImmutableCheck[] = [];
  const hex = code.startsWith("0x") ? code.slice(2) : code;
  for (const [id, ranges] of Object.entries(refs ?? {})) {
    const values = [...new Set(ranges.map(({ start, length }) => "0x" + hex.slice(start * 2, (start + length) * 2).toLowerCase()))];
    const decl = names[id];
    const name = decl ? `${decl.name} (${path.basename(decl.source)})` : `#${id}`;
    if (values.length !== 1) {
      out.push({ name, ok: false, detail: `its ${ranges.length} copies in the code differ: ${values.join(", ")}` });
      continue;
    }
    if (decl?.name === "__self" && UUPS_SOURCE.test(decl.source)) {
      const expected = zeroPadValue(getAddress(implementation), 32).toLowerCase();
      const ok = values[0] === expected;
      out.push({ name, ok, detail: ok ? `the implementation's own address ${getAddress(implementation)}` : `${values[0]}, expected the implementation's own address ${getAddress(implementation)}` });
    } else {
      out.push({ name, ok: true, detail: `UNCHECKED: value ${values[0]} is set at deployment and is not derived here`, unchecked: true });
    }
  }
  return out;
}
