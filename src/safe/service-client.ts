import SafeApiKit from "@safe-global/api-kit";
import { GatehouseError } from "../errors.ts";

/**
 * api-kit adapter: the Safe Transaction Service the pipeline proposes to. Either `gatehouse tx-service`
 * (or any compatible service) at GATEHOUSE_TX_SERVICE_URL, or Safe's hosted service, which needs an API
 * key in SAFE_API_KEY. The key is only handed to api-kit; it is never printed.
 */
export type ApiKit = InstanceType<typeof SafeApiKit>;

export interface ServiceTarget {
  /** Base URL of a compatible service, without or with the trailing /api. */
  url?: string;
  apiKey?: string;
}

export function serviceTargetFromEnv(url?: string): ServiceTarget {
  return { url: url ?? process.env.GATEHOUSE_TX_SERVICE_URL, apiKey: process.env.SAFE_API_KEY };
}

export function apiKitFor(chainId: bigint, target: ServiceTarget): ApiKit {
  if (!target.url && !target.apiKey) {
    throw new GatehouseError("USAGE", { message: "--via service needs a Safe Transaction Service: --tx-service URL (or GATEHOUSE_TX_SERVICE_URL), or SAFE_API_KEY for Safe's hosted service" });
  }
  const txServiceUrl = target.url ? target.url.replace(/\/+$/, "").replace(/(\/api)?$/, "/api") : undefined;
  try {
    return new SafeApiKit({ chainId, ...(txServiceUrl ? { txServiceUrl } : {}), ...(target.apiKey ? { apiKey: target.apiKey } : {}) });
  } catch (e) {
    throw new GatehouseError("USAGE", { message: `Safe Transaction Service for chain ${chainId}: ${(e as Error).message}` });
  }
}

/** api-kit throws HttpError with the HTTP status; a 404 means the service does not know the transaction. */
export function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: number } | undefined)?.statusCode === 404;
}
