/**
 * How each equipment class behaves on a construction site: shift pattern, duty cycle (how
 * much engine-on time is spent idling), fuel burn, whether it has an odometer, how often it
 * is trailered to another part of the site. Figures are plausible for mid-size machines
 * (e.g. a 20 t excavator burns ~15–20 L/h under load, ~3–4 L/h at idle; idle shares of
 * 30–50 % are what fleet telematics reports for mixed earthworks).
 */
import type { EquipmentClass } from '@ironledger/contracts';

export interface ClassProfile {
  /** Unit id prefix: EXC-0001. */
  prefix: string;
  oem: string;
  model: string;
  serialPrefix: string;
  /** Runs around the clock (site power), instead of following the shift. */
  continuous: boolean;
  /** Shift start and end, minutes after local midnight, before per-day jitter. */
  shiftStartMin: number;
  shiftEndMin: number;
  /** Chance of a Saturday half shift (07:00–12:00 local). */
  saturdayChance: number;
  /** Work and idle block lengths while the engine runs, minutes [min, max]. */
  workBlockMin: [number, number];
  idleBlockMin: [number, number];
  fuelWorkLph: number;
  fuelIdleLph: number;
  /** Wheeled machines count distance; tracked machines and generators have no odometer. */
  odometer: boolean;
  /** Mean ground speed while working, km/h (only with an odometer). */
  workSpeedKmh: number;
  /** Chance per lunch break / per night that the machine is trailered elsewhere on site. */
  moveChance: { lunch: number; overnight: number };
  /** Hour meter when the simulation starts, hours [min, max]. */
  initialHours: [number, number];
}

export const CLASS_PROFILES: Record<EquipmentClass, ClassProfile> = {
  excavator: {
    prefix: 'EXC',
    oem: 'Caterpillar',
    model: '320',
    serialPrefix: 'CAT0320',
    continuous: false,
    shiftStartMin: 7 * 60,
    shiftEndMin: 17 * 60,
    saturdayChance: 0.3,
    workBlockMin: [15, 55],
    idleBlockMin: [4, 25],
    fuelWorkLph: 17.5,
    fuelIdleLph: 3.4,
    odometer: false,
    workSpeedKmh: 0,
    moveChance: { lunch: 0.15, overnight: 0.12 },
    initialHours: [800, 9000],
  },
  loader: {
    prefix: 'LDR',
    oem: 'Komatsu',
    model: 'WA380',
    serialPrefix: 'KMTWA380',
    continuous: false,
    shiftStartMin: 7 * 60,
    shiftEndMin: 17 * 60 + 30,
    saturdayChance: 0.25,
    workBlockMin: [10, 40],
    idleBlockMin: [5, 30],
    fuelWorkLph: 14,
    fuelIdleLph: 3,
    odometer: true,
    workSpeedKmh: 6,
    moveChance: { lunch: 0.12, overnight: 0.12 },
    initialHours: [500, 12000],
  },
  dozer: {
    prefix: 'DOZ',
    oem: 'Caterpillar',
    model: 'D6',
    serialPrefix: 'CATD6',
    continuous: false,
    shiftStartMin: 6 * 60 + 30,
    shiftEndMin: 16 * 60 + 30,
    saturdayChance: 0.2,
    workBlockMin: [20, 60],
    idleBlockMin: [3, 15],
    fuelWorkLph: 24,
    fuelIdleLph: 4,
    odometer: false,
    workSpeedKmh: 0,
    moveChance: { lunch: 0.1, overnight: 0.15 },
    initialHours: [1500, 15000],
  },
  crane: {
    prefix: 'CRN',
    oem: 'Liebherr',
    model: 'LTM 1060-3.1',
    serialPrefix: 'LBH1060',
    continuous: false,
    shiftStartMin: 7 * 60 + 30,
    shiftEndMin: 17 * 60,
    saturdayChance: 0.1,
    workBlockMin: [5, 25],
    idleBlockMin: [10, 40],
    fuelWorkLph: 16,
    fuelIdleLph: 4.5,
    odometer: true,
    workSpeedKmh: 0.5,
    moveChance: { lunch: 0.05, overnight: 0.08 },
    initialHours: [2000, 20000],
  },
  telehandler: {
    prefix: 'TEL',
    oem: 'JCB',
    model: '540-180',
    serialPrefix: 'JCB540',
    continuous: false,
    shiftStartMin: 7 * 60,
    shiftEndMin: 17 * 60,
    saturdayChance: 0.3,
    workBlockMin: [5, 30],
    idleBlockMin: [5, 30],
    fuelWorkLph: 7,
    fuelIdleLph: 2,
    odometer: true,
    workSpeedKmh: 8,
    moveChance: { lunch: 0.2, overnight: 0.15 },
    initialHours: [300, 8000],
  },
  generator: {
    prefix: 'GEN',
    oem: 'Caterpillar',
    model: 'XQ230',
    serialPrefix: 'CATXQ230',
    continuous: true,
    // Loaded (working) from 06:00 to 20:00 local on weekdays, standby idle otherwise.
    shiftStartMin: 6 * 60,
    shiftEndMin: 20 * 60,
    saturdayChance: 0,
    workBlockMin: [0, 0],
    idleBlockMin: [0, 0],
    fuelWorkLph: 38,
    fuelIdleLph: 9,
    odometer: false,
    workSpeedKmh: 0,
    moveChance: { lunch: 0, overnight: 0 },
    initialHours: [3000, 40000],
  },
};

export function profileOf(equipmentClass: EquipmentClass): ClassProfile {
  return CLASS_PROFILES[equipmentClass];
}
