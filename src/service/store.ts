import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { Execution } from "./chain.ts";
import type { ParsedSignature, SignatureType } from "./verify.ts";
import type { DelegateRow } from "./delegates.ts";

/**
 * The tx-service's state in one SQLite file (node:sqlite, WAL). Every method is synchronous and runs its
 * writes in one transaction, so a request's writes are all-or-nothing even with other requests in flight.
 * Confirmations are UNIQUE(safe_tx_hash, owner) and inserted with ON CONFLICT DO NOTHING, like the real
 * service's `MultisigConfirmation` (history/models.py UniqueConstraint multisig_transaction_hash + owner,
 * saved with get_or_create): an owner confirming twice, or two requests at once, leaves one row, the first.
 */

export interface TxRow {
  safeTxHash: string;
  safe: string;
  to: string;
  value: string;
  data: string | null;
  operation: number;
  safeTxGas: string;
  baseGas: string;
  gasPrice: string;
  gasToken: string;
  refundReceiver: string;
  nonce: number;
  proposer: string;
  /** The delegate that proposed it (then `proposer` is its delegator), as the real service's proposedByDelegate. */
  proposedByDelegate: string | null;
  origin: string | null;
  trusted: boolean;
  created: string;
  modified: string;
  ethereumTxHash: string | null;
  blockNumber: number | null;
  executionDate: string | null;
  executor: string | null;
  failed: boolean | null;
  gasUsed: number | null;
  ethGasPrice: string | null;
  maxFeePerGas: string | null;
  maxPriorityFeePerGas: string | null;
  fee: string | null;
  payment: string | null;
  signatures: string | null;
}

export interface ConfirmationRow {
  safeTxHash: string;
  owner: string;
  signature: string;
  signatureType: SignatureType;
  created: string;
}

export type NewTx = Pick<TxRow, "safeTxHash" | "safe" | "to" | "value" | "data" | "operation" | "safeTxGas" | "baseGas" | "gasPrice" | "gasToken" | "refundReceiver" | "nonce" | "proposer" | "origin"> & {
  proposedByDelegate?: string | null;
};

/** GET /v2/delegates/ filters (history/filters.py DelegateListFilter). */
export interface DelegateFilter {
  safe?: string;
  delegate?: string;
  delegator?: string;
  label?: string;
}

type Cmp = "lt" | "lte" | "gt" | "gte" | "exact";

/** The filters of history/filters.py MultisigTransactionFilter that this service implements. */
export interface TxFilter {
  executed?: boolean;
  hasConfirmations?: boolean;
  trusted?: boolean;
  failed?: boolean;
  nonce?: { cmp: Cmp; value: number }[];
  safeTxHash?: string;
  to?: string;
  transactionHash?: string;
  submissionDate?: { cmp: Cmp; value: string }[];
  executionDate?: { cmp: Cmp; value: string }[];
  modified?: { cmp: Cmp; value: string }[];
}

/** ordering=nonce|created|modified, optionally "-" first; the real default is "-nonce, -created". */
export type Ordering = { field: "nonce" | "created" | "modified"; desc: boolean }[];

export interface StoreIdentity {
  chainId: bigint;
  genesisHash: string;
}

/** The store's schema version: 1 before delegates; 2 adds the delegates table and proposed_by_delegate. */
export const SCHEMA_VERSION = 2;

export class StoreSchemaTooNew extends Error {
  readonly found: number;
  constructor(file: string, found: number) {
    super(`${file} has store schema version ${found}, newer than this gatehouse knows (${SCHEMA_VERSION}): use the gatehouse that wrote it, or another --db`);
    this.found = found;
  }
}

export class StoreChainMismatch extends Error {
  readonly expected: StoreIdentity;
  constructor(file: string, expected: StoreIdentity, actual: StoreIdentity) {
    super(
      `${file} holds the transactions of chain ${expected.chainId} (genesis ${expected.genesisHash}), but the connected chain is ${actual.chainId} (genesis ${actual.genesisHash}): use another --db or remove the file`,
    );
    this.expected = expected;
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS multisig_transactions (
  safe_tx_hash TEXT PRIMARY KEY,
  safe TEXT NOT NULL,
  "to" TEXT NOT NULL,
  value TEXT NOT NULL,
  data TEXT,
  operation INTEGER NOT NULL,
  safe_tx_gas TEXT NOT NULL,
  base_gas TEXT NOT NULL,
  gas_price TEXT NOT NULL,
  gas_token TEXT NOT NULL,
  refund_receiver TEXT NOT NULL,
  nonce INTEGER NOT NULL,
  proposer TEXT NOT NULL,
  origin TEXT,
  trusted INTEGER NOT NULL,
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  ethereum_tx_hash TEXT,
  block_number INTEGER,
  execution_date TEXT,
  executor TEXT,
  failed INTEGER,
  gas_used INTEGER,
  eth_gas_price TEXT,
  max_fee_per_gas TEXT,
  max_priority_fee_per_gas TEXT,
  fee TEXT,
  payment TEXT,
  signatures TEXT
);
CREATE INDEX IF NOT EXISTS multisig_transactions_safe_nonce ON multisig_transactions (safe, nonce);
CREATE TABLE IF NOT EXISTS confirmations (
  safe_tx_hash TEXT NOT NULL REFERENCES multisig_transactions (safe_tx_hash),
  owner TEXT NOT NULL,
  signature TEXT NOT NULL,
  signature_type TEXT NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (safe_tx_hash, owner)
);
CREATE TABLE IF NOT EXISTS sync_checkpoints (safe TEXT PRIMARY KEY, last_block INTEGER NOT NULL);
`;

/**
 * Schema version 2: delegates (history/models.py SafeContractDelegate; safe NULL = every Safe of the
 * delegator; one row per (safe, delegate, delegator), as its UniqueConstraint with update_or_create) and
 * the delegate that proposed a transaction. Run on every open; each step checks what it adds.
 */
function migrate(db: DatabaseSync, file: string): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
  const version = row ? Number(row.value) : 1;
  if (version > SCHEMA_VERSION) throw new StoreSchemaTooNew(file, version);
  if (version >= SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    const columns = (db.prepare("PRAGMA table_info(multisig_transactions)").all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes("proposed_by_delegate")) db.exec("ALTER TABLE multisig_transactions ADD COLUMN proposed_by_delegate TEXT");
    db.exec(`
CREATE TABLE IF NOT EXISTS delegates (
  safe TEXT,
  delegate TEXT NOT NULL,
  delegator TEXT NOT NULL,
  label TEXT NOT NULL,
  expiry_date TEXT,
  created TEXT NOT NULL,
  modified TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS delegates_unique ON delegates (coalesce(safe, ''), delegate, delegator);
CREATE INDEX IF NOT EXISTS delegates_delegate ON delegates (delegate);`);
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(SCHEMA_VERSION));
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

const TX_COLUMNS: Record<keyof TxRow, string> = {
  safeTxHash: "safe_tx_hash",
  safe: "safe",
  to: '"to"',
  value: "value",
  data: "data",
  operation: "operation",
  safeTxGas: "safe_tx_gas",
  baseGas: "base_gas",
  gasPrice: "gas_price",
  gasToken: "gas_token",
  refundReceiver: "refund_receiver",
  nonce: "nonce",
  proposer: "proposer",
  proposedByDelegate: "proposed_by_delegate",
  origin: "origin",
  trusted: "trusted",
  created: "created",
  modified: "modified",
  ethereumTxHash: "ethereum_tx_hash",
  blockNumber: "block_number",
  executionDate: "execution_date",
  executor: "executor",
  failed: "failed",
  gasUsed: "gas_used",
  ethGasPrice: "eth_gas_price",
  maxFeePerGas: "max_fee_per_gas",
  maxPriorityFeePerGas: "max_priority_fee_per_gas",
  fee: "fee",
  payment: "payment",
  signatures: "signatures",
};
const SELECT_TX = `SELECT ${Object.entries(TX_COLUMNS)
  .map(([k, c]) => `${c} AS "${k}"`)
  .join(", ")} FROM multisig_transactions`;
const DELEGATE_SELECT = `safe, delegate, delegator, label, expiry_date AS "expiryDate"`;
const SQL_CMP: Record<Cmp, string> = { lt: "<", lte: "<=", gt: ">", gte: ">=", exact: "=" };

function toTx(row: Record<string, unknown>): TxRow {
  return { ...(row as unknown as TxRow), trusted: row.trusted === 1, failed: row.failed === null ? null : row.failed === 1 };
}

export interface Store {
  readonly file: string;
  /** Insert the transaction (if new) and its confirmations in one transaction; never replaces existing rows. */
  saveProposal(tx: NewTx, confirmations: ParsedSignature[], checkpointBlock: number, now?: Date): { created: boolean; confirmationsAdded: number };
  addConfirmations(safeTxHash: string, confirmations: ParsedSignature[], now?: Date): number;
  getTx(safeTxHash: string): TxRow | undefined;
  confirmationsOf(safeTxHashes: string[]): Map<string, ConfirmationRow[]>;
  listTxs(safe: string, filter: TxFilter, ordering: Ordering, limit: number, offset: number): { count: number; countUniqueNonce: number; rows: TxRow[] };
  listConfirmations(safeTxHash: string, limit: number, offset: number): { count: number; rows: ConfirmationRow[] };
  executedWithNonce(safe: string, nonce: number): { safeTxHash: string; transactionHash: string | null } | undefined;
  notExecutedHashes(safe: string): Set<string>;
  checkpoint(safe: string): number | undefined;
  advanceCheckpoint(safe: string, block: number): void;
  markExecuted(exec: Execution, now?: Date): boolean;
  /** Insert or update (label, expiry) the one delegation of (safe, delegate, delegator): update_or_create. */
  saveDelegate(row: DelegateRow, now?: Date): void;
  /** Remove the delegate's delegations by `delegator`: for `safe` only, or for every Safe when safe is null. */
  removeDelegates(delegate: string, delegator: string, safe: string | null): number;
  listDelegates(filter: DelegateFilter, limit: number, offset: number): { count: number; rows: DelegateRow[] };
  /** The delegations that could apply to `safe` (for it, or for every Safe); the caller filters by owners and expiry. */
  delegationsFor(safe: string): DelegateRow[];
  close(): void;
}

export function openStore(file: string, identity: StoreIdentity): Store {
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    if (file !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec(SCHEMA);
    checkIdentity(db, file, identity);
    migrate(db, file);
  } catch (e) {
    db.close();
    throw e;
  }

  const stmt = {
    insertTx: db.prepare(
      `INSERT INTO multisig_transactions (safe_tx_hash, safe, "to", value, data, operation, safe_tx_gas, base_gas, gas_price, gas_token, refund_receiver, nonce, proposer, proposed_by_delegate, origin, trusted, created, modified)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (safe_tx_hash) DO NOTHING`,
    ),
    insertConfirmation: db.prepare(
      `INSERT INTO confirmations (safe_tx_hash, owner, signature, signature_type, created) VALUES (?, ?, ?, ?, ?) ON CONFLICT (safe_tx_hash, owner) DO NOTHING`,
    ),
    touch: db.prepare(`UPDATE multisig_transactions SET modified = ?, trusted = 1 WHERE safe_tx_hash = ?`),
    getTx: db.prepare(`${SELECT_TX} WHERE safe_tx_hash = ?`),
    executedWithNonce: db.prepare(`SELECT safe_tx_hash AS safeTxHash, ethereum_tx_hash AS transactionHash FROM multisig_transactions WHERE safe = ? AND nonce = ? AND ethereum_tx_hash IS NOT NULL LIMIT 1`),
    notExecuted: db.prepare(`SELECT safe_tx_hash AS h FROM multisig_transactions WHERE safe = ? AND ethereum_tx_hash IS NULL`),
    checkpoint: db.prepare(`SELECT last_block AS b FROM sync_checkpoints WHERE safe = ?`),
    lowerCheckpoint: db.prepare(`INSERT INTO sync_checkpoints (safe, last_block) VALUES (?, ?) ON CONFLICT (safe) DO UPDATE SET last_block = min(last_block, excluded.last_block)`),
    raiseCheckpoint: db.prepare(`UPDATE sync_checkpoints SET last_block = max(last_block, ?) WHERE safe = ?`),
    markExecuted: db.prepare(
      `UPDATE multisig_transactions SET ethereum_tx_hash = ?, block_number = ?, execution_date = ?, executor = ?, failed = ?, gas_used = ?, eth_gas_price = ?, max_fee_per_gas = ?, max_priority_fee_per_gas = ?, fee = ?, payment = ?, signatures = ?, modified = ?
       WHERE safe_tx_hash = ? AND ethereum_tx_hash IS NULL`,
    ),
    countConfirmations: db.prepare(`SELECT count(*) AS n FROM confirmations WHERE safe_tx_hash = ?`),
    findDelegate: db.prepare(`SELECT rowid AS id FROM delegates WHERE coalesce(safe, '') = coalesce(?, '') AND delegate = ? AND delegator = ?`),
    updateDelegate: db.prepare(`UPDATE delegates SET label = ?, expiry_date = ?, modified = ? WHERE rowid = ?`),
    insertDelegate: db.prepare(`INSERT INTO delegates (safe, delegate, delegator, label, expiry_date, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    delegationsFor: db.prepare(`SELECT ${DELEGATE_SELECT} FROM delegates WHERE safe = ? OR safe IS NULL ORDER BY rowid`),
    pageConfirmations: db.prepare(
      `SELECT safe_tx_hash AS safeTxHash, owner, signature, signature_type AS signatureType, created FROM confirmations WHERE safe_tx_hash = ? ORDER BY created, rowid LIMIT ? OFFSET ?`,
    ),
  };

  function inTransaction<T>(fn: () => T): T {
    db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      db.exec("COMMIT");
      return out;
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }

  function insertConfirmations(safeTxHash: string, confirmations: ParsedSignature[], at: string): number {
    let added = 0;
    for (const c of confirmations) added += Number(stmt.insertConfirmation.run(safeTxHash, c.owner, c.signature, c.type, at).changes);
    return added;
  }

  return {
    file,
    saveProposal(tx, confirmations, checkpointBlock, now = new Date()) {
      const at = now.toISOString();
      return inTransaction(() => {
        const created =
          Number(
            stmt.insertTx.run(tx.safeTxHash, tx.safe, tx.to, tx.value, tx.data, tx.operation, tx.safeTxGas, tx.baseGas, tx.gasPrice, tx.gasToken, tx.refundReceiver, tx.nonce, tx.proposer, tx.proposedByDelegate ?? null, tx.origin, at, at)
              .changes,
          ) === 1;
        const confirmationsAdded = insertConfirmations(tx.safeTxHash, confirmations, at);
        if (!created && confirmationsAdded > 0) stmt.touch.run(at, tx.safeTxHash);
        // Executions are looked for from the block the proposal was checked at; never skip past it.
        stmt.lowerCheckpoint.run(tx.safe, checkpointBlock);
        return { created, confirmationsAdded };
      });
    },
    addConfirmations(safeTxHash, confirmations, now = new Date()) {
      const at = now.toISOString();
      return inTransaction(() => {
        const added = insertConfirmations(safeTxHash, confirmations, at);
        if (added > 0) stmt.touch.run(at, safeTxHash);
        return added;
      });
    },
    getTx(safeTxHash) {
      const row = stmt.getTx.get(safeTxHash.toLowerCase());
      return row ? toTx(row) : undefined;
    },
    confirmationsOf(safeTxHashes) {
      const out = new Map<string, ConfirmationRow[]>(safeTxHashes.map((h) => [h, []]));
      if (safeTxHashes.length === 0) return out;
      const rows = db
        .prepare(
          `SELECT safe_tx_hash AS safeTxHash, owner, signature, signature_type AS signatureType, created FROM confirmations WHERE safe_tx_hash IN (${safeTxHashes.map(() => "?").join(", ")}) ORDER BY created, rowid`,
        )
        .all(...safeTxHashes) as unknown as ConfirmationRow[];
      for (const r of rows) out.get(r.safeTxHash)!.push(r);
      return out;
    },
    listTxs(safe, filter, ordering, limit, offset) {
      const where = ["safe = ?"];
      const params: SQLInputValue[] = [safe];
      if (filter.executed !== undefined) where.push(filter.executed ? "ethereum_tx_hash IS NOT NULL" : "ethereum_tx_hash IS NULL");
      if (filter.trusted) where.push("trusted = 1");
      if (filter.failed !== undefined) where.push(filter.failed ? "failed = 1" : "(failed = 0 OR failed IS NULL)");
      if (filter.hasConfirmations !== undefined) {
        where.push(`${filter.hasConfirmations ? "" : "NOT "}EXISTS (SELECT 1 FROM confirmations c WHERE c.safe_tx_hash = multisig_transactions.safe_tx_hash)`);
      }
      const compare = (column: string, conds: { cmp: Cmp; value: SQLInputValue }[] | undefined) => {
        for (const c of conds ?? []) {
          where.push(`${column} ${SQL_CMP[c.cmp]} ?`);
          params.push(c.value);
        }
      };
      compare("nonce", filter.nonce);
      compare("created", filter.submissionDate);
      compare("execution_date", filter.executionDate);
      compare("modified", filter.modified);
      if (filter.safeTxHash) compare("safe_tx_hash", [{ cmp: "exact", value: filter.safeTxHash.toLowerCase() }]);
      if (filter.to) compare('"to"', [{ cmp: "exact", value: filter.to }]);
      if (filter.transactionHash) compare("lower(ethereum_tx_hash)", [{ cmp: "exact", value: filter.transactionHash.toLowerCase() }]);
      const w = where.join(" AND ");
      const count = Number((db.prepare(`SELECT count(*) AS n FROM multisig_transactions WHERE ${w}`).get(...params) as { n: number }).n);
      // history/views_v2.py get_unique_nonce: distinct nonces of the Safe's (trusted, by default) transactions.
      const uniqueWhere = filter.trusted ? "safe = ? AND trusted = 1" : "safe = ?";
      const countUniqueNonce = Number((db.prepare(`SELECT count(DISTINCT nonce) AS n FROM multisig_transactions WHERE ${uniqueWhere}`).get(safe) as { n: number }).n);
      const order = [...ordering.map((o) => `${o.field} ${o.desc ? "DESC" : "ASC"}`), `rowid ${ordering.at(-1)?.desc === false ? "ASC" : "DESC"}`].join(", ");
      const rows = db.prepare(`${SELECT_TX} WHERE ${w} ORDER BY ${order} LIMIT ? OFFSET ?`).all(...params, limit, offset);
      return { count, countUniqueNonce, rows: rows.map((r) => toTx(r as Record<string, unknown>)) };
    },
    listConfirmations(safeTxHash, limit, offset) {
      const h = safeTxHash.toLowerCase();
      const count = Number((stmt.countConfirmations.get(h) as { n: number }).n);
      return { count, rows: stmt.pageConfirmations.all(h, limit, offset) as unknown as ConfirmationRow[] };
    },
    executedWithNonce(safe, nonce) {
      return stmt.executedWithNonce.get(safe, nonce) as { safeTxHash: string; transactionHash: string | null } | undefined;
    },
    notExecutedHashes(safe) {
      return new Set((stmt.notExecuted.all(safe) as { h: string }[]).map((r) => r.h));
    },
    checkpoint(safe) {
      const row = stmt.checkpoint.get(safe) as { b: number } | undefined;
      return row?.b;
    },
    advanceCheckpoint(safe, block) {
      stmt.raiseCheckpoint.run(block, safe);
    },
    markExecuted(e, now = new Date()) {
      const changes = stmt.markExecuted.run(
        e.transactionHash,
        e.blockNumber,
        e.executionDate,
        e.executor,
        e.success ? 0 : 1,
        e.gasUsed,
        e.ethGasPrice,
        e.maxFeePerGas,
        e.maxPriorityFeePerGas,
        e.fee,
        e.payment.toString(),
        e.signatures,
        now.toISOString(),
        e.safeTxHash,
      ).changes;
      return Number(changes) === 1;
    },
    saveDelegate(r, now = new Date()) {
      const at = now.toISOString();
      inTransaction(() => {
        const found = stmt.findDelegate.get(r.safe, r.delegate, r.delegator) as { id: number } | undefined;
        if (found) stmt.updateDelegate.run(r.label, r.expiryDate, at, found.id);
        else stmt.insertDelegate.run(r.safe, r.delegate, r.delegator, r.label, r.expiryDate, at, at);
      });
    },
    removeDelegates(delegate, delegator, safe) {
      return inTransaction(() =>
        Number(
          (safe === null
            ? db.prepare("DELETE FROM delegates WHERE delegate = ? AND delegator = ?").run(delegate, delegator)
            : db.prepare("DELETE FROM delegates WHERE safe = ? AND delegate = ? AND delegator = ?").run(safe, delegate, delegator)
          ).changes,
        ),
      );
    },
    listDelegates(filter, limit, offset) {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      for (const [key, column] of [["safe", "safe"], ["delegate", "delegate"], ["delegator", "delegator"], ["label", "label"]] as const) {
        if (filter[key] === undefined) continue;
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
      const w = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
      const count = Number((db.prepare(`SELECT count(*) AS n FROM delegates ${w}`).get(...params) as { n: number }).n);
      const rows = db.prepare(`SELECT ${DELEGATE_SELECT} FROM delegates ${w} ORDER BY rowid LIMIT ? OFFSET ?`).all(...params, limit, offset) as unknown as DelegateRow[];
      return { count, rows };
    },
    delegationsFor(safe) {
      return stmt.delegationsFor.all(safe) as unknown as DelegateRow[];
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}

function checkIdentity(db: DatabaseSync, file: string, identity: StoreIdentity): void {
  const get = (key: string) => (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  const chainId = get("chain_id");
  const genesisHash = get("genesis_hash");
  if (chainId === undefined) {
    const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING");
    put.run("chain_id", identity.chainId.toString());
    put.run("genesis_hash", identity.genesisHash.toLowerCase());
    // Version 1, the first schema; migrate() then brings a new store up to SCHEMA_VERSION like an old one.
    put.run("schema_version", "1");
    return;
  }
  if (BigInt(chainId) !== identity.chainId || genesisHash !== identity.genesisHash.toLowerCase()) {
    throw new StoreChainMismatch(file, { chainId: BigInt(chainId), genesisHash: genesisHash ?? "?" }, identity);
  }
}
