// jwt.mjs: RS256 tokens for tests, signed with node's crypto (no JWT library).
//   node jwt.mjs PRIVATE_KEY_PEM 'CLAIMS_JSON'   prints one token
// exp defaults to one hour from now and iat to now; give "exp" to override
// (a past exp makes an expired token), or null to leave the claim out (likewise
// "iat"). Also importable: sign(claims, pemText).
import { createPrivateKey, sign as rsaSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function sign(claims, pem, kid = 'eventsvc-test') {
    const now = Math.floor(Date.now() / 1000);
    const body = { iat: now, exp: now + 3600, ...claims };
    for (const k of ['exp', 'iat']) if (body[k] === null) delete body[k];
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const payload = b64url(JSON.stringify(body));
    const sig = rsaSign('RSA-SHA256', Buffer.from(`${head}.${payload}`), createPrivateKey(pem));
    return `${head}.${payload}.${b64url(sig)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const [keyFile, claims] = process.argv.slice(2);
    if (!keyFile || !claims) { console.error("usage: node jwt.mjs KEY.pem '{\"role\":...}'"); process.exit(2); }
    process.stdout.write(sign(JSON.parse(claims), readFileSync(keyFile, 'utf8')) + '\n');
}
