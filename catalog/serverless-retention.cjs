// serverless.yml `${file(./catalog/serverless-retention.cjs):<part>}`: the data bucket's lifecycle rules
// and the tables' TTLs, generated from the datasets' declared retention (catalog/datasets.ts).
require('tsx/cjs');
const { lifecycleConfiguration, timeToLive, datasetsTag } = require('./retention.ts');

module.exports = async ({ resolveVariable }) => ({
  lifecycle: await lifecycleConfiguration(async (param) => Number(await resolveVariable(param))),
  ttl: timeToLive(),
  tag: datasetsTag(),
});
