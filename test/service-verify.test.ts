import { expect } from "chai";
import { Wallet, TypedDataEncoder, concat, getBytes, keccak256, toBeHex, ZeroAddress, type HDNodeWallet } from "ethers";
import { SAFE_TX_TYPES, safeCall, safeTxHashes } from "../src/safe/hash.ts";
import { checkProposal, computeSafeTxHash, decideProposal, decideSignatures, parseSignatures, type ParseResult, type ParsedSignature, type SafeFacts } from "../src/service/verify.ts";
import { parseConfirmation, parseJson, parseProposal } from "../src/service/request.ts";
import { paginated, pageParams } from "../src/service/serialize.ts";
import { parseOrdering, parseTxFilter } from "../src/service/handlers.ts";
import { ClientBudget, ClientPenalty, clientKey, hostAllowlist } from "../src/service/server.ts";
import { acceptedDelegateHashes, activeDelegations, checkDelegateSignature, totp } from "../src/service/delegates.ts";

/** The pure core of the tx-service: no chain, no HTTP, no file. */
describe("tx-service core (pure): hashes, signatures, request fields", function () {
  const chainId = 31337n;
  const safe = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const tx = { ...safeCall("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x1234", 3) };
  const hash = safeTxHashes(chainId, safe, tx).safeTxHash;
  const [a, b, c] = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];
  const owners = [a.address, b.address];
  const facts: SafeFacts = { chainId, version: "1.5.0", owners, threshold: 2, nonce: 2n };
  const eip712 = (w: HDNodeWallet) => w.signingKey.sign(hash).serialized;
  const ethSign = async (w: HDNodeWallet) => toBeHex(BigInt(await w.signMessage(getBytes(hash))) + 4n, 65);
  const sigsOf = (r: ParseResult): ParsedSignature[] => {
    if (!r.ok) throw new Error(r.reason);
    return r.signatures;
  };
  const approved = (owner: string) => "0x" + owner.slice(2).toLowerCase().padStart(64, "0") + "00".repeat(32) + "01";

  it("recomputes the safeTxHash per Safe version: chainId in the domain from 1.3.0, dataGas before 1.0.0", () => {
    expect(computeSafeTxHash(chainId, safe, "1.5.0", tx)).to.equal(hash);
    expect(computeSafeTxHash(chainId, safe, "1.3.0+L2", tx)).to.equal(hash);
    const noChain = keccak256(concat(["0x1901", TypedDataEncoder.hashDomain({ verifyingContract: safe }), TypedDataEncoder.from(SAFE_TX_TYPES).hash(tx)]));
    expect(computeSafeTxHash(chainId, safe, "1.2.0", tx)).to.equal(noChain);
    expect(computeSafeTxHash(chainId + 1n, safe, "1.2.0", tx)).to.equal(noChain);
    expect(computeSafeTxHash(chainId, safe, "0.1.0", tx)).to.not.equal(noChain);
  });

  it("recovers each signature type from its v byte and refuses the ones it cannot verify", async () => {
    const blob = concat([eip712(a), await ethSign(b), approved(c.address)]);
    const parsed = parseSignatures(hash, blob + "00ff", 3); // trailing bytes shorter than 65 are ignored
    expect(parsed).to.deep.equal({
      ok: true,
      signatures: [
        { owner: a.address, type: "EOA", signature: eip712(a).toLowerCase() },
        { owner: b.address, type: "ETH_SIGN", signature: (await ethSign(b)).toLowerCase() },
        { owner: c.address, type: "APPROVED_HASH", signature: approved(c.address) },
      ],
    });
    const contract = "0x" + a.address.slice(2).padStart(64, "0") + toBeHex(65, 32).slice(2) + "00";
    expect(parseSignatures(hash, contract + "00".repeat(32), 2)).to.deep.include({ ok: false });
    expect((parseSignatures(hash, contract + "00".repeat(32), 2) as { reason: string }).reason).to.include("CONTRACT_SIGNATURE (EIP-1271)");
    expect((parseSignatures(hash, eip712(a).slice(0, -2) + "1d", 2) as { reason: string }).reason).to.include("has v=29");
    expect((parseSignatures(hash, "0x" + "00".repeat(64) + "1b", 2) as { reason: string }).reason).to.include("no signer can be recovered");
  });

  it("refuses a signature blob longer than the owners can sign before recovering anything, and checks hash and sender first", () => {
    const three = concat([eip712(a), eip712(b), eip712(c)]);
    // 3 parts for 2 owners: refused from the length; 2 parts plus 64 trailing bytes still fit.
    expect((parseSignatures(hash, three, 2) as { reason: string }).reason).to.equal("Signature has 3 parts (195 bytes); the Safe has 2 owner(s), so at most 2 parts (194 bytes) can be valid");
    expect(parseSignatures(hash, concat([eip712(a), eip712(b)]) + "00".repeat(64), 2).ok).to.equal(true);
    // 8,061 parts that would each cost an ECDSA recovery (10 s in all before the cap): refused from the length.
    const huge = "0x" + ("11".repeat(64) + "1b").repeat(8061);
    expect((parseSignatures(hash, huge, 2) as { reason: string }).reason).to.match(/^Signature has 8061 parts/);
    // A hash mismatch or a non-owner sender is decided without parsing the signatures at all.
    const input = { tx: { ...tx, safe }, contractTransactionHash: hash, sender: a.address, signature: huge };
    expect(checkProposal({ ...input, contractTransactionHash: "0x" + "00".repeat(32) }, facts).parsed).to.deep.equal({ ok: false, reason: "not parsed: the safeTxHash does not match" });
    expect(checkProposal({ ...input, sender: c.address }, facts).parsed).to.deep.equal({ ok: false, reason: "not parsed: the sender is not an owner or delegate" });
    expect((decideProposal(input, facts, checkProposal(input, facts), new Set(), undefined) as { reason: string }).reason).to.match(/^Signature has 8061 parts/);
    expect(parseProposal(safe, { ...tx, nonce: 3, contractTransactionHash: hash, sender: a.address, signature: huge })).to.deep.equal({
      ok: false,
      errors: { signature: ["Ensure this field has no more than 5000 hexadecimal chars (not counting 0x)."] },
    });
  });

  it("accepts only current owners, once each, and approved hashes only when approved on chain", () => {
    const sigs = sigsOf(parseSignatures(hash, concat([eip712(a), approved(b.address)]), 2));
    expect(decideSignatures(sigs, owners, new Set([b.address]), false).ok).to.equal(true);
    expect((decideSignatures(sigs, owners, new Set(), false) as { reason: string }).reason).to.match(/for owner=0x.* is not valid: the owner has not approved/);
    const outsider = sigsOf(parseSignatures(hash, eip712(c), 2));
    expect((decideSignatures(outsider, owners, new Set(), false) as { reason: string }).reason).to.equal(`Signer=${c.address} is not an owner. Current owners=[${owners.join(", ")}]`);
    const twice = sigsOf(parseSignatures(hash, concat([eip712(a), eip712(a)]), 2));
    expect((decideSignatures(twice, owners, new Set(), false) as { reason: string }).reason).to.equal(`Signature for owner=${a.address} is duplicated`);
  });

  it("decides a proposal in the real service's order: hash, executed nonce, sender, signatures, signer = sender", () => {
    const input = { tx: { ...tx, safe }, contractTransactionHash: hash, sender: a.address, signature: eip712(a) };
    const decide = (i = input, f = facts, executed?: { safeTxHash: string; transactionHash: string }) => decideProposal(i, f, checkProposal(i, f), new Set(), executed);
    expect(decide()).to.deep.equal({ ok: true, value: { safeTxHash: hash, confirmations: [{ owner: a.address, type: "EOA", signature: eip712(a).toLowerCase() }], proposedByDelegate: false } });
    expect((decide({ ...input, tx: { ...input.tx, value: "1" } }) as { reason: string }).reason).to.match(/^Contract-transaction-hash=0x[0-9a-f]{64} does not match provided contract-tx-hash=/);
    expect((decide(input, { ...facts, nonce: 4n }) as { reason: string }).reason).to.equal(`Tx with nonce=3 for safe=${safe} already executed: the Safe's on-chain nonce is 4`);
    expect((decide(input, facts, { safeTxHash: "0x01", transactionHash: "0xabc" }) as { reason: string }).reason).to.equal(`Tx with nonce=3 for safe=${safe} already executed in tx-hash=0xabc`);
    expect((decide({ ...input, sender: c.address }) as { reason: string }).reason).to.match(/^Sender=0x.* is not an owner or delegate/);
    expect((decide({ ...input, sender: b.address }) as { reason: string }).reason).to.match(/^Signature does not match sender=/);
  });

  it("delegate proposals: the delegate's signature alone, proving the sender, and never a confirmation", () => {
    const input = { tx: { ...tx, safe }, contractTransactionHash: hash, sender: c.address, signature: eip712(c) };
    const delegates = new Set([c.address]);
    const decided = decideProposal(input, facts, checkProposal(input, facts, delegates), new Set(), undefined, delegates);
    expect(decided).to.deep.equal({ ok: true, value: { safeTxHash: hash, confirmations: [], proposedByDelegate: true } });
    // An owner's signature next to the delegate's is refused, as the real service does.
    const both = { ...input, signature: concat([eip712(c), eip712(a)]) };
    expect((decideProposal(both, facts, checkProposal(both, facts, delegates), new Set(), undefined, delegates) as { reason: string }).reason).to.equal("Just one signature is expected if using delegates");
    // Not a delegate: refused, naming the delegates.
    expect((decideProposal(input, facts, checkProposal(input, facts), new Set(), undefined) as { reason: string }).reason).to.equal(
      `Sender=${c.address} is not an owner or delegate. Current owners=[${owners.join(", ")}]. Delegates=[]`,
    );
    // A delegate's signature is never an approval: confirming (forPropose false) refuses it.
    expect((decideSignatures(sigsOf(parseSignatures(hash, eip712(c), 2)), owners, new Set(), false, delegates) as { reason: string }).reason).to.match(/^Signer=0x.* is not an owner\. Current owners/);
  });

  it("delegate signatures: EIP-712 over {delegateAddress, totp}, the current or previous hour, with or without the chain id", async () => {
    const now = 1_750_000_000;
    expect(totp(now)).to.equal(Math.floor(now / 3600));
    expect(totp(now, true)).to.equal(Math.floor(now / 3600) - 1);
    // What api-kit's signDelegate signs (domain {name, version, chainId}).
    const sign = (w: HDNodeWallet, counter: number, id: bigint | null = chainId) =>
      w.signTypedData({ name: "Safe Transaction Service", version: "1.0", ...(id !== null ? { chainId: id } : {}) }, { Delegate: [{ name: "delegateAddress", type: "address" }, { name: "totp", type: "uint256" }] }, { delegateAddress: c.address, totp: counter });
    expect(acceptedDelegateHashes(c.address, chainId, now)).to.have.length(4);
    for (const sig of [await sign(a, totp(now)), await sign(a, totp(now, true)), await sign(a, totp(now), null)]) {
      expect(checkDelegateSignature(c.address, sig, a.address, chainId, now)).to.deep.equal({ ok: true, value: { matched: true } });
    }
    // Two hours old, or another chain: it recovers to someone else, so it does not match the delegator.
    expect(checkDelegateSignature(c.address, await sign(a, totp(now) - 2), a.address, chainId, now)).to.deep.equal({ ok: true, value: { matched: false } });
    expect(checkDelegateSignature(c.address, await sign(a, totp(now), chainId + 1n), a.address, chainId, now)).to.deep.equal({ ok: true, value: { matched: false } });
    expect(checkDelegateSignature(c.address, await sign(b, totp(now)), a.address, chainId, now)).to.deep.equal({ ok: true, value: { matched: false } });
    const two = concat([await sign(a, totp(now)), await sign(b, totp(now))]);
    expect(checkDelegateSignature(c.address, two, a.address, chainId, now)).to.deep.equal({ ok: false, reason: "More than one signatures detected, just one is expected" });
    expect(checkDelegateSignature(c.address, approved(a.address), a.address, chainId, now)).to.deep.equal({ ok: false, reason: `No valid signature found for signer=${a.address}` });
    // Delegations count only from current owners, for this Safe or every Safe, and until they expire.
    const rows = [
      { safe, delegate: c.address, delegator: a.address, label: "ci", expiryDate: null },
      { safe: null, delegate: b.address, delegator: a.address, label: "all", expiryDate: "2020-01-01T00:00:00.000Z" },
      { safe: ZeroAddress, delegate: c.address, delegator: b.address, label: "other", expiryDate: null },
      { safe: null, delegate: c.address, delegator: c.address, label: "self", expiryDate: null },
    ];
    expect(activeDelegations(rows, safe, owners, new Date(now * 1000)).map((r) => r.label)).to.deep.equal(["ci"]);
  });

  it("validates request fields with the real service's words", () => {
    const body = { ...tx, nonce: 3, contractTransactionHash: hash, sender: a.address, signature: eip712(a), origin: null };
    const ok = parseProposal(safe, body);
    expect(ok.ok).to.equal(true);
    expect(parseProposal(safe, { ...body, data: null, gasToken: null, refundReceiver: null })).to.deep.include({ ok: true });
    // Field errors are all reported together, before any check of the whole object.
    expect(parseProposal(safe, { ...body, to: body.to.toLowerCase(), value: "1.5", operation: 3, nonce: null })).to.deep.equal({
      ok: false,
      errors: { to: [`Address ${body.to.toLowerCase()} is not checksumed`], value: ["A valid integer is required."], nonce: ["This field may not be null."] },
    });
    expect(parseProposal(safe, { ...body, operation: 2 })).to.deep.equal({ ok: false, errors: { nonFieldErrors: ["Operation CREATE not supported. Please use Safe CreateLib"] } });
    expect(parseProposal(safe, { ...body, operation: 7 })).to.deep.equal({ ok: false, errors: { operation: ["Unknown operation"] } });
    expect(parseProposal(safe, { ...body, sender: ZeroAddress })).to.deep.equal({ ok: false, errors: { sender: ["0x0 address is not allowed"] } });
    expect(parseProposal(safe, { ...body, signature: undefined })).to.deep.equal({ ok: false, errors: { signature: ["This field is required."] } });
    expect(parseConfirmation({ signature: "0xzz" })).to.deep.equal({ ok: false, errors: { signature: ["0xzz is not a hexadecimal value."] } });
    // Integers beyond 2^53 keep their exact text through JSON parsing.
    expect(parseJson('{"value": 123456789012345678901234567890}')).to.deep.equal({ value: "123456789012345678901234567890" });
  });

  it("answers only Host values on the allowlist: loopback names on the service's port, plus --allowed-host entries", () => {
    const hosts = hostAllowlist(8000, ["gatehouse.internal", "10.0.0.5:9000", "fd00::1"]);
    for (const ok of ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LocalHost:8000", "localhost.:8000", "gatehouse.internal", "gatehouse.internal:8000", "10.0.0.5:9000", "[fd00::1]:8000"]) {
      expect(hosts.allows(ok), ok).to.equal(true);
    }
    for (const bad of [undefined, "", "localhost", "localhost:8001", "evil.example:8000", "127.0.0.1.nip.io:8000", "localhost.evil.example:8000", "10.0.0.5:8000", "gatehouse.internal.evil:8000", "a b:8000"]) {
      expect(hosts.allows(bad), String(bad)).to.equal(false);
    }
    expect(hosts.entries).to.deep.equal(["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "gatehouse.internal", "10.0.0.5:9000", "[fd00::1]"]);
    expect(() => hostAllowlist(8000, ["http://x/"])).to.throw(/--allowed-host: expected a host name or address, optionally with :port, got 'http:\/\/x\/'/);
  });

  it("lets one client run a bounded number of requests at once, queue a bounded number more, and refuses the rest", async () => {
    const budget = new ClientBudget(2, 1);
    const [r1, r2] = await Promise.all([budget.acquire("a"), budget.acquire("a")]);
    let third: (() => void) | undefined;
    const queued = budget.acquire("a").then((r) => (third = r));
    expect(await budget.acquire("a")).to.equal(undefined); // 2 running + 1 waiting: over budget
    expect(await budget.acquire("b")).to.be.a("function"); // another client is not held up
    r1!();
    await queued;
    expect(third).to.be.a("function");
    r2!();
    third!();
    expect(await budget.acquire("a")).to.be.a("function");
  });

  it("holds a client that keeps sending refused bodies, unread, until its bucket refills; other clients go ahead", async () => {
    let now = 0;
    const penalty = new ClientPenalty({ burstBytes: 1000, bytesPerSecond: 100, maxHoldMs: 5000 }, () => now);
    const slept: number[] = [];
    const sleep = async (ms: number) => void (slept.push(ms), (now += ms));
    expect(await penalty.hold("a", 4, sleep)).to.equal(true); // never charged: no wait
    penalty.charge("a", 600);
    penalty.charge("a", 600); // 200 bytes in debt: 2 s at 100 bytes/s
    expect(penalty.delay("a")).to.equal(2000);
    expect(penalty.delay("b")).to.equal(0);
    expect(await penalty.hold("a", 4, sleep)).to.equal(true);
    expect(slept).to.deep.equal([2000]);
    penalty.charge("a", 1000); // 10 s of debt: over maxHoldMs, refused at once
    expect(await penalty.hold("a", 4, sleep)).to.equal(false);
    expect(slept).to.deep.equal([2000]);
    now += 10_000;
    expect(penalty.delay("a")).to.equal(0);
    // A client may not park more than maxHeld requests.
    penalty.charge("a", 100); // 1 s of debt
    const waiting = penalty.hold("a", 1, () => new Promise((r) => setTimeout(r, 5)));
    expect(await penalty.hold("a", 1, sleep)).to.equal(false);
    now += 1000;
    expect(await waiting).to.equal(true);
  });

  it("accounts IPv4 clients by address and IPv6 clients by /64", () => {
    expect(clientKey("127.0.0.1")).to.equal("127.0.0.1");
    expect(clientKey("::ffff:10.0.0.5")).to.equal("10.0.0.5");
    expect(clientKey("::1")).to.equal("0:0:0:0::/64");
    expect(clientKey("2001:db8:1:2:aaaa::1")).to.equal("2001:db8:1:2::/64");
    expect(clientKey("2001:db8:1:2::9")).to.equal(clientKey("2001:0db8:0001:0002:ffff:0:0:1"));
    expect(clientKey("2001:db8::1")).to.equal("2001:db8:0:0::/64");
  });

  it("query parameters and pagination follow django-filter and DRF", () => {
    expect(parseTxFilter(new URLSearchParams("executed=false&nonce__gte=3&has_confirmations=True"))).to.deep.equal({
      ok: true,
      value: { executed: false, hasConfirmations: true, trusted: true, failed: undefined, nonce: [{ cmp: "gte", value: 3 }] },
    });
    expect(parseTxFilter(new URLSearchParams("nonce__gte=x"))).to.deep.equal({ ok: false, errors: { nonce__gte: ["Enter a number."] } });
    expect(parseOrdering("nonce,-bogus")).to.deep.equal([{ field: "nonce", desc: false }]);
    expect(parseOrdering(null)).to.deep.equal([{ field: "nonce", desc: true }, { field: "created", desc: true }]);
    expect(pageParams(new URLSearchParams("limit=0&offset=-1"), 100, 200)).to.deep.equal({ limit: 100, offset: 0 });
    expect(pageParams(new URLSearchParams("limit=500&offset=3"), 100, 200)).to.deep.equal({ limit: 200, offset: 3 });
    const url = new URL("http://h/api/v2/safes/x/multisig-transactions/?executed=false&limit=2&offset=4");
    expect(paginated(url, 10, 2, 4, [])).to.deep.equal({
      count: 10,
      next: "http://h/api/v2/safes/x/multisig-transactions/?executed=false&limit=2&offset=6",
      previous: "http://h/api/v2/safes/x/multisig-transactions/?executed=false&limit=2&offset=2",
      results: [],
    });
  });
});
