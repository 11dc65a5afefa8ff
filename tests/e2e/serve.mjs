// A dependency-free static file server for dist/ (used in-process by the e2e tests, and by
// scripts/serve.sh when Python is missing). Usage: node serve.mjs <dir> [port] [host]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.csv': 'text/csv', '.jsonl': 'text/plain',
  '.svg': 'image/svg+xml', '.png': 'image/png',
};

/** Serves `root` on host:port (port 0 = any free one; a taken port falls back to a free one);
 *  resolves to { server, url, transferred }. `transferred.bytes` counts body bytes sent
 *  (gzipped when the client accepts gzip), `transferred.files` per path, `transferred.requests`
 *  the paths asked for, in order. `hold(pathname)`, when given, may return a promise: the
 *  response waits for it (a test's slow network for one file). */
export function serve(root, port = 0, host = '127.0.0.1', { hold } = {}) {
  const transferred = { bytes: 0, files: {}, requests: [] };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    transferred.requests.push(url.pathname);
    await hold?.(url.pathname);
    let file = path.join(root, decodeURIComponent(url.pathname));
    if (!file.startsWith(path.resolve(root))) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err, body) => {
      if (err) { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'); return; }
      const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
      const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '') && body.length > 1024;
      const out = gzip ? zlib.gzipSync(body, { level: 9 }) : body;
      transferred.bytes += out.length;
      transferred.files[url.pathname] = out.length;
      res.writeHead(200, {
        'content-type': type, 'content-length': out.length, 'cache-control': 'no-store',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(out);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => {
      if (e.code === 'EADDRINUSE' && port !== 0) {
        console.error(`port ${port} is taken; using a free one`);
        server.listen(0, host);
      } else reject(e);
    });
    server.on('listening', () => {
      const { port: p } = server.address();
      resolve({ server, url: `http://${host}:${p}/`, transferred });
    });
    server.listen(port, host);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir = 'dist', port = '8080', host = '127.0.0.1'] = process.argv.slice(2);
  const { url } = await serve(path.resolve(dir), Number(port), host);
  console.log(`llmsim page: ${url}`);
}
