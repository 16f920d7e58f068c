import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import SafeApiKit, { HttpError } from "@safe-global/api-kit";
import { generatePreValidatedSignature } from "@safe-global/protocol-kit";
import { getBytes, toBeHex } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { kitForSafe, type SafeKit } from "../src/safe/kit.ts";
import { SAFE_TX_TYPES, type SafeTxData } from "../src/safe/hash.ts";
import { startTxService, type TxService } from "../src/service/server.ts";

/**
 * The real api-kit against `gatehouse tx-service` over HTTP on loopback, with real protocol-kit signing
 * and execution on an in-process Hardhat chain with Safe 1.5.0 (2-of-3: accounts 1-3).
 */

type ApiKit = InstanceType<typeof SafeApiKit>;

describe("tx-service: the Safe Transaction Service API subset api-kit uses", function () {
  let d: Deployed;
  let svc: TxService;
  let api: ApiKit;
  let safe: string;
  let dbFile: string;
  let kits: [SafeKit, SafeKit, SafeKit];
  let relayer: SafeKit;
  const lines: string[] = [];

  const start = async () => {
    svc = await startTxService({ ctx: d.ctx, dbFile, log: (l) => lines.push(l) });
    api = new SafeApiKit({ chainId: d.ctx.chainId, txServiceUrl: `${svc.url}/api` });
  };

  /** A plain call from the Safe to the user account, at `nonce`, built by protocol-kit. */
  const newTx = async (nonce: number, data = "0x") => kits[0].createTransaction({ transactions: [{ to: d.actors.user.address, value: "0", data }], options: { nonce } });

  /** owner i's EIP-712 signature of `tx` through protocol-kit (eth_signTypedData_v4 on the node). */
  const eip712 = async (i: 0 | 1 | 2, tx: Awaited<ReturnType<typeof newTx>>) => (await kits[i].signTransaction(tx)).getSignature(d.actors.owners[i].address.toLowerCase())!.data;

  const status = async (p: Promise<unknown>): Promise<{ status: number; message: string; body: unknown }> => {
    try {
      await p;
    } catch (e) {
      if (e instanceof HttpError) return { status: e.statusCode, message: e.message, body: e.data };
      throw e;
    }
    throw new Error("expected the service to refuse the request");
  };

  /** One HTTP/1.1 request with the Host header chosen by the test (fetch always sends the URL's); "closed" if the server hung up first. */
  const raw = (method: string, p: string, body?: string, host?: string) =>
    new Promise<{ status: number | "closed"; body: string }>((resolve, reject) => {
      const u = new URL(svc.url);
      const headers: Record<string, string> = { host: host ?? u.host };
      if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
      const req = httpRequest({ host: u.hostname, port: u.port, method, path: p, headers, agent: false }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, body: text }));
        res.on("error", reject);
      });
      // The server may answer and close before reading an oversized body; the answer still counts.
      req.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? resolve({ status: "closed", body: "" }) : reject(e)));
      req.end(body);
    });
  const post = (p: string, body: string) => fetch(`${svc.url}/api${p}`, { method: "POST", headers: { "content-type": "application/json" }, body });
  const count = async () => (await api.getMultisigTransactions(safe)).count;

  before(async function () {
    d = await deployed();
    safe = d.setup.deployment.safe.address;
    dbFile = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-txs-")), "tx-service.sqlite");
    kits = (await Promise.all(d.actors.owners.map((o) => kitForSafe(d.ctx, d.setup.deployment, safe, o.kitSigner)))) as [SafeKit, SafeKit, SafeKit];
    relayer = await kitForSafe(d.ctx, d.setup.deployment, safe, d.actors.outsider.kitSigner);
    await start();
  });
  after(async () => {
    await svc?.close();
    await d?.close();
    if (dbFile) rmSync(path.dirname(dbFile), { recursive: true, force: true });
  });

  it("serves the service info and the Safe's owners, threshold, nonce and version", async () => {
    const about = await api.getServiceInfo();
    expect(about.name).to.equal("Safe Transaction Service");
    expect(about.api_version).to.equal("v1");
    const info = await api.getSafeInfo(safe);
    expect(info.owners).to.deep.equal(d.actors.owners.map((o) => o.address));
    expect(info.threshold).to.equal(2);
    expect(info.nonce).to.equal(String(await kits[0].getNonce()));
    expect(info.version).to.equal("1.5.0");
    expect(info.singleton).to.match(/^0x[0-9a-fA-F]{40}$/); // api-kit renames the service's masterCopy
    // views.py SafeInfoView: 422 code 1 for a non-checksummed address, 404 for an address that is no Safe.
    const lower = await status(api.getSafeInfo(safe.toLowerCase()));
    expect(lower.status).to.equal(422);
    expect(lower.body).to.deep.include({ code: 1, message: "Checksum address validation failed" });
    expect((await status(api.getSafeInfo(d.actors.user.address))).status).to.equal(404);
    expect(lines.some((l) => /^GET \/api\/v1\/about 200 \d+\.\dms$/.test(l))).to.equal(true);
  });

  it("propose (EIP-712), confirm by a second owner (eth_sign), list pending, execute with the collected signatures, then shows it executed", async () => {
    const nonce = Number(await api.getNextNonce(safe));
    const tx = await newTx(nonce);
    const safeTxHash = await kits[0].getTransactionHash(tx);
    await api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: await eip712(0, tx), origin: "gatehouse-test" });
    expect(lines.at(-1)).to.match(/^POST \/api\/v2\/safes\/0x[0-9a-fA-F]{40}\/multisig-transactions\/ 201 \d+\.\dms$/);

    const second = await kits[1].signHash(safeTxHash); // v = 31/32
    expect(await api.confirmTransaction(safeTxHash, second.data)).to.deep.equal({ signature: second.data });

    const pending = await api.getPendingTransactions(safe);
    expect(pending.count).to.equal(1);
    expect(pending.next).to.equal(null);
    expect(pending.previous).to.equal(null);
    const listed = pending.results[0]!;
    expect(listed.safeTxHash).to.equal(safeTxHash);
    expect(listed.nonce).to.equal(String(nonce));
    expect(listed.isExecuted).to.equal(false);
    expect(listed.confirmationsRequired).to.equal(2);
    expect(listed.origin).to.equal("gatehouse-test");
    expect(listed.proposer).to.equal(d.actors.owners[0].address);
    expect(listed.confirmations!.map((c) => [c.owner, c.signatureType])).to.deep.equal([
      [d.actors.owners[0].address, "EOA"],
      [d.actors.owners[1].address, "ETH_SIGN"],
    ]);
    expect(await api.getNextNonce(safe)).to.equal(String(nonce + 1));

    // A non-owner relays the transaction built from the service's response alone.
    const fromService = await api.getTransaction(safeTxHash);
    const result = await relayer.executeTransaction(fromService);
    const receipt = await d.ctx.ethers.provider.waitForTransaction(result.hash);

    const executed = await api.getTransaction(safeTxHash);
    expect(executed.isExecuted).to.equal(true);
    expect(executed.isSuccessful).to.equal(true);
    expect(executed.transactionHash).to.equal(result.hash);
    expect(executed.blockNumber).to.equal(receipt!.blockNumber);
    expect(executed.executor).to.equal(d.actors.outsider.address);
    expect(Date.parse(executed.executionDate!)).to.be.greaterThan(0);
    expect(executed.signatures).to.be.a("string");
    expect((await api.getPendingTransactions(safe)).count).to.equal(0);
    expect((await api.getMultisigTransactions(safe, { executed: true })).results.map((t) => t.safeTxHash)).to.deep.equal([safeTxHash]);
    expect(await api.getNextNonce(safe)).to.equal(String(nonce + 1));
  });

  it("an owner's on-chain approveHash counts as its confirmation (APPROVED_HASH, v = 1)", async () => {
    const nonce = Number(await api.getNextNonce(safe));
    const tx = await newTx(nonce, "0x01");
    const safeTxHash = await kits[0].getTransactionHash(tx);
    await api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: (await kits[0].signHash(safeTxHash)).data });
    const approvedBy3 = generatePreValidatedSignature(d.actors.owners[2].address).data;
    // Before approveHash, the pre-validated signature is forged: 400 and nothing stored.
    const early = await status(api.confirmTransaction(safeTxHash, approvedBy3));
    expect(early.status).to.equal(400);
    expect(JSON.stringify(early.body)).to.include("has not approved the hash on chain");
    expect((await api.getTransactionConfirmations(safeTxHash)).count).to.equal(1);

    const approval = await kits[2].approveTransactionHash(safeTxHash);
    await d.ctx.ethers.provider.waitForTransaction(approval.hash);
    await api.confirmTransaction(safeTxHash, approvedBy3);
    const withApproval = await api.getTransaction(safeTxHash);
    expect(withApproval.confirmations!.map((c) => c.signatureType)).to.deep.equal(["ETH_SIGN", "APPROVED_HASH"]);

    const result = await relayer.executeTransaction(withApproval);
    await d.ctx.ethers.provider.waitForTransaction(result.hash);
    expect((await api.getTransaction(safeTxHash)).isExecuted).to.equal(true);
    // A confirmation of an executed transaction is refused (serializers.py validate_signature).
    const late = await status(api.confirmTransaction(safeTxHash, (await kits[1].signHash(safeTxHash)).data));
    expect(late.status).to.equal(400);
    expect(JSON.stringify(late.body)).to.include("was already executed");
  });

  describe("refusals: the real service's status code, a reason, and nothing stored", () => {
    let nonce: number;
    let tx: Awaited<ReturnType<typeof newTx>>;
    let safeTxHash: string;
    let before: number;
    beforeEach(async () => {
      nonce = Number(await api.getNextNonce(safe));
      tx = await newTx(nonce, "0xdead");
      safeTxHash = await kits[0].getTransactionHash(tx);
      before = await count();
    });
    const expectNothingStored = async () => {
      expect(await count()).to.equal(before);
      expect((await status(api.getTransaction(safeTxHash))).status).to.equal(404);
    };
    const domain = () => ({ chainId: d.ctx.chainId, verifyingContract: safe });

    it("forged signature: bytes that recover to a non-owner -> 422", async () => {
      const good = await eip712(0, tx);
      const forged = good.slice(0, 10) + (good[10] === "0" ? "1" : "0") + good.slice(11);
      const r = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: forged }));
      expect(r.status).to.equal(422);
      // A flipped bit in r recovers some other key (or none): either way not owner 1.
      expect(r.message).to.match(/^(Signer=0x[0-9a-fA-F]{40} is not an owner or delegate|Signature=0x[0-9a-f]{130} is not valid)/);
      await expectNothingStored();
      // An outsider's valid signature passed off as owner 1's.
      const outsiderSig = await d.actors.outsider.signer.signTypedData(domain(), SAFE_TX_TYPES, tx.data as SafeTxData);
      const r2 = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: outsiderSig }));
      expect(r2.status).to.equal(422);
      expect(r2.message).to.equal(`Signer=${d.actors.outsider.address} is not an owner or delegate. Current owners=[${d.actors.owners.map((o) => o.address).join(", ")}]. Delegates=[]`);
      await expectNothingStored();
    });

    it("non-owner sender -> 422", async () => {
      const outsiderSig = await d.actors.outsider.signer.signTypedData(domain(), SAFE_TX_TYPES, tx.data as SafeTxData);
      const r = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.outsider.address, senderSignature: outsiderSig }));
      expect(r.status).to.equal(422);
      expect(r.message).to.match(new RegExp(`^Sender=${d.actors.outsider.address} is not an owner or delegate`));
      // An owner's signature sent by another owner: the signature does not match the sender.
      const r2 = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[1].address, senderSignature: await eip712(0, tx) }));
      expect(r2.status).to.equal(422);
      expect(r2.message).to.match(/^Signature does not match sender=/);
      await expectNothingStored();
    });

    it("altered field with the original hash -> 422", async () => {
      const signature = await eip712(0, tx);
      for (const altered of [{ value: "1" }, { data: "0xbeef" }, { operation: 1 }, { nonce: nonce + 1 }, { to: d.actors.guardian.address }, { safeTxGas: "1" }, { refundReceiver: d.actors.outsider.address }]) {
        const r = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: { ...tx.data, ...altered }, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: signature }));
        expect(r.status, JSON.stringify(altered)).to.equal(422);
        expect(r.message).to.match(new RegExp(`^Contract-transaction-hash=0x[0-9a-f]{64} does not match provided contract-tx-hash=${safeTxHash}$`));
      }
      await expectNothingStored();
    });

    it("reused nonce (already executed) -> 422", async () => {
      const used = Number(await kits[0].getNonce()) - 1;
      const old = await newTx(used, "0xdead");
      const oldHash = await kits[0].getTransactionHash(old);
      const r = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: old.data, safeTxHash: oldHash, senderAddress: d.actors.owners[0].address, senderSignature: await eip712(0, old) }));
      expect(r.status).to.equal(422);
      expect(r.message).to.match(new RegExp(`^Tx with nonce=${used} for safe=${safe} already executed in tx-hash=0x[0-9a-f]{64}$`));
      expect(await count()).to.equal(before);
      expect((await status(api.getTransaction(oldHash))).status).to.equal(404);
      // Re-proposing the very transaction that executed names it.
      const executed = (await api.getMultisigTransactions(safe, { executed: true, nonce: String(used) } as never)).results[0]!;
      const again = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: { ...executed, data: executed.data ?? "0x", nonce: used } as never, safeTxHash: executed.safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: executed.confirmations![0]!.signature }));
      expect(again.status).to.equal(422);
      expect(again.message).to.match(/was already executed in tx-hash=/);
      expect(await count()).to.equal(before);
    });

    it("malformed JSON -> 400 (DRF JSONParser), on propose and on confirm", async () => {
      const res = await post(`/v2/safes/${safe}/multisig-transactions/`, '{"to": "0x", ');
      expect(res.status).to.equal(400);
      expect(((await res.json()) as { detail: string }).detail).to.match(/^JSON parse error - /);
      const res2 = await post(`/v1/multisig-transactions/${"0x" + "11".repeat(32)}/confirmations/`, "{signature:");
      expect(res2.status).to.equal(400);
      // Well-formed JSON that is not an object, and missing fields: serializer errors, 422 on propose.
      const res3 = await post(`/v2/safes/${safe}/multisig-transactions/`, "[]");
      expect(res3.status).to.equal(422);
      expect(await res3.json()).to.deep.equal({ nonFieldErrors: ["Invalid data. Expected a dictionary, but got list."] });
      const res4 = await post(`/v2/safes/${safe}/multisig-transactions/`, JSON.stringify({ ...tx.data, safeTxGas: "-1", contractTransactionHash: safeTxHash }));
      expect(res4.status).to.equal(422);
      expect(await res4.json()).to.deep.include({ safeTxGas: ["Ensure this value is greater than or equal to 0."], sender: ["This field is required."] });
      await expectNothingStored();
    });

    it("non-checksummed Safe address -> 422 code 1", async () => {
      const r = await status(api.proposeTransaction({ safeAddress: safe.toLowerCase(), safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: await eip712(0, tx) }));
      expect(r.status).to.equal(422);
      expect(r.body).to.deep.equal({ code: 1, message: "Checksum address validation failed", arguments: [safe.toLowerCase()] });
      await expectNothingStored();
    });

    it("oversized proposals are refused before any signature is recovered: 1 MiB body -> 413, 8,061 parts -> 422, more parts than owners -> 422/400", async () => {
      const signature = await eip712(0, tx);
      const body = (sig: string) => JSON.stringify({ ...tx.data, contractTransactionHash: safeTxHash, sender: d.actors.owners[0].address, signature: sig });
      // The attack of issue 8: a 1 MiB proposal of 8,061 signature parts. Refused from its Content-Length, unread.
      const junk = "0x" + ("11".repeat(64) + "1b").repeat(8061);
      const big = await raw("POST", `/api/v2/safes/${safe}/multisig-transactions/`, body(junk));
      expect(big.status).to.equal(413);
      expect(lines.at(-1)).to.match(/ 413 \d+\.\dms - body over 262144 bytes$/);
      // Under the body limit but over the 5,000 signature bytes a Safe signature may have: a field error.
      const many = await raw("POST", `/api/v2/safes/${safe}/multisig-transactions/`, body("0x" + ("11".repeat(64) + "1b").repeat(1500)));
      expect(many.status).to.equal(422);
      expect(JSON.parse(many.body)).to.deep.equal({ signature: ["Ensure this field has no more than 5000 hexadecimal chars (not counting 0x)."] });
      // A valid owner signature followed by 3 more parts: 4 parts for 3 owners cannot all be valid.
      const padded = signature + ("22".repeat(64) + "1c").repeat(3);
      const four = await status(api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: padded }));
      expect(four.status).to.equal(422);
      expect(four.message).to.equal("Signature has 4 parts (260 bytes); the Safe has 3 owner(s), so at most 3 parts (259 bytes) can be valid");
      await expectNothingStored();
      // The same cap on a confirmation, after an honest proposal.
      await api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: signature });
      const confirm = await status(api.confirmTransaction(safeTxHash, (await eip712(1, tx)) + ("22".repeat(64) + "1c").repeat(3)));
      expect(confirm.status).to.equal(400);
      expect((confirm.body as { signature: string[] }).signature[0]).to.match(/^Signature has 4 parts/);
      expect((await api.getTransactionConfirmations(safeTxHash)).results.map((c) => c.owner)).to.deep.equal([d.actors.owners[0].address]);
    });

    it("a request naming another Host (DNS rebinding) -> 400, nothing read or stored; loopback names are answered", async () => {
      const port = new URL(svc.url).port;
      const proposal = JSON.stringify({ ...tx.data, contractTransactionHash: safeTxHash, sender: d.actors.owners[0].address, signature: await eip712(0, tx) });
      for (const host of [`rebind.attacker.example:${port}`, `127.0.0.1.nip.io:${port}`, `localhost:${Number(port) + 1}`]) {
        const r = await raw("POST", `/api/v2/safes/${safe}/multisig-transactions/`, proposal, host);
        expect(r.status, host).to.equal(400);
        expect(JSON.parse(r.body).detail).to.match(/^Invalid HTTP_HOST header: /);
        expect((await raw("GET", "/api/v1/about", undefined, host)).status).to.equal(400);
      }
      await expectNothingStored();
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `LOCALHOST:${port}`]) {
        const about = await raw("GET", "/api/v1/about", undefined, host);
        expect(about.status, host).to.equal(200);
        expect(JSON.parse(about.body).host).to.equal(host.toLowerCase());
      }
    });

    it("confirmations: unknown hash -> 404, non-owner or forged -> 400, short signature -> 400", async () => {
      const unknown = await status(api.confirmTransaction("0x" + "ab".repeat(32), await eip712(1, tx)));
      expect(unknown.status).to.equal(404);
      expect(unknown.message).to.equal(`Multisig transaction with safe-tx-hash=0x${"ab".repeat(32)} was not found`);

      await api.proposeTransaction({ safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: await eip712(0, tx) });
      const outsider = toBeHex(BigInt(await d.actors.outsider.signer.signMessage(getBytes(safeTxHash))) + 4n, 65); // eth_sign flavour, v + 4
      const r = await status(api.confirmTransaction(safeTxHash, outsider));
      expect(r.status).to.equal(400);
      expect((r.body as { signature: string[] }).signature[0]).to.match(new RegExp(`^Signer=${d.actors.outsider.address} is not an owner. Current owners=`));
      const short = await status(api.confirmTransaction(safeTxHash, "0x1234"));
      expect(short.status).to.equal(400);
      expect(short.body).to.deep.equal({ signature: ["Ensure this field has at least 65 hexadecimal chars (not counting 0x)."] });
      const contractSig = "0x" + d.actors.owners[1].address.slice(2).padStart(64, "0") + toBeHex(65, 32).slice(2) + "00" + "00".repeat(32);
      const c = await status(api.confirmTransaction(safeTxHash, contractSig));
      expect(c.status).to.equal(400);
      expect(JSON.stringify(c.body)).to.include("CONTRACT_SIGNATURE (EIP-1271), which this service does not verify");
      expect((await api.getTransactionConfirmations(safeTxHash)).results.map((x) => x.owner)).to.deep.equal([d.actors.owners[0].address]);
    });
  });

  it("two owners confirming at the same instant are each recorded once; so is the same confirmation sent twice", async () => {
    const nonce = Number(await api.getNextNonce(safe));
    const tx = await newTx(nonce, "0xc0ffee");
    const safeTxHash = await kits[0].getTransactionHash(tx);
    const proposal = { safeAddress: safe, safeTransactionData: tx.data, safeTxHash, senderAddress: d.actors.owners[0].address, senderSignature: await eip712(0, tx) };
    await Promise.all([api.proposeTransaction(proposal), api.proposeTransaction(proposal)]);
    const s2 = await eip712(1, tx);
    // Owner 3 signs what the service returned, as a signer with only the safeTxHash would.
    const s3 = (await kits[2].signTransaction(await api.getTransaction(safeTxHash))).getSignature(d.actors.owners[2].address.toLowerCase())!.data;
    // A second service instance on the same SQLite file: two connections writing at once.
    const other = await startTxService({ ctx: d.ctx, dbFile, log: () => {} });
    const otherApi = new SafeApiKit({ chainId: d.ctx.chainId, txServiceUrl: `${other.url}/api` });
    try {
      const replies = await Promise.all([api.confirmTransaction(safeTxHash, s2), otherApi.confirmTransaction(safeTxHash, s3), api.confirmTransaction(safeTxHash, s2), otherApi.confirmTransaction(safeTxHash, s2)]);
      expect(replies.map((r) => r.signature)).to.deep.equal([s2, s3, s2, s2]);
    } finally {
      await other.close();
    }
    const confirmations = (await api.getTransactionConfirmations(safeTxHash)).results.map((c) => c.owner).sort();
    expect(confirmations).to.deep.equal(d.actors.owners.map((o) => o.address).sort());
    expect((await api.getMultisigTransactions(safe, { nonce: String(nonce) } as never)).count).to.equal(1);
  });

  it("restart on the same file keeps everything", async () => {
    const beforeList = await api.getMultisigTransactions(safe);
    const first = beforeList.results.at(-1)!;
    expect(first.isExecuted).to.equal(true);
    await svc.close();
    await start();
    const afterList = await api.getMultisigTransactions(safe);
    expect(afterList).to.deep.equal({ ...beforeList, next: afterList.next, previous: afterList.previous, results: afterList.results });
    expect(afterList.results.map((t) => [t.safeTxHash, t.isExecuted, t.transactionHash, t.confirmations!.length])).to.deep.equal(
      beforeList.results.map((t) => [t.safeTxHash, t.isExecuted, t.transactionHash, t.confirmations!.length]),
    );
    expect(await api.getTransaction(first.safeTxHash)).to.deep.equal(first);
  });

  it("paginates like DRF's LimitOffsetPagination", async () => {
    const all = await api.getMultisigTransactions(safe);
    expect(all.count).to.be.greaterThan(2);
    const page = await api.getMultisigTransactions(safe, { limit: 1, offset: 1 });
    expect(page.count).to.equal(all.count);
    expect(page.results.map((t) => t.safeTxHash)).to.deep.equal([all.results[1]!.safeTxHash]);
    expect(page.next).to.equal(`${svc.url}/api/v2/safes/${safe}/multisig-transactions/?limit=1&offset=2`);
    expect(page.previous).to.equal(`${svc.url}/api/v2/safes/${safe}/multisig-transactions/?limit=1`);
    expect(all.results.map((t) => Number(t.nonce))).to.deep.equal([...all.results.map((t) => Number(t.nonce))].sort((a, b) => b - a));
  });
});
