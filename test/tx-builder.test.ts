import { expect } from "chai";
import { cancelTxBuilderFile, txBuilderChecksum, type TxBuilderFile } from "../src/review/tx-builder.ts";
import { decodeSchedule, encodeCancel, encodeScheduleBatch, formatDuration, timelockInterface } from "../src/timelock/calls.ts";

describe("Safe Transaction Builder files (pure)", () => {
  it("computes the Transaction Builder app's checksum (sample exported by the app)", () => {
    // Exported by Safe{Wallet}'s Transaction Builder 1.18.2; the checksum is the app's own.
    const sample: TxBuilderFile = {
      version: "1.0",
      chainId: "1",
      createdAt: 1761326849944,
      meta: { name: "Transactions Batch", description: "", txBuilderVersion: "1.18.2", createdFromSafeAddress: "0xA77DE01e157f9f57C7c4A326eeE9C4874D0598b6", createdFromOwnerAddress: "", checksum: "0x8b5032f716845c8b08bab3d63dbd9ba92e056f3557793cd041e59b84e16aa989" },
      transactions: [
        {
          to: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
          value: "0",
          data: null,
          contractMethod: { inputs: [{ internalType: "address", name: "spender", type: "address" }, { internalType: "uint256", name: "value", type: "uint256" }], name: "approve", payable: false },
          contractInputsValues: { spender: "0x474e5Ded6b5D078163BFB8F6dBa355C3aA5478C8", value: "100000000000" },
        },
      ],
    };
    expect(txBuilderChecksum(sample)).to.equal(sample.meta.checksum);
  });

  it("writes the guardian's cancel(bytes32) with every number as a string and a valid checksum", () => {
    const id = "0x" + "ab".repeat(32);
    const file = cancelTxBuilderFile({ chainId: 31337n, timelock: "0x8A791620dd6260079BF849Dc5567aDC3F2FdC318", operationId: id, calldata: encodeCancel(id), description: "d", createdAt: 1 });
    expect(file.chainId).to.equal("31337");
    expect(file.transactions[0]!.value).to.equal("0");
    expect(timelockInterface.decodeFunctionData("cancel", file.transactions[0]!.data!)[0]).to.equal(id);
    expect(file.meta.checksum).to.equal(txBuilderChecksum(file));
    // The app rejects a file in which a value or an input is a JSON number.
    for (const t of file.transactions) {
      expect(t.value).to.be.a("string");
      for (const v of Object.values(t.contractInputsValues ?? {})) expect(v).to.be.a("string");
    }
  });
});

describe("timelock calldata (pure)", () => {
  it("decodes scheduleBatch back to its batch, delay and operation id", () => {
    const batch = { calls: [{ target: "0x8A791620dd6260079BF849Dc5567aDC3F2FdC318", value: 0n, data: "0x1234" }], predecessor: "0x" + "00".repeat(32), salt: "0x" + "01".repeat(32) };
    const decoded = decodeSchedule(encodeScheduleBatch(batch, 3600n));
    expect(decoded.function).to.equal("scheduleBatch");
    expect(decoded.delay).to.equal(3600n);
    expect(decoded.batch).to.deep.equal(batch);
    expect(() => decodeSchedule(encodeCancel(batch.salt))).to.throw(/not a TimelockController schedule call/);
  });
  it("formats durations as people read them", () => {
    expect(formatDuration(3600)).to.equal("1h");
    expect(formatDuration(90061)).to.equal("1d 1h 1m 1s");
    expect(formatDuration(-5)).to.equal("0s");
  });
});
