// The peer (peer/build/) with its storage answered in memory: see storage-in-memory.mjs.
import peer from "../peer/build/index.js";
import { inMemory, control } from "./storage-in-memory.mjs";

export default {
  fetch(request, env, ctx) {
    return control(request) ?? peer.fetch(request, inMemory(env, request), ctx);
  },
};
