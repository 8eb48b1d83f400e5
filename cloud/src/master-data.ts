/**
 * In-memory view of master data (sites, projects, units, rates) read from the store, reloaded
 * after every admin change. Ingest asks it whether a unit exists on every reading.
 * `MasterData.load(store)` gives one that has read the store once.
 */
import type { Project, Rate, Site, Unit } from '@ironledger/contracts';
import type { CloudStore } from './store/store.js';

export class MasterData {
  sites = new Map<string, Site>();
  projects = new Map<string, Project>();
  units = new Map<string, Unit>();
  rates: Rate[] = [];

  private constructor(private readonly store: CloudStore) {}

  static async load(store: CloudStore): Promise<MasterData> {
    const m = new MasterData(store);
    await m.reload();
    return m;
  }

  async reload(): Promise<void> {
    const [sites, projects, units, rates] = await Promise.all([
      this.store.listSites(),
      this.store.listProjects(),
      this.store.listUnits(),
      this.store.listRates(),
    ]);
    this.sites = new Map(sites.map((s) => [s.siteId, s]));
    this.projects = new Map(projects.map((p) => [p.projectId, p]));
    this.units = new Map(units.map((u) => [u.unitId, u]));
    this.rates = rates;
  }
}
