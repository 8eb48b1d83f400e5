export { OdooFault } from './orm.js';
export {
  type CallRecord,
  type Fault,
  type OdooDouble,
  type OdooDoubleOptions,
  startOdooDouble,
} from './server.js';
export { ADMIN_UID, ANALYTIC_GROUP_ID, OdooWorld, planColumn } from './world.js';
