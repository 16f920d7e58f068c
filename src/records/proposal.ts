import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { Address } from "../policy/schema.ts";
import { parseWith } from "../policy/load.ts";
import { displayPath, readJsonIfExists, writeJsonAtomic } from "../fs/atomic.ts";
import { GatehouseError } from "../errors.ts";

/** proposals/<network>/<id>.json: one staged upgrade, from stage to execution (committed by the stage workflow). */
const Hex = z.string().regex(/^0x[0-9a-fA-F]*$/, { message: "0x-prefixed hex" });
const Bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, { message: "a 0x-prefixed 32-byte hex value" });
const Uint = z.string().regex(/^\d+$/, { message: "a decimal integer string" });

export const CallRecord = z.object({ target: Address, value: Uint, data: Hex }).strict();

export const OperationRecord = z
  .object({
    proxy: z.string(),
    proxyAddress: Address,
    kind: z.enum(["uups", "transparent"]),
    proxyAdmin: Address.optional(),
    contract: z.string(),
    oldContract: z.string().optional(),
    oldImplementation: Address,
    newImplementation: Address,
    initializer: Hex,
    call: CallRecord,
  })
  .strict();

export const SafeTxRecord = z
  .object({
    purpose: z.enum(["schedule", "execute"]),
    safe: Address,
    to: Address,
    value: Uint,
    data: Hex,
    operation: z.union([z.literal(0), z.literal(1)]),
    safeTxGas: Uint,
    baseGas: Uint,
    gasPrice: Uint,
    gasToken: Address,
    refundReceiver: Address,
    nonce: z.number().int().nonnegative(),
    safeTxHash: Bytes32,
    domainHash: Bytes32,
    messageHash: Bytes32,
    proposer: Address,
    via: z.enum(["onchain", "service"]),
    /** The block when it was built: its execution cannot be earlier, so scans for it start here. */
    proposedAtBlock: z.number().int().nonnegative().optional(),
    executedTx: Bytes32.optional(),
    /**
     * Owner signatures made outside Gatehouse (`sign --signature`) for a `via: onchain` transaction: claims
     * like the rest of the record, counted only when one recovers to a current owner over this safeTxHash.
     */
    signatures: z.array(z.object({ owner: Address, signature: Hex }).strict()).optional(),
  })
  .strict();

export const ProposalState = z.enum(["staged", "proposed", "scheduled", "executed", "cancelled"]);

/** One variable of the storage layout diff, as `check` computed it (src/check/audit.ts LayoutRow). */
export const LayoutRowRecord = z
  .object({
    label: z.string(),
    type: z.string(),
    slot: z.string(),
    offset: z.number().int().nonnegative(),
    status: z.enum(["kept", "appended", "inserted", "deleted", "retyped", "renamed", "moved"]),
    file: z.string(),
    line: z.number().int().nonnegative(),
    namespace: z.string().optional(),
  })
  .strict();

/**
 * A governance change staged as its own kind of record (`kind: "governance"`): typed actions, each one
 * call from the timelock. The calls are derived from the typed fields (src/proposal/governance.ts) and
 * verify/propose recompute them; the watcher judges the decoded calldata on chain, never these words.
 */
export const GovernanceAction = z.discriminatedUnion("action", [
  z.object({ action: z.literal("updateDelay"), delaySeconds: Uint, call: CallRecord }).strict(),
  z.object({ action: z.enum(["grantRole", "revokeRole"]), role: z.enum(["PROPOSER_ROLE", "EXECUTOR_ROLE", "CANCELLER_ROLE", "DEFAULT_ADMIN_ROLE"]), account: Address, call: CallRecord }).strict(),
  z.object({ action: z.literal("unpause"), proxy: z.string(), proxyAddress: Address, call: CallRecord }).strict(),
]);

/** What a rollback record rolls back: the executed proposal, its operation and the commit that built its old code. */
export const RollbackOf = z
  .object({
    proposal: z.string().regex(/^[0-9a-f]{12}$/),
    operationId: Bytes32,
    /** The earlier proposal's commit: its build holds the old implementations (verify builds it). */
    commit: z.string().nullable(),
    /** Variables the newer version appended: left in storage by the rollback, unused by the old code. */
    leftInStorage: z.record(z.string(), z.array(LayoutRowRecord)),
  })
  .strict();

const ProposalFields = z
  .object({
    version: z.literal(2),
    /** Absent (older records) means "upgrade". */
    kind: z.enum(["upgrade", "rollback", "governance"]).optional(),
    rollbackOf: RollbackOf.optional(),
    actions: z.array(GovernanceAction).optional(),
    id: z.string().regex(/^[0-9a-f]{12}$/),
    network: z.string(),
    chainId: z.number().int(),
    createdAt: z.string(),
    commit: z.string().nullable(),
    /**
     * Staged with --allow-dirty from a working tree with uncommitted changes (then `commit` is null):
     * the commit it was based on and the changed files. `verify` and `sign` refuse such a record.
     */
    dirty: z.object({ base: z.string().nullable(), files: z.array(z.string()) }).strict().optional(),
    timelock: Address,
    safe: Address,
    /** Upgrades (upgrade and rollback records); empty for a governance record, whose calls are `actions`. */
    operations: z.array(OperationRecord),
    predecessor: Bytes32,
    salt: Bytes32,
    round: z.number().int().nonnegative(),
    delay: Uint,
    operationId: Bytes32,
    /**
     * The build each implementation was staged from. `immutableReferences` (optional: older records lack
     * it) are the byte ranges masked in `bytecodeHash`, so the hash is recomputed from the record alone,
     * never from today's build, which may have moved on.
     */
    artifacts: z.record(
      z.string(),
      z
        .object({
          contract: z.string(),
          sourceName: z.string(),
          artifactHash: Bytes32,
          bytecodeHash: Bytes32,
          /** keccak256 of the whole runtime code the proxy ran before (the old implementation), read at stage time. */
          oldCodeHash: Bytes32.optional(),
          immutableReferences: z.record(z.string(), z.array(z.object({ start: z.number().int().nonnegative(), length: z.number().int().positive() }).strict())).optional(),
        })
        .strict(),
    ),
    storageLayoutDiff: z.record(z.string(), z.array(LayoutRowRecord)),
    /** The rollback plan; a governance record has none (the inverse change is staged as its own record). */
    rollback: z.object({ operations: z.array(OperationRecord), salt: Bytes32, predecessor: Bytes32, operationId: Bytes32 }).strict().optional(),
    /** Every Safe transaction proposed for this record, oldest first (a cancelled round keeps its own). */
    safeTransactions: z.array(SafeTxRecord).default([]),
    /** The guardian's cancel path, written by propose before anyone signs the schedule transaction. */
    cancel: z
      .object({
        calldata: Hex,
        target: Address,
        txBuilderFile: z.string(),
        /** When the guardian is a Safe: the cancel as its Safe transaction, at its nonce when proposed. */
        guardianSafeTx: z.object({ safe: Address, nonce: z.number().int().nonnegative(), safeTxHash: Bytes32, domainHash: Bytes32, messageHash: Bytes32 }).strict().optional(),
      })
      .strict()
      .optional(),
    state: ProposalState,
    history: z.array(z.object({ state: ProposalState, at: z.string(), tx: z.string().optional(), note: z.string().optional() }).strict()),
  })
  .strict();

/** Each kind carries what it needs: upgrades and rollbacks their operations, a governance record its actions. */
const ProposalChecked = ProposalFields.superRefine((r, ctx) => {
  const kind = r.kind ?? "upgrade";
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (kind === "governance") {
    if (!r.actions || r.actions.length === 0) issue("actions", "at least one action (a governance record)");
    if (r.operations.length > 0) issue("operations", "no upgrade operations in a governance record (its calls are its actions)");
  } else {
    if (r.operations.length === 0) issue("operations", `at least one operation (a record of kind ${kind})`);
    if (r.actions !== undefined) issue("actions", `no actions (a record of kind ${kind}; only governance records have them)`);
    if (!r.rollback) issue("rollback", `the rollback plan (a record of kind ${kind})`);
  }
  if ((kind === "rollback") !== (r.rollbackOf !== undefined)) issue("rollbackOf", kind === "rollback" ? "the proposal a rollback record rolls back" : `absent (a record of kind ${kind})`);
});

/**
 * The record format is versioned. Version 1 kept the storage layout diff as untyped rows; version 2 types
 * them. A version 1 file still loads: it is migrated on read (and written back as version 2 by the next
 * step that saves it), and a row that is not a layout row is refused as an invalid file.
 */
export const ProposalRecord = z.preprocess((data) => migrateProposal(data), ProposalChecked);

export function migrateProposal(data: unknown): unknown {
  if (typeof data !== "object" || data === null || (data as { version?: unknown }).version !== 1) return data;
  return { ...(data as object), version: 2 };
}

export type ProposalRecord = z.infer<typeof ProposalFields>;
export type OperationRecord = z.infer<typeof OperationRecord>;
export type SafeTxRecord = z.infer<typeof SafeTxRecord>;
export type LayoutRowRecord = z.infer<typeof LayoutRowRecord>;
export type GovernanceAction = z.infer<typeof GovernanceAction>;
export type RollbackOf = z.infer<typeof RollbackOf>;

/** The kind of a record; older records (no `kind`) are upgrades. */
export function recordKind(record: Pick<ProposalRecord, "kind">): "upgrade" | "rollback" | "governance" {
  return record.kind ?? "upgrade";
}
export type ProposalState = z.infer<typeof ProposalState>;

export function proposalsDir(root: string, network: string): string {
  return path.join(root, "proposals", network);
}

export function proposalFile(root: string, network: string, id: string): string {
  return path.join(proposalsDir(root, network), `${id}.json`);
}

export function readProposalFile(file: string): ProposalRecord {
  const data = readJsonIfExists(file);
  const rel = displayPath(file);
  if (data === undefined) throw new GatehouseError("FILE_NOT_FOUND", { file: rel, what: "proposal record" });
  return parseWith(ProposalRecord, data, rel);
}

/** `<proposal>` on the command line: a path to a record, a proposal id, or an operation id. */
export function resolveProposal(root: string, network: string, ref: string): { file: string; record: ProposalRecord } {
  if (ref.endsWith(".json")) {
    const file = path.resolve(ref);
    // The files beside a record (signer packet, cancel file) are not records: say so rather than list schema errors.
    if (/\.(validation|cancel)\.json$/.test(ref)) throw new GatehouseError("FILE_INVALID", { file: displayPath(file), path: "(file)", expected: `a proposal record <id>.json, not the ${ref.endsWith(".validation.json") ? "signer packet" : "cancel file"} beside it` });
    return { file, record: readProposalFile(file) };
  }
  const id = /^0x[0-9a-fA-F]{64}$/.test(ref) ? ref.slice(2, 14).toLowerCase() : ref.toLowerCase();
  const file = proposalFile(root, network, id);
  if (!existsSync(file)) throw new GatehouseError("FILE_NOT_FOUND", { file: displayPath(file), what: `proposal '${ref}' on '${network}'` });
  return { file, record: readProposalFile(file) };
}

/** The records of a network: `<12 hex>.json` only (the signer packet `.validation.json` and the cancel file beside each are not records). */
export function listProposals(root: string, network: string): { file: string; record: ProposalRecord }[] {
  const dir = proposalsDir(root, network);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^[0-9a-f]{12}\.json$/.test(f))
    .sort()
    .map((f) => ({ file: path.join(dir, f), record: readProposalFile(path.join(dir, f)) }));
}

export function writeProposal(file: string, record: ProposalRecord): void {
  writeJsonAtomic(file, ProposalRecord.parse(record));
}

export function withState(record: ProposalRecord, state: ProposalState, extra: { tx?: string; note?: string } = {}): ProposalRecord {
  if (record.state === state && !extra.tx) return record;
  return { ...record, state, history: [...record.history, { state, at: new Date().toISOString(), ...extra }] };
}
