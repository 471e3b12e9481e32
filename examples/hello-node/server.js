// The demo's Node.js app (scripts/run.sh --demo): answers on PORT and logs a line now and
// then, so the panel's dashboard, charts and log viewer have something to show.
const http = require('http');
const port = Number(process.env.PORT || 8300);
let served = 0;
http.createServer((req, res) => {
  served++;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ hello: 'from node', pid: process.pid, served }));
}).listen(port, '127.0.0.1', () => console.log(`hello-node listening on http://127.0.0.1:${port}`));
setInterval(() => {
  const m = process.memoryUsage();
  console.log(JSON.stringify({ level: 30, msg: 'heartbeat', served, rss: m.rss }));
  if (Math.random() < 0.1) console.warn(JSON.stringify({ level: 40, msg: 'slow request (demo warning)' }));
}, 5000);
process.on('SIGTERM', () => { console.log('hello-node stopping'); process.exit(0); });
