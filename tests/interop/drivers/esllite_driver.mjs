// esl-lite (npm) against eventsocket serve: FreeSwitchClient inbound steps (esl-lite has no server mode).
//
//   node esllite_driver.mjs inbound --host H --port P --password PW
//
// esl-lite is resolved from ../node/node_modules (installed by the test run with `npm ci`).
//
// What esl-lite puts on the wire: `auth`, one `event json <NAME>` per event name it handles
// (CUSTOM, CHANNEL_EXECUTE_COMPLETE and BACKGROUND_JOB first, then one per `.on(NAME)`), and
// `bgapi <command>` with a lowercase `job-uuid: <ULID>` header; it has no `api` (an api/response
// is dropped as unexpected), so `api` steps go through bgapi. It has no public filter method:
// the driver reaches its generic `send()` for `filter`, as a subclass would.
//
// Client behaviour worked around here (esl-lite's, not the server's): after `-ERR invalid` the
// server says goodbye and closes (as FreeSWITCH does), and esl-lite reconnects and retries the
// same password for ever; the driver calls `end()` once it has seen the reply. A reconnect that
// races `end()` may log ERR_STREAM_WRITE_AFTER_END on stderr; harmless.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { parseArgs, ok, fail, step, withTimeout, finish, TIMEOUT, UTF8 } = require('./_common_node.js');
const here = path.dirname(fileURLToPath(import.meta.url));
const { FreeSwitchClient } = await import(path.join(here, '..', 'node', 'node_modules', 'esl-lite', 'esl-lite.mjs'));

const args = parseArgs(process.argv.slice(2));
const originatePark = (uid) => `{origination_uuid=${uid}}null/1000 &park`;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

// a pino-shaped logger that keeps the replies to `auth` (logged at debug as "Authenticated")
function makeLogger(authReplies) {
  const quiet = () => {};
  const log = {
    trace: quiet, info: quiet, warn: quiet, fatal: quiet, silent: quiet,
    error: (obj, msg) => process.stderr.write(`esl-lite error: ${msg} ${JSON.stringify(obj, bigints)}\n`),
    debug: (obj, msg) => {
      if (msg === 'Authenticated') authReplies.push(obj?.res?.headers?.replyText ?? String(obj?.res));
    },
    child: () => log,
  };
  return log;
}

function bigints(_key, value) {
  return typeof value === 'bigint' ? value.toString() : value;
}

function client(password, authReplies) {
  return new FreeSwitchClient({ host: args.host, port: args.port, password, logger: makeLogger(authReplies) });
}

async function waitFor(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// resolves with the first event `name` whose Unique-ID is `uid`
function nextEvent(fs, name, uid, ms = TIMEOUT) {
  return withTimeout(new Promise((resolve) => {
    const handler = (ev) => {
      if (ev.body.uniqueID === uid) {
        fs.removeListener(name, handler);
        resolve(ev);
      }
    };
    fs.on(name, handler);
  }), ms, `no ${name} for ${uid}`);
}

async function bgapi(fs, command) {
  const res = await fs.bgapi(command, TIMEOUT); // errors are returned, not thrown
  if (res instanceof Error) throw res;
  return res;
}

async function command(fs, line) {
  const res = await fs.send(line, {}, undefined, TIMEOUT);
  if (res instanceof Error) throw res;
  return res.headers.replyText;
}

async function inbound() {
  await step('wrong-password', async () => {
    const replies = [];
    const bad = client(args.password + '-wrong', replies);
    await waitFor(() => replies.length > 0, TIMEOUT, 'no reply to auth');
    bad.end(); // esl-lite would otherwise reconnect and retry for ever
    if (replies[0] !== '-ERR invalid') fail('wrong-password', replies[0]);
    ok('wrong-password', replies[0]);
  });

  const replies = [];
  let fs;
  await step('connect', async () => {
    fs = client(args.password, replies);
    await waitFor(() => replies.length > 0, TIMEOUT, 'no reply to auth');
    if (replies[0] !== '+OK accepted') fail('connect', replies[0]);
    ok('connect', `${args.host}:${args.port}`);
  });

  await step('api', async () => {
    const res = await bgapi(fs, 'status');
    const status = String(res.body.response);
    if (!status.startsWith('UP ')) fail('api', JSON.stringify(status.slice(0, 80)));
    ok('api', status.split('\n')[0]);
  });

  await step('bgapi', async () => {
    const marker = `bg-${randomUUID()}`;
    const res = await bgapi(fs, `echo ${marker} ${UTF8}`); // resolved by the BACKGROUND_JOB carrying its ULID
    const job = res.body.jobUUID;
    if (!ULID.test(job)) fail('bgapi', `Job-UUID ${job} is not the client's ULID`);
    if (res.body.response !== `${marker} ${UTF8}`) fail('bgapi', JSON.stringify(res.body.response));
    ok('bgapi', `${job} ${marker}`);
  });

  const call = randomUUID();
  await step('events', async () => {
    const answer = nextEvent(fs, 'CHANNEL_ANSWER', call); // each .on() sends `event json <NAME>`
    const park = nextEvent(fs, 'CHANNEL_PARK', call);
    const res = await bgapi(fs, `originate ${originatePark(call)}`);
    if (String(res.body.response).trim() !== `+OK ${call}`) fail('events', JSON.stringify(res.body.response));
    ok('events', `${(await answer).body.eventName} ${(await park).body.eventName} ${call}`);
  });

  await step('filter', async () => {
    const shown = randomUUID();
    const hidden = randomUUID();
    const seen = { shown: 0, hidden: [] };
    fs.on('ALL', (ev) => {
      if (ev.body.uniqueID === shown) seen.shown++;
      if (ev.body.uniqueID === hidden) seen.hidden.push(ev.body.eventName);
    });
    const hungUp = nextEvent(fs, 'CHANNEL_HANGUP', shown);
    const parked = nextEvent(fs, 'CHANNEL_PARK', shown);
    let reply = await command(fs, `filter Unique-ID ${shown}`);
    if (reply !== `+OK filter added. [Unique-ID]=[${shown}]`) fail('filter', reply);
    // esl-lite's bgapi needs BACKGROUND_JOB, which has no Unique-ID: let it through by name
    reply = await command(fs, 'filter Event-Name BACKGROUND_JOB');
    if (reply !== '+OK filter added. [Event-Name]=[BACKGROUND_JOB]') fail('filter', reply);
    for (const uid of [hidden, shown]) {
      const res = await bgapi(fs, `originate ${originatePark(uid)}`);
      if (String(res.body.response).trim() !== `+OK ${uid}`) fail('filter', JSON.stringify(res.body.response));
    }
    await parked;
    for (const uid of [hidden, shown]) {
      const res = await bgapi(fs, `uuid_kill ${uid}`);
      if (!String(res.body.response).startsWith('+OK')) fail('filter', JSON.stringify(res.body.response));
    }
    await hungUp; // after the hidden call's hangup, in order
    if (seen.hidden.length) fail('filter', `filtered-out events arrived: ${seen.hidden}`);
    for (const line of [`filter delete Unique-ID ${shown}`, 'filter delete Event-Name BACKGROUND_JOB']) {
      reply = await command(fs, line);
      if (!reply.startsWith('+OK filter deleted.')) fail('filter', reply);
    }
    ok('filter', `passed=${seen.shown} leaked=0`);
  });

  await step('execute', async () => {
    // command_uuid: `sendmsg <uuid>` with a lowercase `event-uuid: <ULID>` and the argument as a
    // text/plain body; resolved by the CHANNEL_EXECUTE_COMPLETE whose Application-UUID is that ULID
    const res = await fs.command_uuid(call, 'playback', 'silence_stream://100', TIMEOUT);
    if (res instanceof Error) throw res;
    if (!ULID.test(res.body.applicationUUID)) fail('execute', `Application-UUID ${res.body.applicationUUID}`);
    if (res.body.data['Application-Data'] !== 'silence_stream://100') {
      fail('execute', `Application-Data ${res.body.data['Application-Data']}`);
    }
    // hangup_uuid: `sendmsg <uuid>` with `call-command: hangup` and `hangup-cause`
    const other = randomUUID();
    const hangup = nextEvent(fs, 'CHANNEL_HANGUP', other);
    const made = await bgapi(fs, `originate ${originatePark(other)}`);
    if (String(made.body.response).trim() !== `+OK ${other}`) fail('execute', JSON.stringify(made.body.response));
    const sent = await fs.hangup_uuid(other, 'USER_BUSY', TIMEOUT);
    if (sent instanceof Error) throw sent;
    const cause = (await hangup).body.data['Hangup-Cause'];
    if (cause !== 'USER_BUSY') fail('execute', `hangup_uuid: Hangup-Cause ${cause}`);
    ok('execute', `${res.body.data.Application} ${res.body.data['Application-Response']} (hangup_uuid ${cause})`);
  });

  await step('kill', async () => {
    const hangup = nextEvent(fs, 'CHANNEL_HANGUP', call);
    const res = await bgapi(fs, `uuid_kill ${call}`);
    if (!String(res.body.response).startsWith('+OK')) fail('kill', JSON.stringify(res.body.response));
    ok('kill', `${call} ${(await hangup).body.data['Hangup-Cause']}`);
  });

  await step('disconnect', async () => {
    fs.end();
    ok('disconnect');
  });
}

if (args.mode !== 'inbound') fail(args.mode, 'esl-lite has no server (outbound) mode');
finish(inbound(), args.mode);
