// An OAuth 1.0a provider whose every signature check is done by the npm package
// oauth-sign (pinned by the test).
// Usage: node oauth_sign_verifier.js <node_modules dir> <port> <config json>
// config: {"consumer_key": ..., "consumer_secret": ..., "token": ..., "token_secret": ...,
//          "rsa_private_key": ...}
//
// Routes (all on 127.0.0.1 only):
//   POST /request_token   signed with the consumer secret alone; oauth_callback must be
//                         among the signed parameters. Answers a new request token,
//                         its secret and oauth_callback_confirmed=true (form-encoded).
//   GET  /authorize       ?oauth_token=..&user=NAME approves at once: 302 to the stored
//                         callback with oauth_token and a new oauth_verifier
//                         (&deny=1 redirects with denied=<token> instead).
//   POST /access_token    signed with the request token's secret; the verifier must match
//                         and each request token is exchanged at most once. Answers the
//                         access token, its secret and screen_name (form-encoded).
//   GET  /_refusals       (unsigned, for the tests) the last refusals and why.
//   anything else         a protected resource: signed with the configured token or an
//                         access token issued here; answers 200 with what it decoded, or 401.
// Every signed request must carry a nonce not seen before for its consumer key (within the
// timestamp window) and a timestamp within that window.
// oauth-sign rebuilds each signature from the raw request received (URL, query, form body,
// Authorization header); oauth-sign's RSA-SHA1 signs with the private key, so the check
// compares signatures made with the same key (RSA PKCS#1 v1.5 is deterministic).
'use strict';
const crypto = require('crypto');
const http = require('http');
const path = require('path');
const oauth = require(path.join(process.argv[2], 'oauth-sign'));
const port = Number(process.argv[3]);
const config = JSON.parse(process.argv[4]);

const WINDOW_SECONDS = 600;
const MAX_REFUSALS = 100;
const requestTokens = new Map(); // token -> {secret, callback, verifier, user, used}
const accessTokens = new Map(); // token -> {secret, user}
const seenNonces = new Map(); // consumer key + "\n" + nonce -> timestamp (seconds)
const refusals = [];
if (config.token) accessTokens.set(config.token, { secret: config.token_secret, user: 'alice' });

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

function formEncode(fields) {
  return Object.entries(fields).map(([k, v]) => oauth.rfc3986(k) + '=' + oauth.rfc3986(String(v))).join('&');
}

function randomToken() {
  return crypto.randomBytes(20).toString('hex');
}

function randomSecret() {
  // base64 has "+", "/" and "=": the client must decode the answer and encode the key right.
  return crypto.randomBytes(16).toString('base64');
}

// Everything the signature covers, as oauth-sign wants it (repeated names become arrays).
function readRequest(req, body) {
  const q = req.url.indexOf('?');
  const pathPart = q < 0 ? req.url : req.url.slice(0, q);
  const query = pairs(q < 0 ? '' : req.url.slice(q + 1));
  const isForm = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] || '');
  const form = isForm ? pairs(body) : [];
  const header = headerPairs(req.headers['authorization']).filter(([k]) => k !== 'realm');
  const params = {};
  const duplicates = [];
  let given = null;
  for (const [k, v] of [...query, ...form, ...header]) {
    if (k === 'oauth_signature') {
      if (given !== null) duplicates.push(k);
      given = v;
      continue;
    }
    if (k in params) {
      if (k.startsWith('oauth_')) duplicates.push(k);
      params[k] = [].concat(params[k], v);
    } else {
      params[k] = v;
    }
  }
  return { pathPart, query, form, isForm, params, given, duplicates };
}

// Check the signature with oauth-sign, then the consumer key, timestamp and nonce.
// Returns {problem, expected}: problem is null when the request is good.
function verify(req, parsed, tokenSecret) {
  const { params, given } = parsed;
  const method = params.oauth_signature_method;
  const secret = method && method.startsWith('RSA-') ? config.rsa_private_key : config.consumer_secret;
  const baseUri = 'http://' + req.headers.host + parsed.pathPart;
  let expected = null;
  try {
    expected = oauth.sign(method, req.method, baseUri, params, secret, tokenSecret);
  } catch (e) {
    expected = 'unsupported: ' + e.message;
  }
  if (parsed.duplicates.length) return { problem: 'parameter_rejected', expected };
  if (given === null || expected !== given) return { problem: 'signature_invalid', expected };
  if (config.consumer_key && params.oauth_consumer_key !== config.consumer_key) {
    return { problem: 'consumer_key_unknown', expected };
  }
  const now = Math.floor(Date.now() / 1000);
  const stamp = Number(params.oauth_timestamp);
  if (!/^[0-9]+$/.test(params.oauth_timestamp || '') || Math.abs(now - stamp) > WINDOW_SECONDS) {
    return { problem: 'timestamp_refused', expected };
  }
  const nonce = params.oauth_nonce;
  if (typeof nonce !== 'string' || !nonce) return { problem: 'parameter_absent', expected };
  for (const [key, seenAt] of seenNonces) {
    if (now - seenAt > 2 * WINDOW_SECONDS) seenNonces.delete(key);
  }
  const nonceKey = params.oauth_consumer_key + '\n' + nonce;
  if (seenNonces.has(nonceKey)) return { problem: 'nonce_used', expected };
  seenNonces.set(nonceKey, stamp);
  return { problem: null, expected };
}

function refuse(res, pathPart, problem, status) {
  refusals.push({ path: pathPart, problem });
  if (refusals.length > MAX_REFUSALS) refusals.shift();
  res.writeHead(status || 401, { 'Content-Type': 'application/x-www-form-urlencoded' });
  res.end(formEncode({ oauth_problem: problem }));
}

function answerForm(res, fields) {
  res.writeHead(200, { 'Content-Type': 'application/x-www-form-urlencoded' });
  res.end(formEncode(fields));
}

function requestToken(req, res, parsed) {
  if (req.method !== 'POST') return refuse(res, parsed.pathPart, 'method_not_allowed', 405);
  if (parsed.params.oauth_token) return refuse(res, parsed.pathPart, 'token_rejected');
  const { problem } = verify(req, parsed, '');
  if (problem) return refuse(res, parsed.pathPart, problem);
  const callback = parsed.params.oauth_callback;
  if (typeof callback !== 'string' || !callback) return refuse(res, parsed.pathPart, 'parameter_absent', 400);
  const token = randomToken();
  const secret = randomSecret();
  requestTokens.set(token, { secret, callback, verifier: null, user: null, used: false });
  answerForm(res, { oauth_token: token, oauth_token_secret: secret, oauth_callback_confirmed: 'true' });
}

function authorize(req, res, parsed) {
  const args = Object.fromEntries(parsed.query);
  const entry = requestTokens.get(args.oauth_token || '');
  if (!entry || entry.used || entry.verifier !== null) return refuse(res, parsed.pathPart, 'token_rejected', 400);
  const sep = entry.callback.includes('?') ? '&' : '?';
  let target;
  if (args.deny) {
    requestTokens.delete(args.oauth_token);
    target = entry.callback + sep + formEncode({ denied: args.oauth_token });
  } else {
    if (!args.user) return refuse(res, parsed.pathPart, 'parameter_absent', 400);
    entry.user = args.user;
    entry.verifier = randomToken();
    target = entry.callback + sep + formEncode({ oauth_token: args.oauth_token, oauth_verifier: entry.verifier });
  }
  res.writeHead(302, { Location: target });
  res.end();
}

function accessToken(req, res, parsed) {
  if (req.method !== 'POST') return refuse(res, parsed.pathPart, 'method_not_allowed', 405);
  const token = parsed.params.oauth_token;
  const entry = typeof token === 'string' ? requestTokens.get(token) : undefined;
  if (!entry) return refuse(res, parsed.pathPart, 'token_rejected');
  const { problem } = verify(req, parsed, entry.secret);
  if (problem) return refuse(res, parsed.pathPart, problem);
  if (entry.used) return refuse(res, parsed.pathPart, 'token_used');
  if (entry.verifier === null) return refuse(res, parsed.pathPart, 'permission_unknown');
  if (parsed.params.oauth_verifier !== entry.verifier) return refuse(res, parsed.pathPart, 'verifier_invalid');
  entry.used = true; // kept (not deleted) so that a second exchange is refused as such
  const access = randomToken();
  const secret = randomSecret();
  accessTokens.set(access, { secret, user: entry.user });
  answerForm(res, { oauth_token: access, oauth_token_secret: secret, screen_name: entry.user });
}

function resource(req, res, parsed, body) {
  const method = parsed.params.oauth_signature_method;
  const token = parsed.params.oauth_token;
  const known = typeof token === 'string' ? accessTokens.get(token) : undefined;
  let problem = 'token_rejected';
  let expected = null;
  if (known) ({ problem, expected } = verify(req, parsed, known.secret));
  if (problem) refusals.push({ path: parsed.pathPart, problem });
  if (refusals.length > MAX_REFUSALS) refusals.shift();
  const ok = problem === null;
  res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ ok, problem, method, user: known ? known.user : null, signature_method: method,
    args: parsed.query, form: parsed.form, body: parsed.isForm ? null : body, expected, given: parsed.given }));
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const parsed = readRequest(req, body);
    try {
      if (parsed.pathPart === '/request_token') return requestToken(req, res, parsed);
      if (parsed.pathPart === '/authorize') return authorize(req, res, parsed);
      if (parsed.pathPart === '/access_token') return accessToken(req, res, parsed);
      if (parsed.pathPart === '/_refusals') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify(refusals));
      }
      return resource(req, res, parsed, body);
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('verifier error: ' + e.message);
    }
  });
}).listen(port, '127.0.0.1', () => { process.stdout.write('listening\n'); });
