// Fails when the runtime import graph of src/, workers/ and config/ has a cycle (`npm run lint`,
// .ci/run). A cycle makes a module's exports undefined while its partner initialises, depending on
// which file is loaded first. Type-only imports (`import type`, or named imports that are all
// `type`) vanish at compile time and are not edges. Relative imports only: packages cannot cycle
// back into the project. Written over the TypeScript parser so it needs no extra package.
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const roots = ['src', 'workers', 'config'];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return walk(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function resolveImport(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const p of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

/** Whether an import or export declaration survives compilation (it has a runtime binding). */
function isRuntime(node) {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause;
    if (!clause) return true; // side-effect import
    if (clause.isTypeOnly) return false;
    if (clause.name) return true;
    const b = clause.namedBindings;
    if (!b || ts.isNamespaceImport(b)) return true;
    return b.elements.length === 0 || b.elements.some((e) => !e.isTypeOnly);
  }
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return false;
    const c = node.exportClause;
    return !c || !ts.isNamedExports(c) || c.elements.some((e) => !e.isTypeOnly);
  }
  return false;
}

const files = roots.flatMap((r) => (existsSync(join(root, r)) ? walk(join(root, r)) : []));
const graph = new Map();
for (const file of files) {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
  const edges = new Set();
  for (const node of sf.statements) {
    if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) || !node.moduleSpecifier)
      continue;
    const spec = node.moduleSpecifier.text;
    if (!spec.startsWith('.') || !isRuntime(node)) continue;
    const target = resolveImport(file, spec);
    if (target) edges.add(target);
  }
  graph.set(file, [...edges]);
}

// Tarjan's strongly connected components; every component of more than one file is a cycle.
let index = 0;
const stack = [];
const info = new Map();
const cycles = [];
function connect(v) {
  info.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!info.has(w)) {
      connect(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) {
      info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
  }
  if (info.get(v).low === info.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component);
  }
}
for (const v of graph.keys()) if (!info.has(v)) connect(v);

/** The shortest loop through a component's first file (breadth-first), for the message. */
function loopIn(component) {
  const inside = new Set(component);
  const start = component[0];
  const parent = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (w === start) {
        const path = [v];
        while (parent.get(path[0])) path.unshift(parent.get(path[0]));
        return [...path, start].map((f) => relative(root, f)).join(' → ');
      }
      if (inside.has(w) && !parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return component.map((f) => relative(root, f)).join(', ');
}

if (cycles.length) {
  console.error(`Import cycles (${cycles.length}) among ${files.length} files:`);
  for (const c of cycles) console.error(`  ${c.length} files: ${loopIn(c)}`);
  process.exit(1);
}
console.log(
  `No import cycles among ${files.length} files (runtime imports of ${roots.join(', ')}).`,
);
