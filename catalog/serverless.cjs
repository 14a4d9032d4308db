// serverless.yml `${file(./catalog/serverless.cjs)}`: the lake's Glue tables and views, generated from the
// schema registry every time the configuration is resolved (sls package, deploy, print). No second list.
require('tsx/cjs');
const { glueResources } = require('./glue.ts');

module.exports = async ({ resolveVariable }) => ({
  Resources: glueResources(await resolveVariable('param:glueDatabase')),
});
