/**
 * Golden unit-days: each row's status hours and amount are worked out by hand in the comment
 * beside it (rates per hour in cents, status hours × (owning × f_own + operating × f_op)), then
 * checked against the calendar split (status-hours.ts) and the pricing (rate-engine.ts).
 */
import {
  DEFAULT_PROJECT_CALENDAR,
  type ProjectCalendar,
  ProjectCalendarSchema,
  type Rate,
  RateSchema,
} from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { toMilliHours } from './money.js';
import { cardInForce, priceDay, type StatusMilliHours, toPriceCard } from './rate-engine.js';
import {
  addStatusHours,
  classifyPiece,
  localTimeToUtcMs,
  operatingWindow,
  type StatusHours,
  ZERO_STATUS_HOURS,
} from './status-hours.js';

const rates: Rate[] = [
  // class excavator, CLUE default factors: working 10000, idle 4000, standby 3200, off-hours 2000 /h
  { rateId: 'C-EXC-1', equipmentClass: 'excavator', owningRateMinor: 4000, operatingRateMinor: 6000 },
  // the same class re-priced from the 16th: working 11000, idle 4400, standby 3520, off-hours 2200 /h
  {
    rateId: 'C-EXC-2',
    equipmentClass: 'excavator',
    owningRateMinor: 4400,
    operatingRateMinor: 6600,
    effectiveFrom: '2026-11-16',
  },
  // unit override, standby cap 6 h: working 12000, idle 5000, standby 4000, off-hours 2500 /h
  {
    rateId: 'U-EXC-7',
    unitId: 'EXC-7',
    owningRateMinor: 5000,
    operatingRateMinor: 7000,
    effectiveFrom: '2026-11-01',
    standbyCapHours: 6,
  },
  // project override for the class, 10th–20th only, own factors, minimum 500.00 a day:
  // working 8000, idle 3000, standby 0.5 × 3000 = 1500, off-hours 0 /h
  {
    rateId: 'P-B-EXC',
    projectId: 'P-B',
    equipmentClass: 'excavator',
    owningRateMinor: 3000,
    operatingRateMinor: 5000,
    effectiveFrom: '2026-11-10',
    effectiveTo: '2026-11-20',
    factors: { standby: [0.5, 0], offHours: [0, 0] },
    minimumDailyMinor: 50000,
  },
  // project + unit override, minimum 800.00: working 11000, idle 4500, standby 3600, off-hours 2250 /h
  {
    rateId: 'P-B-U7',
    projectId: 'P-B',
    unitId: 'EXC-7',
    owningRateMinor: 4500,
    operatingRateMinor: 6500,
    effectiveFrom: '2026-11-01',
    minimumDailyMinor: 80000,
  },
  // legacy working/idle card: working 8500, idle 1500, engine-off time free
  { rateId: 'L-LDR', equipmentClass: 'loader', workingRateMinor: 8500, idleRateMinor: 1500 },
  // project card for loaders from the 20th, idle factors 1/0.25, standby cap 4 h:
  // working 5000, idle 2000 + 750 = 2750, standby 1600, off-hours 1000 /h
  {
    rateId: 'P-A-LDR',
    projectId: 'P-A',
    equipmentClass: 'loader',
    owningRateMinor: 2000,
    operatingRateMinor: 3000,
    effectiveFrom: '2026-11-20',
    factors: { idle: [1, 0.25] },
    standbyCapHours: 4,
  },
].map((r) =>
  RateSchema.parse({
    currency: 'USD',
    effectiveFrom: '2026-01-01',
    workingRateMinor: 0,
    idleRateMinor: 0,
    ...r,
  }),
);
const cards = rates.map(toPriceCard);

const units: Record<string, string> = {
  'EXC-1': 'excavator',
  'EXC-7': 'excavator',
  'LDR-3': 'loader',
  'CRN-1': 'crane',
};
const projects: Record<string, { tz: string; calendar: ProjectCalendar }> = {
  // Monday–Friday 07:00–17:00 (the default)
  'P-A': { tz: 'Europe/London', calendar: DEFAULT_PROJECT_CALENDAR },
  // Monday–Saturday 06:00–18:00, Thanksgiving off
  'P-B': {
    tz: 'America/New_York',
    calendar: ProjectCalendarSchema.parse({
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
      start: '06:00',
      end: '18:00',
      holidays: ['2026-11-26'],
    }),
  },
  // every day 06:00–18:00
  'P-C': {
    tz: 'Europe/London',
    calendar: ProjectCalendarSchema.parse({
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      start: '06:00',
      end: '18:00',
    }),
  },
};

/** [unit, project, day, segments "HH:MM-HH:MM engine/idle, …", [working, idle, standby, offHours] h, card, cents] */
type Golden = [string, string, string, string, [number, number, number, number], string, number];

const W = '00:00-07:00';
const golden: Golden[] = [
  // ---- EXC-1 on P-A (London, Mon–Fri 07–17), class card C-EXC-1 until the 15th ----------------
  // Mon: w 7, i 1, sb 10−8 = 2, off 7+7 = 14 → 70000 + 4000 + 6400 + 28000
  [
    'EXC-1',
    'P-A',
    '2026-11-02',
    `${W} 0/0, 07:00-17:00 8/1, 17:00-24:00 0/0`,
    [7, 1, 2, 14],
    'C-EXC-1',
    108400,
  ],
  // Tue: w 8, i 2, sb 0, off 14 → 80000 + 8000 + 28000
  [
    'EXC-1',
    'P-A',
    '2026-11-03',
    `${W} 0/0, 07:00-17:00 10/2, 17:00-24:00 0/0`,
    [8, 2, 0, 14],
    'C-EXC-1',
    116000,
  ],
  // Wed standing: sb 10 capped at 8 → 8 × 3200 = 25600, off 14 × 2000 = 28000
  [
    'EXC-1',
    'P-A',
    '2026-11-04',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 10, 14],
    'C-EXC-1',
    53600,
  ],
  // Sat: no operating hours, off 24 × 2000
  [
    'EXC-1',
    'P-A',
    '2026-11-07',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 0, 24],
    'C-EXC-1',
    48000,
  ],
  // Sat running 5 h: w 4.5 × 10000 + i 0.5 × 4000 + off 19 × 2000
  [
    'EXC-1',
    'P-A',
    '2026-11-07',
    `${W} 0/0, 07:00-17:00 5/0.5, 17:00-24:00 0/0`,
    [4.5, 0.5, 0, 19],
    'C-EXC-1',
    85000,
  ],
  // Thu, 3 h after hours: w 8.25+2.75, i 1, sb 1, off 7+4 → 110000 + 4000 + 3200 + 22000
  [
    'EXC-1',
    'P-A',
    '2026-11-05',
    `${W} 0/0, 07:00-17:00 9/0.75, 17:00-24:00 3/0.25`,
    [11, 1, 1, 11],
    'C-EXC-1',
    139200,
  ],
  // Fri: w 7.222 × 10000 = 72220, i 0.111 × 4000 = 444, sb 2.667 × 3200 = 8534.4, off 28000 → 109198.4 → 109198
  [
    'EXC-1',
    'P-A',
    '2026-11-06',
    `${W} 0/0, 07:00-17:00 7.333/0.111, 17:00-24:00 0/0`,
    [7.222, 0.111, 2.667, 14],
    'C-EXC-1',
    109198,
  ],
  // Fri, evening only (on the project from 17:00): i 7 × 4000
  ['EXC-1', 'P-A', '2026-11-06', '17:00-24:00 7/7', [0, 7, 0, 0], 'C-EXC-1', 28000],
  // Thu, morning only: w 2 × 10000, sb 3 × 3200 = 9600, off 7 × 2000
  ['EXC-1', 'P-A', '2026-11-12', `${W} 0/0, 07:00-12:00 2/0`, [2, 0, 3, 7], 'C-EXC-1', 43600],
  // Fri 13th: w 5.5 × 10000 + i 0.5 × 4000 + sb 4 × 3200 + off 14 × 2000
  [
    'EXC-1',
    'P-A',
    '2026-11-13',
    `${W} 0/0, 07:00-17:00 6/0.5, 17:00-24:00 0/0`,
    [5.5, 0.5, 4, 14],
    'C-EXC-1',
    97800,
  ],
  // Sun 15th, last day of C-EXC-1: off 24 × 2000
  [
    'EXC-1',
    'P-A',
    '2026-11-15',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 0, 24],
    'C-EXC-1',
    48000,
  ],
  // ---- the class card changes on the 16th (C-EXC-2) ----------------------------------------
  // Mon 16th, same hours as the 13th: 5.5 × 11000 + 0.5 × 4400 + 4 × 3520 + 14 × 2200
  [
    'EXC-1',
    'P-A',
    '2026-11-16',
    `${W} 0/0, 07:00-17:00 6/0.5, 17:00-24:00 0/0`,
    [5.5, 0.5, 4, 14],
    'C-EXC-2',
    107580,
  ],
  // Mon 16th standing: 8 × 3520 + 14 × 2200  (a second project the same day: P-C below)
  [
    'EXC-1',
    'P-A',
    '2026-11-16',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 10, 14],
    'C-EXC-2',
    58960,
  ],
  // Tue: w 1+6+1.5 = 8.5, i 3.5, sb 1, off 6+5 = 11 → 93500 + 15400 + 3520 + 24200
  [
    'EXC-1',
    'P-A',
    '2026-11-17',
    `${W} 1/0, 07:00-17:00 9/3, 17:00-24:00 2/0.5`,
    [8.5, 3.5, 1, 11],
    'C-EXC-2',
    136620,
  ],
  // Wed all idle: 10 × 4400 + 14 × 2200
  [
    'EXC-1',
    'P-A',
    '2026-11-18',
    `${W} 7/0, 07:00-17:00 10/10, 17:00-24:00 0/0`,
    [7, 10, 0, 7],
    'C-EXC-2',
    77000 + 44000 + 15400,
  ],
  // Thu night shifts: w 14 × 11000, sb 10 capped 8 × 3520
  [
    'EXC-1',
    'P-A',
    '2026-11-19',
    `${W} 7/0, 07:00-17:00 0/0, 17:00-24:00 7/0`,
    [14, 0, 10, 0],
    'C-EXC-2',
    182160,
  ],
  // Fri: i 0.25 × 4400 = 1100, sb 9.75 capped 8 × 3520 = 28160, off 14 × 2200 = 30800
  [
    'EXC-1',
    'P-A',
    '2026-11-20',
    `${W} 0/0, 07:00-17:00 0.25/0.25, 17:00-24:00 0/0`,
    [0, 0.25, 9.75, 14],
    'C-EXC-2',
    60060,
  ],
  // Sun: w 2 × 11000, off 22 × 2200
  [
    'EXC-1',
    'P-A',
    '2026-11-22',
    `${W} 0/0, 07:00-17:00 2/0, 17:00-24:00 0/0`,
    [2, 0, 0, 22],
    'C-EXC-2',
    70400,
  ],
  // Thu 26th (a P-B holiday, not P-A's): 8 × 11000 + 2 × 3520 + 14 × 2200
  [
    'EXC-1',
    'P-A',
    '2026-11-26',
    `${W} 0/0, 07:00-17:00 8/0, 17:00-24:00 0/0`,
    [8, 0, 2, 14],
    'C-EXC-2',
    125840,
  ],
  // Mon 30th: 10 × 11000 + 14 × 2200
  [
    'EXC-1',
    'P-A',
    '2026-11-30',
    `${W} 0/0, 07:00-17:00 10/0, 17:00-24:00 0/0`,
    [10, 0, 0, 14],
    'C-EXC-2',
    140800,
  ],
  // ---- DST days, London ------------------------------------------------------------------
  // Sun 25 Oct, 25 h (00:00–07:00 is 8 h): off 25 × 2000
  [
    'EXC-1',
    'P-A',
    '2026-10-25',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 0, 25],
    'C-EXC-1',
    50000,
  ],
  // Sun 29 Mar, 23 h: off 23 × 2000
  [
    'EXC-1',
    'P-A',
    '2026-03-29',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 0, 23],
    'C-EXC-1',
    46000,
  ],
  // P-C works Sundays 06–18. 25 Oct: 00–06 is 7 h. w 8, i 1, sb 12−9 = 3, off 7+6 = 13 → 80000 + 4000 + 9600 + 26000
  [
    'EXC-1',
    'P-C',
    '2026-10-25',
    '00:00-06:00 0/0, 06:00-18:00 9/1, 18:00-24:00 0/0',
    [8, 1, 3, 13],
    'C-EXC-1',
    119600,
  ],
  // 25 Oct, 3 h before 06:00: w 3, sb 12 capped 8, off 7−3+6 = 10 → 30000 + 25600 + 20000
  [
    'EXC-1',
    'P-C',
    '2026-10-25',
    '00:00-06:00 3/0, 06:00-18:00 0/0, 18:00-24:00 0/0',
    [3, 0, 12, 10],
    'C-EXC-1',
    75600,
  ],
  // 29 Mar: 00–06 is 5 h. i 2, sb 10 capped 8, off 5+6 = 11 → 8000 + 25600 + 22000
  [
    'EXC-1',
    'P-C',
    '2026-03-29',
    '00:00-06:00 0/0, 06:00-18:00 2/2, 18:00-24:00 0/0',
    [0, 2, 10, 11],
    'C-EXC-1',
    55600,
  ],
  // EXC-7 before its unit card: class card. w 1+12 = 13, off 4+6 = 10 → 130000 + 20000
  [
    'EXC-7',
    'P-C',
    '2026-03-29',
    '00:00-06:00 1/0, 06:00-18:00 12/0, 18:00-24:00 0/0',
    [13, 0, 0, 10],
    'C-EXC-1',
    150000,
  ],
  // Sun 8 Nov on P-C: w 4, i 1, sb 7, off 12 → 40000 + 4000 + 22400 + 24000
  [
    'EXC-1',
    'P-C',
    '2026-11-08',
    '00:00-06:00 0/0, 06:00-18:00 5/1, 18:00-24:00 0/0',
    [4, 1, 7, 12],
    'C-EXC-1',
    90400,
  ],
  // Mon 16th on P-C standing: 8 × 3520 + 12 × 2200
  [
    'EXC-1',
    'P-C',
    '2026-11-16',
    '00:00-06:00 0/0, 06:00-18:00 0/0, 18:00-24:00 0/0',
    [0, 0, 12, 12],
    'C-EXC-2',
    54560,
  ],
  // ---- EXC-1 on P-B (New York, Mon–Sat 06–18, 26th off); project card 10th–20th --------------
  // Mon 9th, before P-B-EXC: class card. w 6, i 2, sb 4, off 12 → 60000 + 8000 + 12800 + 24000
  [
    'EXC-1',
    'P-B',
    '2026-11-09',
    '00:00-06:00 0/0, 06:00-18:00 8/2, 18:00-24:00 0/0',
    [6, 2, 4, 12],
    'C-EXC-1',
    104800,
  ],
  // Tue 10th, P-B-EXC: 6 × 8000 + 2 × 3000 + 4 × 1500 + 12 × 0
  [
    'EXC-1',
    'P-B',
    '2026-11-10',
    '00:00-06:00 0/0, 06:00-18:00 8/2, 18:00-24:00 0/0',
    [6, 2, 4, 12],
    'P-B-EXC',
    60000,
  ],
  // Wed standing: 8 × 1500 = 12000 < minimum 50000
  [
    'EXC-1',
    'P-B',
    '2026-11-11',
    '00:00-06:00 0/0, 06:00-18:00 0/0, 18:00-24:00 0/0',
    [0, 0, 12, 12],
    'P-B-EXC',
    50000,
  ],
  // Thu, there from noon: 2.5 × 8000 + 0.5 × 3000 + 3 × 1500 = 26000 < 50000
  ['EXC-1', 'P-B', '2026-11-12', '12:00-18:00 3/0.5', [2.5, 0.5, 3, 0], 'P-B-EXC', 50000],
  // Fri 20th, last day of P-B-EXC: 4 × 8000 + 8 × 1500 = 44000 < 50000
  [
    'EXC-1',
    'P-B',
    '2026-11-20',
    '00:00-06:00 0/0, 06:00-18:00 4/0, 18:00-24:00 0/0',
    [4, 0, 8, 12],
    'P-B-EXC',
    50000,
  ],
  // Sat 21st, P-B-EXC over, class C-EXC-2: 4 × 11000 + 8 × 3520 + 12 × 2200
  [
    'EXC-1',
    'P-B',
    '2026-11-21',
    '00:00-06:00 0/0, 06:00-18:00 4/0, 18:00-24:00 0/0',
    [4, 0, 8, 12],
    'C-EXC-2',
    98560,
  ],
  // Thu 26th, holiday: off 24 × 2200
  [
    'EXC-1',
    'P-B',
    '2026-11-26',
    '00:00-06:00 0/0, 06:00-18:00 0/0, 18:00-24:00 0/0',
    [0, 0, 0, 24],
    'C-EXC-2',
    52800,
  ],
  // Sun 1 Nov, 25 h in New York (00–06 is 7 h), Sunday off: w 2, i 1, off 7+9+6 = 22 → 20000 + 4000 + 44000
  [
    'EXC-1',
    'P-B',
    '2026-11-01',
    '00:00-06:00 0/0, 06:00-18:00 3/1, 18:00-24:00 0/0',
    [2, 1, 0, 22],
    'C-EXC-1',
    68000,
  ],
  // ---- EXC-7: unit card on P-A (cap 6 h), project + unit card on P-B ------------------------
  // Mon: w 4.001 × 12000 = 48012, sb 6 × 4000 = 24000, off 13.999 × 2500 = 34997.5 → 107009.5 → 107010 (half to even)
  [
    'EXC-7',
    'P-A',
    '2026-11-02',
    `${W} 0/0, 07:00-17:00 4/0, 17:00-24:00 0.001/0`,
    [4.001, 0, 6, 13.999],
    'U-EXC-7',
    107010,
  ],
  // Tue: w 4.003 × 12000 = 48036, sb 24000, off 13.997 × 2500 = 34992.5 → 107028.5 → 107028 (half to even)
  [
    'EXC-7',
    'P-A',
    '2026-11-03',
    `${W} 0/0, 07:00-17:00 4/0, 17:00-24:00 0.003/0`,
    [4.003, 0, 6, 13.997],
    'U-EXC-7',
    107028,
  ],
  // Wed standing: sb 10 capped 6 × 4000 + off 14 × 2500
  [
    'EXC-7',
    'P-A',
    '2026-11-04',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 10, 14],
    'U-EXC-7',
    59000,
  ],
  // Thu: 3 × 12000 + 0.5 × 5000 + sb 6.5 capped 6 × 4000 + 14 × 2500
  [
    'EXC-7',
    'P-A',
    '2026-11-05',
    `${W} 0/0, 07:00-17:00 3.5/0.5, 17:00-24:00 0/0`,
    [3, 0.5, 6.5, 14],
    'U-EXC-7',
    97500,
  ],
  // Fri: 4.5 × 12000 + 5.5 × 4000 + 14 × 2500
  [
    'EXC-7',
    'P-A',
    '2026-11-06',
    `${W} 0/0, 07:00-17:00 4.5/0, 17:00-24:00 0/0`,
    [4.5, 0, 5.5, 14],
    'U-EXC-7',
    111000,
  ],
  // Sat: off 24 × 2500
  [
    'EXC-7',
    'P-A',
    '2026-11-07',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 0, 24],
    'U-EXC-7',
    60000,
  ],
  // Fri 30 Oct, before the unit card: class C-EXC-1, as the 2nd
  [
    'EXC-7',
    'P-A',
    '2026-10-30',
    `${W} 0/0, 07:00-17:00 8/1, 17:00-24:00 0/0`,
    [7, 1, 2, 14],
    'C-EXC-1',
    108400,
  ],
  // P-B, Tue 10th: project + unit beats project + class. 8 × 11000 + 2 × 4500 + 2 × 3600 + 12 × 2250
  [
    'EXC-7',
    'P-B',
    '2026-11-10',
    '00:00-06:00 0/0, 06:00-18:00 10/2, 18:00-24:00 0/0',
    [8, 2, 2, 12],
    'P-B-U7',
    131200,
  ],
  // Sat standing: 8 × 3600 + 12 × 2250 = 55800 < minimum 80000
  [
    'EXC-7',
    'P-B',
    '2026-11-14',
    '00:00-06:00 0/0, 06:00-18:00 0/0, 18:00-24:00 0/0',
    [0, 0, 12, 12],
    'P-B-U7',
    80000,
  ],
  // Sun: 24 × 2250 = 54000 < 80000
  [
    'EXC-7',
    'P-B',
    '2026-11-15',
    '00:00-06:00 0/0, 06:00-18:00 0/0, 18:00-24:00 0/0',
    [0, 0, 0, 24],
    'P-B-U7',
    80000,
  ],
  // Sun 1 Nov, 25 h: 25 × 2250 = 56250 < 80000
  [
    'EXC-7',
    'P-B',
    '2026-11-01',
    '00:00-06:00 0/0, 06:00-18:00 0/0, 18:00-24:00 0/0',
    [0, 0, 0, 25],
    'P-B-U7',
    80000,
  ],
  // Mon 2nd: 12 × 11000 + 12 × 2250
  [
    'EXC-7',
    'P-B',
    '2026-11-02',
    '00:00-06:00 0/0, 06:00-18:00 12/0, 18:00-24:00 0/0',
    [12, 0, 0, 12],
    'P-B-U7',
    159000,
  ],
  // Sat 31 Oct, before every P-B card and the unit card: class C-EXC-1. 6 × 10000 + 6 × 3200 + 12 × 2000
  [
    'EXC-7',
    'P-B',
    '2026-10-31',
    '00:00-06:00 0/0, 06:00-18:00 6/0, 18:00-24:00 0/0',
    [6, 0, 6, 12],
    'C-EXC-1',
    103200,
  ],
  // ---- LDR-3: legacy working/idle card, then a project card on P-A from the 20th -----------
  // Mon: 6.3 × 8500 + 1.2 × 1500; standby and off-hours free on a legacy card
  [
    'LDR-3',
    'P-A',
    '2026-11-02',
    `${W} 0/0, 07:00-17:00 7.5/1.2, 17:00-24:00 0/0`,
    [6.3, 1.2, 2.5, 14],
    'L-LDR',
    55350,
  ],
  // Wed standing: nothing to charge
  ['LDR-3', 'P-A', '2026-11-04', `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`, [0, 0, 10, 14], 'L-LDR', 0],
  // Thu: 0.332 × 8500 = 2822 + 0.001 × 1500 = 1.5 → 2823.5 → 2824 (half to even)
  [
    'LDR-3',
    'P-A',
    '2026-11-19',
    `${W} 0/0, 07:00-17:00 0.333/0.001, 17:00-24:00 0/0`,
    [0.332, 0.001, 9.667, 14],
    'L-LDR',
    2824,
  ],
  // Fri 20th, P-A-LDR: 4 × 5000 + 2 × 2750 + sb 4 (cap 4) × 1600 + 14 × 1000
  [
    'LDR-3',
    'P-A',
    '2026-11-20',
    `${W} 0/0, 07:00-17:00 6/2, 17:00-24:00 0/0`,
    [4, 2, 4, 14],
    'P-A-LDR',
    45900,
  ],
  // Sat 21st all idle: 3 × 2750 + off 21 × 1000
  [
    'LDR-3',
    'P-A',
    '2026-11-21',
    `${W} 0/0, 07:00-17:00 3/3, 17:00-24:00 0/0`,
    [0, 3, 0, 21],
    'P-A-LDR',
    29250,
  ],
  // Mon 23rd standing: sb 10 capped 4 × 1600 + 14 × 1000
  [
    'LDR-3',
    'P-A',
    '2026-11-23',
    `${W} 0/0, 07:00-17:00 0/0, 17:00-24:00 0/0`,
    [0, 0, 10, 14],
    'P-A-LDR',
    20400,
  ],
  // P-B has no loader card: legacy class card. 4 × 8500 + 1 × 1500
  [
    'LDR-3',
    'P-B',
    '2026-11-23',
    '00:00-06:00 0/0, 06:00-18:00 5/1, 18:00-24:00 0/0',
    [4, 1, 7, 12],
    'L-LDR',
    35500,
  ],
];

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

function statusHoursOf(projectId: string, day: string, segments: string): StatusHours {
  const { tz, calendar } = projects[projectId]!;
  const window = operatingWindow(day, tz, calendar);
  let sum: StatusHours = { ...ZERO_STATUS_HOURS };
  for (const seg of segments.split(',').map((s) => s.trim())) {
    const m = /^(\d\d:\d\d)-(\d\d:\d\d) ([\d.]+)\/([\d.]+)$/.exec(seg);
    if (!m) throw new Error(`bad segment ${seg}`);
    const at = (t: string) =>
      t === '24:00' ? localTimeToUtcMs(nextDay(day), '00:00', tz) : localTimeToUtcMs(day, t, tz);
    sum = addStatusHours(
      sum,
      classifyPiece({
        startMs: at(m[1]!),
        endMs: at(m[2]!),
        engineHours: Number(m[3]),
        idleHours: Number(m[4]),
        window,
        known: true,
      }),
    );
  }
  return sum;
}

const toMh = (h: StatusHours): StatusMilliHours => ({
  working: toMilliHours(h.working),
  idle: toMilliHours(h.idle),
  standby: toMilliHours(h.standby),
  offHours: toMilliHours(h.offHours),
});

describe('golden unit-days, priced by hand', () => {
  it('has at least 50 rows', () => {
    expect(golden.length).toBeGreaterThanOrEqual(50);
  });
  it.each(golden)('%s on %s, %s', (unitId, projectId, day, segments, hours, cardId, cents) => {
    const mh = toMh(statusHoursOf(projectId, day, segments));
    const [w, i, sb, off] = hours.map((h) => Math.round(h * 1000));
    expect(mh).toEqual({ working: w, idle: i, standby: sb, offHours: off });
    const choice = cardInForce({ unitId, equipmentClass: units[unitId]! }, projectId, day, cards);
    if (!choice.ok) throw new Error(choice.holdReason);
    expect(choice.card.id).toBe(cardId);
    const priced = priceDay(mh, choice.card);
    expect(priced.amountMinor).toBe(cents);
    // The lines always add up to the total.
    expect(priced.lines.reduce((s, l) => s + l.amountMinor, 0)).toBe(cents);
  });
});

describe('rate cards', () => {
  it('holds a unit with no card, and two cards taking effect the same day', () => {
    expect(
      cardInForce({ unitId: 'CRN-1', equipmentClass: 'crane' }, 'P-A', '2026-11-02', cards),
    ).toMatchObject({
      ok: false,
      holdReason: expect.stringContaining('no rate in force on 2026-11-02'),
    });
    const twin = toPriceCard({ ...rates[1]!, rateId: 'C-EXC-2b' });
    const tie = cardInForce({ unitId: 'EXC-1', equipmentClass: 'excavator' }, 'P-A', '2026-11-20', [
      ...cards,
      twin,
    ]);
    expect(tie).toMatchObject({
      ok: false,
      holdReason: expect.stringMatching(/ambiguous.*C-EXC-2, C-EXC-2b/),
    });
  });
  it('maps a legacy working/idle card exactly onto owning/operating', () => {
    const legacy = toPriceCard(rates.find((r) => r.rateId === 'L-LDR')!);
    expect(legacy).toMatchObject({ model: 'legacy', owningRateMinor: 1500, operatingRateMinor: 7000 });
    const p = priceDay({ working: 7500, idle: 1200, standby: 5000, offHours: 9000 }, legacy);
    // 7.5 × 85.00 + 1.2 × 15.00, as the working/idle pricing always did
    expect(p).toMatchObject({ amountMinor: 65550, workingRateMinor: 8500, idleRateMinor: 1500 });
  });
  it('shows the standby cap and the minimum as lines', () => {
    const card = cards.find((c) => c.id === 'P-B-EXC')!;
    const p = priceDay({ working: 0, idle: 0, standby: 12000, offHours: 12000 }, card);
    expect(p.lines.find((l) => l.status === 'standby')).toMatchObject({
      milliHours: 12000,
      billedMilliHours: 8000,
      amountMinor: 12000,
      note: expect.stringContaining('capped at 8 h'),
    });
    expect(p.lines.find((l) => l.status === 'minimum')).toMatchObject({ amountMinor: 38000 });
    // A day with no time on the project is not charged the minimum.
    expect(priceDay({ working: 0, idle: 0, standby: 0, offHours: 0 }, card).amountMinor).toBe(0);
  });
  it('refuses factors with more than 3 decimals and a lone owning rate', () => {
    const base = {
      rateId: 'X',
      equipmentClass: 'crane',
      workingRateMinor: 0,
      idleRateMinor: 0,
      currency: 'USD',
    };
    expect(
      RateSchema.safeParse({
        ...base,
        effectiveFrom: '2026-01-01',
        owningRateMinor: 1,
        operatingRateMinor: 1,
        factors: { standby: [0.8125, 0] },
      }).success,
    ).toBe(false);
    expect(RateSchema.safeParse({ ...base, effectiveFrom: '2026-01-01', owningRateMinor: 1 }).success).toBe(
      false,
    );
  });
});

describe('operating windows', () => {
  it('keeps 10 h on DST days and none on weekends or holidays', () => {
    const cal = projects['P-B']!.calendar;
    const w = operatingWindow('2026-11-02', 'America/New_York', cal)!;
    expect(new Date(w.startMs).toISOString()).toBe('2026-11-02T11:00:00.000Z');
    expect((w.endMs - w.startMs) / 3_600_000).toBe(12);
    expect(operatingWindow('2026-11-26', 'America/New_York', cal)).toBeNull();
    expect(operatingWindow('2026-11-01', 'America/New_York', cal)).toBeNull();
    const sunday = operatingWindow('2026-10-25', 'Europe/London', projects['P-C']!.calendar)!;
    expect(new Date(sunday.startMs).toISOString()).toBe('2026-10-25T06:00:00.000Z');
  });
  it('counts no status time over an interval the meters cannot prove', () => {
    expect(
      classifyPiece({
        startMs: 0,
        endMs: 3_600_000,
        engineHours: 0,
        idleHours: 0,
        window: null,
        known: false,
      }),
    ).toEqual({ working: 0, idle: 0, standby: 0, offHours: 0 });
  });
});
