/**
 * `npm run bench -- --bundle DIR`: a self-contained folder that runs the GPU benchmark
 * (bench/gpu.ts) with one command on an offline Linux x86-64 machine with a GPU and a Vulkan
 * driver, and nothing else installed:
 *
 *   DIR/run.sh            unpacks what is packed (once), finds a Vulkan loader, runs the bench
 *   DIR/bench.mjs         bench/gpu.ts and the library it drives, bundled by esbuild (WGSL inlined)
 *   DIR/node.gz           the Node binary this was built with (gzip: every machine can unpack it)
 *   DIR/node_modules/webgpu/  the `webgpu` package's loader, with Dawn (dawn.node.gz) for linux-x64
 *   DIR/lib/libvulkan.so.1    the Vulkan loader, used only where the machine has none
 *   DIR/README.txt
 *
 * The models are generated there (random weights at real shapes, bench/lib/gguf-file.ts) into
 * DIR/models/, and the JSON report lands in DIR/results/.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `*.wgsl?raw` imports as strings, as Vite and scripts/raw-loader.mjs serve them. */
const rawPlugin: Plugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: resolve(a.resolveDir, a.path.slice(0, -'?raw'.length)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
  },
};

/** Where Debian, Ubuntu and Fedora keep the Vulkan loader. */
const VULKAN_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

const RUN_SH = `#!/bin/sh
# Run the Hearth GPU benchmark: ./run.sh [--quick] [--models llama32,smollm2] [--formats Q4_0,Q4_K,Q8_0] ...
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ ! -x .unpacked/node ]; then
  mkdir -p .unpacked
  gzip -dc node.gz > .unpacked/node.partial && chmod +x .unpacked/node.partial && mv .unpacked/node.partial .unpacked/node
fi
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
if [ ! -f "$dawn" ]; then gzip -dc "$dawn.gz" > "$dawn.partial" && mv "$dawn.partial" "$dawn"; fi
# Dawn opens libvulkan.so.1 at run time: use the machine's, else the one carried here
if ! (ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1') && [ -f lib/libvulkan.so.1 ]; then
  export LD_LIBRARY_PATH="$here/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# an NVIDIA container may keep its Vulkan driver manifest outside the loader's search path
if [ -z "\${VK_DRIVER_FILES:-}\${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then export VK_DRIVER_FILES="$f"; break; fi
  done
fi
export HEARTH_BENCH_MODELS="$here/models"
exec .unpacked/node bench.mjs --out "$here/results" "$@"
`;

const README = `Hearth GPU benchmark (self-contained; Linux x86-64, a GPU with a Vulkan driver)

  ./run.sh              the full run: Llama-3.2-1B shape in Q4_0, Q4_K, Q8_0 and SmolLM2-135M shape
                        in Q4_0, Q8_0 (random weights generated here into models/, about 2.5 GB)
  ./run.sh --quick      short prompts and few tokens
  ./run.sh --models llama32 --formats Q4_0 --prompt 128 --decode 128 --repeats 5

It needs no network and nothing installed but a Vulkan driver: the Node binary, Dawn (the
'webgpu' package) and, for machines without one, the Vulkan loader travel with it. The JSON report
is written to results/; the table on stdout has prefill and decode tokens/s, GPU bytes, dispatches
per token and decode's reads as a fraction of the read roofline measured on the same adapter.
`;

export interface BundleResult {
  dir: string;
  bytes: number;
  files: { path: string; bytes: number }[];
}

export async function writeBundle(dir: string, log: (s: string) => void = () => {}): Promise<BundleResult> {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the bundle carries linux-x64 binaries; build it on linux-x64 (this is ${process.platform}-${process.arch})`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'bench/gpu.ts')],
    outfile: join(dir, 'bench.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    plugins: [rawPlugin],
    // CommonJS dependencies bundled into ESM still call require(); give them one
    // and every module sees bench.mjs's import.meta.url: mark the bundle so only gpu.ts's main() runs
    banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url); globalThis.__HEARTH_BUNDLE__ = true;" },
    logLevel: 'warning',
  });
  const webgpu = join(ROOT, 'node_modules/webgpu');
  const wgDir = join(dir, 'node_modules/webgpu');
  mkdirSync(join(wgDir, 'dist/linux-x64'), { recursive: true });
  for (const f of ['package.json', 'index.js', 'LICENSE.md']) if (existsSync(join(webgpu, f))) copyFileSync(join(webgpu, f), join(wgDir, f));
  writeFileSync(join(wgDir, 'dist/linux-x64/dawn.node.gz'), gzipSync(readFileSync(join(webgpu, 'dist/linux-x64/dawn.node')), { level: 6 }));
  writeFileSync(join(dir, 'node.gz'), gzipSync(readFileSync(process.execPath), { level: 6 }));
  const loader = VULKAN_LOADERS.find((p) => existsSync(p));
  if (loader) {
    mkdirSync(join(dir, 'lib'), { recursive: true });
    copyFileSync(loader, join(dir, 'lib/libvulkan.so.1'));
  } else {
    log('no Vulkan loader on this machine to carry: the GPU machine must have its own (libvulkan1)');
  }
  writeFileSync(join(dir, 'run.sh'), RUN_SH);
  chmodSync(join(dir, 'run.sh'), 0o755);
  writeFileSync(join(dir, 'README.txt'), README);
  const files: BundleResult['files'] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push({ path: p.slice(dir.length + 1), bytes: statSync(p).size });
    }
  };
  walk(dir);
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  log(`wrote ${dir}: ${(bytes / 1e6).toFixed(1)} MB in ${files.length} files`);
  for (const f of files.sort((a, b) => b.bytes - a.bytes)) log(`  ${(f.bytes / 1e6).toFixed(2).padStart(7)} MB  ${f.path}`);
  return { dir, bytes, files };
}
