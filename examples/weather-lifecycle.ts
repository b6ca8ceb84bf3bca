// The data of the lifecycle demonstration (issue 16): the example `weather` model is trained on
// 2012–2014; 2015 is its future. A seeded 70% of 2015's days are replayed through the gateway with
// their labels as feedback (the "newer, labelled data"), the other 30% are held out: the gate's
// holdout dataset, on which the old and the retrained version are compared.
import { seededRandom, shuffledIndices } from '../lib/random.js';
import { weatherFeatures, WEATHER_FEATURES, type WeatherDay } from './weather-dataset.js';

export const LIFECYCLE_YEAR = 2015;
export const REPLAY_FRACTION = 0.7;
const SEASONS = ['winter', 'spring', 'summer', 'autumn'] as const;

export interface YearSplit {
  /** Days replayed through the gateway, in date order. */
  replay: WeatherDay[];
  /** Days never replayed nor trained on, in date order. */
  heldOut: WeatherDay[];
}

/** Deterministic split of one year's days into replayed and held-out ones. */
export function splitYear(days: WeatherDay[], year = LIFECYCLE_YEAR, seed = 1): YearSplit {
  const inYear = days.filter((d) => d.year === year);
  const order = shuffledIndices(inYear.length, seededRandom(seed));
  const cut = Math.round(inYear.length * REPLAY_FRACTION);
  const replay = new Set(order.slice(0, cut));
  return {
    replay: inYear.filter((_, i) => replay.has(i)),
    heldOut: inYear.filter((_, i) => !replay.has(i)),
  };
}

/** Meteorological season of a date (December–February is winter). */
export function seasonOf(date: string): (typeof SEASONS)[number] {
  const month = Number(date.slice(5, 7));
  return SEASONS[Math.floor((month % 12) / 3)]!;
}

/** A holdout CSV for the promotion gate: the model's input columns, the label, and slice columns. */
export function holdoutCsv(days: WeatherDay[]): string {
  const lines = [[...WEATHER_FEATURES, 'weather', 'season', 'year'].join(',')];
  for (const d of days) lines.push([...weatherFeatures(d), d.weather, seasonOf(d.date), d.year].join(','));
  return `${lines.join('\n')}\n`;
}

/** Days in seattle-weather.csv's own format (what the weather trainers read). */
export function seattleWeatherCsv(days: WeatherDay[]): string {
  const lines = ['date,precipitation,temp_max,temp_min,wind,weather'];
  for (const d of days) lines.push([d.date, d.precipitation, d.tempMax, d.tempMin, d.wind, d.weather].join(','));
  return `${lines.join('\n')}\n`;
}
