// Sends identify, track and group calls with Segment's Node tracking client (unchanged) to the
// emulator at process.argv[2], using the write key process.argv[3]; prints any delivery errors.
const { Analytics } = require('@segment/analytics-node');

const analytics = new Analytics({ writeKey: process.argv[3], host: process.argv[2], flushInterval: 50, maxRetries: 0 });
const errors = [];
analytics.on('error', (err) => errors.push(String(err && (err.reason || err.code || err))));
analytics.identify({ userId: 'node-user', traits: { plan: 'pro', email: 'node@example.com' } });
analytics.track({ userId: 'node-user', event: 'Node Event', properties: { amount: 3 } });
analytics.group({ userId: 'node-user', groupId: 'node-acct', traits: { name: 'Node Corp' } });
analytics.closeAndFlush().then(() => process.stdout.write(JSON.stringify({ errors })));
