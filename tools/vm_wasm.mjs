// Run a MicroPython script on the WebAssembly MicroPython from npm (wasm32: 31-bit small ints and
// 32-bit pointers, as on the board), under Node. Called by tools/vm_run.py --vm wasm.
//
//   node tools/vm_wasm.mjs SCRIPT DIR...
//
// Each DIR (lib/, tests/vm/, host/vm/, ...) is copied into the VM's in-memory file system and put
// on sys.path after the script's own directory, like MICROPYPATH on the unix VM. The script runs
// as __main__; its output goes to stdout, a Python exception to stderr with exit code 1.
// The heap is not capped here (this build grows its heap on demand), so gc.mem_alloc() figures
// are faithful and a MemoryError never comes: heap caps are checked on the unix VM.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [script, ...dirs] = process.argv.slice(2);
if (!script) {
  console.error("usage: node tools/vm_wasm.mjs SCRIPT DIR...");
  process.exit(2);
}

const out = [];
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function copyTree(from, to) {
  mp.FS.mkdirTree(to);
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (statSync(src).isDirectory()) {
      if (name !== "__pycache__") copyTree(src, to + "/" + name);
    } else if (name.endsWith(".py") || name.endsWith(".mpy")) {
      mp.FS.writeFile(to + "/" + name, readFileSync(src));
    }
  }
}

const paths = [];
[dirname(resolve(script)), ...dirs].forEach((dir, i) => {
  const target = "/p" + i;
  copyTree(resolve(dir), target);
  paths.push(target);
});

const setup = "import sys\nsys.path[:] = " + JSON.stringify(paths) + " + [p for p in sys.path if p == '.frozen']\n"
  + "sys.argv[:] = [" + JSON.stringify(basename(script)) + "]\n";
try {
  mp.runPython(setup);
  mp.runPython(readFileSync(script, "utf8"));
} catch (error) {
  process.stderr.write(String(error.message || error) + "\n");
  process.exit(1);
}
