import { isIP } from "node:net";
import path from "node:path";
import type { Command } from "../main.ts";
import { connect } from "../../chain/context.ts";
import { GatehouseError } from "../../errors.ts";
import { startTxService } from "../../service/server.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Resolves on the first SIGINT or SIGTERM (then the listeners are removed). */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

const command: Command = {
  summary: "run the Safe Transaction Service-compatible local service (api-kit txServiceUrl) until Ctrl-C",
  usage: "tx-service [--network NAME] [--port N] [--db FILE] [--host ADDR] [--allowed-host NAME[:PORT]]... [--trusted-proxy ADDR]... [--json]",
  options: { port: { type: "string" }, db: { type: "string" }, host: { type: "string" }, "allowed-host": { type: "string", multiple: true }, "trusted-proxy": { type: "string", multiple: true } },
  flags: { port: { value: "N", help: "TCP port; 0 picks a free one", default: "8000" }, db: { value: "FILE", help: "SQLite file of the service", default: ".gatehouse/tx-service/<network>.sqlite" }, host: { value: "ADDR", help: "address to bind", default: "127.0.0.1 (loopback only)" }, "allowed-host": { value: "NAME[:PORT]", help: "also answer requests whose Host header names this host (loopback names on the service's port are always answered; others get 400)", default: "none" }, "trusted-proxy": { value: "ADDR", help: "a reverse proxy in front of the service: its requests are accounted to the client its X-Forwarded-For names, so one client cannot spend everyone's budget", default: "none (X-Forwarded-For is ignored)" } },
  async run(c) {
    const portFlag = (c.flags.port as string | undefined) ?? "8000";
    if (!/^\d+$/.test(portFlag) || Number(portFlag) > 65535) throw new GatehouseError("USAGE", { message: `--port: expected 0-65535, got '${portFlag}'` });
    const host = (c.flags.host as string | undefined) ?? "127.0.0.1";
    const dbFile = path.resolve(c.root, (c.flags.db as string | undefined) ?? path.join(".gatehouse", "tx-service", `${c.network}.sqlite`));
    const ctx = await connect(c.network);
    try {
      const allowedHosts = (c.flags["allowed-host"] as unknown as string[] | undefined) ?? [];
      const trustedProxies = (c.flags["trusted-proxy"] as unknown as string[] | undefined) ?? [];
      for (const a of trustedProxies) if (!isIP(a)) throw new GatehouseError("USAGE", { message: `--trusted-proxy '${a}': expected an IP address (the proxy's address as the service sees it)` });
      const svc = await startTxService({ ctx, dbFile, host, port: Number(portFlag), allowedHosts, trustedProxies, log: (line) => c.out.log(line), network: c.network });
      if (!LOOPBACK.has(host)) c.out.log(`warning: listening on ${host}, not loopback: anyone who can reach it can read proposals and submit signatures`);
      c.out.print(`tx-service for '${c.network}' (chain ${ctx.chainId}) on ${svc.url}\n  api-kit txServiceUrl: ${svc.url}/api\n  database: ${dbFile}\n  answers Host: ${svc.allowedHosts.join(", ")}\n  Ctrl-C to stop`);
      c.out.result({ ok: true, network: c.network, chainId: ctx.chainId, url: svc.url, txServiceUrl: `${svc.url}/api`, db: dbFile, allowedHosts: svc.allowedHosts });
      const signal = await untilSignal();
      c.out.log(`${signal}: stopping tx-service`);
      await svc.close();
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
export default command;
