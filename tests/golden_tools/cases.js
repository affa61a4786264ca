// Cases for generate.js: (action, mapping, Reverse ETL record). Pure data, no Segment code.
'use strict'

const ENGAGE_SPACE = 'golden_profile_space_key'
const col = (name) => ({ '@path': `$.properties.${name}` })
const rec = (properties, event = 'new', id = 'u_1') => ({ event, __segment_id: id, properties })

const USER = {
  id: 'u_1',
  email: 'jane@example.com',
  plan: 'pro',
  seats: 12,
  score: 3.75,
  active: true,
  updated_at: '2024-05-01T10:00:00Z',
  nickname: null,
  blank: ''
}

const identifyCases = [
  ['identify_basic', { user_id: col('id'), traits: { email: col('email'), plan: col('plan') }, timestamp: col('updated_at') }, rec(USER)],
  ['identify_every_field', {
    user_id: col('id'), anonymous_id: { '@template': 'anon-{{properties.id}}' }, group_id: col('account'),
    traits: { email: col('email'), seats: col('seats') }, timestamp: col('updated_at'), message_id: { '@template': 'm-{{__segment_id}}' },
    consent: { categoryPreferences: { analytics: true, marketing: false } }
  }, rec({ ...USER, account: 'acct_9' })],
  ['identify_anonymous_only', { anonymous_id: col('id'), traits: { plan: col('plan') } }, rec(USER)],
  ['identify_missing_ids', { user_id: col('missing_col'), traits: { plan: col('plan') } }, rec(USER)],
  ['identify_null_user_id', { user_id: col('nickname'), traits: { plan: col('plan') } }, rec(USER)],
  ['identify_empty_user_id_with_anon', { user_id: col('blank'), anonymous_id: col('id') }, rec(USER)],
  ['identify_number_user_id', { user_id: col('seats'), group_id: col('score') }, rec(USER)],
  ['identify_bool_ids', { user_id: col('active'), anonymous_id: { '@literal': false } }, rec(USER)],
  ['identify_nulls_in_traits', { user_id: col('id'), traits: { nickname: col('nickname'), blank: col('blank'), gone: col('nope'), seats: col('seats') } }, rec(USER)],
  ['identify_traits_whole_object', { user_id: col('id'), traits: col('attrs') }, rec({ ...USER, attrs: { a: 1, b: { c: [1, 'x', null] }, d: null } })],
  ['identify_traits_null_column', { user_id: col('id'), traits: col('nickname') }, rec(USER)],
  ['identify_traits_string_column', { user_id: col('id'), traits: col('email') }, rec(USER)],
  ['identify_traits_array_column', { user_id: col('id'), traits: col('tags') }, rec({ ...USER, tags: ['a', 'b'] })],
  ['identify_exclude_when_null', {
    user_id: col('id'),
    traits: { nickname: { '@excludeWhenNull': col('nickname') }, plan: { '@excludeWhenNull': col('plan') }, blank: { '@excludeWhenNull': col('blank') } }
  }, rec(USER)],
  ['identify_exclude_when_null_object', { user_id: col('id'), traits: { '@excludeWhenNull': col('attrs') } }, rec({ ...USER, attrs: { a: null, b: { c: null, d: 1 }, e: [null] } })],
  ['identify_template_non_strings', {
    user_id: col('id'),
    traits: { t1: { '@template': '{{properties.seats}}/{{properties.score}}/{{properties.active}}/{{properties.nickname}}/{{properties.nope}}' },
      t2: { '@template': '{{properties.attrs}}|{{properties.tags}}|{{{properties.plan}}}|{{ properties.email }}' } }
  }, rec({ ...USER, attrs: { a: 1 }, tags: [1, null, 'x'] })],
  ['identify_path_syntax', {
    user_id: col('id'),
    traits: { first_tag: { '@path': '$.properties.tags[0]' }, quoted: { '@path': "$.properties['odd key']" }, dq: { '@path': '$.properties["odd key"]' },
      nested: { '@path': '$.properties.attrs.inner.deep' }, no_dollar: { '@path': 'properties.plan' }, root_id: { '@path': '$.__segment_id' },
      ev: { '@path': '$.event' }, through_null: { '@path': '$.properties.nickname.x' }, through_zero: { '@path': '$.properties.zero.x' },
      str_len: { '@path': '$.properties.plan.length' }, arr_idx2: { '@path': '$.properties.tags.1' } }
  }, rec({ ...USER, tags: ['a', 'b'], 'odd key': 'ok', attrs: { inner: { deep: 42 } }, zero: 0 })],
  ['identify_timestamp_formats_number', { user_id: col('id'), timestamp: col('ts') }, rec({ ...USER, ts: 1714557600 })],
  ['identify_timestamp_numeric_string', { user_id: col('id'), timestamp: col('ts') }, rec({ ...USER, ts: '1714557600' })],
  ['identify_timestamp_date_only', { user_id: col('id'), timestamp: col('ts') }, rec({ ...USER, ts: '2024-05-01' })],
  ['identify_timestamp_invalid', { user_id: col('id'), timestamp: col('ts') }, rec({ ...USER, ts: 'not a date' })],
  ['identify_timestamp_bool', { user_id: col('id'), timestamp: col('active') }, rec(USER)],
  ['identify_timestamp_object', { user_id: col('id'), timestamp: col('ts') }, rec({ ...USER, ts: { a: 1 } })],
  ['identify_timestamp_null', { user_id: col('id'), timestamp: col('nickname') }, rec(USER)],
  ['identify_timestamp_empty', { user_id: col('id'), timestamp: col('blank') }, rec(USER)],
  ['identify_user_id_object', { user_id: col('attrs') }, rec({ ...USER, attrs: { a: 1 } })],
  ['identify_user_id_array_one', { user_id: col('tags') }, rec({ ...USER, tags: ['only'] })],
  ['identify_user_id_array_one_number', { user_id: col('tags') }, rec({ ...USER, tags: [7] })],
  ['identify_user_id_array_two', { user_id: col('tags'), anonymous_id: col('id') }, rec({ ...USER, tags: ['a', 'b'] })],
  ['identify_multiple_type_errors', { user_id: col('attrs'), group_id: col('tags'), timestamp: col('attrs') }, rec({ ...USER, attrs: { a: 1 }, tags: [1, 2] })],
  ['identify_consent_invalid', { user_id: col('id'), consent: { categoryPreferences: { analytics: 'yes' } } }, rec(USER)],
  ['identify_consent_no_category', { user_id: col('id'), consent: { other: true } }, rec(USER)],
  ['identify_consent_from_column', { user_id: col('id'), consent: col('consent') }, rec({ ...USER, consent: { categoryPreferences: { ads: false } } })],
  ['identify_consent_string', { user_id: col('id'), consent: col('email') }, rec(USER)],
  ['identify_default_paths', { user_id: col('id'), timestamp: { '@path': '$.timestamp' }, message_id: { '@path': '$.messageId' }, consent: { '@path': '$.context.consent' } }, rec(USER)],
  ['identify_unicode', { user_id: col('id'), traits: { name: col('name'), emoji: col('emoji') } }, rec({ ...USER, name: 'Zoë Ångström 山田', emoji: '🎉\u2028x' })],
  ['identify_big_and_odd_numbers', {
    user_id: col('big'),
    traits: { big: col('big'), small: col('small'), huge: col('huge'), neg: col('neg'), frac: col('frac'), zero: col('nzero'), t: { '@template': '{{properties.huge}} {{properties.small}} {{properties.frac}} {{properties.big}}' } },
    group_id: col('huge'), anonymous_id: col('small'), message_id: col('frac')
  }, rec({ ...USER, big: 12345678901234567000, small: 1e-7, huge: 1e21, neg: -0.5, frac: 0.1 + 0.2, nzero: -0 })],
  ['identify_unknown_keys_removed', { user_id: col('id'), event_name: 'x', properties: { a: 1 }, foo: 'bar' }, rec(USER)],
  ['identify_deleted_record', { user_id: { '@path': '$.__segment_id' }, traits: { email: col('email'), plan: col('plan') }, timestamp: col('updated_at') },
    rec({ id: null, email: null, plan: null, updated_at: null }, 'deleted', 'u_gone')],
  ['identify_missing_engage_space', { user_id: col('id') }, rec(USER), true],
  ['identify_if_case_replace', {
    user_id: col('id'),
    traits: {
      if_exists: { '@if': { exists: col('plan'), then: 'has', else: 'none' } },
      if_missing: { '@if': { exists: col('nickname'), then: 'has', else: 'none' } },
      if_blank: { '@if': { blank: col('blank'), then: 'filled', else: 'blank' } },
      upper: { '@case': { operator: 'upper', value: col('plan') } },
      lower_num: { '@case': { operator: 'lower', value: col('seats') } },
      replaced: { '@replace': { pattern: '.', replacement: '[dot]', value: col('email') } },
      replaced_num: { '@replace': { pattern: '2', replacement: 'two', value: col('seats') } }
    }
  }, rec(USER)],
  ['identify_json_merge_flatten', {
    user_id: col('id'),
    traits: {
      enc: { '@json': { mode: 'encode', value: col('attrs') } },
      dec: { '@json': { mode: 'decode', value: col('json_text') } },
      bad: { '@json': { mode: 'decode', value: col('plan') } },
      flat: { '@flatten': { separator: '_', value: col('attrs') } },
      merged: { '@merge': { direction: 'right', objects: [col('attrs'), { b: 'override', z: 1 }] } }
    }
  }, rec({ ...USER, attrs: { a: 1, b: { c: 2, d: [3, 4] } }, json_text: '{"k":[1,2]}' })],
  ['identify_array_path', {
    user_id: col('id'),
    traits: { items: { '@arrayPath': ['$.properties.items', { sku: { '@path': '$.id' }, n: { '@path': '$.qty' } }] } }
  }, rec({ ...USER, items: [{ id: 'a', qty: 1 }, { id: 'b' }] })],
  ['identify_literal_values', { user_id: 'fixed-user', traits: { n: 1, s: 'x', b: false, nul: null, obj: { k: 'v' }, arr: [1, { '@path': '$.properties.plan' }] } }, rec(USER)]
]

const groupCases = [
  ['group_basic', { user_id: col('id'), group_id: col('account'), traits: { name: col('name'), employees: col('employees') }, timestamp: col('updated_at') },
    rec({ id: 'u_1', account: 'acct_42', name: 'Initech', employees: 420, updated_at: '2024-05-01T10:00:00Z' })],
  ['group_missing_group_id', { user_id: col('id'), traits: { name: col('name') } }, rec({ id: 'u_1', name: 'Initech' })],
  ['group_null_group_id', { user_id: col('id'), group_id: col('account') }, rec({ id: 'u_1', account: null })],
  ['group_empty_group_id', { user_id: col('id'), group_id: col('account') }, rec({ id: 'u_1', account: '' })],
  ['group_missing_ids', { group_id: col('account') }, rec({ account: 'acct_1' })],
  ['group_number_group_id', { anonymous_id: col('id'), group_id: col('account'), message_id: { '@template': '{{properties.account}}-{{event}}' } }, rec({ id: 'a_1', account: 987654321 })],
  ['group_missing_group_and_ids', { traits: { x: 1 } }, rec({})],
  ['group_deleted_record', { user_id: col('id'), group_id: { '@path': '$.__segment_id' }, traits: { name: col('name') } }, rec({ id: null, name: null }, 'deleted', 'acct_7')],
  ['group_consent_valid', { user_id: col('id'), group_id: col('id'), consent: { categoryPreferences: { a: true, b: false } } }, rec({ id: 'g' })]
]

const trackCases = [
  ['track_basic', { user_id: col('id'), event_name: 'Subscription Renewed', properties: { plan: col('plan'), amount: col('amount') }, timestamp: col('ts') },
    rec({ id: 'u_1', plan: 'pro', amount: 49, ts: '2024-05-01T10:00:00Z' })],
  ['track_missing_event_name', { user_id: col('id'), properties: { plan: col('plan') } }, rec({ id: 'u_1', plan: 'pro' })],
  ['track_null_event_name', { user_id: col('id'), event_name: col('name') }, rec({ id: 'u_1', name: null })],
  ['track_empty_event_name', { user_id: col('id'), event_name: col('name') }, rec({ id: 'u_1', name: '' })],
  ['track_event_name_number', { user_id: col('id'), event_name: col('name') }, rec({ id: 'u_1', name: 404 })],
  ['track_event_name_template', { anonymous_id: col('id'), event_name: { '@template': 'Record {{event}}' }, group_id: col('g') }, rec({ id: 'a', g: 'grp' }, 'updated')],
  ['track_missing_ids', { event_name: 'X' }, rec({})],
  ['track_missing_ids_and_event', { properties: { a: 1 } }, rec({})],
  ['track_nested_properties', { user_id: col('id'), event_name: 'Order', properties: col('order') },
    rec({ id: 'u_1', order: { total: 10.5, items: [{ sku: 'a', q: 1 }], meta: { empty: '', none: null } } })],
  ['track_properties_nulls', { user_id: col('id'), event_name: 'E', properties: { a: col('a'), b: col('b'), c: col('c') } }, rec({ id: 'u_1', a: null, b: '', c: 0 })],
  ['track_deleted_record', { user_id: { '@path': '$.__segment_id' }, event_name: { '@template': 'User {{event}}' }, properties: { plan: col('plan') } },
    rec({ id: null, plan: null }, 'deleted', 'u_del')],
  ['track_every_field', {
    user_id: col('id'), anonymous_id: col('anon'), timestamp: col('ts'), event_name: col('ev'), group_id: col('g'),
    properties: { a: col('a') }, message_id: col('mid'), consent: col('consent')
  }, rec({ id: 'u', anon: 'an', ts: 1714557600000, ev: 'Evt', g: 'grp', a: [1, 2], mid: 'mid-1', consent: { categoryPreferences: { x: true } } })]
]

const subRec = (props) => rec({ id: 'u_1', email: 'jane@example.com', phone: '+14155550100', android: 'tok_and', ios: 'tok_ios', ...props })
const SUB_ALL = {
  user_id: col('id'), email: col('email'), email_subscription_status: col('es'), subscription_groups: col('groups'),
  phone: col('phone'), sms_subscription_status: col('ss'), whatsapp_subscription_status: col('ws'),
  android_push_token: col('android'), android_push_subscription_status: col('as'),
  ios_push_token: col('ios'), ios_push_subscription_status: col('is')
}

const subscriptionCases = [
  ['sub_reference_example', {
    user_id: col('id'), email: col('email'), email_subscription_status: col('es'),
    subscription_groups: { newsletter: col('g1'), promotions: col('g2'), digest: col('g3') },
    phone: col('phone'), sms_subscription_status: col('ss'), whatsapp_subscription_status: col('ws'),
    ios_push_token: col('ios'), ios_push_subscription_status: col('is')
  }, subRec({ es: 'true', g1: 'false', g2: 'Subscribed', g3: '', ss: 'unsubscribed', ws: null, is: 'did_not_subscribe' })],
  ['sub_all_channels', SUB_ALL, subRec({ es: 'subscribed', groups: { a: 'true', b: 'did-not-subscribe' }, ss: 'false', ws: 'true', as: false, is: true })],
  ['sub_status_spellings_upper', SUB_ALL, subRec({ es: 'TRUE', ss: ' Subscribed ', ws: 'UNSUBSCRIBED', as: 'Did_Not_Subscribe', is: 'DID-NOT-SUBSCRIBE' })],
  ['sub_status_invalid_some', SUB_ALL, subRec({ es: 'maybe', ss: 'true', ws: 'nah', as: 'yes', is: 'false' })],
  ['sub_status_invalid_all', SUB_ALL, subRec({ es: 'maybe', ss: 'x', ws: 'nah', as: 'yes', is: 'no' })],
  ['sub_status_invalid_four', SUB_ALL, subRec({ es: 'maybe', ss: 'x', ws: 'nah', as: 'yes' })],
  ['sub_status_bool_columns', SUB_ALL, subRec({ es: true, ss: false, ws: null, as: '', is: 1 })],
  ['sub_missing_external_ids', { user_id: col('id'), email_subscription_status: col('es') }, subRec({ es: 'true' })],
  ['sub_missing_statuses', { user_id: col('id'), email: col('email'), phone: col('phone') }, subRec({})],
  ['sub_all_statuses_null', SUB_ALL, subRec({ es: null, ss: null, ws: null, as: null, is: null })],
  ['sub_status_without_email', { user_id: col('id'), phone: col('phone'), email_subscription_status: col('es'), sms_subscription_status: col('ss') }, subRec({ es: 'true', ss: 'true' })],
  ['sub_groups_without_email_status', { user_id: col('id'), email: col('email'), phone: col('phone'), sms_subscription_status: col('ss'), subscription_groups: { news: col('g') } }, subRec({ ss: 'true', g: 'true' })],
  ['sub_sms_without_phone', { user_id: col('id'), email: col('email'), email_subscription_status: col('es'), whatsapp_subscription_status: col('ws') }, subRec({ es: 'true', ws: 'true' })],
  ['sub_android_without_token', { user_id: col('id'), email: col('email'), email_subscription_status: col('es'), android_push_subscription_status: col('as') }, subRec({ es: 'true', as: 'true' })],
  ['sub_ios_without_token', { user_id: col('id'), email: col('email'), email_subscription_status: col('es'), ios_push_subscription_status: col('is') }, subRec({ es: 'true', is: 'true' })],
  ['sub_groups_values', { email: col('email'), email_subscription_status: col('es'), subscription_groups: col('groups') },
    subRec({ es: 'true', groups: { n: null, num: 1, bool: false, obj: { x: 1 }, empty: '', word: 'Unsubscribed', sp: '  true ' } })],
  ['sub_groups_empty_object', { email: col('email'), email_subscription_status: col('es'), subscription_groups: col('groups') }, subRec({ es: 'false', groups: {} })],
  ['sub_groups_email_invalid_status', { email: col('email'), email_subscription_status: col('es'), subscription_groups: { g: col('g') } }, subRec({ es: 'bogus', g: 'true' })],
  ['sub_anonymous_no_user', { anonymous_id: col('id'), android_push_token: col('android'), android_push_subscription_status: col('as'), traits: { plan: col('plan') } },
    subRec({ as: 'unsubscribed', plan: null })],
  ['sub_no_user_or_anon', { phone: col('phone'), sms_subscription_status: col('ss') }, subRec({ ss: 'true' })],
  ['sub_identifier_without_status', { email: col('email'), phone: col('phone'), ios_push_token: col('ios'), sms_subscription_status: col('ss') }, subRec({ ss: 'true' })],
  ['sub_every_field', {
    ...SUB_ALL, anonymous_id: { '@template': 'anon-{{properties.id}}' }, traits: { first: col('first') }, timestamp: col('ts'), message_id: col('mid'),
    consent: { categoryPreferences: { email: true } }
  }, subRec({ es: 'true', groups: { g: 'true' }, ss: 'true', ws: 'false', as: 'true', is: 'true', first: 'Jane', ts: '2024-05-01T10:00:00.000Z', mid: 'm-1' })],
  ['sub_phone_number_column', { phone: col('phone'), sms_subscription_status: col('ss') }, subRec({ phone: 14155550100, ss: 'true' })],
  ['sub_empty_email_with_phone', { email: col('email'), phone: col('phone'), email_subscription_status: col('es'), sms_subscription_status: col('ss') }, subRec({ email: '', es: null, ss: 'true' })],
  ['sub_deleted_record', SUB_ALL, rec({ id: null, email: null, phone: null, android: null, ios: null, es: null, ss: null, ws: null, as: null, is: null, groups: null }, 'deleted', 'u_gone')],
  ['sub_status_object', { email: col('email'), email_subscription_status: col('es') }, subRec({ es: { a: 1 } })],
  ['sub_status_empty_string', { email: col('email'), phone: col('phone'), email_subscription_status: col('es'), sms_subscription_status: col('ss') }, subRec({ es: '', ss: 'true' })]
]


const DATE_STRINGS = [
  '2024-05-01T10:00:00+02:00', '2024-05-01 10:00:00 +0200', '2024-05-01T10:00:00.123456Z', '12/31/2024', '31/12/2024',
  '2024-13-45', 'tomorrow', '1', '12', '123', 'May 1, 2024', '1 May 2024', 'Wed, 01 May 2024 10:00:00 GMT', '2024-05-01Z',
  'x1', '10:00', '2024-05-01T25:00:00Z', '2024-02-30T10:00:00Z', '2024-05-01T10:00Z', '20240501T100000Z',
  '2024-05-01 10:00:00 UTC', '1714557600000', '1.5', '-1', 'NaN', 'Infinity', '1e21', '  2024-05-01', '2024/05/01 10:00',
  '2024-05-01T10:00:00', '99999999999999999'
]
const timestampCases = DATE_STRINGS.map((ts, i) => [`identify_timestamp_string_${i}`, { user_id: col('id'), timestamp: col('ts') }, rec({ id: 'u_1', ts })])

const moreIdentifyCases = [
  ['identify_template_triple_and_nested', {
    user_id: col('id'),
    traits: { a: { '@template': '{{{properties.inner}}}' }, b: { '@template': '{{properties.x.y}}-{{properties.arr[1]}}-{{properties.arr.1}}' },
      c: { '@template': 'no placeholders' }, d: { '@template': '{{__segment_id}}:{{event}}:{{$.properties.id}}' } }
  }, rec({ id: 'u_1', inner: '{{properties.id}}', x: { y: 0 }, arr: ['p', 'q'] })],
  ['identify_if_falsy_else', {
    user_id: col('id'),
    traits: { e0: { '@if': { exists: col('missing'), then: 'yes', else: 0 } }, e1: { '@if': { exists: col('missing'), then: 'yes', else: '' } },
      e2: { '@if': { exists: col('id'), else: 'no' } }, b0: { '@if': { blank: col('zero'), then: 'filled', else: 'blank' } },
      b1: { '@if': { blank: col('space'), then: 'filled', else: 'blank' } }, b2: { '@if': { blank: col('f'), then: 'filled', else: 'blank' } } }
  }, rec({ id: 'u_1', zero: 0, space: ' ', f: false })],
  ['identify_replace_special', {
    user_id: col('id'),
    traits: { amp: { '@replace': { pattern: 'a', replacement: '[$&]', value: col('s') } }, dollar: { '@replace': { pattern: 'b', replacement: '$$', value: col('s') } },
      once: { '@replace': { pattern: 'a', replacement: 'X', global: false, value: col('s') } }, icase: { '@replace': { pattern: 'A', replacement: 'x', ignorecase: true, value: col('s') } },
      two: { '@replace': { pattern: 'a', replacement: 'b', pattern2: 'b', replacement2: 'c', value: col('s') } }, missing: { '@replace': { pattern: 'a', value: col('nope') } },
      obj: { '@replace': { pattern: 'a', value: col('o') } } }
  }, rec({ id: 'u_1', s: 'abcABa', o: { a: 1 } })],
  ['identify_merge_left_and_strings', {
    user_id: col('id'),
    traits: { l: { '@merge': { direction: 'left', objects: [{ a: 1, b: 1 }, col('o')] } }, s: { '@merge': { direction: 'right', objects: [col('s'), col('n'), col('o'), col('arr')] } } }
  }, rec({ id: 'u_1', o: { b: 2, c: 3 }, s: 'ab', n: 5, arr: ['x'] })],
  ['identify_numeric_keys_order', { user_id: col('id'), traits: { b: 1, 2: 'two', a: 3, 1: 'one', '01': 'zero-one' } }, rec({ id: 'u_1' })],
  ['identify_array_of_one_object', { user_id: col('arr') }, rec({ arr: [{ a: 1 }] })],
  ['identify_array_of_one_null', { user_id: col('arr'), anonymous_id: col('id') }, rec({ id: 'a', arr: [null] })],
  ['identify_required_and_type_errors', { user_id: col('o'), timestamp: 'bad date' }, rec({ o: { a: 1 } }), true],
  ['identify_unsupported_consent_array', { user_id: col('id'), consent: { categoryPreferences: [true, false] } }, rec({ id: 'u_1' })],
  ['identify_timestamp_array_string', { user_id: col('id'), timestamp: col('ts') }, rec({ id: 'u_1', ts: ['2024-05-01'] })],
  ['identify_timestamp_array_number', { user_id: col('id'), timestamp: col('ts') }, rec({ id: 'u_1', ts: [5] })],
  ['identify_timestamp_array_null', { user_id: col('id'), timestamp: col('ts') }, rec({ id: 'u_1', ts: [null] })],
  ['identify_consent_empty_prefs', { user_id: col('id'), consent: { categoryPreferences: {}, extra: 1 } }, rec({ id: 'u_1' })]
]
const moreTrackCases = [
  ['track_required_and_type_errors', { user_id: col('o'), timestamp: col('o'), properties: 'x' }, rec({ o: [1, 2] })],
  ['track_event_name_bool', { user_id: col('id'), event_name: col('b') }, rec({ id: 'u', b: false })],
  ['track_properties_number', { user_id: col('id'), event_name: 'E', properties: col('n') }, rec({ id: 'u', n: 5 })]
]
const moreGroupCases = [
  ['group_traits_bool', { user_id: col('id'), group_id: col('id'), traits: col('b') }, rec({ id: 'u', b: true })]
]

const moreSubscriptionCases = [
  ['sub_status_array_one', { email: col('email'), email_subscription_status: col('es') }, subRec({ es: ['Subscribed'] })],
  ['sub_status_array_null', { email: col('email'), email_subscription_status: col('es'), phone: col('phone'), sms_subscription_status: col('ss') }, subRec({ es: [null], ss: [true] })],
  ['sub_status_array_two', { email: col('email'), email_subscription_status: col('es') }, subRec({ es: ['true', 'false'] })],
  ['sub_phone_bool', { phone: col('p'), sms_subscription_status: col('ss') }, subRec({ p: true, ss: 'true' })],
  ['sub_groups_array', { email: col('email'), email_subscription_status: col('es'), subscription_groups: col('g') }, subRec({ es: 'true', g: ['a'] })],
  ['sub_groups_numeric_keys', { email: col('email'), email_subscription_status: col('es'), subscription_groups: { b: col('t'), 10: col('t'), 2: col('f'), a: col('missing') } },
    subRec({ es: 'true', t: 'true', f: 'false' })],
  ['sub_groups_string_column', { email: col('email'), email_subscription_status: col('es'), subscription_groups: col('email') }, subRec({ es: 'true' })],
  ['sub_consent_and_traits', { user_id: col('id'), email: col('email'), email_subscription_status: col('es'), traits: col('t'), consent: col('c') },
    subRec({ es: 'unsubscribed', t: { 3: 'c', x: 1, 1: 'a' }, c: { categoryPreferences: null } })],
  ['sub_deleted_with_id_only', { user_id: { '@path': '$.__segment_id' }, email: col('email'), email_subscription_status: { '@literal': 'unsubscribed' } },
    rec({ email: 'gone@example.com' }, 'deleted', 'u_9')]
]
const evenMoreTrackCases = [
  ['track_properties_numeric_keys', { user_id: col('id'), event_name: 'E', properties: col('p') }, rec({ id: 'u', p: { z: 1, 10: 'ten', 2: 'two', '-1': 'neg', '1.5': 'x' } })],
  ['track_group_id_only_dropped', { anonymous_id: col('id'), event_name: 'E', group_id: col('g') }, rec({ id: 'a', g: 'grp' })]
]

const CASES = []
for (const [action, list] of [['sendIdentify', [...identifyCases, ...moreIdentifyCases, ...timestampCases]], ['sendGroup', [...groupCases, ...moreGroupCases]], ['sendTrack', [...trackCases, ...moreTrackCases, ...evenMoreTrackCases]], ['sendSubscription', [...subscriptionCases, ...moreSubscriptionCases]]]) {
  for (const [name, mapping, event, omitEngageSpace] of list) {
    CASES.push({ name, action, mapping, event, omitEngageSpace: Boolean(omitEngageSpace) })
  }
}

module.exports = { CASES, ENGAGE_SPACE }
