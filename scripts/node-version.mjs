// The Node.js version check of the CLI, in plain JavaScript so that a Node too old to load the
// TypeScript entry point can still run it and say why (instead of ERR_UNKNOWN_FILE_EXTENSION).
// Keep the syntax old (no ??, no ?.): this file must parse on any Node that can import an ES module.

/** The first Node.js releases that strip TypeScript types without a flag: 22.18.0 and 23.6.0. */
export var REQUIRED = "22.18";

/** The error line for `version` ("20.20.2" or "v20.20.2"), or null when it can run Gatehouse. Pure. */
export function nodeVersionProblem(version) {
  var parts = String(version).replace(/^v/, "").split(".");
  var major = Number(parts[0]);
  var minor = Number(parts[1]);
  var ok = major >= 24 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
  // Same words as GH150 (NODE_TOO_OLD) in src/errors.ts; a test keeps the two in step.
  return ok ? null : "error GH150: gatehouse needs Node.js >= " + REQUIRED + "; this is v" + String(version).replace(/^v/, "");
}
