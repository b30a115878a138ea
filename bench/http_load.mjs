// http_load.mjs: closed-loop HTTP load for bench/http_run. CONNECTIONS keep-alive
// connections each send POST /rpc/reserve_capacity back to back for SECONDS, on a
// random section of 1..100 (or section 0 with HOT=1). Prints one JSON line:
// requests, ok, errors by status, requests per second, latency p50/p99 in ms.
//   node http_load.mjs URL TOKEN SECONDS CONNECTIONS
import http from 'node:http';

const [url, token, seconds, connections] = process.argv.slice(2);
const target = new URL('/rpc/reserve_capacity', url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
const pricing = '0b0b0b0b-0000-4000-8000-0000000000f1';
const hot = process.env.HOT === '1';
const latencies = [];
const statuses = {};
let ok = 0;

function once() {
    const s = hot ? 0 : 1 + Math.floor(Math.random() * 100);
    const body = JSON.stringify({
        capacity_id: `00000000-0000-4000-8000-${String(s).padStart(12, '0')}`, quantity: 1, pricing_id: pricing,
    });
    const t0 = process.hrtime.bigint();
    return new Promise((resolve) => {
        const req = http.request(target, {
            method: 'POST', agent,
            headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
                       Authorization: `Bearer ${token}`, Prefer: 'return=minimal' },
        }, (res) => {
            res.resume();
            res.on('end', () => {
                latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
                if (res.statusCode === 200) ok++; else statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
                resolve();
            });
        });
        req.on('error', (e) => { statuses[e.code] = (statuses[e.code] || 0) + 1; resolve(); });
        req.end(body);
    });
}

const deadline = Date.now() + Number(seconds) * 1000;
async function loop() { while (Date.now() < deadline) await once(); }
const start = Date.now();
await Promise.all(Array.from({ length: Number(connections) }, loop));
const elapsed = (Date.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2) : null);
console.log(JSON.stringify({ requests: latencies.length, ok, errors: statuses,
                             rps: Math.round(ok / elapsed), p50_ms: pct(0.5), p99_ms: pct(0.99) }));
agent.destroy();
