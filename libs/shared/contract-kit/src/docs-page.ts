/**
 * The rendered docs of an OpenAPI document: one self-contained HTML page (no CDN, no external
 * script or style) that fetches `openapi.json` next to it and lists every operation with its
 * parameters, request body schema and responses.
 */

const SCRIPT = `
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const deref = (doc, s) => (s && s.$ref ? s.$ref.split('/').slice(1).reduce((o, k) => o[k], doc) : s);
const schemaHtml = (doc, s) => '<pre>' + esc(JSON.stringify(deref(doc, s), null, 2)) + '</pre>';
fetch('openapi.json').then((r) => r.json()).then((doc) => {
  document.title = doc.info.title;
  const out = ['<h1>' + esc(doc.info.title) + ' <small>' + esc(doc.info.version) + ' · OpenAPI ' + esc(doc.openapi) + '</small></h1>'];
  if (doc.info.description) out.push('<p>' + esc(doc.info.description) + '</p>');
  out.push('<p><a href="openapi.json">openapi.json</a></p>');
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      out.push('<details id="' + esc(op.operationId) + '"><summary><b class="m ' + method + '">' + method.toUpperCase() + '</b> <code>' + esc(path) + '</code> ' + esc(op.summary || '') + (op.security && op.security.length === 0 ? ' <i>(no token)</i>' : '') + '</summary>');
      if (op.parameters && op.parameters.length) {
        out.push('<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>schema</th></tr>');
        for (const p of op.parameters) out.push('<tr><td><code>' + esc(p.name) + '</code></td><td>' + esc(p.in) + '</td><td><code>' + esc(JSON.stringify(p.schema)) + '</code></td></tr>');
        out.push('</table>');
      }
      if (op.requestBody) for (const [type, c] of Object.entries(op.requestBody.content)) out.push('<h4>Request body <code>' + esc(type) + '</code></h4>' + schemaHtml(doc, c.schema));
      out.push('<h4>Responses</h4>');
      for (const [status, r] of Object.entries(op.responses)) {
        out.push('<p><b>' + esc(status) + '</b> ' + esc(r.description) + '</p>');
        for (const [type, c] of Object.entries(r.content || {})) out.push('<div class="media"><code>' + esc(type) + '</code>' + schemaHtml(doc, c.schema) + '</div>');
      }
      out.push('</details>');
    }
  }
  document.getElementById('doc').innerHTML = out.join('');
}).catch((e) => { document.getElementById('doc').textContent = 'Could not load openapi.json: ' + e; });
`;

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem}
details{border:1px solid #ccc;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}summary{cursor:pointer}
.m{display:inline-block;min-width:4.5rem}.get{color:#1565c0}.post{color:#2e7d32}.patch,.put{color:#ef6c00}.delete{color:#c62828}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:30rem}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
small{color:#666;font-weight:normal}`;

export function docsPage(title: string): string {
  const t = title.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${t}</title><style>${STYLE}</style></head><body><div id="doc">Loading openapi.json…</div><script>${SCRIPT}</script></body></html>`;
}
