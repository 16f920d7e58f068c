import path from "node:path";
import { GatehouseError } from "../../errors.ts";
import type { Policy } from "../../policy/schema.ts";
import { filesSink } from "./files.ts";
import { githubSink } from "./github.ts";
import type { Sink } from "./sink.ts";
import { webhookSink } from "./webhook.ts";

/**
 * The sinks the policy's `notifications` list names. Secrets (the GitHub token, the webhook URL) come
 * from the environment variables the policy names; the GitHub API root from GITHUB_API_URL (set by
 * GitHub Actions, and on GitHub Enterprise), else api.github.com; the GitHub sink's own login from
 * GATEHOUSE_GITHUB_AUTHOR when set.
 */
export function sinksFromPolicy(policy: Policy, root: string, env: Record<string, string | undefined> = process.env): Sink[] {
  return policy.notifications.map((n, i) => {
    const where = `policies/${policy.network}.yaml: notifications.${i}`;
    if (n.type === "github") {
      const token = env[n.tokenEnv];
      if (!token) throw new GatehouseError("USAGE", { message: `${where} (github ${n.repository}): set the environment variable ${n.tokenEnv} to a token that may write issues` });
      // GATEHOUSE_GITHUB_AUTHOR: the login the token posts as, when the token cannot tell (see githubSink).
      return githubSink({ repository: n.repository, token, labels: n.labels, baseUrl: env.GITHUB_API_URL || undefined, ...(env.GATEHOUSE_GITHUB_AUTHOR ? { author: env.GATEHOUSE_GITHUB_AUTHOR } : {}) });
    }
    if (n.type === "webhook") {
      const url = env[n.urlEnv];
      if (!url) throw new GatehouseError("USAGE", { message: `${where} (webhook): set the environment variable ${n.urlEnv} to the webhook URL` });
      // The URL is a secret (Slack and Discord put the credential in it): a malformed one is named by its
      // variable only, never echoed.
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
        throw new GatehouseError("USAGE", { message: `${where} (webhook): ${n.urlEnv} is not an http:// or https:// URL (its value is not shown: it is a secret)` });
      }
      return webhookSink({ id: `webhook:${n.urlEnv}`, url, format: n.format });
    }
    return filesSink(path.resolve(root, n.dir), { id: `files:${n.dir}` });
  });
}
