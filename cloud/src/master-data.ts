/**
 * In-memory view of master data (sites, projects, units, rates) read from the store, reloaded
 * after every admin change. Ingest asks it whether a unit exists on every reading.
 */
import type { Project, Rate, Site, Unit } from '@ironledger/contracts';
import type { CloudStore } from './store/store.js';

export class MasterData {
  sites = new Map<string, Site>();
  projects = new Map<string, Project>();
  units = new Map<string, Unit>();
  rates: Rate[] = [];

  constructor(private readonly store: CloudStore) {
    this.reload();
  }

  reload(): void {
    this.sites = new Map(this.store.listSites().map((s) => [s.siteId, s]));
    this.projects = new Map(this.store.listProjects().map((p) => [p.projectId, p]));
    this.units = new Map(this.store.listUnits().map((u) => [u.unitId, u]));
    this.rates = this.store.listRates();
  }
}
