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

/**
 * selfdestruct / delegatecall calls in the project's own code that the target contract contains or can
 * reach: its linearized bases plus the free and library functions (and modifiers) they reference,
 * transitively. npm packages are not walked: their low-level calls are the vetted helpers the policy
 * does not forbid. NatSpec allowances are deliberately ignored (the policy is stricter than upgrades-core).
 */
export function findForbiddenCalls(target: ContractRef, kinds: readonly ForbiddenKind[]): AstHit[] {
  if (kinds.length === 0) return [];
  const unit = target.unit;
  const index = nodeIndex(unit);
  const def = contractDefinition(target);
  if (!def) return [];
  const bases = ((def.linearizedBaseContracts as number[] | undefined) ?? [def.id as number]).map((id) => index.get(id)).filter((n): n is AstNode => !!n);
  const queue = bases.filter((n) => isProjectNode(unit, n));
  const visited = new Set<number>(queue.map((n) => n.id as number));
  const hits: AstHit[] = [];
  const seenSrc = new Set<string>();
  while (queue.length > 0) {
    const scope = queue.shift() as AstNode;
    for (const node of walk(scope)) {
      const kind = hitOf(node);
      if (kind && kinds.includes(kind) && typeof node.src === "string" && !seenSrc.has(node.src)) {
        seenSrc.add(node.src);
        hits.push({ kind, src: node.src });
      }
      const ref = node.referencedDeclaration;
      if (typeof ref === "number" && ref > 0 && !visited.has(ref)) {
        const decl = index.get(ref);
        if (decl && (decl.nodeType === "FunctionDefinition" || decl.nodeType === "ModifierDefinition") && isProjectNode(unit, decl)) {
          visited.add(ref);
          queue.push(decl);
        }
      }
    }
  }
  return hits.sort((a, b) => srcOrder(a.src) - srcOrder(b.src));
}

/** Orders by source index, then byte offset. */
function srcOrder(src: string): number {
  const [start, , index] = src.split(":").map(Number);
  return index * 2 ** 32 + start;
}
