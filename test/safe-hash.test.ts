import { expect } from "chai";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { safeCall, safeTxHashes } from "../src/safe/hash.ts";
import { kitForSafe, safeContract } from "../src/safe/kit.ts";
import { encodeCancel } from "../src/timelock/calls.ts";
import { Contract } from "ethers";

describe("Safe transaction hashes (pure) agree with protocol-kit and with the Safe contract", function () {
  let d: Deployed;
  before(async () => (d = await deployed()));
  after(async () => d.close());

  it("safeTxHash, domain hash and message hash", async () => {
    const safeAddress = d.setup.deployment.safe.address;
    const tx = safeCall(d.setup.deployment.timelock.address, encodeCancel("0x" + "11".repeat(32)), 7);
    const ours = safeTxHashes(d.ctx.chainId, safeAddress, tx);
    const kit = await kitForSafe(d.ctx, d.setup.deployment, safeAddress);
    const kitTx = await kit.createTransaction({ transactions: [{ to: tx.to, value: tx.value, data: tx.data }], options: { nonce: tx.nonce } });
    expect(await kit.getTransactionHash(kitTx)).to.equal(ours.safeTxHash);
    const safe = new Contract(safeAddress, [
      "function getTransactionHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256) view returns (bytes32)",
      "function domainSeparator() view returns (bytes32)",
    ], d.ctx.ethers.provider);
    expect(await safe.getTransactionHash(tx.to, tx.value, tx.data, tx.operation, tx.safeTxGas, tx.baseGas, tx.gasPrice, tx.gasToken, tx.refundReceiver, tx.nonce)).to.equal(ours.safeTxHash);
    expect(await safe.domainSeparator()).to.equal(ours.domainHash);
    expect(Number(await safeContract(d.ctx, safeAddress).nonce())).to.equal(0);
    // Any field change changes the hash a signer would see.
    expect(safeTxHashes(d.ctx.chainId, safeAddress, { ...tx, nonce: 8 }).safeTxHash).to.not.equal(ours.safeTxHash);
    expect(safeTxHashes(d.ctx.chainId + 1n, safeAddress, tx).domainHash).to.not.equal(ours.domainHash);
  });
});
