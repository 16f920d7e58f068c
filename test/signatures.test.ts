import { expect } from "chai";
import { Wallet, concat, getBytes, keccak256, toBeHex, zeroPadValue, Signature } from "ethers";
import { readSignature, splitSignatures } from "../src/safe/signatures.ts";

describe("Safe owner signatures (pure)", () => {
  const hash = keccak256("0x1234");
  const owner = Wallet.createRandom();

  it("recovers the owner of an EIP-712 signature (v 27/28) and of an eth_sign one (v 31/32)", async () => {
    const eip712 = owner.signingKey.sign(hash).serialized;
    expect(readSignature(hash, eip712)).to.include({ type: "EOA", owner: owner.address });
    const personal = Signature.from(await owner.signMessage(getBytes(hash)));
    const ethSign = concat([personal.r, personal.s, toBeHex(personal.v + 4, 1)]);
    expect(readSignature(hash, ethSign)).to.include({ type: "ETH_SIGN", owner: owner.address });
    // The same bytes read as the other kind recover somebody else.
    expect(readSignature(hash, concat([personal.r, personal.s, toBeHex(personal.v, 1)])).owner).to.not.equal(owner.address);
  });

  it("reads the owner named in r for approved hashes and contract signatures, and nothing from a bad part", () => {
    const approved = concat([zeroPadValue(owner.address, 32), zeroPadValue("0x", 32), "0x01"]);
    expect(readSignature(hash, approved)).to.include({ type: "APPROVED_HASH", owner: owner.address });
    const garbage = concat([keccak256("0x01"), keccak256("0x02"), "0x01"]);
    expect(readSignature(hash, garbage).owner).to.equal(undefined);
    expect(readSignature(hash, concat([keccak256("0x01"), keccak256("0x02"), "0x1b"])).type).to.equal("EOA");
    expect(() => readSignature(hash, "0x1234")).to.throw(/65 bytes/);
  });

  it("splits a blob into its static parts, stopping at a contract signature's dynamic part when asked", () => {
    const eoa = owner.signingKey.sign(hash).serialized;
    const contract = concat([zeroPadValue(owner.address, 32), toBeHex(130, 32), "0x00"]);
    const dynamic = concat([toBeHex(65, 32), eoa]); // length + 65 bytes that look like a signature
    const blob = concat([eoa, contract, dynamic]);
    // Read blindly, the dynamic bytes pass for a third static part; the Safe never reads them as one.
    expect(splitSignatures(hash, blob)).to.have.length(3);
    expect(splitSignatures(hash, blob, { stopAtDynamic: true }).map((s) => s.type)).to.deep.equal(["EOA", "CONTRACT_SIGNATURE"]);
    expect(splitSignatures(hash, concat([eoa, "0xdeadbeef"]))).to.have.length(1);
  });
});
