// What the Node drivers share: arguments, and one line per step
// (`STEP <name> ok <detail>`; on the first failure `STEP <name> FAIL <detail>` and exit 1).
'use strict';

const TIMEOUT = 5000; // ms any one wait may take
const UTF8 = 'h\u00e9llo \u2713'; // non-ASCII text: Content-Length counts bytes, not characters

function parseArgs(argv) {
  const args = { mode: argv[0], host: '127.0.0.1', port: 8021, password: 'ClueCon', listenPort: 8084, socketMode: 'async' };
  for (let i = 1; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--host') args.host = value;
    else if (key === '--port') args.port = Number(value);
    else if (key === '--password') args.password = value;
    else if (key === '--listen-port') args.listenPort = Number(value);
    else if (key === '--socket-mode') args.socketMode = value;
    else throw new Error(`unknown argument ${key}`);
  }
  if (args.mode !== 'inbound' && args.mode !== 'outbound') throw new Error('mode: inbound or outbound');
  return args;
}

function ok(name, detail = '') {
  process.stdout.write(`STEP ${name} ok ${detail}`.trimEnd() + '\n');
}

function fail(name, detail) {
  if (detail instanceof Error) {
    process.stderr.write(`${detail.stack}\n`);
    detail = `${detail.name}: ${detail.message}`;
  }
  process.stdout.write(`STEP ${name} FAIL ${String(detail).replace(/\n/g, ' | ')}\n`, () => process.exit(1));
  throw new StepFailed(name);
}

class StepFailed extends Error {}

// run one step; an exception (or a rejected wait) fails it
async function step(name, body) {
  try {
    await body();
  } catch (err) {
    if (err instanceof StepFailed) throw err;
    fail(name, err);
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// end the driver: 0 when `promise` resolves, 1 (after one FAIL line) when it rejects
function finish(promise, name) {
  promise.then(
    () => process.stdout.write('', () => process.exit(0)),
    (err) => {
      if (err instanceof StepFailed) return; // already reported; exiting
      try {
        fail(name, err);
      } catch {
        // fail() throws to stop the caller; here there is no caller left
      }
    },
  );
}

module.exports = { TIMEOUT, UTF8, parseArgs, ok, fail, step, withTimeout, finish, StepFailed };
