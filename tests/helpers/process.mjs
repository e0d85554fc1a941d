// Runs a Node script as a child process without blocking: a synchronous spawn would stall
// the event loop that Miniflare's workerd needs in the same test process.
import { spawn } from "node:child_process";

/**
 * Resolves with { code, stdout, stderr }; `env` is added to this process's environment,
 * and `input`, when given, is written to the child's standard input (then closed).
 */
export function runNode(file, args, { cwd, env = {}, input } = {}) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [file, ...args], { cwd, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
  });
}
