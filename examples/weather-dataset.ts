import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { SluiceError } from '../lib/errors.js';
import { packageFile } from '../lib/package-files.js';

/** One day of vega-datasets' seattle-weather.csv (Seattle, 2012–2015). */
export interface WeatherDay {
  date: string;
  year: number;
  dayOfYear: number;
  precipitation: number;
  tempMax: number;
  tempMin: number;
  wind: number;
  weather: string;
}

/** Model input columns, in order: what a client sends as the `features` row. */
export const WEATHER_FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year'] as const;
export const WEATHER_LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun'] as const;

export function weatherCsvPath(): string {
  return packageFile('vega-datasets', 'data/seattle-weather.csv');
}

function dayOfYear(date: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return Math.round((Date.UTC(y, m - 1, d) - Date.UTC(y, 0, 1)) / 86_400_000) + 1;
}

export interface WeatherDataset {
  days: WeatherDay[];
  /** sha256 of the CSV bytes: the dataset digest recorded in the model's lineage. */
  digest: string;
}

export function loadWeather(path: string = weatherCsvPath()): WeatherDataset {
  const bytes = readFileSync(path);
  const lines = bytes.toString('utf8').trim().split(/\r?\n/);
  const header = lines[0]?.split(',') ?? [];
  const expected = ['date', 'precipitation', 'temp_max', 'temp_min', 'wind', 'weather'];
  if (header.join(',') !== expected.join(',')) {
    throw new SluiceError('SLUICE_E_VALIDATION', `unexpected seattle-weather header: ${header.join(',')}`);
  }
  const days: WeatherDay[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.split(',');
    const [date, p, tmax, tmin, wind, weather] = cols as [string, string, string, string, string, string];
    const row: WeatherDay = {
      date,
      year: Number(date.slice(0, 4)),
      dayOfYear: dayOfYear(date),
      precipitation: Number(p),
      tempMax: Number(tmax),
      tempMin: Number(tmin),
      wind: Number(wind),
      weather,
    };
    if (![row.precipitation, row.tempMax, row.tempMin, row.wind].every(Number.isFinite)) {
      throw new SluiceError('SLUICE_E_VALIDATION', `seattle-weather line ${i + 1} has a non-numeric value`);
    }
    if (!(WEATHER_LABELS as readonly string[]).includes(weather)) {
      throw new SluiceError('SLUICE_E_VALIDATION', `seattle-weather line ${i + 1} has unknown label ${weather}`);
    }
    days.push(row);
  }
  return { days, digest: createHash('sha256').update(bytes).digest('hex') };
}

/** The model's raw input row for a day (the model itself derives the seasonal features). */
export function weatherFeatures(day: WeatherDay): number[] {
  return [day.precipitation, day.tempMax, day.tempMin, day.wind, day.dayOfYear];
}

export function weatherLabel(day: WeatherDay): number {
  return (WEATHER_LABELS as readonly string[]).indexOf(day.weather);
}
