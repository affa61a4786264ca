// Drives Segment's published Public API SDK (unchanged) against the emulator at process.argv[2].
// Prints one JSON object with what the SDK decoded; the pytest side asserts on it.
const sdk = require('@segment/public-api-sdk-typescript');

const base = process.argv[2];
const token = process.argv[3];

function api(Cls) {
  const client = new Cls(base);
  client.accessToken = token;
  return client;
}

async function main() {
  const out = {};
  const catalog = api(sdk.CatalogApi);
  const sources = api(sdk.SourcesApi);
  const retl = api(sdk.ReverseETLApi);
  const destinations = api(sdk.DestinationsApi);

  const meta = await sdk.unwrap(catalog.getDestinationMetadata('639c2dbb1309fdcad13951b6'));
  out.actions = meta.destinationMetadata.actions.map((a) => [a.slug, a.id]);

  const created = [];
  for (const slug of ['retl-a', 'retl-b', 'retl-c']) {
    const s = await sdk.unwrap(sources.createSource({ slug, enabled: true, metadataId: 'WvlvcGEJsT',
      settings: { hostname: 'db', password: 'pw-should-be-masked' } }));
    created.push(s.source.id);
  }
  out.sourceIds = created;
  out.sourceSettings = (await sdk.unwrap(sources.getSource(created[0]))).source.settings;
  const renamed = await sdk.unwrap(sources.updateSource(created[0], { name: 'Warehouse' }));
  out.sourceName = renamed.source.name;

  // Walk the source list two at a time: the SDK serialises pagination itself.
  const listed = [];
  let cursor;
  let pages = 0;
  do {
    const page = await sdk.unwrap(sources.listSources(cursor ? { count: 2, cursor } : { count: 2 }));
    listed.push(...page.sources.map((s) => s.id));
    cursor = page.pagination.next;
    pages += 1;
  } while (cursor && pages < 10);
  out.listedSourceIds = listed;
  out.sourcePages = pages;

  const model = await sdk.unwrap(retl.createReverseEtlModel({ sourceId: created[0], name: 'users',
    description: 'Users', enabled: true, query: 'SELECT id FROM users', queryIdentifierColumn: 'id',
    scheduleStrategy: 'MANUAL', scheduleConfig: {} }));
  const modelId = model.reverseEtlModel.id;
  const updatedModel = await sdk.unwrap(retl.updateReverseEtlModel(modelId, { enabled: false,
    scheduleStrategy: 'MANUAL', scheduleConfig: {} }));
  out.modelEnabled = updatedModel.reverseEtlModel.enabled;
  out.models = (await sdk.unwrap(retl.listReverseEtlModels({ count: 10 }))).models.map((m) => m.id);
  out.modelId = modelId;

  const dest = await sdk.unwrap(destinations.createDestination({ sourceId: created[0],
    metadataId: '639c2dbb1309fdcad13951b6', name: 'Profiles', enabled: false, settings: {} }));
  const destinationId = dest.destination.id;
  out.destinationId = destinationId;
  out.destinationSlug = (await sdk.unwrap(destinations.getDestination(destinationId))).destination.metadata.slug;
  out.destinationEnabled = (await sdk.unwrap(destinations.updateDestination(destinationId, { enabled: true })))
    .destination.enabled;

  const sub = await sdk.unwrap(destinations.createDestinationSubscription(destinationId, { name: 'Identify',
    actionId: 'vm2tNA5U1zxUusQkdC4D7Z', trigger: 'event = "new"', enabled: true, modelId,
    settings: { engage_space: 'k', user_id: { '@path': '$.properties.id' } } }));
  const subId = sub.destinationSubscription.id;
  out.subscriptionSlug = sub.destinationSubscription.actionSlug;
  const updatedSub = await sdk.unwrap(destinations.updateSubscriptionForDestination(destinationId, subId,
    { input: { name: 'Identify users', trigger: 'event = "new" or event = "updated"' } }));
  out.subscriptionName = updatedSub.subscription.name;
  out.subscriptionFetched = (await sdk.unwrap(destinations.getSubscriptionFromDestination(destinationId, subId)))
    .subscription.trigger;
  out.subscriptions = (await sdk.unwrap(destinations.listSubscriptionsFromDestination(destinationId, { count: 5 })))
    .subscriptions.map((s) => s.id);

  const sync = await sdk.unwrap(retl.createReverseETLManualSync({ sourceId: created[0], modelId,
    subscriptionId: subId }));
  out.syncId = sync.reverseETLManualSync.syncId;
  const status = await sdk.unwrap(retl.getReverseETLSyncFromModel(modelId, out.syncId));
  out.syncStatus = status.reverseETLSync.syncStatus;
  out.syncExtractCount = status.reverseETLSync.extractPhase.extractCount;

  try {
    await sdk.unwrap(sources.getSource('doesNotExist'));
    out.missing = 'no error';
  } catch (err) {
    out.missing = err.type;
  }
  try {
    await sdk.unwrap(sources.createSource({ slug: 'x', enabled: true }));
    out.invalid = 'no error';
  } catch (err) {
    out.invalid = [err.type, err.field];
  }

  out.deleteSubscription = (await sdk.unwrap(destinations.removeSubscriptionFromDestination(destinationId, subId)))
    .status;
  out.deleteDestination = (await sdk.unwrap(destinations.deleteDestination(destinationId))).status;
  out.deleteModel = (await sdk.unwrap(retl.deleteReverseEtlModel(modelId))).status;
  out.deleteSource = (await sdk.unwrap(sources.deleteSource(created[2]))).status;
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(`FAILED: ${JSON.stringify(err && (err.body || err.message || err))}\n${err && err.stack}\n`);
  process.exit(1);
});
