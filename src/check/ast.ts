import type { AstNode, CompilationUnit, ContractRef } from "./build.ts";
import { isProjectSource, sourceNameOfSrc } from "./build.ts";

/** Pure walks over the solc AST of one compilation unit. */

export type ForbiddenKind = "selfdestruct" | "delegatecall";

export interface AstHit {
  kind: ForbiddenKind;
  /** solc `src` of the call. */
  src: string;
}

// The same type identifiers upgrades-core matches, so both checks agree on what a call is.
const SOLIDITY_CALL: Record<ForbiddenKind, RegExp> = {
  delegatecall: /^t_function_baredelegatecall_/,
  selfdestruct: /^t_function_selfdestruct_/,
};

function isNode(v: unknown): v is AstNode {
  return typeof v === "object" && v !== null && typeof (v as { nodeType?: unknown }).nodeType === "string";
}

/** Every AST node under `root`, depth first (children in any property, including arrays). */
export function* walk(root: unknown): Generator<AstNode> {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else if (typeof v === "object" && v !== null) {
      if (isNode(v)) yield v;
      for (const child of Object.values(v).reverse()) if (typeof child === "object" && child !== null) stack.push(child);
    }
  }
}

const indexCache = new WeakMap<CompilationUnit, Map<number, AstNode>>();

/** id -> node over all sources of the unit. */
export function nodeIndex(unit: CompilationUnit): Map<number, AstNode> {
  let index = indexCache.get(unit);
  if (!index) {
    index = new Map();
    for (const { ast } of Object.values(unit.output.sources)) {
      for (const node of walk(ast)) if (typeof node.id === "number") index.set(node.id, node);
    }
    indexCache.set(unit, index);
  }
  return index;
}

export function contractDefinition(ref: ContractRef): AstNode | undefined {
  const ast = ref.unit.output.sources[ref.sourceName]?.ast;
  for (const node of walk(ast)) if (node.nodeType === "ContractDefinition" && node.name === ref.name) return node;
  return undefined;
}

function typeIdentifier(node: unknown): string {
  const td = (node as { typeDescriptions?: { typeIdentifier?: string } } | undefined)?.typeDescriptions;
  return td?.typeIdentifier ?? "";
}

function hitOf(node: AstNode): ForbiddenKind | undefined {
  if (node.nodeType === "FunctionCall") {
    const id = typeIdentifier(node.expression);
    if (SOLIDITY_CALL.selfdestruct.test(id)) return "selfdestruct";
    if (SOLIDITY_CALL.delegatecall.test(id)) return "delegatecall";
  }
  if (node.nodeType === "YulFunctionCall") {
    const name = (node.functionName as { name?: string } | undefined)?.name;
    if (name === "selfdestruct" || name === "delegatecall") return name;
  }
  return undefined;
}

function isProjectNode(unit: CompilationUnit, node: AstNode): boolean {
  const sourceName = typeof node.src === "string" ? sourceNameOfSrc(unit, node.src) : undefined;
  return sourceName !== undefined && isProjectSource(sourceName);
}

// ---------------------------------------------------------------- reachable code

/** A library function the policy lets the target call without walking into it (`rules.allowedLibraryCalls`). */
export interface LibraryAllowance {
  function: string;
  reason: string;
}

/** A function, modifier or state-variable initializer the target can run, and the call that reaches it. */
export interface Reached {
  decl: AstNode;
  /** The reached code that calls this one; undefined for an entry point (public/external function, ...). */
  parent?: Reached;
  /** solc `src` of the reference in `parent` that leads here. */
  callSrc?: string;
}

export interface AllowedCall {
  function: string;
  reason: string;
  /** solc `src` of the call the allowance covered. */
  callSrc: string;
}

/**
 * The proxy's own upgrade: OZ's UUPSUpgradeable.upgradeToAndCall delegatecalls the new implementation's
 * initializer through ERC1967Utils.upgradeToAndCall after _authorizeUpgrade, which the uups-authorize-upgrade
 * rule checks. Only this one call edge, inside OZ's npm package, is exempt: the same library function
 * called from anywhere else is walked (and its delegatecall found).
 */
const UPGRADE_PATH = {
  callers: [
    "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol:UUPSUpgradeable._upgradeToAndCallUUPS",
    "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol:UUPSUpgradeable._upgradeToAndCallUUPS",
  ],
  callee: "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol:ERC1967Utils.upgradeToAndCall",
  reason: "the UUPS upgrade path itself (UUPSUpgradeable.upgradeToAndCall, gated by _authorizeUpgrade)",
};

/**
 * Names an allowlist can use for a function: `<package>/<path>.sol:<Contract>.<function>`, both with the
 * package's version (`@openzeppelin/contracts@5.4.0/...`) and without. Project sources keep their
 * `project/` prefix, so no allowance written for a package can match them.
 */
export function functionKeys(sourceName: string, contract: string | undefined, fn: string): string[] {
  const npm = sourceName.startsWith("npm/") ? sourceName.slice(4) : sourceName;
  const qualified = `${contract ? `${contract}.` : ""}${fn}`;
  const unversioned = npm.replace(/^((?:@[^/]+\/)?[^/@]+)@[^/]+\//, "$1/");
  return [...new Set([`${npm}:${qualified}`, `${unversioned}:${qualified}`])];
}

function scopeName(index: Map<number, AstNode>, decl: AstNode): string | undefined {
  const scope = typeof decl.scope === "number" ? index.get(decl.scope) : undefined;
  return scope?.nodeType === "ContractDefinition" ? (scope.name as string) : undefined;
}

function declName(decl: AstNode): string {
  if (decl.nodeType === "FunctionDefinition" && decl.kind !== "function") return decl.kind as string;
  return decl.name as string;
}

/** `Contract.function` (or `function` for a free function), for messages. */
export function displayName(unit: CompilationUnit, decl: AstNode): string {
  const contract = scopeName(nodeIndex(unit), decl);
  const suffix = decl.nodeType === "VariableDeclaration" ? " (initializer)" : "";
  return `${contract ? `${contract}.` : ""}${declName(decl)}${suffix}`;
}

function keysOf(unit: CompilationUnit, decl: AstNode): string[] {
  const sourceName = typeof decl.src === "string" ? sourceNameOfSrc(unit, decl.src) : undefined;
  if (!sourceName || isProjectSource(sourceName)) return [];
  return functionKeys(sourceName, scopeName(nodeIndex(unit), decl), declName(decl));
}

/** The version-free allowance name of a function in an npm package; undefined for project code. */
export function allowanceKeyOf(unit: CompilationUnit, decl: AstNode): string | undefined {
  return keysOf(unit, decl).at(-1);
}

function isEntryPoint(node: AstNode): boolean {
  if (node.nodeType === "FunctionDefinition") {
    if (node.implemented === false) return false;
    return node.visibility === "public" || node.visibility === "external" || ["constructor", "fallback", "receive"].includes(node.kind as string);
  }
  // State-variable initializers run in the constructor.
  return node.nodeType === "VariableDeclaration" && node.value !== null && node.value !== undefined;
}

function linearizedBases(target: ContractRef): AstNode[] {
  const index = nodeIndex(target.unit);
  const def = contractDefinition(target);
  if (!def) return [];
  return ((def.linearizedBaseContracts as number[] | undefined) ?? [def.id as number]).map((id) => index.get(id)).filter((n): n is AstNode => !!n);
}

/** Functions and modifiers of the target's bases by the id of each function or modifier they override. */
function overridersIn(bases: AstNode[]): Map<number, AstNode[]> {
  const map = new Map<number, AstNode[]>();
  for (const base of bases) {
    for (const node of (base.nodes as AstNode[] | undefined) ?? []) {
      for (const id of ((node.baseFunctions ?? node.baseModifiers) as number[] | undefined) ?? []) {
        map.set(id, [...(map.get(id) ?? []), node]);
      }
    }
  }
  return map;
}

/**
 * Every function, modifier and state-variable initializer the target contract can run, wherever its code
 * lives (project sources and npm packages alike), starting at `starts` (default: the entry points of its
 * linearized bases) and following internal references, including overrides of virtual functions. Calls
 * into an allowlisted library function, and the proxy's own upgrade call, are not walked into.
 */
export function reachableCode(
  target: ContractRef,
  allowances: readonly LibraryAllowance[] = [],
  starts?: AstNode[],
): { reached: Reached[]; allowed: AllowedCall[]; edges: CallEdge[] } {
  const unit = target.unit;
  const index = nodeIndex(unit);
  const bases = linearizedBases(target);
  const overriders = overridersIn(bases);
  const entries = starts ?? bases.flatMap((b) => ((b.nodes as AstNode[] | undefined) ?? []).filter(isEntryPoint));
  const queue: Reached[] = entries.map((decl) => ({ decl }));
  const visited = new Set<number>(entries.map((n) => n.id as number));
  const reached: Reached[] = [];
  const allowed: AllowedCall[] = [];
  const allowedSeen = new Set<string>();
  const edges: CallEdge[] = [];

  const allowanceFor = (caller: AstNode, callee: AstNode): { function: string; reason: string } | undefined => {
    const calleeKeys = keysOf(unit, callee);
    if (calleeKeys.includes(UPGRADE_PATH.callee) && keysOf(unit, caller).some((k) => UPGRADE_PATH.callers.includes(k))) {
      return { function: UPGRADE_PATH.callee, reason: UPGRADE_PATH.reason };
    }
    return allowances.find((a) => calleeKeys.includes(a.function));
  };

  while (queue.length > 0) {
    const item = queue.shift() as Reached;
    reached.push(item);
    const enqueue = (decl: AstNode, callSrc: string): void => {
      const id = decl.id as number;
      const allowance = allowanceFor(item.decl, decl);
      if (allowance) {
        // Not marked visited: the same function reached by another call is walked.
        const key = `${allowance.function}\u0000${callSrc}`;
        if (!allowedSeen.has(key)) allowed.push({ ...allowance, callSrc });
        allowedSeen.add(key);
        return;
      }
      // A virtual function runs as its most derived override: every override is a possible callee.
      for (const callee of [decl, ...(overriders.get(id) ?? [])]) {
        edges.push({ from: item.decl, to: callee, callSrc });
        if (visited.has(callee.id as number)) continue;
        visited.add(callee.id as number);
        queue.push({ decl: callee, parent: item, callSrc });
      }
    };
    for (const node of walk(item.decl)) {
      const ref = node.referencedDeclaration;
      if (typeof ref !== "number" || ref <= 0) continue;
      const decl = index.get(ref);
      if (decl && (decl.nodeType === "FunctionDefinition" || decl.nodeType === "ModifierDefinition")) enqueue(decl, node.src as string);
    }
  }
  return { reached, allowed, edges };
}

/** One reference from reached code to a function or modifier (a call, a modifier use, a function pointer). */
export interface CallEdge {
  from: AstNode;
  to: AstNode;
  callSrc: string;
}

export interface ForbiddenHit {
  kind: ForbiddenKind;
  /** solc `src` of the selfdestruct / delegatecall itself. */
  src: string;
  /**
   * Where the project's own code leads to it: the call itself when it is in the project, else the project's
   * call into the library that reaches it; undefined when only inherited library code reaches it.
   */
  site?: string;
  /** Functions from the site's callee (or the library entry point) down to the one holding the call. */
  chain: AstNode[];
}

/**
 * selfdestruct / delegatecall the target can reach (see reachableCode), in its own code or in any library,
 * reported where the project's code leads to them: one hit per project call site, however deep the library
 * code holding it. NatSpec allowances are deliberately ignored: only the policy decides.
 */
export function findForbiddenCalls(
  target: ContractRef,
  kinds: readonly ForbiddenKind[],
  allowances: readonly LibraryAllowance[] = [],
): { hits: ForbiddenHit[]; allowed: AllowedCall[] } {
  if (kinds.length === 0) return { hits: [], allowed: [] };
  const unit = target.unit;
  const { reached, allowed, edges } = reachableCode(target, allowances);
  // For each reached function: one forbidden call it contains or reaches, and the callee leading there.
  const taint = new Map<number, { kind: ForbiddenKind; src: string; next?: AstNode }>();
  const direct: { decl: AstNode; kind: ForbiddenKind; src: string }[] = [];
  for (const { decl } of reached) {
    for (const node of walk(decl)) {
      const kind = hitOf(node);
      if (!kind || !kinds.includes(kind) || typeof node.src !== "string") continue;
      direct.push({ decl, kind, src: node.src });
      if (!taint.has(decl.id as number)) taint.set(decl.id as number, { kind, src: node.src });
    }
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of edges) {
      const t = taint.get(e.to.id as number);
      if (t && !taint.has(e.from.id as number)) {
        taint.set(e.from.id as number, { kind: t.kind, src: t.src, next: e.to });
        changed = true;
      }
    }
  }
  const chainFrom = (decl: AstNode): AstNode[] => {
    const out = [decl];
    for (let t = taint.get(decl.id as number); t?.next && out.length < 64; t = taint.get(t.next.id as number)) out.push(t.next);
    return out;
  };
  const hits: ForbiddenHit[] = [];
  const seen = new Set<string>();
  const add = (hit: ForbiddenHit): void => {
    const key = `${hit.kind}\u0000${hit.site ?? hit.src}`;
    if (!seen.has(key)) hits.push(hit);
    seen.add(key);
  };
  for (const d of direct) if (isProjectNode(unit, d.decl)) add({ kind: d.kind, src: d.src, site: d.src, chain: [d.decl] });
  for (const e of edges) {
    const t = taint.get(e.to.id as number);
    if (t && isProjectNode(unit, e.from) && !isProjectNode(unit, e.to)) add({ kind: t.kind, src: t.src, site: e.callSrc, chain: chainFrom(e.to) });
  }
  // Library entry points the contract inherits (a public function of an npm base) have no project call site.
  for (const r of reached) {
    const t = taint.get(r.decl.id as number);
    if (t && !r.parent && !isProjectNode(unit, r.decl)) add({ kind: t.kind, src: t.src, chain: chainFrom(r.decl) });
  }
  return { hits: hits.sort((a, b) => srcOrder(a.site ?? a.src) - srcOrder(b.site ?? b.src)), allowed };
}

// ---------------------------------------------------------------- _authorizeUpgrade

function isCallerRead(node: AstNode): boolean {
  return node.nodeType === "MemberAccess" && node.memberName === "sender" && (node.expression as AstNode | undefined)?.nodeType === "Identifier" && (node.expression as AstNode).name === "msg";
}

function canRevert(node: AstNode): boolean {
  if (node.nodeType === "RevertStatement") return true;
  if (node.nodeType === "FunctionCall") {
    const callee = node.expression as AstNode | undefined;
    return callee?.nodeType === "Identifier" && (callee.name === "require" || callee.name === "revert") && (callee.referencedDeclaration as number) < 0;
  }
  return node.nodeType === "YulFunctionCall" && (node.functionName as { name?: string } | undefined)?.name === "revert";
}

export interface AuthorizeUpgrade {
  /** The implemented `_authorizeUpgrade` the contract runs (its most derived one). */
  decl: AstNode;
  /** It, its modifiers or the functions they call read msg.sender and can revert. */
  restricted: boolean;
  empty: boolean;
}

/**
 * The UUPS upgrade authority, statically: the most derived implemented `_authorizeUpgrade` must (through its
 * modifiers or the code it calls) both read the caller and be able to revert. Undefined when the contract
 * has none (not a UUPS implementation). A heuristic: a check that compares msg.sender with itself passes.
 */
export function authorizeUpgradeOf(target: ContractRef): AuthorizeUpgrade | undefined {
  const decl = linearizedBases(target)
    .flatMap((b) => ((b.nodes as AstNode[] | undefined) ?? []))
    .find((n) => n.nodeType === "FunctionDefinition" && n.name === "_authorizeUpgrade" && n.implemented !== false && n.body);
  if (!decl) return undefined;
  const { reached } = reachableCode(target, [], [decl]);
  let reads = false;
  let reverts = false;
  for (const item of reached) {
    for (const node of walk(item.decl)) {
      reads ||= isCallerRead(node);
      reverts ||= canRevert(node);
    }
  }
  const statements = ((decl.body as AstNode).statements as unknown[] | undefined) ?? [];
  const empty = statements.length === 0 && ((decl.modifiers as unknown[] | undefined) ?? []).length === 0;
  return { decl, restricted: reads && reverts, empty };
}

// ---------------------------------------------------------------- inline NatSpec allowances

const ALLOW_TAG = /^\s*@custom:(oz-upgrades-unsafe-allow(?:-reachable)?)[ \t]+((?:(?!^\s*@\w)[^])*)/gm;

export interface InlineAllowance {
  tag: "oz-upgrades-unsafe-allow" | "oz-upgrades-unsafe-allow-reachable";
  kinds: string[];
  /** solc `src` of the documentation. */
  src: string;
  /** The node the documentation belongs to. */
  owner: AstNode;
}

function docText(node: AstNode): { text: string; src?: string } | undefined {
  const doc = node.documentation;
  if (typeof doc === "string") return { text: doc, src: node.src };
  if (doc && typeof doc === "object" && typeof (doc as AstNode).text === "string") return { text: (doc as AstNode).text as string, src: (doc as AstNode).src ?? node.src };
  return undefined;
}

function parseAllowances(text: string): { tag: InlineAllowance["tag"]; kinds: string[] }[] {
  return [...text.matchAll(ALLOW_TAG)].map((m) => ({ tag: m[1] as InlineAllowance["tag"], kinds: m[2].split(/\s+/).filter(Boolean) }));
}

/** OZ's recommended constructor: no modifiers, body exactly `_disableInitializers();`. */
export function isDisableInitializersConstructor(node: AstNode): boolean {
  if (node.nodeType !== "FunctionDefinition" || node.kind !== "constructor") return false;
  if (((node.modifiers as unknown[] | undefined) ?? []).length > 0) return false;
  const statements = ((node.body as AstNode | undefined)?.statements as AstNode[] | undefined) ?? [];
  if (statements.length !== 1 || statements[0].nodeType !== "ExpressionStatement") return false;
  const call = statements[0].expression as AstNode;
  const callee = call?.expression as AstNode | undefined;
  return call?.nodeType === "FunctionCall" && callee?.nodeType === "Identifier" && callee.name === "_disableInitializers" && ((call.arguments as unknown[]) ?? []).length === 0;
}

/** `@custom:oz-upgrades-unsafe-allow[-reachable]` NatSpec in the project's own code the target contains or reaches. */
export function inlineAllowances(target: ContractRef, reached: Reached[]): InlineAllowance[] {
  const unit = target.unit;
  const scopes = [...linearizedBases(target), ...reached.map((r) => r.decl)].filter((n) => isProjectNode(unit, n));
  const out: InlineAllowance[] = [];
  const seen = new Set<string>();
  for (const scope of scopes) {
    for (const node of walk(scope)) {
      const doc = docText(node);
      if (!doc || !doc.src || seen.has(doc.src)) continue;
      seen.add(doc.src);
      for (const a of parseAllowances(doc.text)) out.push({ ...a, src: doc.src, owner: node });
    }
  }
  return out.sort((a, b) => srcOrder(a.src) - srcOrder(b.src));
}

/**
 * The unit's solc output with the project's inline unsafe-allow NatSpec renamed away, so upgrades-core
 * reports what the policy alone allows. Kept: `constructor` on a constructor that only disables initializers.
 * npm packages keep theirs (OZ annotates its own vetted code). Project ASTs are copied, never mutated.
 */
export function withoutProjectAllowances(unit: CompilationUnit): CompilationUnit["output"] {
  const sources = { ...unit.output.sources };
  for (const name of Object.keys(sources)) {
    if (!isProjectSource(name)) continue;
    const copy = structuredClone(sources[name]);
    for (const node of walk(copy.ast)) {
      const doc = docText(node);
      if (!doc || !/@custom:oz-upgrades-unsafe-allow/.test(doc.text)) continue;
      const keep = isDisableInitializersConstructor(node) && parseAllowances(doc.text).every((a) => a.tag === "oz-upgrades-unsafe-allow" && a.kinds.join(" ") === "constructor");
      if (keep) continue;
      const text = doc.text.replace(/@custom:oz-upgrades-unsafe-allow/g, "@custom:gatehouse-ignored-unsafe-allow");
      if (typeof node.documentation === "string") node.documentation = text;
      else (node.documentation as AstNode).text = text;
    }
    sources[name] = copy;
  }
  return { ...unit.output, sources };
}

/** Orders by source index, then byte offset. */
function srcOrder(src: string): number {
  const [start, , index] = src.split(":").map(Number);
  return index * 2 ** 32 + start;
}
