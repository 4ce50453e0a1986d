// A signature verifier built on the npm package oauth-sign (pinned by the test).
// Usage: node oauth_sign_verifier.js <node_modules dir> <port> <config json>
// config: {"consumer_secret": ..., "token_secret": ..., "rsa_private_key": ...}
// It rebuilds the signature from the raw request it received (URL, query,
// form body, Authorization header) with oauth-sign, answers 200 with what it
// decoded when the signatures match, else 401. Listens on 127.0.0.1 only.
'use strict';
const http = require('http');
const path = require('path');
const oauth = require(path.join(process.argv[2], 'oauth-sign'));
const port = Number(process.argv[3]);
const config = JSON.parse(process.argv[4]);

function decode(text) {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

function pairs(text) {
  const out = [];
  if (!text) return out;
  for (const piece of text.split('&')) {
    if (!piece) continue;
    const i = piece.indexOf('=');
    out.push(i < 0 ? [decode(piece), ''] : [decode(piece.slice(0, i)), decode(piece.slice(i + 1))]);
  }
  return out;
}

function headerPairs(value) {
  const out = [];
  if (!value || !/^OAuth /i.test(value)) return out;
  const re = /([A-Za-z0-9_]+)="([^"]*)"/g;
  let m;
  while ((m = re.exec(value)) !== null) out.push([m[1], decodeURIComponent(m[2])]);
  return out;
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const q = req.url.indexOf('?');
    const pathPart = q < 0 ? req.url : req.url.slice(0, q);
    const query = pairs(q < 0 ? '' : req.url.slice(q + 1));
    const isForm = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] || '');
    const form = isForm ? pairs(body) : [];
    const header = headerPairs(req.headers['authorization']).filter(([k]) => k !== 'realm');
    const all = [...query, ...form, ...header];
    const params = {};
    let given = null;
    for (const [k, v] of all) {
      if (k === 'oauth_signature') { given = v; continue; }
      if (k in params) params[k] = [].concat(params[k], v); else params[k] = v;
    }
    const method = params.oauth_signature_method;
    const secret = method && method.startsWith('RSA-') ? config.rsa_private_key : config.consumer_secret;
    const baseUri = 'http://' + req.headers.host + pathPart;
    let expected = null;
    try {
      expected = oauth.sign(method, req.method, baseUri, params, secret, config.token_secret);
    } catch (e) {
      expected = 'unsupported: ' + e.message;
    }
    const ok = given !== null && expected === given;
    res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok, method, user: 'alice', signature_method: method,
      args: query, form, body: isForm ? null : body, expected, given }));
  });
}).listen(port, '127.0.0.1', () => { process.stdout.write('listening\n'); });
