export { OdooFault } from './orm.js';
export { ODOOLAB_REC_SEED } from './seeds.js';
export {
  type CallRecord,
  type Fault,
  type OdooDouble,
  type OdooDoubleOptions,
  startOdooDouble,
} from './server.js';
export { ADMIN_UID, ANALYTIC_GROUP_ID, type OdooSeed, OdooWorld, planColumn } from './world.js';
