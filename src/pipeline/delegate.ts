import { getAddress } from "ethers";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { readSafe } from "../safe/kit.ts";
import type { ApiKit } from "../safe/service-client.ts";
import type { Setup } from "./setup.ts";

/**
 * Safe delegates on the Safe Transaction Service: an owner lets a key (the CI key) propose to the service
 * without being an owner, so that key can never approve. `gatehouse delegate add|remove|list`.
 */

type KitSigner = Parameters<ApiKit["addSafeDelegate"]>[0]["signer"];

/**
 * The actor's key as the viem WalletClient api-kit asks for: api-kit's delegate calls only use
 * `signTypedData({domain, types, primaryType, message})` (utils/signDelegate.ts), which ethers signs the
 * same way (EIP-712, eth_signTypedData_v4 for a node-held key).
 */
function kitSigner(actor: Actor): KitSigner {
  const signTypedData = (args: { domain: Record<string, unknown>; types: Record<string, { name: string; type: string }[]>; message: Record<string, unknown> }) =>
    actor.signer.signTypedData(args.domain, args.types, args.message);
  return { account: { address: actor.address }, signTypedData } as unknown as KitSigner;
}

function service(setup: Setup): ApiKit {
  if (!setup.service) throw new GatehouseError("USAGE", { message: "delegates live on a Safe Transaction Service: --tx-service URL (or GATEHOUSE_TX_SERVICE_URL), or SAFE_API_KEY for Safe's hosted service" });
  return setup.service;
}

function refused(action: string, e: unknown): GatehouseError {
  const err = e as { statusCode?: number; message?: string };
  return new GatehouseError("DELEGATE_REFUSED", { action, reason: `${err.statusCode ? `HTTP ${err.statusCode}: ` : ""}${err.message ?? String(e)}` }, { cause: e });
}

export interface Delegation {
  safe: string | null;
  delegate: string;
  delegator: string;
  label: string;
  expiryDate: string | null;
}

/** The delegations of the governing Safe, as the service lists them. */
export async function listDelegates(setup: Setup): Promise<Delegation[]> {
  const safe = setup.deployment.safe.address;
  const r = await service(setup).getSafeDelegates({ safeAddress: safe });
  return r.results.map((x) => ({ safe: x.safe ?? null, delegate: x.delegate, delegator: x.delegator, label: x.label, expiryDate: x.expiryDate ?? null }));
}

/** `delegator` (a current owner, read on chain first) registers `delegate` for the governing Safe. */
export async function addDelegate(opts: { setup: Setup; delegate: string; delegator: Actor; label: string }): Promise<Delegation[]> {
  const { setup, delegator } = opts;
  const safe = setup.deployment.safe.address;
  const delegate = getAddress(opts.delegate);
  const { owners } = await readSafe(setup.ctx, safe);
  // Refused here with the project's words; the service checks it again and trusts nothing it is sent.
  if (!owners.includes(delegator.address)) throw new GatehouseError("NOT_OWNER", { address: delegator.address, safe });
  try {
    await service(setup).addSafeDelegate({ safeAddress: safe, delegateAddress: delegate, delegatorAddress: delegator.address, label: opts.label, signer: kitSigner(delegator) });
  } catch (e) {
    throw refused(`adding the delegate ${delegate} for ${safe}`, e);
  }
  return listDelegates(setup);
}

/**
 * The delegator, or the delegate itself, removes the delegation. When the delegate signs, every
 * delegation of it for the governing Safe is removed (its delegators are read from the service).
 */
export async function removeDelegate(opts: { setup: Setup; delegate: string; signer: Actor }): Promise<Delegation[]> {
  const { setup, signer } = opts;
  const delegate = getAddress(opts.delegate);
  const delegators =
    signer.address === delegate ? [...new Set((await listDelegates(setup)).filter((r) => r.delegate === delegate).map((r) => r.delegator))] : [signer.address];
  for (const delegator of delegators) {
    try {
      await service(setup).removeSafeDelegate({ delegateAddress: delegate, delegatorAddress: delegator, signer: kitSigner(signer) });
    } catch (e) {
      throw refused(`removing the delegate ${delegate} of ${delegator}`, e);
    }
  }
  return listDelegates(setup);
}

/**
 * Whether `address` may propose to `safe` as a delegate: a delegation on the service for that Safe (or
 * every Safe) from a current owner (read on chain), not expired. The service decides again on proposal;
 * this only turns its refusal into a clear error before anything is signed.
 */
export async function isDelegateOf(api: ApiKit, safe: string, owners: string[], address: string, now = new Date()): Promise<boolean> {
  const r = await api.getSafeDelegates({ delegateAddress: address });
  return r.results.some(
    (x) => (!x.safe || getAddress(x.safe) === getAddress(safe)) && owners.includes(getAddress(x.delegator)) && (!x.expiryDate || Date.parse(x.expiryDate) > now.getTime()),
  );
}
