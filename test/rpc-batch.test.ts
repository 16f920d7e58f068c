import { expect } from "chai";
import { connect, type ChainContext } from "../src/chain/context.ts";
import { RpcError, classifyRpcError, retryingRpc } from "../src/watch/rpc.ts";
import { batchingHttpRpc } from "../src/watch/rpc-batch.ts";
import { startLatencyProxy } from "./helpers/latency-rpc.ts";

describe("watcher RPC: JSON-RPC batches over HTTP", function () {
  let ctx: ChainContext;
  before(async () => {
    ctx = await connect("default");
  });
  after(async () => ctx.close());
  const provider = () => ctx.connection.provider as never;

  it("sends the calls of one tick as one request, and each call gets its own answer or error", async () => {
    const proxy = await startLatencyProxy(provider(), 5);
    try {
      const rpc = batchingHttpRpc(proxy.url);
      const [chainId, block, bad, code] = await Promise.allSettled([
        rpc.request<string>("eth_chainId"),
        rpc.request<{ number: string }>("eth_getBlockByNumber", ["latest", false]),
        rpc.request("eth_noSuchMethod", []),
        rpc.request<string>("eth_getCode", ["0x0000000000000000000000000000000000000001", "latest"]),
      ]);
      expect(proxy.stats).to.deep.equal({ requests: 1, calls: 4 });
      expect(chainId).to.deep.equal({ status: "fulfilled", value: "0x7a69" });
      expect(block.status === "fulfilled" && block.value.number).to.match(/^0x/);
      expect(code).to.deep.equal({ status: "fulfilled", value: "0x" });
      expect(bad.status).to.equal("rejected");
      const err = (bad as PromiseRejectedResult).reason as RpcError;
      expect(err).to.be.instanceOf(RpcError);
      expect(err.method).to.equal("eth_noSuchMethod");
      expect(classifyRpcError(err, err.method)).to.equal("fatal");

      // Past the batch cap, the tick's calls go in several requests.
      const capped = batchingHttpRpc(proxy.url, { maxBatch: 3 });
      await Promise.all(Array.from({ length: 7 }, () => capped.request("eth_blockNumber")));
      expect(proxy.stats).to.deep.equal({ requests: 4, calls: 11 });
    } finally {
      await proxy.close();
    }
  });

  it("falls back to single calls on a node that refuses batches", async () => {
    const proxy = await startLatencyProxy(provider(), 0, { refuseBatches: true });
    try {
      const rpc = batchingHttpRpc(proxy.url);
      expect(await Promise.all([rpc.request("eth_chainId"), rpc.request("eth_chainId")])).to.deep.equal(["0x7a69", "0x7a69"]);
      // One refused batch, then the two calls singly; from then on no batch is tried.
      expect(proxy.stats.requests).to.equal(3);
      await Promise.all([rpc.request("eth_chainId"), rpc.request("eth_chainId")]);
      expect(proxy.stats.requests).to.equal(5);
    } finally {
      await proxy.close();
    }
  });

  it("a failed request fails every call in it as transient, and the retry layer retries each call", async () => {
    const failing = await startLatencyProxy(provider(), 0, { status: 503 });
    try {
      const errors: string[] = [];
      const rpc = retryingRpc(batchingHttpRpc(failing.url), { retries: 2, sleep: async () => {}, onError: (m, f) => errors.push(`${m}:${f}`) });
      const results = await Promise.allSettled([rpc.request("eth_chainId"), rpc.request("eth_blockNumber")]);
      expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
      expect(((results[0] as PromiseRejectedResult).reason as RpcError).status).to.equal(503);
      expect(errors.sort()).to.deep.equal(["eth_blockNumber:transient", "eth_blockNumber:transient", "eth_blockNumber:transient", "eth_chainId:transient", "eth_chainId:transient", "eth_chainId:transient"]);
    } finally {
      await failing.close();
    }
  });
});
