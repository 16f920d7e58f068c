import { html as honoHtml, raw } from "hono/html";

/**
 * The site's only way to make markup: Hono's `html` tagged template, which escapes every interpolated
 * value (`& < > " '`) unless it is itself markup made here. Record fields and contract names are claims
 * an attacker may have written, so no page is ever built by string concatenation.
 */
export type Html = Exclude<ReturnType<typeof honoHtml>, Promise<unknown>>;

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  const out = honoHtml(strings, ...values);
  // Nothing here is asynchronous; a Promise would mean a value the template cannot render synchronously.
  if (out instanceof Promise) throw new Error("site templates are synchronous");
  return out;
}

/** Constant markup written in this repository (the XML declaration): never a value from data. */
export const trustedConstant = (s: "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" | "<!doctype html>\n"): Html => raw(s);

export const toText = (h: Html): string => h.toString();
