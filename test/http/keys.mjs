// keys.mjs DIR: a fresh RSA key pair for one test run. Writes DIR/jwt-private.pem
// (signs test tokens) and DIR/jwk.json (the public key PostgREST verifies with,
// jwt-secret = "@DIR/jwk.json"). The private key never leaves the run's scratch dir.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) { console.error('usage: node keys.mjs DIR'); process.exit(2); }
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'eventsvc-test' };
writeFileSync(join(dir, 'jwt-private.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
writeFileSync(join(dir, 'jwk.json'), JSON.stringify(jwk));
