import { z } from "zod";
import {
  getContractVersion,
  getErrors,
  getStorageLayout,
  getStorageUpgradeReport,
  validate,
  withValidationDefaults,
  type ContractValidation,
  type SolcInput,
  type SolcOutput,
  type StorageItem,
  type StorageLayout,
  type ValidationRunData,
} from "@openzeppelin/upgrades-core";
import { GatehouseError } from "../errors.ts";
import { validationKey, type ValidationStore } from "./cache.ts";
import type { Policy, PolicyRules } from "../policy/schema.ts";
import { codeSize, compilerSettingsOf, locate, requireContract, runtimeCodeOf, type Build, type CompilationUnit, type ContractRef } from "./build.ts";
import {
  allowanceKeyOf,
  authorizeUpgradeOf,
  contractDefinition,
  displayName,
  findForbiddenCalls,
  inlineAllowances,
  isDisableInitializersConstructor,
  reachableCode,
  withoutProjectAllowances,
  type AllowedCall,
} from "./ast.ts";

/**
 * The upgrade audit of one governed proxy: the target contract against what the proxy runs now, using
 * upgrades-core for storage layout and upgrade safety, plus the policy's own rules. Pure over the build.
 */

export interface AuditInput {
  proxy: string;
  kind: "uups" | "transparent";
  /** The live implementation's contract: a name, or (better) the exact build unit's contract that produced its code. */
  reference: { contract: string | ContractRef } | { layout: unknown };
  /** The target: a name, or the exact contract of the build unit its artifact names (`buildInfoId`). */
  target: string | ContractRef;
  rules: PolicyRules;
  compiler: Policy["compiler"];
  /** The loaded build (`loadBuild()`), which holds both the target and a `{ contract }` reference. */
  build: Build;
  /** Where upgrades-core's validation runs are kept between processes (cache.ts); none by default. */
  validations?: ValidationStore;
}

export interface Finding {
  proxy: string;
  rule: string;
  file: string;
  line: number;
  message: string;
  remedy: string;
}

export type LayoutStatus = "kept" | "appended" | "inserted" | "deleted" | "retyped" | "renamed" | "moved";

export interface LayoutRow {
  label: string;
  type: string;
  /** Decimal slot; for a namespaced variable the namespace id, plus the member slot when known. */
  slot: string;
  /** Byte offset in the slot; 0 when unknown (namespaced variables whose slot is only the namespace id). */
  offset: number;
  status: LayoutStatus;
  file: string;
  line: number;
  /** ERC-7201 namespace id for namespaced variables; their slot is relative to it. */
  namespace?: string;
}

export interface AuditResult {
  proxy: string;
  target: string;
  reference: string;
  findings: Finding[];
  layoutDiff: LayoutRow[];
  /** Library calls the forbidden-construct walk did not enter, and why (policy allowances, the upgrade path). */
  allowedCalls?: { function: string; reason: string; file: string; line: number }[];
}

type ValidationError = ContractValidation["errors"][number];
type ValidationKind = ValidationError["kind"];
type StorageOp = ReturnType<typeof getStorageUpgradeReport>["ops"][number];
type TypeChange = Extract<StorageOp, { kind: "typechange" }>["change"];

// ---------------------------------------------------------------- upgrades-core over the build

/** `file:line` strings from upgrades-core's decoder are split back at the last colon. */
export function parseFileLine(src: string): { file: string; line: number } {
  const i = src.lastIndexOf(":");
  const line = Number(src.slice(i + 1));
  return i > 0 && Number.isInteger(line) ? { file: src.slice(0, i), line } : { file: src, line: 0 };
}

// upgrades-core's own decoder counts UTF-16 units and keeps the `project/` prefix; ours counts bytes.
function decoderFor(unit: CompilationUnit): (node: { src: string }) => string {
  return (node) => {
    const { file, line } = locate(unit, node.src);
    return `${file}:${line}`;
  };
}

const runCache = new WeakMap<CompilationUnit, ValidationRunData>();

function validationOf(unit: CompilationUnit, store?: ValidationStore): ValidationRunData {
  let run = runCache.get(unit);
  if (!run) {
    const key = store && validationKey(unit);
    run = key ? store!.get(key) : undefined;
    if (!run) {
      // The project's own unsafe-allow NatSpec is removed first: only the policy may silence upgrades-core.
      run = validate(withoutProjectAllowances(unit) as unknown as SolcOutput, decoderFor(unit), unit.solcVersion, unit.input as unknown as SolcInput);
      if (key) store!.put(key, run);
    }
    runCache.set(unit, run);
  }
  return run;
}

function layoutOfRef(ref: ContractRef, store?: ValidationStore): StorageLayout {
  const run = validationOf(ref.unit, store);
  return getStorageLayout(run, getContractVersion(run, ref.fullyQualifiedName));
}

/** The upgrades-core storage layout of a contract, JSON-serializable, to store for later `{ layout }` audits. */
export function storageLayoutOf(build: Build, contract: string): StorageLayout {
  return layoutOfRef(requireContract(build, contract));
}

// ---------------------------------------------------------------- stored layouts (bad input => GatehouseError)

const StoredItem = z.looseObject({
  contract: z.string(),
  label: z.string(),
  type: z.string(),
  src: z.string(),
  offset: z.number().int().nonnegative().optional(),
  slot: z.string().optional(),
});

const StoredLayout = z.looseObject({
  storage: z.array(StoredItem),
  types: z.record(z.string(), z.looseObject({ label: z.string() })),
  namespaces: z.record(z.string(), z.array(StoredItem)).optional(),
});

function parseStoredLayout(proxy: string, layout: unknown): StorageLayout {
  const parsed = StoredLayout.safeParse(layout);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GatehouseError("FILE_INVALID", {
      file: `stored reference layout of '${proxy}'`,
      path: issue.path.join(".") || "(root)",
      expected: issue.message,
    });
  }
  return parsed.data as unknown as StorageLayout;
}

// ---------------------------------------------------------------- rules

const REMEDY_LAYOUT = "Keep every existing variable in place with its type; declare new variables only after the last one (or shrink a __gap by the same size).";

function typeLabel(item: { type: { item: { label: string } } }): string {
  return item.type.item.label;
}

function describeTypeChange(change: TypeChange): string {
  switch (change.kind) {
    case "mapping key":
    case "mapping value":
    case "array value":
      return `${change.kind} of ${change.updated.item.label}: ${describeTypeChange(change.inner)}`;
    case "struct members":
      return `members of ${change.updated.item.label} changed (${change.ops.map((op) => op.kind).join(", ")})`;
    case "enum members":
      return `members of ${change.updated.item.label} changed`;
    default:
      return `${change.kind}: ${change.original.item.label} -> ${change.updated.item.label}`;
  }
}

function describeOp(op: StorageOp): { message: string; remedy: string } {
  switch (op.kind) {
    case "insert":
      return {
        message: `\`${op.updated.label}\` (${typeLabel(op.updated)}) is inserted before existing variables, shifting them to other slots`,
        remedy: `Move \`${op.updated.label}\` after the last existing variable. ${REMEDY_LAYOUT}`,
      };
    case "append":
      return { message: `\`${op.updated.label}\` is appended`, remedy: REMEDY_LAYOUT };
    case "delete":
      return {
        message: `\`${op.original.label}\` (${typeLabel(op.original)}) was removed; later variables would read its slot`,
        remedy: `Keep \`${op.original.label}\` in place even if unused (to rename it, annotate the new name with \`/// @custom:oz-renamed-from ${op.original.label}\`).`,
      };
    case "delete-namespace":
      return {
        message: `namespace \`${op.namespace}\` was removed`,
        remedy: `Keep the struct annotated \`@custom:storage-location ${op.namespace}\` even if unused.`,
      };
    case "typechange":
    case "shrinkgap":
      return {
        message: `\`${op.updated.label}\` changed type from ${typeLabel(op.original)} to ${typeLabel(op.updated)} (${describeTypeChange(op.change)})`,
        remedy: `Restore the type ${typeLabel(op.original)} of \`${op.updated.label}\`; put data of the new type in a new variable appended at the end.`,
      };
    case "replace":
      return {
        message: `\`${op.original.label}\` (${typeLabel(op.original)}) was replaced by \`${op.updated.label}\` (${typeLabel(op.updated)})`,
        remedy: `Restore \`${op.original.label}\` here; declare \`${op.updated.label}\` after the last existing variable.`,
      };
    case "rename":
    case "finishgap":
      return {
        message: `\`${op.original.label}\` was renamed to \`${op.updated.label}\``,
        remedy: `Keep the name \`${op.original.label}\`, or annotate the variable with \`/// @custom:oz-renamed-from ${op.original.label}\` if the rename is intended.`,
      };
    case "layoutchange":
      return {
        message: `\`${op.updated.label}\` moved${op.change.slot ? ` from slot ${op.change.slot.from} to ${op.change.slot.to}` : ""}${op.change.offset ? ` (offset ${op.change.offset.from} -> ${op.change.offset.to})` : ""}`,
        remedy: `Restore the original order and sizes of the variables before \`${op.updated.label}\`. ${REMEDY_LAYOUT}`,
      };
  }
}

interface Where {
  file: string;
  line: number;
}

function opLocation(op: StorageOp, contractAt: Where): Where {
  return "updated" in op ? parseFileLine(op.updated.src) : contractAt;
}

function storageFindings(proxy: string, ops: StorageOp[], contractAt: Where): Finding[] {
  // Like upgrades-core's explain(): a layout change after the first op is a consequence of an earlier one.
  return ops
    .filter((op, i) => op.kind !== "layoutchange" || i === 0)
    .map((op) => ({ proxy, rule: "storage-layout", ...opLocation(op, contractAt), ...describeOp(op) }));
}

const UNSAFE_TEXT: Record<ValidationKind, (e: ValidationError) => { message: string; remedy: string }> = {
  constructor: (e) => ({
    message: `contract \`${"contract" in e ? e.contract : "?"}\` has a constructor; it runs on the implementation, not the proxy`,
    remedy: "Move the logic to an initializer. A constructor that only calls _disableInitializers() is fine: annotate it with `/// @custom:oz-upgrades-unsafe-allow constructor`.",
  }),
  delegatecall: () => ({
    message: "delegatecall in the implementation: a delegatecall to a self-destructing or hostile contract can break it",
    remedy: "Remove the delegatecall. If it is provably safe, annotate the function with `/// @custom:oz-upgrades-unsafe-allow delegatecall`.",
  }),
  selfdestruct: () => ({
    message: "selfdestruct in the implementation: anyone able to reach it can destroy the code every proxy delegates to",
    remedy: "Remove the selfdestruct; disable the contract with a paused/closed flag instead.",
  }),
  "state-variable-assignment": (e) => ({
    message: `state variable \`${"name" in e ? e.name : "?"}\` is assigned an initial value, which only the implementation's storage receives`,
    remedy: "Assign it in the initializer (or make it a constant).",
  }),
  "state-variable-immutable": (e) => ({
    message: `state variable \`${"name" in e ? e.name : "?"}\` is immutable and set in the implementation's constructor`,
    remedy: "Use a constant or a normal variable set in the initializer; if intended, annotate with `/// @custom:oz-upgrades-unsafe-allow state-variable-immutable`.",
  }),
  "external-library-linking": (e) => ({
    message: `external library \`${"name" in e ? e.name : "?"}\` is linked; its code is not checked`,
    remedy: "Use internal library functions, or check the library by hand and add external-library-linking to rules.unsafeAllow.",
  }),
  "struct-definition": (e) => ({ message: `struct \`${"name" in e ? e.name : "?"}\` could not be checked`, remedy: "Update @openzeppelin/upgrades-core." }),
  "enum-definition": (e) => ({ message: `enum \`${"name" in e ? e.name : "?"}\` could not be checked`, remedy: "Update @openzeppelin/upgrades-core." }),
  "missing-public-upgradeto": () => ({
    message: "no public upgradeTo/upgradeToAndCall function",
    remedy: "Inherit UUPSUpgradeable.",
  }),
  "internal-function-storage": (e) => ({
    message: `variable \`${"name" in e ? e.name : "?"}\` stores an internal function pointer, which an upgrade invalidates`,
    remedy: "Store an external function or an enum selecting the function instead.",
  }),
  "missing-initializer": () => ({
    message: "the contract inherits initializers but defines none of its own, so the parents' state would never be initialized",
    remedy: "Add an `initialize` function with the `initializer` modifier that calls the parents' `__X_init` functions (a `reinitializer(n)` for new state in an upgrade).",
  }),
  "missing-initializer-call": (e) => ({
    message: `the initializer does not call the initializers of ${"parentContracts" in e ? e.parentContracts.join(", ") : "its parents"}`,
    remedy: "Call each parent's `__X_init` function from the initializer.",
  }),
  "duplicate-initializer-call": (e) => ({
    message: `the initializer calls \`${"parentInitializer" in e ? e.parentInitializer : "a parent initializer"}\` more than once`,
    remedy: "Call each parent initializer exactly once.",
  }),
  "incorrect-initializer-order": () => ({
    message: "parent initializers are called out of linearization order",
    remedy: "Call parent initializers in the order of the inheritance list.",
  }),
};

function unsafeFindings(proxy: string, errors: ValidationError[], allowed: readonly string[]): Finding[] {
  return errors
    // missing-public-upgradeto is reported once, as the policy rule uups-upgrade-function.
    .filter((e) => e.kind !== "missing-public-upgradeto" && !allowed.includes(e.kind))
    .map((e) => ({ proxy, rule: `unsafe-${e.kind}`, ...parseFileLine(e.src), ...UNSAFE_TEXT[e.kind](e) }))
    // upgrades-core reports a construct once per function that reaches it.
    .filter((f, i, all) => all.findIndex((g) => g.rule === f.rule && g.file === f.file && g.line === f.line) === i);
}

function forbiddenFindings(proxy: string, target: ContractRef, forbidden: PolicyRules["forbidden"], allowances: PolicyRules["allowedLibraryCalls"], at: Where): { findings: Finding[]; allowed: AllowedCall[] } {
  const { hits, allowed } = findForbiddenCalls(target, forbidden, allowances);
  const unit = target.unit;
  const findings = hits.map((hit) => {
    const where = locate(unit, hit.src);
    if (hit.site === hit.src) {
      return {
        proxy,
        rule: `forbidden-${hit.kind}`,
        ...where,
        message: `${hit.kind} is forbidden by the policy, even where upgrades-core is told to allow it`,
        remedy: `Remove the ${hit.kind} from the contract, or remove '${hit.kind}' from rules.forbidden in the policy after review.`,
      };
    }
    const library = hit.chain.map((d) => allowanceKeyOf(unit, d)).find((k) => k !== undefined) ?? "<package>/<file>.sol:<Library>.<function>";
    return {
      proxy,
      rule: `forbidden-${hit.kind}`,
      ...(hit.site ? locate(unit, hit.site) : at),
      message:
        `${hit.site ? "this call reaches" : `${target.name} inherits library code that reaches`} ${hit.kind}, which the policy forbids: ` +
        `${hit.chain.map((d) => displayName(unit, d)).join(" -> ")} at ${where.file}:${where.line}`,
      remedy: `Do not reach ${hit.kind} from ${target.name}; if the library function is vetted for this use, list it in rules.allowedLibraryCalls with a reason (function: '${library}').`,
    };
  });
  return { findings, allowed };
}

function authorizeUpgradeFindings(proxy: string, target: ContractRef): Finding[] {
  const auth = authorizeUpgradeOf(target);
  if (!auth || auth.restricted) return [];
  return [
    {
      proxy,
      rule: "uups-authorize-upgrade",
      ...locate(target.unit, auth.decl.src as string),
      message: auth.empty
        ? `${displayName(target.unit, auth.decl)} is empty and has no modifier: anyone can upgrade the proxy to code of their choice`
        : `${displayName(target.unit, auth.decl)} never checks the caller (msg.sender) in a way that can revert: anyone may be able to upgrade the proxy`,
      remedy: "Restrict _authorizeUpgrade to the timelock, e.g. `function _authorizeUpgrade(address) internal override onlyOwner {}` with the timelock as owner.",
    },
  ];
}

function inlineAllowanceFindings(proxy: string, target: ContractRef, allowed: PolicyRules["unsafeAllow"]): Finding[] {
  const { reached } = reachableCode(target);
  return inlineAllowances(target, reached).flatMap((a) =>
    a.kinds
      .filter((kind) => !(allowed as readonly string[]).includes(kind))
      .filter((kind) => !(kind === "constructor" && a.tag === "oz-upgrades-unsafe-allow" && a.kinds.length === 1 && isDisableInitializersConstructor(a.owner)))
      .map((kind) => ({
        proxy,
        rule: "inline-unsafe-allow",
        ...locate(target.unit, a.src),
        message: `\`@custom:${a.tag} ${kind}\` allows what the policy does not (rules.unsafeAllow); it is ignored, and what it would hide is checked`,
        remedy: `Remove the annotation and fix what it hides; if '${kind}' is acceptable, add it to rules.unsafeAllow in the policy of the protected branch after review.`,
      })),
  );
}

function codeSizeFindings(proxy: string, target: ContractRef, maxCodeSize: number, at: Where): Finding[] {
  const size = codeSize(runtimeCodeOf(target));
  if (size <= maxCodeSize) return [];
  return [
    {
      proxy,
      rule: "max-code-size",
      ...at,
      message: `runtime bytecode of ${target.name} is ${size} bytes, above the policy's maxCodeSize of ${maxCodeSize}`,
      remedy: "Shrink the contract: move logic to libraries or other contracts, drop unused code, or lower the optimizer runs.",
    },
  ];
}

const COMPILER_CONFIG: Where = { file: "hardhat.config.ts", line: 1 };

function compilerFindings(proxy: string, target: ContractRef, pin: Policy["compiler"]): Finding[] {
  const used = compilerSettingsOf(target.unit);
  const drift: { what: string; used: string; pinned: string }[] = [];
  if (used.version !== pin.version) drift.push({ what: "solc version", used: used.version, pinned: pin.version });
  if (used.optimizer.enabled !== pin.optimizer.enabled) drift.push({ what: "optimizer.enabled", used: String(used.optimizer.enabled), pinned: String(pin.optimizer.enabled) });
  // Runs only change the output when the optimizer is on.
  else if (pin.optimizer.enabled && used.optimizer.runs !== pin.optimizer.runs) drift.push({ what: "optimizer.runs", used: String(used.optimizer.runs), pinned: String(pin.optimizer.runs) });
  if (used.evmVersion !== pin.evmVersion) drift.push({ what: "evmVersion", used: used.evmVersion ?? "(solc default)", pinned: pin.evmVersion });
  return drift.map((d) => ({
    proxy,
    rule: "compiler-pin",
    ...COMPILER_CONFIG,
    message: `${target.name} was built with ${d.what} ${d.used}, but the policy pins ${d.pinned}`,
    remedy: `Set ${d.what} to ${d.pinned} in hardhat.config.ts (or change the policy's compiler pin) and rebuild.`,
  }));
}

function uupsFindings(proxy: string, target: ContractRef, at: Where): Finding[] {
  const methods = Object.keys(target.output.evm.methodIdentifiers ?? {});
  if (methods.includes("upgradeToAndCall(address,bytes)")) return [];
  return [
    {
      proxy,
      rule: "uups-upgrade-function",
      ...at,
      message: `${target.name} has no upgradeToAndCall(address,bytes); behind a UUPS proxy it would make the proxy impossible to upgrade again`,
      remedy: "Inherit UUPSUpgradeable and implement _authorizeUpgrade restricted to the timelock.",
    },
  ];
}

// ---------------------------------------------------------------- layout diff

function itemKey(item: { label: string; src: string }): string {
  return `${item.src}\u0000${item.label}`;
}

const OP_STATUS: Record<StorageOp["kind"], LayoutStatus> = {
  insert: "inserted",
  append: "appended",
  delete: "deleted",
  "delete-namespace": "deleted",
  typechange: "retyped",
  shrinkgap: "retyped",
  replace: "retyped",
  rename: "renamed",
  finishgap: "renamed",
  layoutchange: "moved",
};

function row(item: StorageItem, layout: StorageLayout, status: LayoutStatus, namespace?: string): LayoutRow {
  const slot = item.slot ?? "";
  return {
    label: item.label,
    type: layout.types[item.type]?.label ?? item.type,
    slot: namespace === undefined ? slot : slot === "" ? namespace : `${namespace} + ${slot}`,
    offset: item.offset ?? 0,
    status,
    ...parseFileLine(item.src),
    ...(namespace === undefined ? {} : { namespace }),
  };
}

/** Status of a variable the report left alone: present before (kept) or new (appended). */
function quietStatus(item: StorageItem, before: StorageItem[]): LayoutStatus {
  const old = before.find((o) => o.label === item.label && o.type === item.type);
  if (!old) return "appended";
  return old.slot === item.slot && old.offset === item.offset ? "kept" : "moved";
}

export function layoutDiff(reference: StorageLayout, target: StorageLayout, ops: StorageOp[]): LayoutRow[] {
  const opByItem = new Map<string, StorageOp>();
  for (const op of ops) if ("updated" in op) opByItem.set(itemKey(op.updated), op);
  const status = (item: StorageItem, before: StorageItem[]): LayoutStatus => {
    const op = opByItem.get(itemKey(item));
    return op ? OP_STATUS[op.kind] : quietStatus(item, before);
  };
  const deletedRows = ops.flatMap((op): LayoutRow[] => {
    if (op.kind === "delete") {
      // The op carries upgrades-core's detailed copy; the row wants the stored item with its type id.
      const key = itemKey(op.original);
      const inNamespace = Object.entries(reference.namespaces ?? {}).find(([, items]) => items.some((i) => itemKey(i) === key));
      const original = (inNamespace?.[1] ?? reference.storage).find((i) => itemKey(i) === key);
      return original ? [row(original, reference, "deleted", inNamespace?.[0])] : [];
    }
    if (op.kind === "delete-namespace") return (reference.namespaces?.[op.namespace] ?? []).map((i) => row(i, reference, "deleted", op.namespace));
    return [];
  });
  const mainRows = target.storage.map((item) => row(item, target, status(item, reference.storage)));
  const namespacedRows = Object.entries(target.namespaces ?? {}).flatMap(([ns, items]) =>
    items.map((item) => row(item, target, status(item, reference.namespaces?.[ns] ?? []), ns)),
  );
  return [...mainRows, ...deletedRows, ...namespacedRows];
}

// ---------------------------------------------------------------- the audit

function referenceName(reference: AuditInput["reference"], layout: StorageLayout): string {
  if ("contract" in reference) return typeof reference.contract === "string" ? reference.contract : reference.contract.name;
  const last = layout.storage.at(-1)?.contract;
  return last ? `stored layout (${last})` : "stored layout";
}

const RULE_ORDER = ["compiler-pin", "storage-layout", "unsafe-", "inline-unsafe-allow", "forbidden-", "uups-authorize-upgrade", "max-code-size", "uups-upgrade-function"];

function ruleRank(rule: string): number {
  const i = RULE_ORDER.findIndex((r) => (r.endsWith("-") ? rule.startsWith(r) : rule === r));
  return i === -1 ? RULE_ORDER.length : i;
}

export function auditUpgrade(input: AuditInput): AuditResult {
  const { proxy, kind, rules, build } = input;
  const where = { path: `proxy '${proxy}'` };
  const target = typeof input.target === "string" ? requireContract(build, input.target, where) : input.target;
  const referenceLayout =
    "contract" in input.reference
      ? layoutOfRef(typeof input.reference.contract === "string" ? requireContract(build, input.reference.contract, where) : input.reference.contract, input.validations)
      : parseStoredLayout(proxy, input.reference.layout);
  const targetLayout = layoutOfRef(target, input.validations);

  const def = contractDefinition(target);
  const contractAt: Where = def && typeof def.src === "string" ? locate(target.unit, def.src) : { file: target.file, line: 1 };

  // withValidationDefaults pushes into the array it is given, so it gets a copy.
  const options = withValidationDefaults({ kind, unsafeAllow: [...rules.unsafeAllow] });
  const report = getStorageUpgradeReport(referenceLayout, targetLayout, options);

  const run = validationOf(target.unit, input.validations);
  // Allowances are applied here, not by upgrades-core, which would log a warning for each one.
  const errors = getErrors(run, getContractVersion(run, target.fullyQualifiedName), { kind });

  const forbidden = forbiddenFindings(proxy, target, rules.forbidden, rules.allowedLibraryCalls ?? [], contractAt);
  const findings = [
    ...compilerFindings(proxy, target, input.compiler),
    ...storageFindings(proxy, report.ops, contractAt),
    ...unsafeFindings(proxy, errors, rules.unsafeAllow),
    ...inlineAllowanceFindings(proxy, target, rules.unsafeAllow),
    ...forbidden.findings,
    // Any contract with _authorizeUpgrade can be upgraded through it, whatever the proxy kind.
    ...authorizeUpgradeFindings(proxy, target),
    ...codeSizeFindings(proxy, target, rules.maxCodeSize, contractAt),
    ...(kind === "uups" ? uupsFindings(proxy, target, contractAt) : []),
  ].sort((a, b) => ruleRank(a.rule) - ruleRank(b.rule) || a.file.localeCompare(b.file) || a.line - b.line);

  return {
    proxy,
    target: target.name,
    reference: referenceName(input.reference, referenceLayout),
    findings,
    layoutDiff: layoutDiff(referenceLayout, targetLayout, report.ops),
    allowedCalls: forbidden.allowed.map((a) => ({ function: a.function, reason: a.reason, ...locate(target.unit, a.callSrc) })),
  };
}
