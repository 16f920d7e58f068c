import { request as httpRequest } from "node:http";
import { expect } from "chai";
import hre from "hardhat";
import { requestClient, startTxService, type TxService } from "../src/service/server.ts";
import type { Eip1193 } from "../src/service/chain.ts";

/**
 * Red team: behind a reverse proxy every request comes from the proxy's address, so the per-client budget of
 * refused bytes was one budget for everyone: an attacker sending oversized proposals through the proxy made
 * every honest owner's POST wait, then 429. With --trusted-proxy the service accounts to X-Forwarded-For.
 */
describe("red team: tx-service per-client budgets behind a reverse proxy", function () {
  this.timeout(60_000);
  let svc: TxService;
  let close: () => Promise<void>;
  before(async () => {
    const connection = await hre.network.create();
    close = () => connection.close();
    // The proxy here is this test's loopback connection: it is the peer of every request.
    svc = await startTxService({ provider: connection.provider as unknown as Eip1193, dbFile: ":memory:", trustedProxies: ["127.0.0.1"], log: () => {} });
  });
  after(async () => {
    await svc?.close();
    await close?.();
  });

  /** A POST through "the proxy": the client's address in X-Forwarded-For, after whatever the client itself sent. */
  const post = (forwardedFor: string, declared: number, body = "{}") =>
    new Promise<number | "closed">((resolve, reject) => {
      const u = new URL(svc.url);
      const req = httpRequest(
        { host: u.hostname, port: u.port, method: "POST", path: "/api/v2/delegates/", agent: false, headers: { host: u.host, "content-type": "application/json", "content-length": String(declared), "x-forwarded-for": forwardedFor } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode!));
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? resolve("closed") : reject(e)));
      req.end(declared === Buffer.byteLength(body) ? body : undefined);
    });

  it("an attacker's refused bodies cost only its own budget; an honest client behind the same proxy is answered at once", async () => {
    // 16 bodies refused from their Content-Length: 4 MiB of charges against a 1 MiB burst (16 s of debt).
    for (let i = 0; i < 4; i++) await post("203.0.113.7", 1024 * 1024);
    const flood = Promise.all(Array.from({ length: 12 }, () => post("203.0.113.7", 1024 * 1024)));
    await new Promise((r) => setTimeout(r, 200));
    const timed = async (xff: string) => {
      const t = performance.now();
      const status = await post(xff, 2);
      return { status, ms: performance.now() - t };
    };
    // The attacker cannot pose as the honest client: entries left of the proxy's own are not believed.
    const spoofed = await timed("198.51.100.1, 203.0.113.7");
    expect(spoofed.status === 429 || spoofed.ms > 1_000, JSON.stringify(spoofed)).to.equal(true);
    const honest = await timed("198.51.100.1");
    expect(honest.status).to.equal(400);
    expect(honest.ms).to.be.below(1_000);
    await flood;
  });

  it("requestClient: X-Forwarded-For only from a trusted proxy, its rightmost untrusted entry, IPv6 by /64", () => {
    const trusted = new Set(["10.0.0.1"]);
    expect(requestClient("10.0.0.9", "198.51.100.1", trusted)).to.equal("10.0.0.9");
    expect(requestClient("10.0.0.1", "198.51.100.1", trusted)).to.equal("198.51.100.1");
    expect(requestClient("::ffff:10.0.0.1", "1.2.3.4, 198.51.100.1", trusted)).to.equal("198.51.100.1");
    expect(requestClient("10.0.0.1", "198.51.100.1, 10.0.0.1", trusted)).to.equal("198.51.100.1");
    expect(requestClient("10.0.0.1", "2001:db8:1:2::9", trusted)).to.equal("2001:db8:1:2::/64");
    expect(requestClient("10.0.0.1", "not-an-ip", trusted)).to.equal("10.0.0.1");
    expect(requestClient("10.0.0.1", undefined, trusted)).to.equal("10.0.0.1");
  });
});
