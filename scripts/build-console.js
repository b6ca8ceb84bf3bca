// Bundles the console (console/src, preact + htm + uPlot) into dist/console/ with esbuild: one
// minified JS and one CSS file named by their content hash (served with a year's cache), and an
// index.html naming them (served no-cache). Writes manifest.json with the raw and gzip sizes.
// Run by `npm run build:console` (part of build, prepare and test).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'console', 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out,
  entryNames: 'app-[hash]',
  assetNames: 'app-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const files = readdirSync(out);
const js = files.find((f) => /^app-[A-Z0-9]+\.js$/.test(f));
const css = files.find((f) => /^app-[A-Z0-9]+\.css$/.test(f));
if (!js || !css) throw new Error(`console build: expected app-<hash>.js and .css in ${out}, found ${files.join(', ')}`);
const html = readFileSync(join(root, 'console', 'index.html'), 'utf8').replace('%CSS%', `/console/${css}`).replace('%JS%', `/console/${js}`);
writeFileSync(join(out, 'index.html'), html);
const size = (f) => {
  const bytes = readFileSync(join(out, f));
  return { file: f, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const manifest = { js: size(js), css: size(css) };
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
void result;
console.log(`console: ${js} ${(manifest.js.bytes / 1024).toFixed(1)} KB (gzip ${(manifest.js.gzip / 1024).toFixed(1)} KB), ${css} gzip ${(manifest.css.gzip / 1024).toFixed(1)} KB`);
