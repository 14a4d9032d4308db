// serverless.yml `${file(./health/serverless.cjs)}`: the stage's alarms, their SNS topic (AlarmsTopic) and the
// CloudWatch dashboard, generated from one list of figures (health/alarms.ts) with the thresholds of `params`.
require('tsx/cjs');
const { ALARM_PARAMS, healthResources } = require('./alarms.ts');

module.exports = async ({ resolveVariable }) => {
  const params = {};
  for (const [name, param] of Object.entries(ALARM_PARAMS)) {
    const value = Number(await resolveVariable(`param:${param}`));
    if (!Number.isFinite(value)) throw new Error(`params.${param} must be a number`);
    params[name] = value;
  }
  params.batchScheduleEnabled = String(await resolveVariable('param:batchScheduleEnabled')) === 'true';
  const names = {
    service: await resolveVariable('self:service'),
    stage: await resolveVariable('sls:stage'),
    batchStateMachine: await resolveVariable('self:custom.names.batchScoringStateMachine'),
  };
  return { Resources: healthResources(names, params) };
};
