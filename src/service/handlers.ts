import { approvalsToCheck, checkProposal, decideProposal, decideSignatures, parseSignatures } from "./verify.ts";
import { isChecksumAddress, isSafeTxHash, parseConfirmation, parseDelegate, parseDelegateDelete, parseProposal, type FieldErrors } from "./request.ts";
import { activeDelegations, checkDelegateSignature } from "./delegates.ts";
import { NoContractError, NotASafeError, type ChainReader, type SafeCore } from "./chain.ts";
import type { DelegateFilter, Ordering, Store, TxFilter, TxRow } from "./store.ts";
import { paginated, pageParams, safeInfoJson, txJson, confirmationJson, delegateJson, type ApiVersion } from "./serialize.ts";

/**
 * The endpoint handlers: the imperative shell around the pure checks in verify.ts / request.ts. Each
 * handler reads the chain at one block, decides with the pure core, then writes the store in one
 * transaction or not at all. Status codes follow the real service:
 *  - history/views_v2.py `SafeMultisigTransactionListView.post`: 422 for a non-checksummed Safe address
 *    ({code: 1, message: "Checksum address validation failed"}) and for every serializer error, 201 with
 *    an empty body on success (also when the transaction was already known: get_or_create);
 *  - history/views.py `SafeMultisigConfirmationsView.post` (DRF CreateAPIView, raise_exception=True): 400 for
 *    serializer errors, 404 (NotFound) for an unknown safeTxHash, 201 with {signature} on success;
 *  - views_v2.py `SafeMultisigTransactionDetailView` (RetrieveAPIView): 404 {detail} for an unknown hash;
 *  - views.py `SafeInfoView`: 422 code 1 (checksum), 404 for an address that is not a Safe, 422 code 50
 *    when its state cannot be read;
 *  - DRF's JSONParser: 400 {detail: "JSON parse error - …"} for a malformed body (server.ts).
 */

export interface Reply {
  status: number;
  body?: unknown;
  /** Why a request was refused, for the log line. */
  reason?: string;
}

export interface RequestContext {
  url: URL;
  params: string[];
  body: unknown;
}

export interface ServiceDeps {
  store: Store;
  chain: ChainReader;
  chainId: bigint;
  network: string;
  version: string;
  /** The clock for delegate signatures (totp) and expiry; the system clock unless a test sets one. */
  now?: () => Date;
}

export type Handler = (deps: ServiceDeps, req: RequestContext) => Promise<Reply>;

const DEFAULT_LIMIT = 100; // history/pagination.py DefaultPagination
const MAX_LIMIT = 200;

function checksumError(address: string): Reply {
  return { status: 422, body: { code: 1, message: "Checksum address validation failed", arguments: [address] }, reason: `Checksum address validation failed: ${address}` };
}

function fieldErrors(status: number, errors: FieldErrors): Reply {
  const first = Object.entries(errors)[0];
  return { status, body: errors, reason: first ? `${first[0]}: ${first[1][0]}` : "invalid" };
}

function nonField(status: number, reason: string): Reply {
  return { status, body: { nonFieldErrors: [reason] }, reason };
}

// ------------------------------------------------------------------ execution sync

const inflight = new WeakMap<Store, Map<string, Promise<void>>>();

/**
 * Mark the Safe's stored transactions executed from its ExecutionSuccess / ExecutionFailure events between
 * the Safe's checkpoint and `latest`. Syncs of one Safe run one after another; each is idempotent.
 */
export function syncExecutions(deps: ServiceDeps, safe: string, latest: number): Promise<void> {
  let perStore = inflight.get(deps.store);
  if (!perStore) inflight.set(deps.store, (perStore = new Map()));
  const map = perStore;
  const previous = map.get(safe) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => doSync(deps, safe, latest));
  map.set(safe, run);
  void run.finally(() => map.get(safe) === run && map.delete(safe)).catch(() => undefined);
  return run;
}

async function doSync({ store, chain }: ServiceDeps, safe: string, latest: number): Promise<void> {
  const from = store.checkpoint(safe);
  if (from === undefined || latest <= from) return;
  const logs = await chain.executionLogs(safe, from + 1, latest);
  const open = store.notExecutedHashes(safe);
  for (const log of logs) {
    if (!open.has(log.safeTxHash)) continue;
    store.markExecuted(await chain.executionDetails(log));
  }
  store.advanceCheckpoint(safe, latest);
}

async function threshold(chain: ChainReader, safe: string, block: number): Promise<number | null> {
  try {
    return (await chain.safeCore(safe, block)).threshold;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ handlers

export const about: Handler = async (deps, req) => ({
  status: 200,
  // views.py AboutView (plain JSONRenderer, so snake_case keys). The RPC URL is never shown.
  body: {
    name: "Safe Transaction Service",
    version: deps.version,
    api_version: "v1",
    secure: req.url.protocol === "https:",
    host: req.url.host,
    headers: [],
    settings: { ETHEREUM_NODE_URL: null, ETHEREUM_TRACING_NODE_URL: null, ETH_L2_NETWORK: null, GATEHOUSE_CHAIN_ID: deps.chainId.toString(), GATEHOUSE_NETWORK: deps.network },
  },
});

export const safeInfo: Handler = async ({ chain }, req) => {
  const address = req.params[0]!;
  if (!isChecksumAddress(address)) return checksumError(address);
  const block = await chain.blockNumber();
  try {
    return { status: 200, body: safeInfoJson(address, await chain.safeInfo(address, block)) };
  } catch (e) {
    if (e instanceof NoContractError) return { status: 404, reason: `no Safe at ${address}` };
    if (e instanceof NotASafeError) {
      return { status: 422, body: { code: 50, message: "Cannot get Safe info from blockchain", arguments: [address] }, reason: e.message };
    }
    throw e;
  }
};

export const propose: Handler = async (deps, req) => {
    const { store, chain, chainId } = deps;
    const address = req.params[0]!;
    if (!isChecksumAddress(address)) return checksumError(address);
    const parsed = parseProposal(address, req.body);
    if (!parsed.ok) return fieldErrors(422, parsed.errors);
    const input = parsed.value;
    const block = await chain.blockNumber();
    let core: SafeCore;
    try {
      core = await chain.safeCore(address, block);
    } catch (e) {
      if (e instanceof NoContractError || e instanceof NotASafeError) {
        return nonField(422, `Could not get Safe ${address} owners from blockchain, check contract exists on network ${chainId}`);
      }
      throw e;
    }
    const facts = { chainId, ...core };
    // The delegates of the Safe's current owners (read on chain at `block`), for this Safe or every Safe.
    const delegations = activeDelegations(store.delegationsFor(address), address, core.owners, (deps.now ?? (() => new Date()))());
    const delegates = new Set(delegations.map((r) => r.delegate));
    const check = checkProposal(input, facts, delegates);
    const toCheck = check.parsed.ok ? approvalsToCheck(check.parsed.signatures) : [];
    const [approved] = await Promise.all([
      toCheck.length > 0 ? chain.approvedOwners(address, toCheck, check.safeTxHash, block) : Promise.resolve(new Set<string>()),
      syncExecutions(deps, address, block),
    ]);
    const decision = decideProposal(input, facts, check, approved, store.executedWithNonce(address, input.tx.nonce), delegates);
    if (!decision.ok) return nonField(422, decision.reason);
    const { tx } = input;
    // As the real service: a delegate's proposal is recorded as its delegator's, with proposedByDelegate.
    const delegator = decision.value.proposedByDelegate ? delegations.find((r) => r.delegate === input.sender)!.delegator : undefined;
    store.saveProposal(
      {
        safeTxHash: decision.value.safeTxHash,
        safe: address,
        to: tx.to,
        value: tx.value,
        data: tx.data === "0x" ? null : tx.data,
        operation: tx.operation,
        safeTxGas: tx.safeTxGas,
        baseGas: tx.baseGas,
        gasPrice: tx.gasPrice,
        gasToken: tx.gasToken,
        refundReceiver: tx.refundReceiver,
        nonce: tx.nonce,
        proposer: delegator ?? input.sender,
        proposedByDelegate: delegator ? input.sender : null,
        origin: input.origin,
      },
      decision.value.confirmations,
      block,
    );
    return { status: 201 };
};

export const confirm: Handler = async (deps, req) => {
  const { store, chain } = deps;
  const hash = req.params[0]!.toLowerCase();
  const parsed = parseConfirmation(req.body);
  if (!parsed.ok) return fieldErrors(400, parsed.errors);
  const tx = isSafeTxHash(hash) ? store.getTx(hash) : undefined;
  if (!tx) {
    const detail = `Multisig transaction with safe-tx-hash=${req.params[0]} was not found`;
    return { status: 404, body: { detail }, reason: detail };
  }
  const block = await chain.blockNumber();
  const [core] = await Promise.all([chain.safeCore(tx.safe, block), syncExecutions(deps, tx.safe, block)]);
  const reject = (reason: string): Reply => ({ status: 400, body: { signature: [reason] }, reason });
  if (store.getTx(hash)!.ethereumTxHash !== null) return reject(`Transaction with safe-tx-hash=${hash} was already executed`);
  // Parsed (and recovered) only now that the owner count bounds how many parts may be recovered.
  const parsedSigs = parseSignatures(tx.safeTxHash, parsed.value.signature, core.owners.length);
  if (!parsedSigs.ok) return reject(parsedSigs.reason);
  const toCheck = approvalsToCheck(parsedSigs.signatures);
  const approved = toCheck.length > 0 ? await chain.approvedOwners(tx.safe, toCheck, tx.safeTxHash, block) : new Set<string>();
  const decided = decideSignatures(parsedSigs.signatures, core.owners, approved, false);
  if (!decided.ok) return reject(decided.reason);
  store.addConfirmations(hash, decided.value);
  return { status: 201, body: { signature: parsed.value.signature } };
};

export function getTx(api: ApiVersion): Handler {
  return async (deps, req) => {
    const { store, chain } = deps;
    const hash = req.params[0]!.toLowerCase();
    let tx = isSafeTxHash(hash) ? store.getTx(hash) : undefined;
    if (!tx) return { status: 404, body: { detail: "No MultisigTransaction matches the given query." }, reason: `unknown safeTxHash ${req.params[0]}` };
    const block = await chain.blockNumber();
    await syncExecutions(deps, tx.safe, block);
    tx = store.getTx(hash)!;
    const confirmations = store.confirmationsOf([hash]).get(hash)!;
    return { status: 200, body: txJson(tx, confirmations, await threshold(chain, tx.safe, block), api) };
  };
}

export function listTxs(api: ApiVersion): Handler {
  return async (deps, req) => {
    const { store, chain } = deps;
    const address = req.params[0]!;
    if (!isChecksumAddress(address)) return checksumError(address);
    const q = req.url.searchParams;
    const filter = parseTxFilter(q);
    if (!filter.ok) return fieldErrors(400, filter.errors);
    const { limit, offset } = pageParams(q, DEFAULT_LIMIT, MAX_LIMIT);
    const block = await chain.blockNumber();
    await syncExecutions(deps, address, block);
    const page = store.listTxs(address, filter.value, parseOrdering(q.get("ordering")), limit, offset);
    const confirmations = store.confirmationsOf(page.rows.map((r) => r.safeTxHash));
    const required = page.rows.length > 0 ? await threshold(chain, address, block) : null;
    const results = page.rows.map((r: TxRow) => txJson(r, confirmations.get(r.safeTxHash)!, required, api));
    return { status: 200, body: paginated(req.url, page.count, limit, offset, results, { countUniqueNonce: page.countUniqueNonce }) };
  };
}

export const listConfirmations: Handler = async ({ store }, req) => {
  const hash = req.params[0]!.toLowerCase();
  const { limit, offset } = pageParams(req.url.searchParams, DEFAULT_LIMIT, MAX_LIMIT);
  const page = isSafeTxHash(hash) ? store.listConfirmations(hash, limit, offset) : { count: 0, rows: [] };
  return { status: 200, body: paginated(req.url, page.count, limit, offset, page.rows.map(confirmationJson)) };
};

// ------------------------------------------------------------------ delegates

/**
 * history/views_v2.py DelegateListView / DelegateDeleteView with serializers.py DelegateSerializerV2 /
 * DelegateDeleteSerializerV2: serializer errors are 400 ({field: [...]} or {nonFieldErrors: [...]}),
 * POST answers 201, DELETE 204 (or 404 when nothing matched), a non-checksummed delegate in the DELETE
 * path 422 code 1, GET without any filter 400 ["At least one query param must be provided"].
 * The delegator must be a current owner of the named Safe (read on chain); with no Safe named the
 * delegation is stored as the real service does, and counts only for Safes its delegator owns when a
 * proposal comes (`activeDelegations`).
 */
async function checkSafeAndDelegator({ chain }: ServiceDeps, safe: string | null, delegator: string): Promise<string | undefined> {
  if (safe === null) return undefined;
  let owners: string[];
  try {
    owners = (await chain.safeCore(safe, await chain.blockNumber())).owners;
  } catch (e) {
    if (e instanceof NoContractError || e instanceof NotASafeError) return `Safe=${safe} does not exist or it's still not indexed`;
    throw e;
  }
  if (!owners.includes(delegator)) return `Provided delegator=${delegator} is not an owner of Safe=${safe}`;
  return undefined;
}

const nowSeconds = (deps: ServiceDeps) => Math.floor((deps.now ?? (() => new Date()))().getTime() / 1000);

export const addDelegate: Handler = async (deps, req) => {
  const parsed = parseDelegate(req.body);
  if (!parsed.ok) return fieldErrors(400, parsed.errors);
  const input = parsed.value;
  const now = (deps.now ?? (() => new Date()))();
  if (input.expiryDate !== null && Date.parse(input.expiryDate) <= now.getTime()) {
    return fieldErrors(400, { expiryDate: ["`expiry_date` cannot be previous to the current timestamp"] });
  }
  const refused = await checkSafeAndDelegator(deps, input.safe, input.delegator);
  if (refused) return nonField(400, refused);
  const sig = checkDelegateSignature(input.delegate, input.signature, input.delegator, deps.chainId, nowSeconds(deps));
  if (!sig.ok) return nonField(400, sig.reason);
  if (!sig.value.matched) return nonField(400, `Signature does not match provided delegator=${input.delegator}`);
  const row = { safe: input.safe, delegate: input.delegate, delegator: input.delegator, label: input.label, expiryDate: input.expiryDate };
  deps.store.saveDelegate(row, now);
  // api-kit's SignedSafeDelegateResponse: the delegation and the signature sent.
  return { status: 201, body: { ...delegateJson(row), signature: input.signature } };
};

export const removeDelegate: Handler = async (deps, req) => {
  const delegate = req.params[0]!;
  if (!isChecksumAddress(delegate)) return checksumError(delegate);
  const parsed = parseDelegateDelete(req.body);
  if (!parsed.ok) return fieldErrors(400, parsed.errors);
  const { safe, delegator, signature } = parsed.value;
  const refused = await checkSafeAndDelegator(deps, safe, delegator);
  if (refused) return nonField(400, refused);
  // Either the delegator or the delegate itself may remove the delegation.
  for (const signer of [delegator, delegate]) {
    const sig = checkDelegateSignature(delegate, signature, signer, deps.chainId, nowSeconds(deps));
    if (!sig.ok) return nonField(400, sig.reason);
    if (sig.value.matched) {
      const removed = deps.store.removeDelegates(delegate, delegator, safe);
      return removed > 0 ? { status: 204 } : { status: 404, reason: `no delegation of ${delegate} by ${delegator}${safe ? ` for ${safe}` : ""}` };
    }
  }
  return nonField(400, `Signature does not match provided delegate=${delegate} or delegator=${delegator}`);
};

export const listDelegates: Handler = async ({ store }, req) => {
  const q = req.url.searchParams;
  const filter: DelegateFilter = {};
  const errors: FieldErrors = {};
  for (const key of ["safe", "delegate", "delegator"] as const) {
    const v = q.get(key);
    if (!v) continue;
    if (isChecksumAddress(v)) filter[key] = v;
    else errors[key] = ["Enter a valid checksummed Ethereum Address."];
  }
  if (Object.keys(errors).length > 0) return fieldErrors(400, errors);
  const label = q.get("label");
  if (label) filter.label = label;
  if (Object.keys(filter).length === 0) return { status: 400, body: ["At least one query param must be provided"], reason: "no filter" };
  const { limit, offset } = pageParams(q, DEFAULT_LIMIT, MAX_LIMIT);
  const page = store.listDelegates(filter, limit, offset);
  return { status: 200, body: paginated(req.url, page.count, limit, offset, page.rows.map(delegateJson)) };
};

// ------------------------------------------------------------------ query parameters

/** rest_framework's BooleanWidget: true/false (any case), 1/0; anything else means "no filter". */
function bool(raw: string | null): boolean | undefined {
  if (raw === null) return undefined;
  return ({ true: true, "1": true, false: false, "0": false } as Record<string, boolean>)[raw.toLowerCase()];
}

/** history/filters.py MultisigTransactionFilter (trusted defaults to true), the parts this service keeps. */
export function parseTxFilter(q: URLSearchParams): { ok: true; value: TxFilter } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const filter: TxFilter = {
    executed: bool(q.get("executed")),
    hasConfirmations: bool(q.get("has_confirmations")),
    trusted: bool(q.get("trusted")) ?? true,
    failed: bool(q.get("failed")),
  };
  const cmps = ["exact", "lt", "lte", "gt", "gte"] as const;
  for (const cmp of cmps) {
    const name = cmp === "exact" ? "nonce" : `nonce__${cmp}`;
    const raw = q.get(name);
    if (raw === null || raw === "") continue;
    if (!/^\s*[-+]?\d+(\.\d*)?\s*$/.test(raw)) errors[name] = ["Enter a number."];
    else (filter.nonce ??= []).push({ cmp, value: Number(raw) });
  }
  const dates: [string, "submissionDate" | "executionDate" | "modified", readonly ("lt" | "lte" | "gt" | "gte")[]][] = [
    ["submission_date", "submissionDate", ["gte", "lte"]],
    ["execution_date", "executionDate", ["gte", "lte"]],
    ["modified", "modified", ["lt", "lte", "gt", "gte"]],
  ];
  for (const [param, key, allowed] of dates) {
    for (const cmp of allowed) {
      const name = `${param}__${cmp}`;
      const raw = q.get(name);
      if (raw === null || raw === "") continue;
      const t = Date.parse(raw);
      if (Number.isNaN(t)) errors[name] = ["Enter a valid date/time."];
      else (filter[key] ??= []).push({ cmp, value: new Date(t).toISOString() });
    }
  }
  const safeTxHash = q.get("safe_tx_hash");
  if (safeTxHash) filter.safeTxHash = safeTxHash;
  const to = q.get("to");
  if (to) filter.to = to;
  const transactionHash = q.get("transaction_hash");
  if (transactionHash) filter.transactionHash = transactionHash;
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, value: filter };
}

/** DRF OrderingFilter over ordering_fields = nonce, created, modified; invalid terms dropped; default -nonce, -created. */
export function parseOrdering(raw: string | null): Ordering {
  const terms = (raw ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter((t) => ["nonce", "created", "modified"].includes(t.replace(/^-/, "")))
    .map((t) => ({ field: t.replace(/^-/, "") as Ordering[number]["field"], desc: t.startsWith("-") }));
  return terms.length > 0 ? terms : [{ field: "nonce", desc: true }, { field: "created", desc: true }];
}
