// Heap figures on the WebAssembly MicroPython (wasm32), for tools/heap_table.py.
//
//   node tools/heap/heap_wasm.mjs TREE PHASES.json
//
// TREE (a directory of .py or .mpy modules) is copied into the VM's file system and is its whole
// sys.path. PHASES is a JSON list of {name, code, repeat}: each phase's code is run `repeat` times,
// each run in its own runPython call followed by gc.collect(); then "heap<TAB>name<TAB>bytes" is
// printed with gc.mem_alloc().
//
// Why the calls: this port (ports/webassembly/main.c, MICROPY_GC_SPLIT_HEAP_AUTO) never collects
// while Python runs: gc.collect() only sets gc_collect_pending, and the collection runs when the
// outermost call from JavaScript returns (external_call_depth_dec -> gc_collect_top_level, with no
// stack to scan: only the VM's roots, module globals included). So inside one script
// gc.mem_alloc() is a running total of everything allocated. gc.collect() and gc.mem_alloc() are
// called here through the JS proxy of the gc module: each is its own outermost call, so the
// collection has run before mem_alloc() reads, and no snippet is compiled in between (a
// runPython("print(gc.mem_alloc())") would count its own parse tree and bytecode).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [tree, phasesFile] = process.argv.slice(2);
if (!tree || !phasesFile) {
  console.error("usage: node tools/heap/heap_wasm.mjs TREE PHASES.json");
  process.exit(2);
}
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function copyTree(from, to) {
  mp.FS.mkdirTree(to);
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (statSync(src).isDirectory()) copyTree(src, to + "/" + name);
    else if (name.endsWith(".py") || name.endsWith(".mpy")) mp.FS.writeFile(to + "/" + name, readFileSync(src));
  }
}

copyTree(resolve(tree), "/heap");
try {
  mp.runPython("import sys\nsys.path[:] = ['/heap']\n");
  const gc = mp.pyimport("gc");
  for (const phase of JSON.parse(readFileSync(phasesFile, "utf8"))) {
    for (let i = 0; i < (phase.repeat || 1); i++) {
      mp.runPython(phase.code);
      gc.collect();
    }
    process.stdout.write("heap\t" + phase.name + "\t" + gc.mem_alloc() + "\n");
  }
} catch (error) {
  process.stderr.write(String(error.message || error) + "\n");
  process.exit(1);
}
