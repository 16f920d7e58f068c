import { getAddress, type InterfaceAbi } from "ethers";
import { GatehouseError } from "../errors.ts";
import { displayPath } from "../fs/atomic.ts";
import { resolveProposal, type ProposalRecord, type SafeTxRecord } from "../records/proposal.ts";
import { inspectSafeTx, type SignerView } from "../safe/inspect.ts";
import { isNotFound } from "../safe/service-client.ts";
import { safeTxData } from "../safe/transactions.ts";
import type { SafeTxData } from "../safe/hash.ts";
import type { Setup } from "./setup.ts";
import { findSafeTx } from "./sign.ts";

/**
 * `gatehouse show <safeTxHash|proposal>`: read-only. The signer view of a Safe transaction (every field,
 * the hashes recomputed from them, the typed data, the decoded calls, warnings) from the proposal record
 * that holds it or, failing that, from the Safe Transaction Service. The chain id is the connected
 * network's, never the record's: a hash is only meaningful on the chain it is signed for.
 */
export interface ShownSafeTx {
  source: string;
  purpose?: SafeTxRecord["purpose"];
  view: SignerView;
}

export interface ShowResult {
  proposal?: string;
  transactions: ShownSafeTx[];
  note?: string;
}

/** Names a signer recognises for the deployment's addresses. */
export function addressLabels(setup: Setup): Record<string, string> {
  const out: Record<string, string> = { [getAddress(setup.deployment.timelock.address)]: "the timelock", [getAddress(setup.deployment.safe.address)]: "the Safe" };
  for (const [name, p] of Object.entries(setup.deployment.proxies ?? {})) {
    out[getAddress(p.address)] = `${name} proxy`;
    // From the deployment record, never from the proposal's operations: a record naming any address as a
    // ProxyAdmin would have it shown as one.
    if (p.proxyAdmin) out[getAddress(p.proxyAdmin)] = `${name} ProxyAdmin`;
  }
  return out;
}

async function contractAbis(setup: Setup, record?: ProposalRecord): Promise<InterfaceAbi[]> {
  const names = [...new Set((record?.operations ?? []).map((o) => o.contract))];
  const abis = await Promise.all(names.map((n) => setup.ctx.readArtifact(n).then((a) => (a as unknown as { abi: InterfaceAbi }).abi).catch(() => undefined)));
  return abis.filter((a): a is InterfaceAbi => !!a);
}

export async function viewOfRecordedTx(setup: Setup, file: string, record: ProposalRecord, safeTx: SafeTxRecord): Promise<ShownSafeTx> {
  return {
    source: `${displayPath(file)} (${safeTx.purpose} transaction)`,
    purpose: safeTx.purpose,
    view: inspectSafeTx({
      chainId: setup.ctx.chainId,
      safe: safeTx.safe,
      tx: safeTxData(safeTx),
      timelock: setup.deployment.timelock.address,
      expectedSafe: setup.deployment.safe.address,
      claimed: { safeTxHash: safeTx.safeTxHash, domainHash: safeTx.domainHash, messageHash: safeTx.messageHash, source: `the record ${displayPath(file)}` },
      labels: addressLabels(setup),
      abis: await contractAbis(setup, record),
    }),
  };
}

export async function show(setup: Setup, ref: string): Promise<ShowResult> {
  const isHash = /^0x[0-9a-fA-F]{64}$/.test(ref);
  if (isHash) {
    let found: ReturnType<typeof findSafeTx> | undefined;
    try {
      found = findSafeTx(setup, ref);
    } catch (e) {
      if (!(e instanceof GatehouseError && e.errorName === "FILE_NOT_FOUND")) throw e;
    }
    if (found) return { proposal: found.record.id, transactions: [await viewOfRecordedTx(setup, found.file, found.record, found.safeTx)] };
    if (!setup.service) throw new GatehouseError("FILE_NOT_FOUND", { file: `proposals/${setup.ctx.network}/`, what: `no proposal has Safe transaction ${ref}, and no Safe Transaction Service was named (--tx-service URL)` });
    let remote;
    try {
      remote = await setup.service.getTransaction(ref);
    } catch (e) {
      if (isNotFound(e)) throw new GatehouseError("FILE_NOT_FOUND", { file: `proposals/${setup.ctx.network}/`, what: `no proposal and not the Safe Transaction Service has Safe transaction ${ref}` });
      throw new GatehouseError("CHAIN_CALL_FAILED", { action: `reading ${ref} from the Safe Transaction Service`, reason: (e as Error).message }, { cause: e });
    }
    const tx: SafeTxData = {
      to: remote.to,
      value: String(remote.value),
      data: remote.data ?? "0x",
      operation: Number(remote.operation) as 0 | 1,
      safeTxGas: String(remote.safeTxGas),
      baseGas: String(remote.baseGas),
      gasPrice: String(remote.gasPrice),
      gasToken: remote.gasToken,
      refundReceiver: remote.refundReceiver ?? "0x0000000000000000000000000000000000000000",
      nonce: Number(remote.nonce),
    };
    // The service is not trusted: everything shown is recomputed from the fields it returned.
    return {
      transactions: [
        {
          source: "the Safe Transaction Service (not in any proposal record)",
          view: inspectSafeTx({ chainId: setup.ctx.chainId, safe: remote.safe, tx, timelock: setup.deployment.timelock.address, expectedSafe: setup.deployment.safe.address, claimed: { safeTxHash: remote.safeTxHash, source: "the Safe Transaction Service" }, labels: addressLabels(setup) }),
        },
      ],
    };
  }
  const { file, record } = resolveProposal(setup.root, setup.ctx.network, ref);
  const transactions = await Promise.all(record.safeTransactions.map((t) => viewOfRecordedTx(setup, file, record, t)));
  return { proposal: record.id, transactions, ...(transactions.length ? {} : { note: `proposal ${record.id} has no Safe transaction yet (state: ${record.state}): \`gatehouse propose ${record.id}\` makes one` }) };
}
