// The crate's module graph has no circles (../shared/STYLE.md's architecture rule, and
// issue 29): each module's `crate::` and `super::` paths outside its test modules are its
// edges, grouped at each depth of the module tree (rooms, then their parts), and no group
// may reach itself. A circle fails with the path that makes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

const src = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "src");

function modules() {
  const out = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".rs")) {
        let parts = path.relative(src, p).slice(0, -3).split(path.sep);
        if (["mod", "lib"].includes(parts.at(-1))) parts = parts.slice(0, -1);
        out.set(parts.join("::"), { text: readFileSync(p, "utf8"), isMod: /(^|\/)(mod|lib)\.rs$/.test(p) });
      }
    }
  };
  walk(src);
  return out;
}

function edges(mods) {
  const known = (segs) => {
    for (let k = segs.length; k > 0; k--) if (mods.has(segs.slice(0, k).join("::"))) return segs.slice(0, k).join("::");
    return null;
  };
  const out = new Map();
  for (const [name, { text, isMod }] of mods) {
    const set = new Set();
    out.set(name, set);
    // Test-only modules and test files may reach anywhere.
    if (/(^|::)(tests|\w+_tests|memory\w*)$/.test(name)) continue;
    // An inline test module is last in its file (clippy's items_after_test_module).
    const body = text.split(/#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))? )?mod \w+\s*\{/)[0];
    for (const [, p] of body.matchAll(/crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)/g)) {
      const t = known(p.split("::"));
      if (t && t !== name) set.add(t);
    }
    const here = name ? name.split("::") : [];
    const parent = isMod ? here : here.slice(0, -1);
    for (const [, p] of body.matchAll(/\bsuper::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)/g)) {
      const t = known([...parent, ...p.split("::")]);
      if (t && t !== name) set.add(t);
    }
  }
  return out;
}

function cycleAt(graph, depth) {
  const group = (m) => m.split("::").slice(0, depth).join("::");
  const g = new Map();
  for (const [a, bs] of graph) {
    for (const b of bs) {
      const [A, B] = [group(a), group(b)];
      if (A === B) continue;
      if (!g.has(A)) g.set(A, new Set());
      g.get(A).add(B);
    }
  }
  const state = new Map();
  const stack = [];
  const visit = (v) => {
    state.set(v, 1);
    stack.push(v);
    for (const w of g.get(v) ?? []) {
      if (state.get(w) === 1) return [...stack.slice(stack.indexOf(w)), w];
      if (!state.has(w)) {
        const found = visit(w);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(v, 2);
    return null;
  };
  for (const v of g.keys()) if (!state.has(v)) { const c = visit(v); if (c) return c; }
  return null;
}

test("the module graph has no circles, between rooms or within them", () => {
  const graph = edges(modules());
  assert.ok(graph.get("oauth::grant")?.has("store::grants"), "the scan sees the grants' use of their store");
  for (const depth of [1, 2, 3, 4]) {
    const cycle = cycleAt(graph, depth);
    assert.equal(cycle, null, `a circle at depth ${depth}: ${cycle?.join(" -> ")}`);
  }
});

test("the scan finds a circle when there is one", () => {
  const g = new Map([["a::x", new Set(["b::y"])], ["b::y", new Set(["a::z"])], ["a::z", new Set()]]);
  assert.deepEqual(cycleAt(g, 1), ["a", "b", "a"]);
  assert.equal(cycleAt(g, 2), null);
});
