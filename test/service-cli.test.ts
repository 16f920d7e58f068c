import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "./helpers/fixture.ts";

/** `gatehouse tx-service` as a process: starts on loopback, logs one line per request, stops on SIGTERM. */
describe("tx-service: the CLI command", function () {
  it("binds 127.0.0.1, prints its URL and the Host names it answers (--json), logs one line per request, exits 0 on SIGTERM", async () => {
    const db = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-txs-cli-")), "s.sqlite");
    const child = spawn(process.execPath, ["scripts/gatehouse.ts", "tx-service", "--port", "0", "--db", db, "--allowed-host", "gatehouse.internal", "--json"], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const started = await new Promise<{ url: string; txServiceUrl: string; db: string; allowedHosts: string[] }>((resolve, reject) => {
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
          try {
            resolve(JSON.parse(stdout));
          } catch {
            // not the whole document yet
          }
        });
        void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      expect(started.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(started.txServiceUrl).to.equal(`${started.url}/api`);
      expect(started.db).to.equal(db);
      const port = new URL(started.url).port;
      expect(started.allowedHosts).to.deep.equal([`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "gatehouse.internal"]);
      const about = await fetch(`${started.txServiceUrl}/v1/about`);
      expect(about.status).to.equal(200);
      const missing = await fetch(`${started.txServiceUrl}/v2/multisig-transactions/0x${"00".repeat(32)}/`);
      expect(missing.status).to.equal(404);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).to.equal(0);
    rmSync(path.dirname(db), { recursive: true, force: true });
    const lines = stderr.split("\n").filter((l) => /^(GET|POST) /.test(l));
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(/^GET \/api\/v1\/about 200 \d+\.\dms$/);
    expect(lines[1]).to.match(/^GET \/api\/v2\/multisig-transactions\/0x0{64}\/ 404 \d+\.\dms - unknown safeTxHash/);
  });
});
