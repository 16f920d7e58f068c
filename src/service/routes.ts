import { about, addDelegate, confirm, getTx, listConfirmations, listDelegates, listTxs, propose, removeDelegate, safeInfo, type Handler } from "./handlers.ts";

/**
 * The route table: the subset of the Safe Transaction Service REST API that @safe-global/api-kit 5 calls
 * for Safe info, proposing, confirming, fetching and listing multisig transactions, delegates, and the
 * service info.
 * Paths match safe_transaction_service/history/urls.py (v1) and urls_v2.py (v2), under /api. A trailing
 * slash is optional (api-kit asks for /v1/about without one; Django would redirect it).
 */
export interface Route {
  method: "GET" | "POST" | "DELETE";
  path: RegExp;
  /** The api-kit method(s) that call it. */
  apiKit: string;
  handler: Handler;
}

const ADDRESS = "([^/]+)";
const HASH = "([^/]+)";
const r = (method: Route["method"], path: string, apiKit: string, handler: Handler): Route => ({ method, path: new RegExp(`^/api${path}/?$`), apiKit, handler });

export const ROUTES: Route[] = [
  r("GET", "/v1/about", "getServiceInfo", about),
  r("GET", `/v1/safes/${ADDRESS}`, "getSafeInfo, getNextNonce, getPendingTransactions", safeInfo),
  r("POST", `/v2/safes/${ADDRESS}/multisig-transactions`, "proposeTransaction", propose),
  r("GET", `/v2/safes/${ADDRESS}/multisig-transactions`, "getMultisigTransactions, getPendingTransactions, getNextNonce", listTxs("v2")),
  r("GET", `/v2/multisig-transactions/${HASH}`, "getTransaction", getTx("v2")),
  r("POST", `/v1/multisig-transactions/${HASH}/confirmations`, "confirmTransaction", confirm),
  r("GET", `/v1/multisig-transactions/${HASH}/confirmations`, "getTransactionConfirmations", listConfirmations),
  r("GET", "/v2/delegates", "getSafeDelegates", listDelegates),
  r("POST", "/v2/delegates", "addSafeDelegate", addDelegate),
  r("DELETE", `/v2/delegates/${ADDRESS}`, "removeSafeDelegate", removeDelegate),
  // The deprecated v1 forms of the same endpoints (nonce, safeTxGas and baseGas as numbers).
  r("POST", `/v1/safes/${ADDRESS}/multisig-transactions`, "(v1)", propose),
  r("GET", `/v1/safes/${ADDRESS}/multisig-transactions`, "(v1)", listTxs("v1")),
  r("GET", `/v1/multisig-transactions/${HASH}`, "(v1)", getTx("v1")),
];

export type Match = { route: Route; params: string[] } | { methodNotAllowed: true } | undefined;

export function matchRoute(method: string, pathname: string): Match {
  let pathMatched = false;
  for (const route of ROUTES) {
    const m = route.path.exec(pathname);
    if (!m) continue;
    if (route.method === method || (method === "HEAD" && route.method === "GET")) return { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
    pathMatched = true;
  }
  return pathMatched ? { methodNotAllowed: true } : undefined;
}
