// modesl (npm) against eventsocket serve: Connection inbound steps, or its Server taking one call.
//
//   node modesl_driver.js inbound --host H --port P --password PW
//   node modesl_driver.js outbound --listen-port N   (then send a call to 127.0.0.1:N)
//
// modesl is resolved from ../node/node_modules (installed by the test run with `npm ci`).
//
// modesl sends: `event json BACKGROUND_JOB CHANNEL_EXECUTE_COMPLETE` right after auth, `event json all`
// (lowercase) for subscribe(['ALL']), bgapi with a client-generated `Job-UUID` header and, once a
// filter is set, `filter Job-UUID <id>` / `filter delete Job-UUID <id>` around each bgapi; outbound:
// `connect`, `event json ...`, `myevents`, `sendmsg <uuid>` with an empty `execute-app-arg: `.
'use strict';

const path = require('path');
const crypto = require('crypto');
const { parseArgs, ok, fail, step, withTimeout, finish, TIMEOUT, UTF8 } = require('./_common_node.js');

const esl = require(path.join(__dirname, '..', 'node', 'node_modules', 'modesl'));

const args = parseArgs(process.argv.slice(2));
const newUuid = () => crypto.randomUUID();
const originatePark = (uid) => `{origination_uuid=${uid}}null/1000 &park`;

// a Promise of the first event named `name` for the channel `uid` (modesl emits esl::event::<Name>::<uuid>)
function nextEvent(conn, name, uid, ms = TIMEOUT) {
  return withTimeout(new Promise((resolve) => conn.once(`esl::event::${name}::${uid}`, resolve)), ms,
    `no ${name} for ${uid}`);
}

function connect(password) {
  return new Promise((resolve, reject) => {
    const conn = new esl.Connection(args.host, args.port, password);
    conn.on('error', reject);
    conn.once('esl::event::auth::success', () => resolve({ conn, authed: true }));
    conn.once('esl::event::auth::fail', (evt) => resolve({ conn, authed: false, evt }));
  });
}

const api = (conn, command, arg) => withTimeout(new Promise((resolve) => conn.api(command, arg || '', resolve)),
  TIMEOUT, `api ${command}`);
const sendRecv = (conn, line) => withTimeout(new Promise((resolve) => conn.sendRecv(line, resolve)), TIMEOUT, line);

async function inbound() {
  await step('wrong-password', async () => {
    const { conn, authed, evt } = await withTimeout(connect(args.password + '-wrong'), TIMEOUT, 'no auth reply');
    if (authed) fail('wrong-password', 'authenticated with a wrong password');
    const reply = evt.getHeader('Reply-Text');
    // the server says goodbye and closes: modesl emits esl::end
    await withTimeout(new Promise((resolve) => (conn.socket ? conn.once('esl::end', resolve) : resolve())),
      TIMEOUT, 'not disconnected after -ERR invalid');
    ok('wrong-password', `${reply} (then disconnected)`);
  });

  let conn;
  await step('connect', async () => {
    ({ conn } = await withTimeout(connect(args.password), TIMEOUT, 'no auth reply'));
    ok('connect', `${args.host}:${args.port}`);
  });

  await step('api', async () => {
    const status = (await api(conn, 'status')).getBody();
    if (!status.startsWith('UP ')) fail('api', JSON.stringify(status.slice(0, 80)));
    const echo = (await api(conn, 'echo', `modesl ${UTF8}`)).getBody();
    if (echo !== `modesl ${UTF8}`) fail('api', JSON.stringify(echo));
    ok('api', status.split('\n')[0]);
  });

  await step('bgapi', async () => {
    const reply = await withTimeout(new Promise((resolve) => conn.subscribe(['ALL'], resolve)), TIMEOUT, 'subscribe');
    if (reply.getHeader('Reply-Text') !== '+OK event listener enabled json') fail('bgapi', reply.getHeader('Reply-Text'));
    const marker = `bg-${newUuid()}`;
    const job = newUuid();
    const done = await withTimeout(new Promise((resolve) => conn.bgapi('echo', marker, job, resolve)), TIMEOUT,
      `no BACKGROUND_JOB ${job}`);
    if (done.getHeader('Job-UUID') !== job) fail('bgapi', `Job-UUID ${done.getHeader('Job-UUID')}`);
    if (done.getBody() !== marker) fail('bgapi', JSON.stringify(done.getBody()));
    ok('bgapi', `${job} ${done.getBody()}`);
  });

  await step('api-event', async () => {
    // FreeSWITCH fires an API event for every api command (API-Command, API-Command-Argument)
    const fired = withTimeout(new Promise((resolve) => conn.once('esl::event::API::*', resolve)), TIMEOUT,
      'no API event');
    await api(conn, 'echo', 'api-event');
    const evt = await fired;
    const got = `${evt.getHeader('API-Command')} ${evt.getHeader('API-Command-Argument')}`;
    if (got !== 'echo api-event') fail('api-event', got);
    ok('api-event', got);
  });

  const call = newUuid();
  await step('events', async () => {
    const answer = nextEvent(conn, 'CHANNEL_ANSWER', call);
    const park = nextEvent(conn, 'CHANNEL_PARK', call);
    const result = (await api(conn, 'originate', originatePark(call))).getBody();
    if (result.trim() !== `+OK ${call}`) fail('events', JSON.stringify(result));
    const names = [(await answer).getHeader('Event-Name'), (await park).getHeader('Event-Name')];
    ok('events', `${names.join(' ')} ${call}`);
  });

  await step('filter', async () => {
    const shown = newUuid();
    const hidden = newUuid();
    const seen = { shown: 0, hidden: [] };
    conn.on(`esl::event::*::${shown}`, () => seen.shown++);
    conn.on(`esl::event::*::${hidden}`, (evt) => seen.hidden.push(evt.getHeader('Event-Name')));
    const reply = await withTimeout(new Promise((resolve) => conn.filter('Unique-ID', shown, resolve)), TIMEOUT, 'filter');
    if (reply.getHeader('Reply-Text') !== `+OK filter added. [Unique-ID]=[${shown}]`) {
      fail('filter', reply.getHeader('Reply-Text'));
    }
    const parked = nextEvent(conn, 'CHANNEL_PARK', shown);
    for (const uid of [hidden, shown]) {
      const result = (await api(conn, 'originate', originatePark(uid))).getBody();
      if (result.trim() !== `+OK ${uid}`) fail('filter', JSON.stringify(result));
    }
    await parked;
    const hungUp = nextEvent(conn, 'CHANNEL_HANGUP', shown);
    for (const uid of [hidden, shown]) {
      if (!(await api(conn, 'uuid_kill', uid)).getBody().startsWith('+OK')) fail('filter', 'uuid_kill');
    }
    await hungUp; // after the hidden call's hangup, in order
    // with a filter set, modesl's bgapi adds and removes its own `filter Job-UUID <id>`
    const done = await withTimeout(new Promise((resolve) => conn.bgapi('echo', 'filtered', resolve)), TIMEOUT,
      'no BACKGROUND_JOB while filtered');
    if (done.getBody() !== 'filtered') fail('filter', JSON.stringify(done.getBody()));
    if (seen.hidden.length) fail('filter', `filtered-out events arrived: ${seen.hidden}`);
    const deleted = await sendRecv(conn, `filter delete Unique-ID ${shown}`);
    if (!deleted.getHeader('Reply-Text').startsWith('+OK filter deleted.')) fail('filter', deleted.getHeader('Reply-Text'));
    ok('filter', `passed=${seen.shown} leaked=0`);
  });

  await step('execute', async () => {
    // inbound execute: `sendmsg <uuid>` with an Event-UUID, answered by CHANNEL_EXECUTE_COMPLETE
    const done = await withTimeout(new Promise((resolve) => conn.execute('playback', 'silence_stream://100', call,
      resolve)), TIMEOUT, 'no CHANNEL_EXECUTE_COMPLETE');
    ok('execute', `${done.getHeader('Application')} ${done.getHeader('Application-Response')}`);
  });

  await step('kill', async () => {
    // the rest of the connection gets xml events, which modesl parses with xml2js
    const reply = await withTimeout(new Promise((resolve) => conn.events('xml', ['CHANNEL_HANGUP'], resolve)),
      TIMEOUT, 'event xml');
    if (reply.getHeader('Reply-Text') !== '+OK event listener enabled xml') fail('kill', reply.getHeader('Reply-Text'));
    let format;
    const hangup = withTimeout(new Promise((resolve) => conn.once(`esl::event::CHANNEL_HANGUP::${call}`,
      (evt, headers) => { format = headers['Content-Type']; resolve(evt); })), TIMEOUT, `no CHANNEL_HANGUP for ${call}`);
    const result = (await api(conn, 'uuid_kill', call)).getBody();
    if (!result.startsWith('+OK')) fail('kill', JSON.stringify(result));
    const evt = await hangup;
    if (format !== 'text/event-xml') fail('kill', `CHANNEL_HANGUP came as ${format}`);
    ok('kill', `${call} (xml) ${evt.getHeader('Hangup-Cause')}`);
  });

  await step('disconnect', async () => {
    const ended = new Promise((resolve) => conn.once('esl::end', resolve));
    conn.disconnect();
    await withTimeout(ended, TIMEOUT, 'socket not closed');
    ok('disconnect');
  });
}

async function outbound() {
  let server;
  await step('listen', async () => {
    server = await withTimeout(new Promise((resolve) => {
      const s = new esl.Server({ port: args.listenPort, host: '127.0.0.1', myevents: true }, () => resolve(s));
    }), TIMEOUT, 'not listening');
    ok('listen', args.listenPort);
  });

  const conn = await withTimeout(new Promise((resolve) => server.once('connection::ready', resolve)), 30000,
    'no call arrived');
  // 'connect' and myevents are done; getInfo() is the channel data of the connect reply
  const execute = (app, arg) => withTimeout(new Promise((resolve) => conn.execute(app, arg, resolve)), TIMEOUT,
    `no CHANNEL_EXECUTE_COMPLETE for ${app}`);
  let uid;
  await step('connect', async () => {
    const info = conn.getInfo();
    uid = info.getHeader('Unique-ID');
    if (info.getHeader('Socket-Mode') !== args.socketMode) fail('connect', info.getHeader('Socket-Mode'));
    ok('connect', `${uid} from ${info.getHeader('Caller-Caller-ID-Number')} ${info.getHeader('Channel-Name')}`);
  });
  await step('answer', async () => {
    ok('answer', (await execute('answer', '')).getHeader('Event-Name')); // sends an empty execute-app-arg
  });
  await step('playback', async () => {
    ok('playback', (await execute('playback', 'silence_stream://200')).getHeader('Application-Response'));
  });
  await step('hangup', async () => {
    const hangup = nextEvent(conn, 'CHANNEL_HANGUP', uid);
    conn.execute('hangup', 'NORMAL_CLEARING');
    ok('hangup', (await hangup).getHeader('Hangup-Cause'));
  });
  await step('done', async () => {
    // the server sends its goodbye and closes after the hangup (no linger): modesl emits esl::end
    await withTimeout(new Promise((resolve) => (conn.socket ? conn.once('esl::end', resolve) : resolve())),
      TIMEOUT, 'socket not closed after hangup');
    await new Promise((resolve) => server.close(resolve));
    ok('done');
  });
}

finish(args.mode === 'inbound' ? inbound() : outbound(), args.mode);
