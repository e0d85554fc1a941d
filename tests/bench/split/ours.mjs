// This Worker (build/) with its storage answered in memory: see storage-in-memory.mjs.
import { WorkerEntrypoint } from "cloudflare:workers";
import Worker, { SseSession } from "../../../build/index.js";
import { inMemory, control } from "./storage-in-memory.mjs";

export { SseSession };

export default class extends WorkerEntrypoint {
  fetch(request) {
    // The Worker's own fetch, run with this request's context and the in-memory env.
    return control(request) ?? Worker.prototype.fetch.call({ env: inMemory(this.env, request), ctx: this.ctx }, request);
  }
}
